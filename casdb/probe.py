"""Audio properties of a media file: format, sampling rate, channels, bit depth, duration.

WAV headers are parsed directly (a few hundred bytes, no decoder); other formats go through
soundfile (libsndfile: FLAC, OGG, MP3, ...). A file that is not audio gets sampling rate,
channels, bit depth and duration 0, and its extension as format.

Example:
    >>> import io, numpy as np, soundfile as sf
    >>> buf = io.BytesIO(); sf.write(buf, np.zeros((8000, 2)), 16000, format="WAV", subtype="PCM_24")
    >>> probe_bytes(buf.getvalue(), "a.wav")
    MediaInfo(format='wav', sampling_rate=16000, channels=2, bit_depth=24, duration=0.5)
"""

from __future__ import annotations

import struct
from pathlib import PurePosixPath
from typing import NamedTuple

HEAD = 4096
"""Bytes read to parse a WAV header."""

_BIT_DEPTHS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "FLOAT": 32,
               "DOUBLE": 64, "ALAC_16": 16, "ALAC_20": 20, "ALAC_24": 24, "ALAC_32": 32}


class MediaInfo(NamedTuple):
    format: str
    sampling_rate: int
    channels: int
    bit_depth: int
    duration: float
    """Seconds."""


def extension(path: str) -> str:
    return PurePosixPath(path).suffix.lstrip(".").lower()


def not_audio(path: str) -> MediaInfo:
    return MediaInfo(extension(path), 0, 0, 0, 0.0)


def probe_bytes(head: bytes, path: str, size: int | None = None) -> MediaInfo | None:
    """Parse a WAV header from the first bytes of a file; None if it is not a plain WAV header."""
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        return None
    pos, fmt, data_size = 12, None, None
    while pos + 8 <= len(head):
        chunk, length = head[pos : pos + 4], struct.unpack_from("<I", head, pos + 4)[0]
        body = pos + 8
        if chunk == b"fmt " and body + 16 <= len(head):
            fmt = struct.unpack_from("<HHIIHH", head, body)
        elif chunk == b"data":
            data_size = length
            if head[:4] == b"RF64" or length == 0xFFFFFFFF:
                return None  # the real size is in the ds64 chunk: let libsndfile read it
            if size is not None:
                data_size = min(length, size - body)
            break
        pos = body + length + (length & 1)
    if fmt is None or data_size is None:
        return None
    tag, channels, rate, _, block_align, bits = fmt
    if tag not in (1, 3, 0xFFFE) or not channels or not rate or not block_align:
        return None  # compressed or odd WAV: let libsndfile decide
    frames = data_size // block_align
    return MediaInfo("wav", rate, channels, bits, frames / rate)


def probe_file(path: str, name: str | None = None) -> MediaInfo:
    """Properties of the file at ``path`` (``name``: the path in the dataset, for the extension)."""
    import os

    name = name or path
    try:
        with open(path, "rb") as f:
            head = f.read(HEAD)
        size = os.stat(path).st_size
    except OSError:
        return not_audio(name)
    info = probe_bytes(head, name, size)
    if info is not None:
        return info
    return _probe_soundfile(path, name)


def _probe_soundfile(path: str, name: str) -> MediaInfo:
    try:
        import soundfile

        info = soundfile.info(path)
    except Exception:  # noqa: BLE001 - not audio libsndfile can read: a non-audio file
        return not_audio(name)
    return MediaInfo(
        extension(name) or info.format.lower(),
        int(info.samplerate),
        int(info.channels),
        _BIT_DEPTHS.get(info.subtype, 0),
        float(info.frames) / info.samplerate if info.samplerate else 0.0,
    )
