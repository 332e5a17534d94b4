"""Converting audio files to a flavour: soundfile for I/O, soxr (librosa's high-quality
resampler) for the rate; in blocks, so memory stays bounded for files of any length.

A file is read in blocks of :data:`BLOCK` frames; each block has its channels selected (an index
beyond the file's channels repeats them) and optionally averaged (mixdown), is resampled by a
streaming soxr resampler at librosa's ``soxr_hq`` quality, clipped to [-1, 1] and written as
integer PCM of the target bit depth. The same input and flavour always give the same bytes.

Every converted file is checked before the caller publishes it (:func:`check_output`): it opens
with libsndfile in the target's format, sampling rate, channels and bit depth, and holds the
frames expected from the frames read (:func:`resampled_frames`); anything else is
``IntegrityError``, and the file is removed.

:func:`convert_many` runs conversions in worker processes on every core and reports each file
as it finishes, so the caller can keep what succeeded when another file fails.

Example:
    >>> import tempfile, numpy as np, soundfile as sf
    >>> from casdb.audio.flavour import Target
    >>> d = tempfile.mkdtemp()
    >>> sf.write(f"{d}/a.wav", np.zeros((48000, 2)), 48000, subtype="PCM_16")
    >>> convert_file(f"{d}/a.wav", f"{d}/b.flac", Target("flac", 16000, (0, 1), True, 16))
    >>> sf.info(f"{d}/b.flac").frames, sf.info(f"{d}/b.flac").channels
    (16000, 1)
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple

from casdb.audio.flavour import Target
from casdb.core.errors import IntegrityError

if TYPE_CHECKING:
    from casdb.core.engine import Engine

BLOCK = 1 << 17
"""Frames read at a time (2.7 s at 48 kHz): memory per worker stays a few MB."""
QUALITY = "HQ"
"""soxr quality; librosa's ``res_type="soxr_hq"`` is the same resampler at the same setting."""
SUBTYPES = {16: "PCM_16", 24: "PCM_24", 32: "PCM_32"}


class Task(NamedTuple):
    """One conversion: read ``source``, write ``dest`` (a temporary path) as ``target``."""

    key: str
    source: str
    dest: str
    target: Target
    size: int


def resampled_frames(frames: int, in_rate: int, out_rate: int) -> int:
    """Frames soxr gives for ``frames`` input frames: the exact ratio, rounded half up.

    Example:
        >>> resampled_frames(3, 48000, 8000), resampled_frames(48000, 48000, 16000)
        (1, 16000)
    """
    if in_rate == out_rate:
        return frames
    return (2 * frames * out_rate + in_rate) // (2 * in_rate)


def check_output(path: str, target: Target, frames: int) -> None:
    """``IntegrityError`` unless ``path`` is ``target`` audio of ``frames`` frames."""
    import soundfile as sf

    try:
        info = sf.info(path)
    except Exception as exc:  # noqa: BLE001 - whatever libsndfile says, the file is unusable
        reason = getattr(exc, "error_string", None) or type(exc).__name__
        empty = " (FLAC cannot hold 0 frames)" if frames == 0 and target.format == "flac" else ""
        raise IntegrityError(f"the converted file does not open{empty}: {reason}") from exc
    got = (info.format, info.subtype, info.samplerate, info.channels, info.frames)
    want = (target.format.upper(), SUBTYPES[target.bit_depth], target.sampling_rate,
            target.out_channels, frames)
    if got != want:
        names = ("format", "subtype", "sampling rate", "channels", "frames")
        diff = ", ".join(f"{n} {g} instead of {w}"
                         for n, g, w in zip(names, got, want, strict=True) if g != w)
        raise IntegrityError(f"the converted file is wrong: {diff}")


def convert_file(source: str, dest: str, target: Target) -> None:
    """Convert one file and check the result (:func:`check_output`); raises what soundfile or
    soxr raise, or ``IntegrityError`` (the caller names the file)."""
    import numpy as np
    import soundfile as sf

    if target.augment is not None:
        augment_file(source, dest, target)
        return
    # float32 holds 24-bit samples exactly and halves the memory traffic; 32-bit output
    # keeps float64.
    dtype = np.float32 if target.bit_depth <= 24 else np.float64
    with sf.SoundFile(source) as src:
        in_rate, in_channels = src.samplerate, src.channels
        # Integer PCM is read as integers (no conversion inside libsndfile) and scaled here.
        raw, scale = _raw_type(src.subtype)
        pick = [c % in_channels for c in target.channels]
        out_channels = target.out_channels
        resampler = None
        read = written = 0
        if target.sampling_rate != in_rate:
            import soxr

            resampler = soxr.ResampleStream(in_rate, target.sampling_rate, out_channels,
                                            dtype=np.dtype(dtype).name, quality=QUALITY)
        # A file object, not a path: libsndfile then does not fsync every file on close
        # (the cache is made durable as a whole; one fsync per file serialises the workers).
        with open(dest, "wb") as sink, sf.SoundFile(
            sink, "w", samplerate=target.sampling_rate, channels=out_channels,
            subtype=SUBTYPES[target.bit_depth], format=target.format.upper()) as out:
            while True:
                block = src.read(BLOCK, dtype=raw or np.dtype(dtype).name, always_2d=True)
                read += len(block)
                last = len(block) < BLOCK
                if target.mixdown:
                    block = _mean(block, pick, dtype, scale)
                else:
                    if pick != list(range(in_channels)):
                        block = block[:, pick]
                    if raw:
                        block = block.astype(dtype) * dtype(scale)
                if resampler is not None:
                    block = resampler.resample_chunk(block, last=last)
                    if block.ndim == 1:
                        block = block[:, None]
                if len(block):
                    out.write(np.clip(block, -1.0, 1.0, out=block))
                    written += len(block)
                if last:
                    break
    expected = resampled_frames(read, in_rate, target.sampling_rate)
    if written != expected:
        raise IntegrityError(f"the conversion wrote {written} frames, {expected} expected from "
                             f"{read} frames at {in_rate} Hz")
    check_output(dest, target, expected)


def augment_file(source: str, dest: str, target: Target) -> None:
    """Convert one file and apply its augmentations (``target.augment``), then check it.

    Unlike :func:`convert_file` the whole signal is held in memory: a time stretch, a reverb
    or an STFT needs it. Channels are selected and mixed, the rate resampled by soxr at the same
    quality, then :func:`casdb.audio.augmenters.apply` runs, and the result is clipped and
    written as integer PCM.
    """
    import json

    import numpy as np
    import soundfile as sf

    from casdb.audio.augmenters import apply

    dtype = np.float32 if target.bit_depth <= 24 else np.float64
    with sf.SoundFile(source) as src:
        in_rate, in_channels = src.samplerate, src.channels
        raw, scale = _raw_type(src.subtype)
        y = src.read(dtype=raw or np.dtype(dtype).name, always_2d=True)
    pick = [c % in_channels for c in target.channels]
    if target.mixdown:
        y = _mean(y, pick, dtype, scale)
    else:
        if pick != list(range(in_channels)):
            y = y[:, pick]
        y = y.astype(dtype) * dtype(scale) if raw else y.astype(dtype, copy=False)
    if target.sampling_rate != in_rate:
        import soxr

        y = soxr.resample(y, in_rate, target.sampling_rate, quality=QUALITY)
        if y.ndim == 1:
            y = y[:, None]
    y = np.ascontiguousarray(apply(y, target.sampling_rate, json.loads(target.augment)),
                             dtype=dtype)
    np.clip(y, -1.0, 1.0, out=y)
    with open(dest, "wb") as sink, sf.SoundFile(
        sink, "w", samplerate=target.sampling_rate, channels=target.out_channels,
        subtype=SUBTYPES[target.bit_depth], format=target.format.upper()) as out:
        out.write(y)
    check_output(dest, target, len(y))


def _raw_type(subtype: str) -> tuple[str | None, float]:
    """The integer type to read a file's samples as, and the scale to [-1, 1); None: floats."""
    if subtype == "PCM_16":
        return "int16", 1.0 / 32768
    if subtype in ("PCM_24", "PCM_32"):
        return "int32", 1.0 / 2**31
    return None, 1.0


def _mean(block, pick: list[int], dtype, scale: float):
    """The mean of the picked channels as one float column (column sums: much faster than
    ``mean(axis=1)`` on interleaved frames; integer samples are summed exactly first)."""
    import numpy as np

    wide = np.int64 if block.dtype == np.int32 else np.int32 if block.dtype == np.int16 else None
    out = block[:, pick[0]].astype(wide or dtype)
    for c in pick[1:]:
        out += block[:, c]
    out = out.astype(dtype) if wide else out
    out *= dtype(scale / len(pick)) if wide else dtype(1.0 / len(pick))
    return out[:, None]


def _names(params: str) -> list[str]:
    import json

    return list(json.loads(params))


class Failure(NamedTuple):
    """Why a conversion failed: the input does not decode, or the output is wrong (``integrity``)."""

    message: str
    integrity: bool


def _work(task: Task) -> tuple[str, Failure | None]:
    try:
        convert_file(task.source, task.dest, task.target)
    except Exception as exc:  # noqa: BLE001 (reported per file; the parent raises one error)
        try:
            os.unlink(task.dest)  # nothing half-written or wrong is left to publish
        except OSError:
            pass
        text = str(exc) if isinstance(exc, IntegrityError) else f"{type(exc).__name__}: {exc}"
        return task.key, Failure(text.splitlines()[0] if text else type(exc).__name__,
                                 isinstance(exc, IntegrityError))
    return task.key, None


def convert_many(tasks: Sequence[Task], workers: int | None = None, *,
                 engine: Engine | None = None) -> Iterator[tuple[Task, Failure | None]]:
    """Run conversions on ``workers`` processes (default: every core); yield ``(task, failure)``
    for each, in order, ``failure`` None on success.

    With a Dask ``engine`` (:mod:`casdb.core.engine`) the tasks run there instead, in
    partitions of a few files, and are yielded as partitions complete; every file a worker
    wrote is checked here before it is reported as converted (:func:`verify_converted`).
    """
    if not tasks:
        return
    if engine is not None:
        yield from _convert_on(engine, tasks)
        return
    import multiprocessing

    workers = max(1, min(workers or os.cpu_count() or 1, len(tasks)))
    if multiprocessing.current_process().daemon:
        # a daemonic process (a DataLoader worker of casdb.torch, a multiprocessing.Pool
        # worker) may not start children: convert here, one file after another
        workers = 1
    augmented = {name for t in tasks if t.target.augment is not None
                 for name in _names(t.target.augment)}
    if augmented and workers > 1:
        from casdb.audio.augmenters import warm_up

        warm_up(augmented)  # once here, not once per forked worker
    by_key = {t.key: t for t in tasks}
    if workers == 1:
        for task in tasks:
            yield task, _work(task)[1]
        return
    from concurrent.futures import ProcessPoolExecutor

    # fork: workers start at once, and a script calling casdb.load without an
    # ``if __name__ == "__main__"`` guard works (spawn and forkserver re-run the script). The
    # parent's threads are idle here (thread pools are closed before conversions start).
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    # Augmented files cost tens of ms each (conversions a few): small chunks keep the workers
    # busy to the end.
    chunk = max(1, min(2 if augmented else 16, len(tasks) // (workers * 4)))
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        for key, error in pool.map(_work, tasks, chunksize=chunk):
            yield by_key[key], error


def _work_partition(tasks: list[Task]) -> list[tuple[str, Failure | None]]:
    """One partition on a Dask worker: convert each file to its temporary ``dest``.

    Idempotent: ``dest`` is chosen by the driver, and a rerun (after this worker was killed)
    writes the same bytes to the same path again. Nothing else is written.
    """
    return [_work(task) for task in tasks]


PARTITION = 16
"""Files per Dask task: a killed worker costs at most this many conversions."""


def _convert_on(engine: Engine, tasks: Sequence[Task]) -> Iterator[tuple[Task, Failure | None]]:
    from casdb.core.engine import partitions

    parts = partitions(list(tasks), count=PARTITION)
    for i, results in engine.map(_work_partition, parts):
        for task, (_, failure) in zip(parts[i], results, strict=True):
            if failure is None:
                try:
                    verify_converted(task)
                except IntegrityError as exc:
                    _discard(task.dest)
                    failure = Failure(str(exc), True)
            yield task, failure


def verify_converted(task: Task) -> None:
    """The driver's check of a file a worker converted: ``dest`` is there and is ``target``
    audio with the frames the source gives (``IntegrityError`` otherwise). An augmentation may
    change the length, so only the format is checked for augmented targets."""
    import soundfile as sf

    if not os.path.exists(task.dest):
        raise IntegrityError(f"the converted file {task.dest} is not here: the engine's workers "
                             "must see the same paths as this machine (a shared file system)")
    if task.target.augment is not None:
        frames = sf.info(task.dest).frames
    else:
        info = sf.info(task.source)
        frames = resampled_frames(info.frames, info.samplerate, task.target.sampling_rate)
    check_output(task.dest, task.target, frames)


def _discard(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
