"""zstd compression of stored objects. Compression never changes an id: ids hash the raw bytes.

Example:
    >>> decompress(compress(b"abc" * 100)) == b"abc" * 100
    True
"""

from __future__ import annotations

import threading

import zstandard

from casdb.core.errors import IntegrityError

LEVEL = 3
MAX_OBJECT_SIZE = 1 << 31
TRUSTED_SIZE = 64 << 20
"""Frames declaring up to this size are decompressed in one allocation."""
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
    """The bytes of a zstd frame; ``IntegrityError`` if the frame is damaged.

    The size a frame declares is not trusted: a damaged header claiming a gigabyte would
    allocate it up front. Frames declaring more than ``TRUSTED_SIZE`` (or no size) are
    decompressed in chunks, so memory follows what the frame really holds, up to
    ``MAX_OBJECT_SIZE``.
    """
    try:
        declared = zstandard.frame_content_size(data)
        if 0 <= declared <= TRUSTED_SIZE:
            return _ctx()[1].decompress(data, max_output_size=MAX_OBJECT_SIZE)
        if declared > MAX_OBJECT_SIZE:
            raise IntegrityError(f"damaged compressed object: it claims {declared} bytes")
        return _streamed(data)
    except zstandard.ZstdError as exc:
        raise IntegrityError(f"damaged compressed object: {exc}") from exc


def _streamed(data: bytes) -> bytes:
    parts, total = [], 0
    with _ctx()[1].stream_reader(data, read_across_frames=False) as reader:
        while chunk := reader.read(1 << 20):
            total += len(chunk)
            if total > MAX_OBJECT_SIZE:
                raise IntegrityError("damaged compressed object: larger than "
                                     f"{MAX_OBJECT_SIZE} bytes")
            parts.append(chunk)
    return b"".join(parts)
