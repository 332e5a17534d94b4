"""Where the integer PCM samples of a WAV or AIFF file are, so they can be coded apart.

A file is audio that the remote's codec can carry bit-exactly when it is

- RIFF/WAVE with a ``fmt `` chunk of format 1 (PCM) or WAVE_FORMAT_EXTENSIBLE with the PCM
  sub-format, 8 (unsigned), 16 or 24 bits per sample, 1 to 8 channels, and a ``data`` chunk;
- FORM/AIFF (not AIFF-C) with a ``COMM`` chunk of 8, 16 or 24 bits (signed, big-endian), 1 to
  8 channels, and an ``SSND`` chunk.

The span is the whole frames of the data chunk that lie inside the file; everything else (the
header, every other chunk, pad bytes, a trailing partial frame, bytes after the last chunk)
stays as it is in the side bytes (:mod:`casdb.remote.audiocodec`). Anything else (float,
32-bit, A-law, RF64, ...) is not coded: FLAC cannot carry it exactly, or it is rare.

Example:
    >>> import struct
    >>> fmt = struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 16)
    >>> data = b"\\1\\0\\2\\0"
    >>> wav = (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<I", 16)
    ...        + fmt + b"data" + struct.pack("<I", len(data)) + data)
    >>> pcm_span(wav)
    Span(offset=44, length=4, width=2, channels=1, rate=16000, layout=0)
"""

from __future__ import annotations

import struct
from typing import NamedTuple

LE, BE, U8 = 0, 1, 2
"""Sample layouts: signed little-endian (WAV), signed big-endian (AIFF), unsigned 8-bit (WAV)."""
MAX_CHANNELS = 8  # FLAC's limit
_PCM_GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")


class Span(NamedTuple):
    """The PCM samples of a file: ``length`` bytes at ``offset``, whole frames."""

    offset: int
    length: int
    width: int
    """Bytes per sample: 1, 2 or 3."""
    channels: int
    rate: int
    layout: int
    """:data:`LE`, :data:`BE` or :data:`U8`."""


def pcm_span(data: bytes) -> Span | None:
    """The span of integer PCM samples in ``data``, or None if it is not such a file."""
    if len(data) < 12:
        return None
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return _wav(data)
    if data[:4] == b"FORM" and data[8:12] == b"AIFF":
        return _aiff(data)
    return None


def _chunks(data: bytes, order: str):
    """``(id, body offset, declared size)`` of each chunk after the 12-byte file header."""
    pos = 12
    while pos + 8 <= len(data):
        cid = data[pos : pos + 4]
        (size,) = struct.unpack(order + "I", data[pos + 4 : pos + 8])
        yield cid, pos + 8, size
        pos += 8 + size + (size & 1)


def _wav(data: bytes) -> Span | None:
    fmt = body = size = None
    for cid, start, n in _chunks(data, "<"):
        if cid == b"fmt " and fmt is None and n >= 16 and start + 16 <= len(data):
            fmt = (start, n)
        elif cid == b"data" and body is None:
            body, size = start, n
    if fmt is None or body is None:
        return None
    start, n = fmt
    tag, channels, rate, _, align, bits = struct.unpack("<HHIIHH", data[start : start + 16])
    if tag == 0xFFFE:  # WAVE_FORMAT_EXTENSIBLE: the sub-format's GUID says PCM or not
        if n < 40 or start + 40 > len(data):
            return None
        sub = data[start + 24 : start + 40]
        if sub[2:] != _PCM_GUID_TAIL:
            return None
        tag = struct.unpack("<H", sub[:2])[0]
    if tag != 1 or bits not in (8, 16, 24):
        return None
    return _span(data, body, size, bits // 8, channels, rate, align, U8 if bits == 8 else LE)


def _aiff(data: bytes) -> Span | None:
    comm = body = size = None
    for cid, start, n in _chunks(data, ">"):
        if cid == b"COMM" and comm is None and n >= 18 and start + 18 <= len(data):
            comm = start
        elif cid == b"SSND" and body is None and n >= 8 and start + 8 <= len(data):
            offset = struct.unpack(">I", data[start : start + 4])[0]
            body, size = start + 8 + offset, n - 8 - offset
    if comm is None or body is None or size < 0:
        return None
    channels, _, bits = struct.unpack(">hIh", data[comm : comm + 8])
    exponent, mantissa = struct.unpack(">HQ", data[comm + 8 : comm + 18])
    shift = (exponent & 0x7FFF) - 16383 - 63  # an 80-bit float; the rate is only a label:
    rate = mantissa >> -shift if -64 < shift <= 0 else 0  # out of range reads as 0
    if bits not in (8, 16, 24) or channels < 1:
        return None
    width = bits // 8
    return _span(data, body, size, width, channels, rate, width * channels, BE)


def _span(data: bytes, body: int, size: int, width: int, channels: int, rate: int,
          align: int, layout: int) -> Span | None:
    if not 1 <= channels <= MAX_CHANNELS or align != width * channels:
        return None
    length = max(0, min(size, len(data) - body))
    length -= length % align  # a partial frame stays in the side bytes
    if length == 0:
        return None
    return Span(body, length, width, channels, rate, layout)
