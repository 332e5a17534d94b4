"""Content-defined cut points: where to split a sorted sequence into chunks.

A chunk ends after an item whose key hash meets a condition (its low bits are all ones), so the
cut points depend only on the items themselves, not on what came before: the same sequence always
gives the same chunks (history independence, as in prolly trees), and inserting or changing an item
moves at most the cuts next to it. A maximum size bounds chunks when no natural cut comes.

Example:
    >>> cuts = cut_points([key_hash(str(i).encode()) for i in range(1000)], average=64)
    >>> cuts[-1]
    1000
"""

from __future__ import annotations

from collections.abc import Sequence

import blake3


def key_hash(key: bytes, level: int = 0) -> int:
    """A 64-bit hash of ``key``; each tree level hashes differently, so levels cut independently."""
    return int.from_bytes(blake3.blake3(bytes([level]) + key).digest(8), "little")


def cut_points(hashes: Sequence[int], average: int, maximum: int | None = None) -> list[int]:
    """End offsets (exclusive) of the chunks of a sequence with these item hashes.

    ``average`` must be a power of two: an item ends a chunk with probability 1/average.
    The last offset is always ``len(hashes)``; an empty sequence gives no chunk.
    """
    if average & (average - 1):
        raise ValueError("average must be a power of two")
    mask = average - 1
    maximum = maximum or 4 * average
    cuts = []
    start = 0
    for i, h in enumerate(hashes):
        if (h & mask) == mask or i + 1 - start >= maximum:
            cuts.append(i + 1)
            start = i + 1
    if start < len(hashes):
        cuts.append(len(hashes))
    return cuts


def cut_points_array(hashes, average: int, maximum: int | None = None) -> list[int]:
    """:func:`cut_points` for a numpy array of uint64 hashes, vectorised for millions of rows."""
    import numpy as np

    if average & (average - 1):
        raise ValueError("average must be a power of two")
    n = len(hashes)
    maximum = maximum or 4 * average
    mask = np.uint64(average - 1)
    natural = (np.flatnonzero((hashes & mask) == mask) + 1).tolist()
    cuts = []
    start = 0
    for cut in natural + [n]:
        while cut - start > maximum:
            start += maximum
            cuts.append(start)
        if cut > start:
            cuts.append(cut)
            start = cut
    return cuts
