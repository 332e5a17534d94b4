"""Lossless audio coding of blobs on a remote: PCM samples as FLAC, everything else kept.

A coded blob is one record:

    header    struct "<8sQQQBBBB": magic b"casdbFL1", side length, offset of the samples in
              the original file, their length in bytes, bytes per sample (1-3), channels
              (1-8), layout (0 signed little-endian, 1 signed big-endian, 2 unsigned 8-bit),
              a zero byte
    side      the original file without its samples (header, every other chunk, pad bytes)
    flac      the samples as a FLAC stream (libsndfile through soundfile)

so the original is ``side[:offset] + samples + side[offset:]``. :func:`encode` returns a
record only if decoding it gives back bytes whose blake3 is the blob's id and it is smaller
than the file; :func:`decode` checks every field, the FLAC stream's shape and the rebuilt
bytes' hash, and raises ``IntegrityError`` (and nothing else) for anything wrong.

Example:
    >>> import numpy as np, soundfile as sf, io
    >>> from casdb.core.ids import hash_bytes
    >>> t = np.arange(16000) / 16000
    >>> buf = io.BytesIO()
    >>> sf.write(buf, (3000 * np.sin(2 * np.pi * 220 * t)).astype("int16"), 16000,
    ...          format="WAV", subtype="PCM_16")
    >>> wav = buf.getvalue()
    >>> record = encode(wav, hash_bytes(wav))
    >>> len(record) < len(wav), decode(record, hash_bytes(wav)) == wav
    (True, True)
"""

from __future__ import annotations

import io
import struct

from casdb.core.errors import IntegrityError
from casdb.core.ids import hash_bytes
from casdb.remote.pcmspan import BE, LE, MAX_CHANNELS, U8, Span, pcm_span

MAGIC = b"casdbFL1"
_HEAD = struct.Struct("<8sQQQBBBB")
_SUBTYPES = {1: "PCM_S8", 2: "PCM_16", 3: "PCM_24"}
CODECS = ("flac", "none")
MAX_CODED = 256 << 20
"""Blobs larger than this are not coded (coding holds the file, its samples and the rebuilt
copy in memory)."""


def encode(data: bytes, blob: str) -> bytes | None:
    """The coded record of ``data`` (whose id is ``blob``), or None if it is not PCM audio,
    FLAC is not smaller, or the record does not decode back to ``blob`` exactly."""
    if len(data) > MAX_CODED:
        return None
    span = pcm_span(data)
    if span is None:
        return None
    try:
        flac = _flac(memoryview(data)[span.offset : span.offset + span.length], span)
    except Exception:  # noqa: BLE001 - any failure of libsndfile: the blob is stored as it is
        return None
    side = data[: span.offset] + data[span.offset + span.length :]
    head = _HEAD.pack(MAGIC, len(side), span.offset, span.length, span.width, span.channels,
                      span.layout, 0)
    record = head + side + flac
    if len(record) >= len(data):
        return None
    try:
        decode(record, blob, len(data))
    except IntegrityError:  # never publish a coding that does not round-trip
        return None
    return record


def decode(record: bytes, blob: str, size: int | None = None) -> bytes:
    """The original bytes of a coded ``record``, verified against ``blob`` (and ``size`` if
    known); ``IntegrityError`` if anything is wrong."""
    what = f"blob {blob} arrived corrupt (coded as FLAC)"
    if len(record) < _HEAD.size:
        raise IntegrityError(f"{what}: shorter than its header")
    magic, side_len, offset, length, width, channels, layout, zero = _HEAD.unpack_from(record)
    if magic != MAGIC:
        raise IntegrityError(f"{what}: not a casdb FLAC record")
    if (zero or width not in _SUBTYPES or not 1 <= channels <= MAX_CHANNELS
            or layout not in (LE, BE, U8) or (layout == U8) != (width == 1 and layout != BE)):
        raise IntegrityError(f"{what}: a bad sample format")
    if side_len > len(record) - _HEAD.size or offset > side_len:
        raise IntegrityError(f"{what}: its side bytes do not fit")
    if length == 0 or length % (width * channels) or length > MAX_CODED:
        raise IntegrityError(f"{what}: a bad sample length")
    if size is not None and side_len + length != size:
        raise IntegrityError(f"{what}: it rebuilds {side_len + length} bytes, not "
                             f"{size}")
    start = _HEAD.size
    side = memoryview(record)[start : start + side_len]
    span = Span(offset, length, width, channels, 0, layout)
    samples = _samples(memoryview(record)[start + side_len :], span, what)
    out = b"".join((side[:offset], samples, side[offset:]))
    if hash_bytes(out) != blob:
        raise IntegrityError(f"{what}: the rebuilt file hashes differently")
    return out


def _flac(pcm: memoryview, span: Span) -> bytes:
    """The samples ``pcm`` as a FLAC stream."""
    import numpy as np
    import soundfile as sf

    ch = span.channels
    if span.width == 2:
        frames = np.frombuffer(pcm, "<i2" if span.layout == LE else ">i2").reshape(-1, ch)
        frames = frames.astype(np.int16, copy=False)  # native order: libsndfile reads memory
    elif span.width == 3:
        b = np.frombuffer(pcm, np.uint8).reshape(-1, 3).astype(np.uint32)
        if span.layout == BE:
            b = b[:, ::-1]
        frames = ((b[:, 0] << 8) | (b[:, 1] << 16) | (b[:, 2] << 24)).view(np.int32)
        frames = frames.reshape(-1, ch)
    elif span.layout == U8:
        frames = ((np.frombuffer(pcm, np.uint8).astype(np.int16) - 128) << 8).reshape(-1, ch)
    else:
        frames = (np.frombuffer(pcm, np.int8).astype(np.int16) << 8).reshape(-1, ch)
    rate = span.rate if 1 <= span.rate <= 655350 else 48000  # only a label: any valid one does
    buf = io.BytesIO()
    sf.write(buf, frames, rate, format="FLAC", subtype=_SUBTYPES[span.width])
    return buf.getvalue()


def _samples(flac: memoryview, span: Span, what: str) -> bytes:
    """The PCM bytes of a FLAC stream, in the span's layout."""
    import numpy as np
    import soundfile as sf

    expected = span.length // (span.width * span.channels)
    try:
        with sf.SoundFile(io.BytesIO(flac)) as f:
            if f.format != "FLAC":
                raise IntegrityError(f"{what}: its samples are not a FLAC stream")
            if f.channels != span.channels or f.frames != expected:
                raise IntegrityError(f"{what}: its FLAC stream has another shape")
            dtype = "int16" if span.width < 3 else "int32"
            a = f.read(expected, dtype=dtype, always_2d=True)
    except IntegrityError:
        raise
    except Exception as exc:  # noqa: BLE001 - libsndfile raises several kinds for bad bytes
        raise IntegrityError(f"{what}: its FLAC stream does not decode "
                             f"({type(exc).__name__})") from None
    if a.shape != (expected, span.channels):
        raise IntegrityError(f"{what}: its FLAC stream is truncated")
    if span.width == 2:
        return a.astype("<i2" if span.layout == LE else ">i2").tobytes()
    if span.width == 3:
        b = a.astype("<i4").view(np.uint8).reshape(-1, 4)
        return (b[:, 3:0:-1] if span.layout == BE else b[:, 1:4]).tobytes()
    if span.layout == U8:
        return ((a >> 8) + 128).astype(np.uint8).tobytes()
    return (a >> 8).astype(np.int8).tobytes()
