"""Checking a repository: every object reachable from every ref is read and re-hashed.

Example:
    >>> import tempfile
    >>> from casdb.history.repository import BaseRepository
    >>> check(BaseRepository.init(tempfile.mkdtemp() + "/r")).ok
    True
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from casdb.core.errors import IntegrityError, NotFound
from casdb.core.parallel import workers
from casdb.store import reachability
from casdb.store.tombstones import purged_blobs

if TYPE_CHECKING:
    from casdb.history.repository import BaseRepository


@dataclass
class FsckReport:
    """What ``fsck`` found."""

    objects: int = 0
    """Reachable structural objects checked."""
    blobs: int = 0
    """Reachable blobs re-hashed."""
    blob_bytes: int = 0
    problems: list[str] = field(default_factory=list)
    """One line per missing or corrupt object (or damaged ref)."""
    unreachable_objects: list[str] = field(default_factory=list)
    unreachable_blobs: list[str] = field(default_factory=list)
    temporary_files: int = 0
    """Files left in tmp/ by interrupted writes (gc removes them)."""
    purged: int = 0
    """Reachable blobs that were purged: expected absences (``casdb purged``)."""

    @property
    def ok(self) -> bool:
        return not self.problems


def check(repo: BaseRepository, *, verify_blobs: bool = True) -> FsckReport:
    """Verify everything reachable from every ref; list what nothing reaches."""
    report = FsckReport()
    store = repo.store
    found = reachability.from_refs(store, repo.refs)
    blobs = found.blobs
    report.objects = found.intact
    report.problems += found.problems
    purged = purged_blobs(repo) & blobs.keys()  # expected absences, not problems
    report.purged = len(purged)
    blobs = {b: n for b, n in blobs.items() if b not in purged}
    if verify_blobs:
        with ThreadPoolExecutor(workers()) as pool:
            for problem in pool.map(lambda b: _verify(store, b), sorted(blobs)):
                if problem:
                    report.problems.append(problem)
    else:
        report.problems += [f"blob {b} is missing" for b in sorted(blobs) if not store.has_blob(b)]
    report.blobs = len(blobs)
    report.blob_bytes = sum(blobs.values())
    report.unreachable_objects = sorted(i for i in store.object_ids() if not found.has(i))
    report.unreachable_blobs = sorted(set(store.blob_ids()) - blobs.keys())
    tmp = repo.path / "tmp"
    report.temporary_files = sum(1 for _ in tmp.iterdir()) if tmp.is_dir() else 0
    return report


def _verify(store, blob: str) -> str | None:
    try:
        store.verify_blob(blob)
    except (NotFound, IntegrityError) as exc:
        return str(exc)
    return None
