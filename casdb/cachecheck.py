"""Checking the cache: what each folder holds (``casdb cache ls``) and whether its files are
intact (``casdb cache verify``), repairing from the repository what was modified or removed.

Media are re-hashed and compared with the blob ids of the version's media index; metadata files
(db.yaml and tables) with the hashes recorded when they were written. A media file that is a
hardlink of the store's blob is the blob: it is hashed once, and if it is corrupt the store is
too, which a cache repair cannot fix (``casdb fsck`` reports it) — it is reported, not hidden.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> list(summaries(Path(tempfile.mkdtemp())))
    []
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from casdb import cache
from casdb.ids import hash_bytes, new_hasher
from casdb.parallel import workers
from casdb.selection import attachment_paths, is_attachment

if TYPE_CHECKING:
    from casdb.repo import Repository


@dataclass(frozen=True)
class Summary:
    """One cache folder, for ``casdb cache ls``."""

    path: Path
    dataset: str
    version: str
    flavour: str
    tables: int
    files: int
    """Media and attachment files in place."""
    bytes: int
    complete: bool
    used: float
    link: dict[str, int]


def summaries(root: Path, dataset: str | None = None) -> Iterator[Summary]:
    """A summary of every folder in the cache (folders without a state are left out)."""
    for entry in cache.entries(root, dataset):
        state = entry.state
        if state is None:
            continue
        present = _present(entry.path, state)
        yield Summary(entry.path, state.dataset, state.version, state.flavour, len(state.tables),
                      len(present), sum(present.values()), state.complete, entry.used, state.link)


def _media(path: Path) -> dict[str, tuple[str, int]]:
    import pyarrow.parquet as pq

    table = pq.read_table(path / cache.META / "media.parquet", columns=["file", "blob", "bytes"])
    return {
        f: (b, n) for f, b, n in zip(*(table.column(c).to_pylist() for c in ("file", "blob", "bytes")),
                                     strict=True)
    }


def _present(path: Path, state: cache.State, index: dict | None = None) -> dict[str, int]:
    """Files a folder's state says are in place -> bytes."""
    from casdb import encoding

    index = index if index is not None else _media(path)
    header = encoding.decode((path / cache.META / "header").read_bytes(), "header").data
    attachments = attachment_paths(header)
    wanted = set(state.media) if state.media is not None else None
    return {
        p: size for p, (_, size) in index.items()
        if is_attachment(p, attachments) or wanted is None or p in wanted
    }


@dataclass
class Report:
    """What ``verify`` found in one folder."""

    path: Path
    checked: int = 0
    """Files checked (media, attachments and metadata)."""
    repaired: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    """Problems left: ``path: reason`` (no repository to repair from, or a corrupt store)."""
    incomplete: bool = False
    """A checkout that never finished (no state): nothing to verify; the next load finishes it."""

    @property
    def ok(self) -> bool:
        return not self.broken


def verify(root: Path, repo: Repository | None, dataset: str | None = None,
           repair: bool = True) -> list[Report]:
    """Verify every folder in the cache (of ``dataset``); repair from ``repo`` when given."""
    reports = []
    for entry in cache.entries(root, dataset):
        report = Report(entry.path)
        if entry.state is None:
            report.incomplete = True
        else:
            _verify_folder(entry.path, entry.state, repo if repair else None, report)
        reports.append(report)
    return reports


def _verify_folder(path: Path, state: cache.State, repo: Repository | None, report: Report) -> None:
    from casdb.locking import FileLock

    with FileLock(path / cache.META / "lock", timeout=None):
        index = _media(path)
        present = _present(path, state, index)
        blob_of = {p: index[p][0] for p in present}
        bad = _check_media(path, blob_of, repo, report)
        report.checked += len(present)
        if bad and repo is None:
            report.broken += [f"{p}: {why} (no repository to repair from)" for p, why in bad]
        elif bad:
            _repair_media(path, state, repo, bad, blob_of, report)
        _check_metadata(path, state, repo, report)


def _check_media(path: Path, blob_of: dict[str, str], repo: Repository | None,
                 report: Report) -> list[tuple[str, str]]:
    """Media files that are missing or differ from their blob: ``[(path, reason)]``."""
    bad: list[tuple[str, str]] = []
    hashed: dict[tuple[int, int], str] = {}  # (dev, inode) -> id: a hardlinked blob once

    def check(item: tuple[str, str]) -> tuple[str, str] | None:
        rel, blob = item
        full = path / rel
        try:
            st = os.stat(full)
        except FileNotFoundError:
            return rel, "missing"
        key = (st.st_dev, st.st_ino)
        digest = hashed.get(key)
        if digest is None:
            digest = _hash_file(full, st.st_size)
            hashed[key] = digest
        if digest == blob:
            return None
        if repo is not None and _is_blob(repo, blob, st):
            return rel, "corrupt in the store too (run casdb fsck)"
        return rel, "modified"

    with ThreadPoolExecutor(workers()) as pool:
        for problem in pool.map(check, sorted(blob_of.items())):
            if problem is not None:
                bad.append(problem)
    return bad


def _is_blob(repo: Repository, blob: str, st: os.stat_result) -> bool:
    try:
        bst = os.stat(repo.store.blob_path(blob))
    except OSError:
        return False
    return (bst.st_dev, bst.st_ino) == (st.st_dev, st.st_ino)


def _hash_file(path: Path, size: int) -> str:
    hasher = new_hasher(size)
    if size:
        hasher.update_mmap(str(path))
    return hasher.hexdigest()


def _repair_media(path: Path, state: cache.State, repo: Repository,
                  bad: list[tuple[str, str]], blob_of: dict[str, str], report: Report) -> None:
    from casdb.errors import Error
    from casdb.linking import Linker

    linker = Linker("auto", tmp_dir=path / cache.META / "tmp")
    for rel, why in bad:
        if why.startswith("corrupt in the store"):
            report.broken.append(f"{rel}: {why}")
            continue
        blob = blob_of[rel]
        full = path / rel
        try:
            repo.store.verify_blob(blob)
            if full.exists():
                full.unlink()
            full.parent.mkdir(parents=True, exist_ok=True)
            linker.place(repo.store.blob_path(blob), full)
        except (Error, OSError) as exc:
            report.broken.append(f"{rel}: {why}, and the repair failed: {exc}")
            continue
        report.repaired.append(f"{rel} ({why})")


def _check_metadata(path: Path, state: cache.State, repo: Repository | None, report: Report) -> None:
    from casdb.materialise import header_yaml, write_table
    from casdb.snapshot import Snapshot

    snap = None
    changed = False
    for name, expected in sorted(state.files.items()):
        report.checked += 1
        try:
            actual = hash_bytes((path / name).read_bytes())
        except OSError:
            actual = None
        if actual == expected:
            continue
        why = "missing" if actual is None else "modified"
        if repo is None:
            report.broken.append(f"{name}: {why} (no repository to repair from)")
            continue
        snap = snap or Snapshot(repo.store, state.dataset, state.commit)
        if name == "db.yaml":
            from casdb.atomic import atomic_write

            text = header_yaml(snap.header, set(state.tables))
            atomic_write(path / name, text, tmp_dir=path / cache.META)
            digest = hash_bytes(text)
        else:
            table = name[len("db."):-len(".parquet")]
            rows = set(state.rows) if state.tables.get(table) == "media" else None
            digest = write_table(snap, table, rows, path / name, path / cache.META)
        changed |= digest != expected
        state.files[name] = digest
        report.repaired.append(f"{name} ({why})")
    if changed:
        cache.write_state(path, state)
