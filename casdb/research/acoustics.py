"""Acoustic statistics of a corpus from a seeded sample of its audio, read from the store's
blobs (each blob re-hashed before it is decoded): the domain-mismatch picture drawn before
corpora are combined.

Per file, on the mono mix of 20 ms frames (a file shorter than a frame is one frame):

- RMS level in dBFS: ``20 log10(rms)`` of the whole file (0 dBFS: a full-scale square wave);
- estimated SNR in dB, by the energy-percentile method: the 95th percentile of the frame levels
  (speech) minus their 10th percentile (the noise floor). Frames of digital silence (below
  -90 dBFS, under 16-bit quantisation noise) are left out of it: they are editing, not noise;
  0 when fewer than two frames are left;
- clipping ratio: the share of samples at or above 0.999 of full scale;
- silence ratio: the share of frames below -50 dBFS.

Levels are floored at -120 dBFS (an all-zero file is -120 dBFS, not minus infinity).

Example:
    >>> import numpy as np
    >>> s = file_stats(np.full(1600, 0.5), 16000)
    >>> round(s["rms_dbfs"], 1), s["clipping"], s["silence"]
    (-6.0, 0.0, 0.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from casdb.core.errors import IntegrityError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from casdb.store.objectstore import ObjectStore

FRAME_SECONDS = 0.02
SILENCE_DBFS = -50.0
DIGITAL_SILENCE_DBFS = -90.0
FLOOR_DBFS = -120.0
CLIP_LEVEL = 0.999
EXAMPLE_MAX_BYTES = 8 * 1024 * 1024
"""The HTML player's example is the median-length file among files at most this big."""
METRICS = ("rms_dbfs", "snr_db", "clipping", "silence")
MIME = {"wav": "audio/wav", "flac": "audio/flac", "mp3": "audio/mpeg", "ogg": "audio/ogg",
        "opus": "audio/ogg"}


@dataclass
class AcousticStats:
    """Per-file metrics of the sampled files (lists in sample order)."""

    files: int = 0
    """Files measured."""
    skipped: int = 0
    """Sampled files that could not be measured (purged bytes, not audio)."""
    values: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in METRICS})

    def median(self, metric: str) -> float | None:
        import numpy as np

        data = self.values[metric]
        return float(np.median(data)) if data else None


def file_stats(signal: np.ndarray, sampling_rate: int) -> dict[str, float]:
    """The four metrics of one signal (samples x channels, or mono), floats in [-1, 1]."""
    import numpy as np

    x = np.asarray(signal, dtype=np.float64)
    if x.ndim > 1:
        x = x.mean(axis=1)
    tiny = 10 ** (FLOOR_DBFS / 20)
    if x.size == 0:
        return {"rms_dbfs": FLOOR_DBFS, "snr_db": 0.0, "clipping": 0.0, "silence": 1.0}
    rms = float(np.sqrt(np.mean(x * x)))
    frame = max(1, int(FRAME_SECONDS * sampling_rate))
    n = max(1, x.size // frame)
    frames = x[: n * frame].reshape(n, -1) if x.size >= frame else x.reshape(1, -1)
    level = 20 * np.log10(np.maximum(np.sqrt(np.mean(frames * frames, axis=1)), tiny))
    sounding = level[level >= DIGITAL_SILENCE_DBFS]
    snr = (np.percentile(sounding, 95) - np.percentile(sounding, 10)) if sounding.size > 1 else 0.0
    return {
        "rms_dbfs": float(20 * np.log10(max(rms, tiny))),
        "snr_db": float(snr),
        "clipping": float(np.mean(np.abs(x) >= CLIP_LEVEL)),
        "silence": float(np.mean(level < SILENCE_DBFS)),
    }


def verified_bytes(store: ObjectStore, blob: str) -> bytes | None:
    """The bytes of a stored blob, re-hashed; None when the store does not hold it (purged)."""
    from casdb.core.ids import hash_bytes

    try:
        data = store.blob_path(blob).read_bytes()
    except FileNotFoundError:
        return None
    if hash_bytes(data) != blob:
        raise IntegrityError(f"blob {blob} is corrupt: its bytes hash differently")
    return data


def measure(store: ObjectStore, media: pd.DataFrame, *, sample: int = 200,
            seed: int = 0) -> AcousticStats:
    """The metrics of up to ``sample`` audio files of ``media`` (a media index), chosen by
    ``seed`` from the files in path order: the same version and seed measure the same files."""
    import io

    import soundfile as sf

    audio, picks = sample_rows(media, sample, seed)
    out = AcousticStats()
    for i in picks:
        data = verified_bytes(store, audio["blob"].iloc[i])
        if data is None:
            out.skipped += 1
            continue
        try:
            signal, rate = sf.read(io.BytesIO(data), dtype="float64", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, TypeError):  # not decodable: left out, counted
            out.skipped += 1
            continue
        for key, value in file_stats(signal, rate).items():
            out.values[key].append(value)
        out.files += 1
    return out


def sample_rows(media: pd.DataFrame, sample: int, seed: int) -> tuple[pd.DataFrame, list[int]]:
    """The audio files of ``media`` in path order and the positions :func:`measure` reads."""
    import numpy as np

    audio = media[media["sampling_rate"] > 0].sort_index()
    rng = np.random.default_rng(seed)
    return audio, sorted(rng.choice(len(audio), size=min(sample, len(audio)), replace=False))


def needed_blobs(media: pd.DataFrame, sample: int, seed: int) -> dict[str, int]:
    """Blob id -> size of what a card with audio reads: the sample and the example (for a
    repository that fetches blobs on demand, such as a remote's object cache)."""
    audio, picks = sample_rows(media, sample, seed)
    out = {audio["blob"].iloc[i]: int(audio["bytes"].iloc[i]) for i in picks}
    small = media[(media["sampling_rate"] > 0) & (media["bytes"] <= EXAMPLE_MAX_BYTES)]
    if len(small):
        median = small.sort_values(["duration"], kind="stable").iloc[len(small) // 2]
        out[median["blob"]] = int(median["bytes"])
    return out


def example_file(store: ObjectStore, media: pd.DataFrame) -> tuple[str, str, bytes] | None:
    """(file, MIME type, verified bytes) of the median-length audio file no bigger than
    :data:`EXAMPLE_MAX_BYTES`; None when no such file's bytes are stored."""
    audio = media[(media["sampling_rate"] > 0) & (media["bytes"] <= EXAMPLE_MAX_BYTES)]
    if not len(audio):
        return None
    ordered = audio.sort_values(["duration"], kind="stable")
    middle = len(ordered) // 2
    # the median first, then its neighbours outwards, in case its bytes were purged
    for k in sorted(range(len(ordered)), key=lambda i: abs(i - middle)):
        row = ordered.iloc[k]
        data = verified_bytes(store, row["blob"])
        if data is not None:
            mime = MIME.get(str(row["format"]).lower(), "audio/" + str(row["format"]).lower())
            return str(ordered.index[k]), mime, data
    return None
