"""Garbage collection of a repository: delete the objects and blobs no ref reaches.

Mark: every commit a ref names, and everything below it (the same walk as fsck). Sweep: every
object, blob and temporary file that is not marked and was not modified within the grace period.

A commit, pull or checkout from a remote in progress is never swept. Writers of the store hold
a shared lock (``locks/gc.lock``) while they work; gc takes it exclusively from its mark to the
end of its sweep, so it waits for running writers, and new ones wait for it: nothing a writer
reuses (an unreachable object it found instead of writing) can vanish under it. The grace
period is a second guard, for writers that do not take the lock (another machine on a shared
file system): files changed within it are spared, and a commit touches the objects it reuses
(:func:`casdb.store.objectstore._touch`). The stat cache names blobs, so it is cleared when anything is
deleted.

Example:
    >>> import tempfile
    >>> from casdb.history.repository import BaseRepository
    >>> repo = BaseRepository.init(tempfile.mkdtemp() + "/r")
    >>> collect(repo, grace=0).objects
    0
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from casdb.core.errors import InvalidInput
from casdb.core.ids import to_raw
from casdb.store import reachability

if TYPE_CHECKING:
    from casdb.history.repository import BaseRepository

GRACE = 3600.0


@dataclass
class GcReport:
    """What a gc deleted (or would delete, with ``dry_run``)."""

    objects: int = 0
    blobs: int = 0
    temporary: int = 0
    bytes: int = 0
    kept_young: int = 0
    """Unreachable files spared because they changed within the grace period."""
    kept_objects: int = 0
    """Objects in the store that a ref reaches, left in place (counted on disk)."""
    kept_blobs: int = 0
    """Blobs in the store that a ref reaches, left in place (purged blobs are not there)."""
    reachable_objects: int = 0
    """Objects the mark reached (stored or not)."""
    reachable_blobs: int = 0
    """Blobs the trees name, purged ones included: more than :attr:`kept_blobs` after a purge."""
    dry_run: bool = False
    problems: list[str] = field(default_factory=list)

    def add(self, top: str, counts: _Counts) -> None:
        """Count one swept fan-out folder of ``objects`` or ``blobs``."""
        self.bytes += counts.bytes
        if top == "objects":
            self.objects += counts.removed
            self.kept_objects += counts.kept
        else:
            self.blobs += counts.removed
            self.kept_blobs += counts.kept


def parse_duration(text: str) -> float:
    """Seconds in ``30s``, ``15m``, ``2h``, ``7d`` or a plain number of seconds.

    Example:
        >>> parse_duration("2h"), parse_duration("90")
        (7200.0, 90.0)
    """
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    text = text.strip().lower()
    try:
        if text and text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError:
        raise InvalidInput(f"invalid duration {text!r}: use e.g. 30s, 15m, 2h, 7d") from None


def mark(repo: BaseRepository) -> tuple[set[bytes], set[bytes], list[str]]:
    """Raw ids of every reachable object and blob, and the problems met (a damaged ref or a
    missing object stops the gc: deleting on a partial mark could lose data)."""
    found = reachability.from_refs(repo.store, repo.refs)
    blobs = {to_raw(b) for b in found.blobs}
    found.blobs.clear()  # hex keys and sizes: twice the memory of the raw set
    return found.objects, blobs, found.problems


def mark_compact(repo: BaseRepository) -> tuple[Marked, Marked, list[str]]:
    """:func:`mark`, the ids held as :class:`Marked` (the walk's own sets are dropped)."""
    found = reachability.from_refs(repo.store, repo.refs)
    objects = Marked(found.objects)
    found.objects.clear()
    blobs = Marked(bytes.fromhex(b) for b in found.blobs)
    found.blobs.clear()
    return objects, blobs, found.problems


class Marked:
    """A set of raw ids held compactly: one sorted array of 32-byte digests (32 bytes an id,
    against about 100 for a Python set of ``bytes``), looked up a fan-out folder at a time.

    Example:
        >>> m = Marked({bytes(32), bytes([171]) * 32})
        >>> len(m), m.alive("ab", ["ab" * 31, "cd" * 31]).tolist()
        (2, [True, False])
    """

    def __init__(self, raws: Iterable[bytes]) -> None:
        import numpy as np

        ids = np.fromiter(raws, dtype="S32")
        ids.sort()
        self.ids = ids
        # Where each first byte's run starts: folder ``ab`` looks only at ids[start[0xab]:...].
        firsts = ids.view(np.uint8).reshape(-1, 32)[:, 0] if len(ids) else np.empty(0, np.uint8)
        self.start = np.searchsorted(firsts, np.arange(257))

    def __len__(self) -> int:
        return len(self.ids)

    def alive(self, fan: str, names: list[str]):
        """Whether each of ``names`` (file names in fan-out folder ``fan``) is marked."""
        import numpy as np

        first = int(fan, 16)
        run = self.ids[self.start[first] : self.start[first + 1]]
        wanted = np.array([bytes.fromhex(fan + n) for n in names], dtype="S32")
        if not len(run):
            return np.zeros(len(names), dtype=bool)
        at = np.searchsorted(run, wanted)
        return run[np.minimum(at, len(run) - 1)] == wanted


def collect(repo: BaseRepository, *, grace: float = GRACE, dry_run: bool = False,
            on_folder: Callable[[str], None] | None = None) -> GcReport:
    """Delete what no ref reaches and nothing touched within ``grace`` seconds.

    ``on_folder(name)`` is called after each fan-out folder is swept (``"objects/ab"``), in
    the calling thread; an exception it raises stops the gc there (what is left goes at the
    next gc).
    """
    if grace < 0:
        raise InvalidInput("the grace period cannot be negative")
    from casdb.core.locking import FileLock

    with FileLock(repo.path / "locks" / "gc.lock", timeout=None):  # writers wait meanwhile
        return _collect(repo, grace, dry_run, on_folder)


def _collect(repo: BaseRepository, grace: float, dry_run: bool,
             on_folder: Callable[[str], None] | None = None) -> GcReport:
    report = GcReport(dry_run=dry_run)
    started = time.time()
    objects, blobs, problems = mark_compact(repo)
    report.reachable_objects, report.reachable_blobs = len(objects), len(blobs)
    if problems:
        report.problems = problems
        return report  # never sweep on a partial mark
    # Only the marked ids are held through the sweep, compactly; each folder is read a chunk
    # of names at a time (the store is never listed whole, nor a whole folder).
    marked = {"objects": objects, "blobs": blobs}
    sweeper = _Sweeper(repo, started - grace, dry_run)
    folders = [(top, fan) for top in ("objects", "blobs") for fan in _fans(repo.path / top)]
    threads = 1 if dry_run else sweeper.probe(folders, marked)
    with ThreadPoolExecutor(threads) as pool:
        done = pool.map(lambda tf: sweeper.folder(tf[0], tf[1], marked[tf[0]]), folders)
        try:
            for (top, fan), counts in zip(folders, done, strict=True):
                report.add(top, counts)
                if on_folder is not None:
                    on_folder(f"{top}/{fan}")
        except BaseException:
            pool.shutdown(cancel_futures=True)  # stop at the folders under way
            raise
    tmp = repo.path / "tmp"
    if tmp.is_dir():
        for entry in os.scandir(tmp):
            if not entry.is_file(follow_symlinks=False):
                continue
            size = sweeper.sweep(entry.path)
            if size is None:
                continue
            report.temporary += 1
            report.bytes += size
    report.kept_young += sweeper.young
    return report


WIDE = 32
"""Folders swept at once where deleting waits on the device (online discard): each unlink
waits for its discard, and the device serves many at once (1 thread: 595 µs a file on the
benchmark machine; 8: 155; 32: 124; 64: 124)."""
PROBE = 64
"""Deletions timed on one thread to choose between one thread and :data:`WIDE`."""
CHUNK = 1024
"""Names of a folder held at once by each thread."""

_FAN_HEX = frozenset("0123456789abcdef")
_NAME = re.compile("[0-9a-f]{62}").fullmatch
"""A stored file's name in its fan-out folder: the rest of its id."""


def _fans(top: Path) -> list[str]:
    """The fan-out folders of ``top`` (two lowercase hex digits), sorted."""
    try:
        entries = list(os.scandir(top))
    except FileNotFoundError:
        return []
    return sorted(e.name for e in entries
                  if len(e.name) == 2 and set(e.name) <= _FAN_HEX and e.is_dir(follow_symlinks=False))


@dataclass
class _Counts:
    """One folder's sweep."""

    kept: int = 0
    removed: int = 0
    bytes: int = 0


class _Sweeper:
    """Sweeps fan-out folders: unmarked files older than ``cutoff`` go."""

    def __init__(self, repo: BaseRepository, cutoff: float, dry_run: bool) -> None:
        self.repo = repo
        self.cutoff = cutoff
        self.dry_run = dry_run
        self.young = 0
        self.probed: dict[str, tuple[int, int]] = {}
        """Folder -> (files, bytes) deleted by :meth:`probe` already."""
        self._lock = threading.Lock()
        self._forgot = dry_run

    def probe(self, folders: list[tuple[str, str]], marked: dict[str, Marked]) -> int:
        """How many threads to sweep with, from :data:`PROBE` deletions on this one.

        Where an unlink only costs CPU, threads contend for the GIL and one is fastest (the
        sweep of 800k files took 21-24 s on one thread, 31-35 s on eight, on ext4 without
        discard); where it waits on the device (online discard: a discard per freed file),
        the waits overlap on many threads. The wait is the wall time the deleting thread did
        not spend on the CPU.
        """
        wall = cpu = 0.0
        n = 0
        for top, fan in folders:
            if n >= PROBE:
                break
            with _Folder(self.repo.path / top / fan) as folder:
                first = next(folder.chunks(), [])
                dead = folder.dead(fan, first, marked[top])[: PROBE - n] if first else []
                t, c = time.perf_counter(), time.thread_time()
                removed, size, _ = self._sweep_names(dead, folder.fd)  # young ones: seen again
                wall += time.perf_counter() - t
                cpu += time.thread_time() - c
                n += len(dead)
                got = self.probed.get(f"{top}/{fan}", (0, 0))
                self.probed[f"{top}/{fan}"] = (got[0] + removed, got[1] + size)
        return WIDE if n and cpu < 0.5 * wall else 1

    def folder(self, top: str, fan: str, marked: Marked) -> _Counts:
        """Read folder ``top/fan``, delete its unmarked old files, count what stays."""
        removed, size = self.probed.get(f"{top}/{fan}", (0, 0))
        counts = _Counts(removed=removed, bytes=size)
        young = 0
        with _Folder(self.repo.path / top / fan) as folder:
            for names in folder.chunks():
                dead = folder.dead(fan, names, marked)
                counts.kept += len(names) - len(dead)
                removed, size, kept = self._sweep_names(dead, folder.fd)
                counts.removed += removed
                counts.bytes += size
                young += kept
        if young:
            with self._lock:
                self.young += young
        return counts

    def _sweep_names(self, names: list[str], dir_fd: int | None) -> tuple[int, int, int]:
        """:meth:`sweep` each of ``names``; (removed, bytes removed, kept as young or gone)."""
        removed = size = kept = 0
        for name in names:
            got = self.sweep(name, dir_fd)
            if got is None:
                kept += 1
            else:
                removed += 1
                size += got
        return removed, size, kept

    def sweep(self, path: str, dir_fd: int | None = None) -> int | None:
        """Delete ``path`` (relative to ``dir_fd``) unless it changed after the cutoff; its
        size, or None if it stays (young, or gone already)."""
        try:
            st = os.stat(path, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        if st.st_mtime > self.cutoff:
            return None
        if not self.dry_run:
            self._forget()
            try:
                os.unlink(path, dir_fd=dir_fd)
            except FileNotFoundError:
                return None
        return st.st_size

    def _forget(self) -> None:
        """Clear the stat cache before the first deletion: it names blobs and objects (trees,
        tables) that a commit would then trust without checking, and a gc interrupted after
        deleting must not leave it vouching for them."""
        if self._forgot:
            return
        with self._lock:
            if not self._forgot:
                self.repo.forget_stat_cache()
                self._forgot = True


class _Folder:
    """An open fan-out folder: stat and unlink by name relative to it (no path walk each)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def __enter__(self) -> _Folder:
        try:
            self.fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except (FileNotFoundError, NotADirectoryError):
            self.fd = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)

    def chunks(self) -> Iterator[list[str]]:
        """The folder's stored files (names of 62 hex digits), :data:`CHUNK` names at a time.

        Deleting while the folder is read is safe: POSIX leaves unspecified only whether a
        file removed (or added) since the folder was opened is returned; every other name is
        returned once. Other names (a writer's hidden temporary files) are not the store's.
        """
        if self.fd is None:
            return
        names: list[str] = []
        with os.scandir(self.fd) as entries:
            for entry in entries:
                name = entry.name
                if _NAME(name):
                    names.append(name)
                    if len(names) == CHUNK:
                        yield names
                        names = []
        if names:
            yield names

    @staticmethod
    def dead(fan: str, names: list[str], marked: Marked) -> list[str]:
        """Those of ``names`` that ``marked`` lacks."""
        alive = marked.alive(fan, names)
        return [n for n, live in zip(names, alive.tolist(), strict=True) if not live]
