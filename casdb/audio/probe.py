"""Audio properties of a media file: format, sampling rate, channels, bit depth, duration.

Plain WAV headers are parsed directly (a few hundred bytes, no decoder): PCM or float, a ``fmt ``
chunk of 16 or 18 bytes, maybe ``fact``, then ``data`` -- only what libsndfile opens with the
same properties (a property test over crafted headers holds the parser to that). Everything else
(extensible, LIST or other chunks, odd depths) and other formats go through soundfile
(libsndfile: FLAC, OGG, MP3, ...). A file that is not audio gets sampling rate,
channels, bit depth and duration 0, and its extension as format.

A probe also says what is wrong with a file that claims to be audio (:attr:`MediaInfo.problem`):
its header is an audio header (RIFF/WAVE, fLaC, OggS, ...) but libsndfile cannot open it, or a
WAV's data chunk is longer than the file (truncated). Whether a *name* claims audio (``.wav``
on a text file) is the caller's business: the same bytes may sit under any name.

Example:
    >>> import io, numpy as np, soundfile as sf
    >>> buf = io.BytesIO(); sf.write(buf, np.zeros((8000, 2)), 16000, format="WAV", subtype="PCM_24")
    >>> probe_bytes(buf.getvalue(), "a.wav")
    MediaInfo(format='wav', sampling_rate=16000, channels=2, bit_depth=24, duration=0.5, problem='')
    >>> probe_bytes(buf.getvalue()[:1000], "a.wav", 1000).problem
    'truncated: header says 8000 frames, file holds 159'
"""

from __future__ import annotations

import struct
from pathlib import PurePosixPath
from typing import NamedTuple

HEAD = 4096
"""Bytes read to parse a WAV header."""

_BIT_DEPTHS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "FLOAT": 32,
               "DOUBLE": 64, "ALAC_16": 16, "ALAC_20": 20, "ALAC_24": 24, "ALAC_32": 32}


_PLAIN = {1: (8, 16, 24, 32), 3: (32, 64)}
"""Format tag -> bit depths of the plain WAVs parsed here: integer PCM and IEEE float as
libsndfile opens them (float at 8 bits, say, it refuses: such a header goes to libsndfile,
which then says why). WAVE_FORMAT_EXTENSIBLE and everything else goes to libsndfile too."""

_PLAIN_CHUNKS = {4: (b"fact",)}
"""Chunk length -> other chunks a plain WAV may hold before its data (libsndfile writes a
``fact`` chunk in float WAVs)."""

_MAX_CHANNELS = 1024
"""libsndfile's SF_MAX_CHANNELS: a header with more, it refuses to open."""

AUDIO_EXTENSIONS = frozenset({
    "wav", "wave", "bwf", "rf64", "w64", "flac", "ogg", "oga", "opus", "mp3", "aif", "aiff",
    "aifc", "au", "snd", "caf"})
"""Extensions that name audio libsndfile reads: a file with one of them must decode."""


class MediaInfo(NamedTuple):
    format: str
    sampling_rate: int
    channels: int
    bit_depth: int
    duration: float
    """Seconds."""
    problem: str | None = None
    """What is wrong with a file whose header claims audio ("" when nothing is; a file that is
    not audio by its header has ""); None when unknown (properties read from a media index,
    which does not keep it)."""


def extension(path: str) -> str:
    return PurePosixPath(path).suffix.lstrip(".").lower()


def not_audio(path: str, problem: str | None = "") -> MediaInfo:
    return MediaInfo(extension(path), 0, 0, 0, 0.0, problem)


def claims_audio(head: bytes) -> str | None:
    """The audio format the first bytes of a file announce (``RIFF/WAVE``, ``fLaC``, ...), or None.

    Example:
        >>> claims_audio(b"fLaC\\x00\\x00"), claims_audio(b"hello")
        ('fLaC', None)
    """
    four = head[:4]
    if four in (b"RIFF", b"RIFX", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return f"{four.decode()}/WAVE"
    if four == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return f"FORM/{head[8:12].decode()}"
    if four == b"riff" and head[4:8] == b"\x2e\x91\xcf\x11":
        return "W64"
    for magic in (b"fLaC", b"OggS", b"caff", b".snd", b"ID3"):
        if head.startswith(magic):
            return magic.decode()
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06:
        return "MPEG audio"  # an MP3 frame sync with a valid layer
    return None


def probe_bytes(head: bytes, path: str, size: int | None = None) -> MediaInfo | None:
    """Parse a WAV header from the first bytes of a file; None if it is not a plain WAV header."""
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        return None
    pos, fmt, data_size = 12, None, None
    while pos + 8 <= len(head):
        chunk, length = head[pos : pos + 4], struct.unpack_from("<I", head, pos + 4)[0]
        body = pos + 8
        if chunk == b"fmt ":
            if fmt is not None or length not in (16, 18) or body + length > len(head):
                return None
            fmt = struct.unpack_from("<HHIIHH", head, body)
            if length == 18 and head[body + 16 : body + 18] != b"\0\0":
                return None  # extra format bytes (cbSize): not a plain WAV
        elif chunk not in _PLAIN_CHUNKS.get(length, ()) and chunk != b"data":
            # Only chunks as libsndfile and Python's wave write them before the data: anything
            # else (LIST, bext, odd lengths) libsndfile parses its own way, so it decides.
            return None
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
    if (bits not in _PLAIN.get(tag, ()) or not 0 < channels <= _MAX_CHANNELS
            or not 0 < rate < 2**31  # libsndfile keeps the rate in a C int
            or block_align != channels * bits // 8):
        return None  # compressed, extensible or odd WAV: let libsndfile decide
    frames = data_size // block_align
    problem = ""
    if data_size < length:
        problem = f"truncated: header says {length // block_align} frames, file holds {frames}"
    return MediaInfo("wav", rate, channels, bits, frames / rate, problem)


def probe_file(path: str, name: str | None = None) -> MediaInfo:
    """Properties of the file at ``path`` (``name``: the path in the dataset, for the extension)."""
    import os

    name = name or path
    try:
        with open(path, "rb") as f:
            head = f.read(HEAD)
        size = os.stat(path).st_size
    except OSError:
        return not_audio(name, None)  # unknown: nothing was read
    info = probe_bytes(head, name, size)
    if info is not None:
        return info
    return _probe_soundfile(path, name, claims_audio(head))


def _probe_soundfile(path: str, name: str, claim: str | None) -> MediaInfo:
    try:
        import soundfile

        info = soundfile.info(path)
        if not info.samplerate or not info.channels:
            raise ValueError("no sampling rate or no channels")
    except Exception as exc:  # noqa: BLE001 - not audio libsndfile can read
        if claim is None:
            return not_audio(name)  # not audio by its header either: a non-audio file
        return not_audio(name, f"{claim} header, but libsndfile cannot open it: {_reason(exc)}")
    return MediaInfo(
        extension(name) or info.format.lower(),
        int(info.samplerate),
        int(info.channels),
        _BIT_DEPTHS.get(info.subtype, 0),
        float(info.frames) / info.samplerate,
        "",
    )


def _reason(exc: Exception) -> str:
    """libsndfile's own words, without the (temporary) path it was given."""
    text = getattr(exc, "error_string", None) or str(exc)
    return " ".join(text.split()) or type(exc).__name__
