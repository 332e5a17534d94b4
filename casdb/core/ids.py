"""Object ids: the blake3 hash of an object's canonical bytes, written as 64 hex digits.

Example:
    >>> hash_bytes(b"")
    'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262'
    >>> short("af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262")
    'af1349b9f5'
"""

from __future__ import annotations

import re

import blake3

ID_HEX_LENGTH = 64
SHORT_LENGTH = 10
_ID_RE = re.compile(r"^[0-9a-f]{64}$")
_PREFIX_RE = re.compile(r"^[0-9a-f]{4,64}$")


def hash_bytes(data: bytes | bytearray | memoryview) -> str:
    """Return the id (blake3, hex) of ``data``; equal to ``b3sum`` of a file with these bytes."""
    return blake3.blake3(data).hexdigest()


def new_hasher(size_hint: int = 0) -> blake3.blake3:
    """Return an incremental blake3 hasher; large inputs use several threads."""
    if size_hint >= 16 * 1024 * 1024:
        return blake3.blake3(max_threads=blake3.blake3.AUTO)
    return blake3.blake3()


def is_id(text: str) -> bool:
    """Whether ``text`` is a full id (64 lowercase hex digits)."""
    return bool(_ID_RE.match(text))


def is_prefix(text: str) -> bool:
    """Whether ``text`` could abbreviate an id (4 to 64 lowercase hex digits)."""
    return bool(_PREFIX_RE.match(text))


def short(object_id: str) -> str:
    """The abbreviated id shown to users."""
    return object_id[:SHORT_LENGTH]


def to_raw(object_id: str) -> bytes:
    """The 32 raw bytes of an id, as stored inside objects."""
    return bytes.fromhex(object_id)


def from_raw(raw: bytes) -> str:
    """The hex id of 32 raw bytes."""
    if len(raw) != 32:
        raise ValueError(f"an id has 32 bytes, not {len(raw)}")
    return raw.hex()
