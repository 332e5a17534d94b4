"""Bringing a folder's files into the blob store: skip what the stat cache knows, copy and hash
the rest on all cores, with a progress bar.

Example:
    >>> import tempfile, pathlib
    >>> from casdb.store.backends.local import LocalBackend
    >>> from casdb.store.objectstore import ObjectStore
    >>> from casdb.commit.scan import scan
    >>> src = pathlib.Path(tempfile.mkdtemp()); repo = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (src / "db.yaml").write_text("name: demo\\n"); _ = (src / "a.wav").write_bytes(b"x")
    >>> result = ingest(ObjectStore(LocalBackend(repo)), {}, scan(src).files)
    >>> result.new_files, result.files["a.wav"][1]
    (1, 1)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from casdb.audio.probe import HEAD, MediaInfo, probe_bytes
from casdb.commit.scan import SourceFile
from casdb.core.errors import InvalidDataset
from casdb.core.parallel import workers
from casdb.core.progress import Progress
from casdb.store.objectstore import BLOBS, SMALL_FILE, ObjectStore

if TYPE_CHECKING:
    from casdb.core.engine import Engine


@dataclass
class IngestResult:
    """What an ingest found and did."""

    files: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Posix path -> (blob id, size) for every file."""
    stats: dict[str, tuple[int, int, int, str]] = field(default_factory=dict)
    """Posix path -> (size, mtime_ns, inode, blob id): the stat cache after this ingest."""
    hashed_files: int = 0
    hashed_bytes: int = 0
    new_files: int = 0
    """Blobs the store did not have before."""
    new_bytes: int = 0
    probes: dict[str, MediaInfo] = field(default_factory=dict)
    """Blob id -> audio properties of plain WAV files parsed from the bytes read for hashing
    (exactly what :func:`casdb.audio.probe.probe_file` gives for the stored blob)."""


def ingest(
    store: ObjectStore,
    known: dict[str, tuple[int, int, int, str]],
    files: list[SourceFile],
    *,
    progress: bool | None = None,
    abort: Callable[[], bool] | None = None,
    engine: Engine | None = None,
) -> IngestResult:
    """Stage every file as a blob, reading only files whose stat differs from ``known``.

    ``known`` is the stat cache of the folder (path -> size, mtime_ns, inode, blob id). The blobs
    become durable with ``store.publish()``; save ``result.stats`` as the new cache after that.
    ``abort`` is polled while files are copied: when it returns True, the rest is skipped.
    With a Dask ``engine`` the files are copied and hashed on its workers
    (:mod:`casdb.commit.hashing`); this process re-hashes and stages each new blob.
    """
    result = IngestResult()
    todo: list[SourceFile] = []
    out, stats, probes = result.files, result.stats, result.probes
    for f in files:
        hit = known.get(f.path)
        if hit is not None and hit[0] == f.size and hit[1] == f.mtime_ns and hit[2] == f.ino:
            out[f.path] = (hit[3], f.size)
            stats[f.path] = hit
        else:
            todo.append(f)
    total = sum(f.size for f in todo)
    if engine is not None:
        _ingest_on(engine, store, todo, result, progress, abort)
        return result
    batches = iter(_batches(todo))
    with Progress("storing", total, len(todo), progress) as bar, ThreadPoolExecutor(workers()) as pool:
        # A bounded window of batches in flight: memory stays flat for 100k files.
        pending = {pool.submit(_store_batch, store, b) for b in _take(batches, 2 * workers())}
        while pending:
            if abort is not None and abort():
                break
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in done:
                for f, blob, new, unchanged, info in future.result():  # re-raises an error
                    if info is not None:
                        probes[blob] = info
                    out[f.path] = (blob, f.size)
                    if unchanged:
                        stats[f.path] = (f.size, f.mtime_ns, f.ino, blob)
                    result.hashed_files += 1
                    result.hashed_bytes += f.size
                    if new:
                        result.new_files += 1
                        result.new_bytes += f.size
                    bar.advance(f.size)
                pending |= {pool.submit(_store_batch, store, b) for b in _take(batches, 1)}
        for future in pending:
            future.cancel()
    return result


def _batches(files: list[SourceFile], count: int = 64, size: int = 16 << 20):
    """Files grouped into tasks of up to ``count`` files or ``size`` bytes."""
    batch: list[SourceFile] = []
    total = 0
    for f in files:
        batch.append(f)
        total += f.size
        if len(batch) >= count or total >= size:
            yield batch
            batch, total = [], 0
    if batch:
        yield batch


def _take(iterator, n: int) -> list:
    out = []
    for item in iterator:
        out.append(item)
        if len(out) >= n:
            break
    return out


def _store_batch(store: ObjectStore, batch: list[SourceFile]) -> list[tuple]:
    out = []
    for f in batch:
        if f.size <= SMALL_FILE:
            small = _store_small(store, f)
            if small is not None:
                out.append(small)
                continue
        blob, new = store.put_file(f.abspath, f.size)
        out.append((f, blob, new, _unchanged(f), None))
    return out


def _store_small(store: ObjectStore, f: SourceFile) -> tuple | None:
    """A small file read whole, stored, and probed from the bytes in memory (a plain WAV header
    is parsed; anything else is probed later from the blob, as before), with one ``fstat`` of
    the open file to tell whether it changed since the scan. None: it grew past a small file
    (stored the ordinary way)."""
    try:
        fd = os.open(f.abspath, os.O_RDONLY)
    except OSError as exc:
        raise InvalidDataset(f"cannot read {f.abspath}: {exc.strerror or exc}") from exc
    try:
        parts = []
        left = SMALL_FILE + 1
        while left > 0:
            part = os.read(fd, left)
            if not part:
                break
            parts.append(part)
            left -= len(part)
        st = os.fstat(fd)
    except OSError as exc:
        raise InvalidDataset(f"cannot read {f.abspath}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    data = parts[0] if len(parts) == 1 else b"".join(parts)
    if len(data) > SMALL_FILE:
        return None
    blob, new = store.put_small(data)
    # The stat of the file these bytes came from (fstat of the open file): if the path was
    # replaced after the scan, its inode differs and the stat cache does not vouch for it.
    unchanged = (st.st_size, st.st_mtime_ns, st.st_ino) == (f.size, f.mtime_ns, f.ino)
    return f, blob, new, unchanged, probe_bytes(data[:HEAD], f.path, len(data))


def _unchanged(f: SourceFile) -> bool:
    """Whether the file still has the stat it had when scanned (else its id may be stale)."""
    try:
        st = os.stat(f.abspath)
    except OSError:
        return False
    return (st.st_size, st.st_mtime_ns, st.st_ino) == (f.size, f.mtime_ns, f.ino)


def _ingest_on(engine: Engine, store: ObjectStore, todo: list[SourceFile], result: IngestResult,
               progress: bool | None, abort: Callable[[], bool] | None) -> None:
    """:func:`ingest` on an engine: workers copy and hash partitions of ``todo`` into
    temporary files named here; each is adopted (re-hashed, staged) by this process."""
    from casdb.commit.hashing import Item, store_partition
    from casdb.core.engine import partitions

    store.backend.make_dir(store.backend.tmp)
    items = [Item(f.path, str(f.abspath), f.size, f.mtime_ns, f.ino, store.stage.temp())
             for f in todo]
    by_path = {f.path: f for f in todo}
    parts = partitions(items, count=64, weight=lambda i: i.size, size=64 << 20)
    adopted: set[str] = set()
    try:
        with Progress("storing", sum(f.size for f in todo), len(todo), progress) as bar:
            for _, rows in engine.map(store_partition, parts, f"{store.root}/{BLOBS}"):
                for path, blob, tmp, unchanged in rows:
                    f = by_path[path]
                    new = store.adopt_blob_file(blob, tmp)
                    if tmp is not None:
                        adopted.add(tmp)
                    if new is None:  # gone since the worker looked: store it here
                        blob, new = store.put_file(f.abspath, f.size)
                    _count(result, f, blob, new, unchanged)
                    bar.advance(f.size)
                if abort is not None and abort():
                    break
    finally:
        for item in items:  # copies not adopted (an error, an abort): nothing is left behind
            if item.tmp not in adopted:
                try:
                    os.unlink(item.tmp)
                except OSError:
                    pass


def _count(result: IngestResult, f: SourceFile, blob: str, new: bool, unchanged: bool) -> None:
    result.files[f.path] = (blob, f.size)
    if unchanged:
        result.stats[f.path] = (f.size, f.mtime_ns, f.ino, blob)
    result.hashed_files += 1
    result.hashed_bytes += f.size
    if new:
        result.new_files += 1
        result.new_bytes += f.size
