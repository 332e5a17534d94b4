"""zstd compression of stored objects. Compression never changes an id: ids hash the raw bytes.

Example:
    >>> decompress(compress(b"abc" * 100)) == b"abc" * 100
    True
"""

from __future__ import annotations

import threading

import zstandard

from casdb.errors import IntegrityError

LEVEL = 3
MAX_OBJECT_SIZE = 1 << 31
_local = threading.local()


def _ctx() -> tuple[zstandard.ZstdCompressor, zstandard.ZstdDecompressor]:
    # zstd contexts are not thread-safe; keep one pair per thread.
    pair = getattr(_local, "pair", None)
    if pair is None:
        pair = (zstandard.ZstdCompressor(level=LEVEL), zstandard.ZstdDecompressor())
        _local.pair = pair
    return pair


def compress(data: bytes) -> bytes:
    """zstd frame of ``data`` (with its size; ids, not the frame, guard the content)."""
    return _ctx()[0].compress(data)


def decompress(data: bytes) -> bytes:
    """The bytes of a zstd frame; ``IntegrityError`` if the frame is damaged."""
    try:
        return _ctx()[1].decompress(data, max_output_size=MAX_OBJECT_SIZE)
    except zstandard.ZstdError as exc:
        raise IntegrityError(f"damaged compressed object: {exc}") from exc
