"""Real speech and hand-built WAV files for the remote audio codec's tests and benchmark.

Speech comes from espeak-ng (synthesised) and from Debian's asterisk-core-sounds-en-wav
(recorded voice prompts); ``scripts/_venv.sh`` installs both when it can. :func:`espeak` is None
and :func:`prompts` empty without them, and the tests that need them skip with a message. The WAV
builders write the odd files libsndfile never writes (LIST chunks, odd-length chunks with a pad
byte, the data chunk before others, WAVE_FORMAT_EXTENSIBLE, a trailing partial frame).

Example:
    >>> import numpy as np
    >>> wav = riff_wav(np.zeros((4, 1), np.int16), 16000, extra=[(b"LIST", b"INFOx")])
    >>> wav[:4], wav[8:12]
    (b'RIFF', b'WAVE')
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "Six spoons of fresh snow peas, five thick slabs of blue cheese, and maybe a snack.",
    "We also need a small plastic snake and a big toy frog for the kids.",
    "She can scoop these things into three red bags, and we will go meet her Wednesday.",
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It is easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
]
"""Sentences to speak (the first of the Harvard sentences and the Stella passage)."""


PROMPTS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
"""Recorded voice prompts (8 kHz 16-bit WAV) of Debian's asterisk-core-sounds-en-wav."""


def prompts() -> list[Path]:
    """The recorded voice prompts, sorted; empty if the package is not installed."""
    return sorted(PROMPTS.rglob("*.wav")) if PROMPTS.is_dir() else []


def espeak() -> str | None:
    """The espeak-ng program, or None if it is not installed."""
    return shutil.which("espeak-ng")


def speak(text: str, voice: str = "en", speed: int = 160, pitch: int = 50):
    """``(samples int16 (n, 1), sampling rate)`` of ``text`` spoken by espeak-ng (22050 Hz)."""
    import io

    import soundfile as sf

    out = subprocess.run([espeak() or "espeak-ng", "-v", voice, "-s", str(speed), "-p",
                          str(pitch), "--stdout", text], check=True, capture_output=True).stdout
    data, rate = sf.read(io.BytesIO(out), dtype="int16", always_2d=True)
    return data, rate


def speech_corpus(folder: Path, count: int, rate: int = 16000, start: int = 0) -> list[Path]:
    """``count`` WAV files (16-bit mono at ``rate``) of sentences spoken with varying voices,
    speeds and pitches, named ``000000.wav`` ...; returns their paths."""
    from math import gcd

    import numpy as np
    import soundfile as sf
    from scipy.signal import resample_poly

    folder.mkdir(parents=True, exist_ok=True)
    voices = ["en", "en-us", "en+f3", "en+m3", "en-gb-x-rp", "en+f2"]
    paths = []
    for n in range(start, start + count):
        text = " ".join(SENTENCES[(n + k) % len(SENTENCES)] for k in range(1 + n % 3))
        # pitch cycles over 41 values: no two of the first 1476 files are the same
        data, native = speak(text, voices[n % len(voices)], 140 + 7 * (n % 9), 30 + n % 41)
        if native != rate:
            g = gcd(native, rate)
            data = resample_poly(data[:, 0].astype(np.float64), rate // g, native // g)
            data = np.clip(np.round(data), -32768, 32767).astype(np.int16)
        path = folder / f"{n:06d}.wav"
        sf.write(path, data, rate, subtype="PCM_16")
        paths.append(path)
    return paths


def riff_wav(samples, rate: int, *, bits: int = 16, extra: list[tuple[bytes, bytes]] = (),
             data_first: bool = False, extensible: bool = False, trailer: bytes = b"") -> bytes:
    """A RIFF/WAVE file of integer ``samples`` (frames x channels) at ``bits`` (8, 16, 24, 32),
    with the chunks ``extra`` (id, body; an odd body gets its pad byte) after ``fmt `` and
    before ``data`` (after it with ``data_first``), optionally WAVE_FORMAT_EXTENSIBLE, and
    ``trailer`` appended inside the data chunk (e.g. a partial frame)."""
    import numpy as np

    frames, channels = samples.shape
    width = bits // 8
    if bits == 8:
        pcm = (samples.astype(np.int16) + 128).astype(np.uint8).tobytes()
    elif bits == 24:
        pcm = samples.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    else:
        pcm = samples.astype(f"<i{width}").tobytes()
    pcm += trailer
    align = width * channels
    if extensible:
        guid = struct.pack("<H", 1) + bytes.fromhex("000000001000800000aa00389b71")
        fmt = struct.pack("<HHIIHHHHI", 0xFFFE, channels, rate, rate * align, align, bits, 22,
                          bits, (1 << channels) - 1) + guid
    else:
        fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * align, align, bits)

    def chunk(cid: bytes, body: bytes) -> bytes:
        return cid + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")

    others = b"".join(chunk(c, b) for c, b in extra)
    data = chunk(b"data", pcm)
    body = chunk(b"fmt ", fmt) + (data + others if data_first else others + data)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body
