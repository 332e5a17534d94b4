"""Checking a repository: every object reachable from every ref is read and re-hashed.

Example:
    >>> import tempfile
    >>> from casdb.history.repository import Repository
    >>> check(Repository.init(tempfile.mkdtemp() + "/r")).ok
    True
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from casdb.core.errors import IntegrityError, NotFound
from casdb.core.ids import to_raw
from casdb.core.parallel import workers
from casdb.model.objects import DIR, Commit, Table, Tree

if TYPE_CHECKING:
    from casdb.history.repository import Repository


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


def check(repo: Repository, *, verify_blobs: bool = True) -> FsckReport:
    """Verify everything reachable from every ref; list what nothing reaches."""
    report = FsckReport()
    store = repo.store
    seen, blobs, problems, report.objects = reachable(repo)
    report.problems += problems
    from casdb.store.tombstones import purged_blobs

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
    report.unreachable_objects = sorted(i for i in store.object_ids() if to_raw(i) not in seen)
    report.unreachable_blobs = sorted(set(store.blob_ids()) - blobs.keys())
    tmp = repo.path / "tmp"
    report.temporary_files = sum(1 for _ in tmp.iterdir()) if tmp.is_dir() else 0
    return report


def reachable(repo: Repository) -> tuple[set[bytes], dict[str, int], list[str], int]:
    """Everything the refs reach: raw ids of objects, blobs (id -> size), the problems met (a
    damaged ref, a missing or corrupt object) and how many objects were read intact.

    Ids are kept as raw bytes: half the memory of hex for a million objects (gc, fsck).
    """
    store = repo.store
    objects: set[bytes] = set()
    blobs: dict[str, int] = {}
    refs, damaged = repo.refs.scan()
    problems = [str(exc) for exc in damaged]
    intact = 0
    stack = [(cid, "commit") for _, _, cid in refs]
    while stack:
        object_id, kind = stack.pop()
        raw = to_raw(object_id)
        if raw in objects:
            continue
        objects.add(raw)
        try:
            obj = store.get(object_id, kind)
        except (NotFound, IntegrityError) as exc:
            problems.append(f"{kind}: {exc}")
            continue
        intact += 1
        stack.extend(children(obj, blobs))
        store.trim_cache(256)  # the walk reads each object once: keep the cache small
    return objects, blobs, problems, intact


def children(obj: object, blobs: dict[str, int]) -> list[tuple[str, str]]:
    """The objects ``obj`` refers to, as ``(id, kind)``; blobs of a tree go into ``blobs``."""
    if isinstance(obj, Commit):
        out = [(obj.tree, "tree"), (obj.header, "header")]
        out += [(tid, "table") for _, tid in obj.tables]
        out += [(p, "commit") for p in obj.parents]
        if obj.media:
            out.append((obj.media, "table"))
        return out
    if isinstance(obj, Tree):
        out = [(c.id, "tree") for c in obj.children]
        for e in obj.entries:
            if e.kind == DIR:
                out.append((e.id, "tree"))
            else:
                blobs[e.id] = e.size
        return out
    if isinstance(obj, Table):
        out = [(pid, "partition") for run in obj.runs for pid in run.columns]
        return out + [(pid, "partition") for pid in obj.order]
    return []


def _verify(store, blob: str) -> str | None:
    try:
        store.verify_blob(blob)
    except (NotFound, IntegrityError) as exc:
        return str(exc)
    return None
