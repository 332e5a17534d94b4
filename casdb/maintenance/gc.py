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
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from casdb.core.errors import InvalidInput
from casdb.core.ids import to_raw
from casdb.core.parallel import workers
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
    return found.objects, {to_raw(b) for b in found.blobs}, found.problems


def collect(repo: BaseRepository, *, grace: float = GRACE, dry_run: bool = False) -> GcReport:
    """Delete what no ref reaches and nothing touched within ``grace`` seconds."""
    if grace < 0:
        raise InvalidInput("the grace period cannot be negative")
    from casdb.core.locking import FileLock

    with FileLock(repo.path / "locks" / "gc.lock", timeout=None):  # writers wait meanwhile
        return _collect(repo, grace, dry_run)


def _collect(repo: BaseRepository, grace: float, dry_run: bool) -> GcReport:
    report = GcReport(dry_run=dry_run)
    started = time.time()
    objects, blobs, problems = mark(repo)
    report.reachable_objects, report.reachable_blobs = len(objects), len(blobs)
    if problems:
        report.problems = problems
        return report  # never sweep on a partial mark
    cutoff = started - grace
    deleted = False
    for top, marked in (("objects", objects), ("blobs", blobs)):
        dead, live = [], []
        for path, object_id in _files(repo.path / top):
            try:
                raw = bytes.fromhex(object_id)
            except ValueError:
                continue
            (live if raw in marked else dead).append(path)
        # "Kept" is what stays on disk, counted there: the mark also names blobs that are
        # not stored (purged ones) and would overstate it. (No sizes: a stat per kept file
        # would double the listing's cost.)
        if top == "objects":
            report.kept_objects = len(live)
        else:
            report.kept_blobs = len(live)
        # Unlinks wait on the file system's journal more than on the CPU: many at once.
        batches = [dead[i : i + 512] for i in range(0, len(dead), 512)]
        # A dry run has nothing to wait on: one thread (threads only cost the GIL there).
        with ThreadPoolExecutor(1 if dry_run else workers()) as pool:
            for kept, removed, size in pool.map(lambda b: _sweep_all(b, cutoff, dry_run),
                                                batches):
                report.kept_young += kept
                report.bytes += size
                if top == "objects":
                    report.objects += removed
                else:
                    report.blobs += removed
                deleted = deleted or removed > 0
    tmp = repo.path / "tmp"
    if tmp.is_dir():
        for entry in os.scandir(tmp):
            if not entry.is_file(follow_symlinks=False):
                continue
            kept, size = _sweep(entry.path, cutoff, dry_run)
            if kept:
                continue
            report.temporary += 1
            report.bytes += size
    if deleted and not dry_run:
        repo.forget_stat_cache()
    return report


def _files(top) -> list[tuple[str, str]]:
    """``(path, id)`` of every file in a fan-out folder (``ab/cdef...``)."""
    out = []
    if not top.is_dir():
        return out
    for fan in os.scandir(top):
        if not fan.is_dir() or len(fan.name) != 2:
            continue
        for entry in os.scandir(fan.path):
            if not entry.name.startswith("."):
                out.append((entry.path, fan.name + entry.name))
    return out


def _sweep_all(paths: list[str], cutoff: float, dry_run: bool) -> tuple[int, int, int]:
    """Sweep ``paths``; return (kept young, removed, bytes removed)."""
    kept = removed = size = 0
    for path in paths:
        young, n = _sweep(path, cutoff, dry_run)
        if young:
            kept += 1
        else:
            removed += 1
            size += n
    return kept, removed, size


def _sweep(path: str, cutoff: float, dry_run: bool) -> tuple[bool, int]:
    """Delete ``path`` unless it changed after ``cutoff``; return (kept, bytes)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return True, 0
    if st.st_mtime > cutoff:
        return True, 0
    if not dry_run:
        try:
            os.unlink(path)
        except FileNotFoundError:
            return True, 0
    return False, st.st_size
