"""Committing a dataset folder as a new version.

The write order is the commit protocol: blobs, partitions and tables, header and tree, the commit
object, a sync of everything written, and only then the refs (version tag, then branch head),
updated by compare-and-swap. A crash at any point leaves at most unreferenced objects; a ref never
points at something missing. The folder is scanned and every table read and checked before the
first byte is stored.
"""

from __future__ import annotations

import getpass
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from casdb import decodable, mediaindex, trees
from casdb.encoding import encode
from casdb.errors import AlreadyExists, InvalidDataset
from casdb.ids import hash_bytes, short
from casdb.ingest import IngestResult, ingest
from casdb.names import check_branch, check_dataset, check_version
from casdb.objects import Commit, Header
from casdb.refs import RefUpdate
from casdb.schema import TableLayout, layout, load_order
from casdb.source import BAD_PATH, Source, scan
from casdb.statcache import FolderCache, Head, listing_digest, tables_key
from casdb.tablefiles import read_table_file
from casdb.tables import store_table
from casdb.units import human_size, plural

if TYPE_CHECKING:
    import pyarrow as pa

    from casdb.repo import Repository


@dataclass(frozen=True)
class CommitResult:
    """What a commit stored."""

    id: str
    dataset: str
    version: str | None
    branch: str
    parent: str | None
    files: int
    bytes: int
    hashed_files: int
    """Files read and hashed (the rest the stat cache vouched for)."""
    new_files: int
    """Files whose bytes the store did not hold before."""
    new_bytes: int
    tables: int
    seconds: float

    def summary(self) -> str:
        """One line for the terminal."""
        name = f"{self.dataset} {self.version}" if self.version else f"{self.dataset} ({self.branch})"
        return (
            f"committed {name} as {short(self.id)}: {plural(self.files, 'file')} "
            f"({human_size(self.bytes)}), {plural(self.tables, 'table')}; "
            f"{plural(self.new_files, 'new file')} ({human_size(self.new_bytes)}), "
            f"{self.hashed_files} read, in {self.seconds:.1f} s"
        )


def default_author() -> str:
    """``CASDB_AUTHOR``, else the login name."""
    try:
        return os.environ.get("CASDB_AUTHOR") or getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"


def commit(
    repo: Repository,
    source: str | Path,
    *,
    dataset: str,
    version: str | None = None,
    branch: str = "main",
    message: str = "",
    author: str | None = None,
    progress: bool | None = None,
    allow_undecodable: bool = False,
) -> CommitResult:
    """Commit the folder ``source`` as a new version of ``dataset``; see :meth:`Repository.commit`."""
    started = time.monotonic()
    check_dataset(dataset)
    check_branch(branch)
    if version is not None:
        check_version(version)
        existing = repo.refs.get(dataset, f"tags/{version}")
        if existing is not None:
            raise AlreadyExists(f"{dataset} {version} exists already (commit {short(existing)})")
    head = repo.refs.get(dataset, f"heads/{branch}")
    parent = head if head is not None else repo.refs.get(dataset, "heads/main")

    started_ns = time.time_ns()
    src = scan(source)
    store = repo.store
    header_bytes = encode(Header(src.header))  # encoded once: hashed now, stored below
    header_id = hash_bytes(header_bytes)
    parent_commit = store.get(parent, "commit") if parent else None
    key = tables_key(
        header_id,
        [(tid, str(p), *_stat(p)) for tid, (_, p) in src.tables.items()],
        started_ns,
    )
    folder = str(src.root)
    cached = repo.statcache.head(folder)
    known = cached.tables.get(key) if key else None
    checking = None
    pool = ThreadPoolExecutor(1)
    if known is None or parent_commit is None or dict(parent_commit.tables) != known:
        # Tables changed (or nothing to compare with): read and check them all. This runs while
        # the media are copied (imports and parsing use the CPU, copies the disk); copies are
        # only staged, so a bad table stops the commit before anything is published.
        checking = pool.submit(_read_and_check, src)
    try:
        store.put_raw(header_bytes)
        listing = listing_digest(src.files)
        body = None
        if cached.listing == listing and cached.tree and store.has(cached.tree[0]):
            stored, root = IngestResult(), trees.Built(*cached.tree)  # nothing changed on disk
        else:
            body = repo.statcache.load(folder)

            def failed() -> bool:
                return checking is not None and checking.done() and checking.exception() is not None

            stored = ingest(store, body.files, src.files, progress=progress, abort=failed)
            dirs: dict[str, tuple[str, int, int]] = {}
            root = trees.build(store, stored.files, known=body.dirs, seen=dirs)
            body = FolderCache(stored.stats, dirs)
        _refuse_purged(repo, stored, root.id)
        frames = checking.result() if checking is not None else None
        if frames is None and _removes_files(store, parent_commit, root.id):
            frames = read_tables(src)  # files went away: check the tables' references again
            _check_media(src, frames)
        if frames is None:
            tables = tuple(sorted(known.items()))
        else:
            tables = tuple(
                sorted(
                    (tid, store_table(store, tid, lay.kind, table, list(lay.levels)))
                    for tid, (lay, table) in frames.items()
                )
            )
        media = _media_index(repo, parent_commit, root.id, stored)
        if not allow_undecodable:
            decodable.refuse(_problems(repo, folder, media), src.header)
        now = time.time()
        obj = Commit(
            dataset=dataset,
            tree=root.id,
            header=header_id,
            tables=tables,
            parents=(parent,) if parent else (),
            author=author if author is not None else default_author(),
            time=int(now),
            tz_offset=time.localtime(now).tm_gmtoff // 60,
            message=message,
            media=media,
        )
        commit_id = store.put(obj)
        store.publish()  # everything durable and visible before any ref points at it
    except BaseException:
        store.discard()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    tree = (root.id, root.size, root.count)
    head_cache = Head(listing, tree, {key: dict(tables)} if key else {})
    repo.statcache.save(folder, head_cache, body, started_ns)
    updates = [RefUpdate(f"tags/{version}", None, commit_id)] if version else []
    updates.append(RefUpdate(f"heads/{branch}", head, commit_id))
    repo.refs.update(dataset, updates)
    return CommitResult(
        id=commit_id,
        dataset=dataset,
        version=version,
        branch=branch,
        parent=parent,
        files=root.count,
        bytes=root.size,
        hashed_files=stored.hashed_files,
        new_files=stored.new_files,
        new_bytes=stored.new_bytes,
        tables=len(tables),
        seconds=time.monotonic() - started,
    )


def _media_index(repo: Repository, parent: Commit | None, tree: str, stored: IngestResult) -> str:
    """The media index of ``tree``: the parent's if the files are the same, else built anew."""
    if parent is not None and parent.tree == tree and parent.media:
        return parent.media
    files = stored.files or {p: (e.id, e.size) for p, e in trees.walk(repo.store, tree)}
    known = mediaindex.known_properties(repo.store, parent.media if parent else None)
    missing = {blob for blob, _ in files.values()} - known.keys()
    if missing:
        memory = repo.statcache.probes()
        known.update({blob: memory[blob] for blob in missing & memory.keys()})
    media_id, probed = mediaindex.build(repo.store, files, known)
    repo.statcache.remember_probes(probed)
    return media_id


def _problems(repo: Repository, folder: str, media: str) -> dict[str, str]:
    """Media that claim audio libsndfile cannot decode (path -> problem), remembered per folder
    for the media index they were found in (a re-commit of the same files reads nothing)."""
    known = repo.statcache.problems(folder, media)
    if known is not None:
        return known
    problems, probed = decodable.find(repo.store, media, repo.statcache.probes())
    repo.statcache.remember_probes(probed)
    repo.statcache.remember_problems(folder, media, problems)
    return problems


def _refuse_purged(repo: Repository, stored: IngestResult, tree: str) -> None:
    """Refuse bytes that were purged from this repository (a purge is meant to last), whether
    they were hashed now or the stat cache vouched for them (or for the whole tree)."""
    from casdb.purge import purged_blobs, refuse_purged

    if not purged_blobs(repo):
        return
    files = stored.files or {p: (e.id, e.size) for p, e in trees.walk(repo.store, tree)}
    refuse_purged(repo, files)


def _stat(path) -> tuple[int, int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns, st.st_ino


def _removes_files(store, parent: Commit | None, tree_id: str) -> bool:
    """Whether the new tree lacks a file the parent had (identical subtrees are skipped)."""
    if parent is None:
        return True
    return any(change.new is None for change in trees.diff(store, parent.tree, tree_id))


def _read_and_check(src: Source) -> dict[str, tuple[TableLayout, pa.Table]]:
    frames = read_tables(src)
    _check_media(src, frames)
    return frames


def read_tables(src: Source) -> dict[str, tuple[TableLayout, pa.Table]]:
    """Read and check every table of the folder (misc tables first: they may hold labels)."""
    out: dict[str, tuple[TableLayout, pa.Table]] = {}
    label_sets: dict[str, list] = {}
    for tid in load_order(src.header):
        lay = layout(src.header, tid)
        table = read_table_file(src.tables[tid][1], lay, label_sets)
        if lay.kind == "misc":
            # Only a one-level index can hold labels (as in audformat).
            label_sets[tid] = table.column(0).to_pylist() if len(lay.levels) == 1 else None
        out[tid] = (lay, table)
    return out


def _check_media(src: Source, frames: dict[str, tuple[TableLayout, pa.Table]]) -> None:
    """Every file a filewise or segmented table names must be in the folder."""
    import pyarrow as pa
    import pyarrow.compute as pc

    present = pa.array([f.path for f in src.files], type=pa.string())
    for tid, (lay, table) in frames.items():
        if lay.kind == "misc":
            continue
        files = table.column("file")
        where = f"table {tid!r}, index 'file'"
        bad = pc.match_substring_regex(files, BAD_PATH)
        if pc.any(bad).as_py():
            row = pc.index(bad, True).as_py()
            raise InvalidDataset(f"{where}, row {row + 1}: file {files[row].as_py()!r} escapes "
                                 "the dataset folder or is not normalised")
        missing = pc.invert(pc.is_in(files, value_set=present))
        if pc.any(missing).as_py():
            row = pc.index(missing, True).as_py()
            raise InvalidDataset(
                f"{where}, row {row + 1}: media {files[row].as_py()!r} is not in the folder"
            )
