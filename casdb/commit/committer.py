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
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from casdb.commit import decodable
from casdb.commit.ingest import IngestResult, ingest
from casdb.commit.scan import BAD_PATH, Source, SourceFile, scan
from casdb.commit.statcache import FolderCache, Head, StatCache, listing_digest, tables_key
from casdb.core.errors import AlreadyExists, InvalidDataset, NotFound
from casdb.core.ids import hash_bytes, short
from casdb.core.names import check_branch, check_dataset, check_version, version_key
from casdb.core.units import human_size, plural
from casdb.history import trees
from casdb.model.encoding import encode
from casdb.model.objects import Commit, Header
from casdb.store.refs import RefUpdate
from casdb.store.tombstones import purged_blobs, refuse_purged
from casdb.tables import mediaindex
from casdb.tables.files import read_table_file
from casdb.tables.partitions import store_table
from casdb.tables.schema import TableLayout, layout, load_order

if TYPE_CHECKING:
    import pyarrow as pa

    from casdb.audio.probe import MediaInfo
    from casdb.core.engine import Engine
    from casdb.history.repository import BaseRepository


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
    changed: bool = True
    """False: the folder equals the parent (tree, header, tables) and no commit was recorded;
    ``id`` is then the parent, which the version tag (if any) now names too."""
    at: str | None = None
    """When nothing changed: the version the parent is known as (or None)."""

    def summary(self) -> str:
        """One line for the terminal."""
        name = f"{self.dataset} {self.version}" if self.version else f"{self.dataset} ({self.branch})"
        if not self.changed:
            if self.version:
                return (f"nothing changed since {short(self.id)}: tagged it "
                        f"{self.dataset} {self.version}")
            where = self.at or self.branch
            return f"nothing to commit, {self.dataset} is at {where} ({short(self.id)})"
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
    repo: BaseRepository,
    source: str | Path,
    *,
    dataset: str,
    version: str | None = None,
    branch: str = "main",
    message: str = "",
    author: str | None = None,
    progress: bool | None = None,
    allow_undecodable: bool = False,
    engine: Engine | None = None,
    allow_empty: bool = False,
) -> CommitResult:
    """Commit the folder ``source`` as a new version of ``dataset``; see :meth:`BaseRepository.commit`.

    Each step below is one step of the write protocol in docs/architecture.md; nothing is
    visible under its final name before step 9, and no ref moves before step 11. A folder equal
    to the parent (tree, header and tables) records no commit unless ``allow_empty``: the
    stage is dropped, a ``version`` tags the parent, a new ``branch`` starts at it.
    """
    started = time.monotonic()
    head, parent = _check_names_and_refs(repo, dataset, version, branch)  # 1
    started_ns = time.time_ns()  # files changed after this are not vouched for by the stat cache
    src = scan(source)  # 2
    known = _look_up_cache(repo, src, parent, started_ns)  # 3
    store = repo.store
    pool = ThreadPoolExecutor(1)
    # 4: tables changed (or nothing to compare with): read and check them all. This runs while
    # the media are copied (imports and parsing use the CPU, copies the disk); copies are only
    # staged, so a bad table stops the commit before anything is published.
    checking = pool.submit(_read_and_check, src) if known.tables_changed else None
    try:
        store.put_raw(known.header_bytes)  # 5
        files = _store_files(repo, src, known.cached, checking, progress, engine)  # 5, 6
        frames = _wait_for_tables(store, src, known.parent, files.root.id, checking)  # 7
        tables = _store_tables(store, frames, known.tables)  # 8
        if not allow_empty and _unchanged(known, files.root.id, tables):
            if not allow_undecodable:  # the parent may have been committed with the flag
                decodable.refuse(_problems(repo, files.folder, known.parent.media), src.header)
            store.discard()  # only the header (the parent's) may be staged
            # blobs found in the store were touched (gc's grace): their fingerprints carry over
            # as after a commit, or the next checkout would re-hash them all
            store.publish()
            if files.body is not None or _head(known, files, tables) != known.cached:
                _save_stat_cache(repo, known, files, tables, started_ns)
            return _nothing_changed(repo, dataset, version, branch, head, parent,
                                    files, len(tables), started)
        media = _media_index(repo, known.parent, files.root.id, files.stored)
        if not allow_undecodable:
            decodable.refuse(_problems(repo, files.folder, media), src.header)
        commit_id = store.put(_commit_object(
            dataset, files.root.id, known.header_id, tables, parent, author, message, media
        ))
        store.publish()  # 9: everything durable and visible before any ref points at it
    except BaseException:
        store.discard()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    _save_stat_cache(repo, known, files, tables, started_ns)  # 10
    _update_refs(repo, dataset, version, branch, head, commit_id)  # 11
    return CommitResult(
        id=commit_id,
        dataset=dataset,
        version=version,
        branch=branch,
        parent=parent,
        files=files.root.count,
        bytes=files.root.size,
        hashed_files=files.stored.hashed_files,
        new_files=files.stored.new_files,
        new_bytes=files.stored.new_bytes,
        tables=len(tables),
        seconds=time.monotonic() - started,
    )


def commit_files(
    repo: BaseRepository,
    folder: str | Path,
    files: Mapping[str, tuple[str, int]],
    *,
    dataset: str,
    known_media: Mapping[str, MediaInfo] | None = None,
    version: str | None = None,
    branch: str = "main",
    message: str = "",
    author: str | None = None,
    files_of: Commit | None = None,
) -> CommitResult:
    """Commit a version made of blobs already stored: db.yaml and the table files from
    ``folder``, the media and attachments from ``files`` (path -> blob id, size).

    This is how splits and compositions commit what they derive: no media byte is read or
    stored (``new_bytes`` is 0). Every blob must be in the store and not purged; the tables are
    read and checked like a folder's (schemes, labels, media references); ``known_media`` gives
    the audio properties of the blobs (from the versions they come from), others are probed.
    Steps 1 and 5-11 of :func:`commit`, with the tree built from ``files``; ``files_of``, a
    commit whose files are exactly ``files`` (a split of it), lends its tree and media index
    instead (100k files: no tree or index to build again).
    """
    started = time.monotonic()
    head, parent = _check_names_and_refs(repo, dataset, version, branch)
    src = scan(folder, stored=files.keys())  # attachments are among ``files``
    if src.files:
        raise InvalidDataset(f"{folder}: a derived version takes its media from stored blobs, "
                             f"not from files in the folder ({src.files[0].path}, ...)")
    src.files = [SourceFile(p, "", size, 0, 0) for p, (_, size) in sorted(files.items())]
    store = repo.store
    refuse_purged(repo, dict(files))
    missing = sorted(p for p, (blob, _) in files.items() if not store.has_blob(blob))
    if missing:
        raise NotFound(f"the bytes of {missing[0]} (and {len(missing) - 1} more files) are not "
                       "in the store: fetch the versions they come from first")
    header_bytes = encode(Header(src.header))
    try:
        store.put_raw(header_bytes)
        tables = _store_tables(store, _read_and_check(src), None)
        if files_of is not None and files_of.media:
            root = trees.Built(files_of.tree, sum(n for _, n in files.values()), len(files))
            media = files_of.media
        else:
            root = trees.build(store, files)
            media, _ = mediaindex.build(store, files, dict(known_media or {}))
        commit_id = store.put(_commit_object(
            dataset, root.id, hash_bytes(header_bytes), tables, parent, author, message, media))
        store.publish()
    except BaseException:
        store.discard()
        raise
    _update_refs(repo, dataset, version, branch, head, commit_id)
    return CommitResult(
        id=commit_id, dataset=dataset, version=version, branch=branch, parent=parent,
        files=root.count, bytes=root.size, hashed_files=0, new_files=0, new_bytes=0,
        tables=len(tables), seconds=time.monotonic() - started,
    )


def _unchanged(known: _Known, tree: str, tables: tuple[tuple[str, str], ...]) -> bool:
    """Whether the commit would record what its parent holds: same tree, header and tables
    (the media index follows from the tree)."""
    parent = known.parent
    return (parent is not None and parent.tree == tree and parent.header == known.header_id
            and tuple(parent.tables) == tables)


def _nothing_changed(
    repo: BaseRepository, dataset: str, version: str | None, branch: str, head: str | None,
    parent: str, files: _Files, tables: int, started: float,
) -> CommitResult:
    """No commit: tag the parent with ``version`` and start a new ``branch`` at it, both by
    compare-and-swap as in step 11 (the branch head must still be what step 1 read)."""
    updates = [RefUpdate(f"tags/{version}", None, parent)] if version else []
    updates.append(RefUpdate(f"heads/{branch}", head, parent))
    if version or head != parent:
        repo.refs.update(dataset, updates)
    tags = [t for t, c in repo.refs.tags(dataset).items() if c == parent] if not version else []
    return CommitResult(
        id=parent, dataset=dataset, version=version, branch=branch, parent=parent,
        files=files.root.count, bytes=files.root.size, hashed_files=files.stored.hashed_files,
        new_files=0, new_bytes=0, tables=tables, seconds=time.monotonic() - started,
        changed=False, at=version or (max(tags, key=version_key) if tags else None),
    )


def _check_names_and_refs(
    repo: BaseRepository, dataset: str, version: str | None, branch: str
) -> tuple[str | None, str | None]:
    """Step 1: check the names, refuse a version that exists, and read the refs the commit builds
    on: (the branch head, the parent), the parent of a new branch being the head of main."""
    check_dataset(dataset)
    check_branch(branch)
    if version is not None:
        check_version(version)
        existing = repo.refs.get(dataset, f"tags/{version}")
        if existing is not None:
            raise AlreadyExists(f"{dataset} {version} exists already (commit {short(existing)})")
    head = repo.refs.get(dataset, f"heads/{branch}")
    parent = head if head is not None else repo.refs.get(dataset, "heads/main")
    return head, parent


@dataclass(frozen=True)
class _Known:
    """Step 3: the header, the parent commit and what the stat cache knows of this folder."""

    header_bytes: bytes
    """The header encoded once: hashed now, stored in step 5."""
    header_id: str
    parent: Commit | None
    key: str | None
    """Stat cache key of the header and table files (None: a table file changed too recently)."""
    cached: Head
    tables: dict[str, str] | None
    """Table ids the stat cache holds for ``key``."""

    @property
    def tables_changed(self) -> bool:
        """Whether the tables must be read: unknown to the cache, or not the parent's."""
        return self.tables is None or self.parent is None or dict(self.parent.tables) != self.tables


def _look_up_cache(repo: BaseRepository, src: Source, parent: str | None, started_ns: int) -> _Known:
    """Step 3: the header id, and the table ids the stat cache knows for this header and these
    table files."""
    header_bytes = encode(Header(src.header))
    header_id = hash_bytes(header_bytes)
    parent_commit = repo.store.get(parent, "commit") if parent else None
    key = tables_key(
        header_id,
        [(tid, str(p), *_stat(p)) for tid, (_, p) in src.tables.items()],
        started_ns,
    )
    cached = StatCache.of(repo).head(str(src.root))
    tables = cached.tables.get(key) if key else None
    return _Known(header_bytes, header_id, parent_commit, key, cached, tables)


@dataclass(frozen=True)
class _Files:
    """Steps 5-6: the files stored and the root of their tree."""

    folder: str
    stored: IngestResult
    root: trees.Built
    listing: str
    """Digest of the folder listing, saved in the stat cache head."""
    body: FolderCache | None
    """The new stat cache body (None: the listing was unchanged, the body is kept)."""


def _store_files(
    repo: BaseRepository, src: Source, cached: Head, checking: Future | None,
    progress: bool | None, engine: Engine | None = None,
) -> _Files:
    """Steps 5-6: reuse the cached root tree if the listing is unchanged, else ingest the files
    (stops copying if the table check failed) and build the folder trees; all staged. Bytes
    purged from this repository are refused."""
    store = repo.store
    folder = str(src.root)
    listing = listing_digest(src.files)
    body = None
    if cached.listing == listing and cached.tree and store.has(cached.tree[0]):
        stored, root = IngestResult(), trees.Built(*cached.tree)  # nothing changed on disk
    else:
        body = StatCache.of(repo).load(folder)

        def failed() -> bool:
            return checking is not None and checking.done() and checking.exception() is not None

        stored = ingest(store, body.files, src.files, progress=progress, abort=failed,
                        engine=engine)
        dirs: dict[str, tuple[str, int, int]] = {}
        root = trees.build(store, stored.files, known=body.dirs, seen=dirs)
        body = FolderCache(stored.stats, dirs)
    _refuse_purged(repo, stored, root.id)
    return _Files(folder, stored, root, listing, body)


def _wait_for_tables(
    store, src: Source, parent: Commit | None, tree_id: str, checking: Future | None
) -> dict[str, tuple[TableLayout, pa.Table]] | None:
    """Step 7: the tables read and checked in step 4 (a bad table raises here). If they were
    reused but files went away since the parent, read and check them now. None: reuse them."""
    frames = checking.result() if checking is not None else None
    if frames is None and _removes_files(store, parent, tree_id):
        frames = read_tables(src)  # files went away: check the tables' references again
        _check_media(src, frames)
    return frames


def _store_tables(
    store, frames: dict[str, tuple[TableLayout, pa.Table]] | None, known: dict[str, str] | None
) -> tuple[tuple[str, str], ...]:
    """Step 8: stage the partitions and table objects of the tables read, or reuse the known
    table ids; (table id, object id) pairs, sorted."""
    if frames is None:
        return tuple(sorted(known.items()))
    return tuple(
        sorted(
            (tid, store_table(store, tid, lay.kind, table, list(lay.levels)))
            for tid, (lay, table) in frames.items()
        )
    )


def _commit_object(
    dataset: str,
    tree: str,
    header: str,
    tables: tuple[tuple[str, str], ...],
    parent: str | None,
    author: str | None,
    message: str,
    media: str,
) -> Commit:
    """Step 8: the commit object, stamped with the time now."""
    now = time.time()
    return Commit(
        dataset=dataset,
        tree=tree,
        header=header,
        tables=tables,
        parents=(parent,) if parent else (),
        author=author if author is not None else default_author(),
        time=int(now),
        tz_offset=time.localtime(now).tm_gmtoff // 60,
        message=message,
        media=media,
    )


def _save_stat_cache(
    repo: BaseRepository, known: _Known, files: _Files, tables: tuple[tuple[str, str], ...],
    started_ns: int,
) -> None:
    """Step 10: the stat cache head (listing, root tree, table ids) and body of the folder."""
    StatCache.of(repo).save(files.folder, _head(known, files, tables), files.body, started_ns)


def _head(known: _Known, files: _Files, tables: tuple[tuple[str, str], ...]) -> Head:
    """The stat cache head of this commit (listing, root tree, table ids)."""
    tree = (files.root.id, files.root.size, files.root.count)
    return Head(files.listing, tree, {known.key: dict(tables)} if known.key else {})


def _update_refs(
    repo: BaseRepository, dataset: str, version: str | None, branch: str, head: str | None,
    commit_id: str,
) -> None:
    """Step 11: the version tag, then the branch head, if every ref still holds what step 1 read."""
    updates = [RefUpdate(f"tags/{version}", None, commit_id)] if version else []
    updates.append(RefUpdate(f"heads/{branch}", head, commit_id))
    repo.refs.update(dataset, updates)


def _media_index(repo: BaseRepository, parent: Commit | None, tree: str, stored: IngestResult) -> str:
    """The media index of ``tree``: the parent's if the files are the same, else built anew."""
    if parent is not None and parent.tree == tree and parent.media:
        return parent.media
    files = stored.files or {p: (e.id, e.size) for p, e in trees.walk(repo.store, tree)}
    known = mediaindex.known_properties(repo.store, parent.media if parent else None)
    missing = {blob for blob, _ in files.values()} - known.keys()
    if missing:
        memory = StatCache.of(repo).probes()
        known.update({blob: memory[blob] for blob in missing & memory.keys()})
    # WAV headers parsed from the bytes the ingest read (no second open per file); they are
    # remembered with their verdict, so decodable.find need not probe those blobs again either
    fresh = {blob: info for blob, info in stored.probes.items()
             if blob not in known or known[blob].problem is None}
    known.update(fresh)
    media_id, probed = mediaindex.build(repo.store, files, known)
    StatCache.of(repo).remember_probes({**fresh, **probed})
    return media_id


def _problems(repo: BaseRepository, folder: str, media: str) -> dict[str, str]:
    """Media that claim audio libsndfile cannot decode (path -> problem), remembered per folder
    for the media index they were found in (a re-commit of the same files reads nothing)."""
    known = StatCache.of(repo).problems(folder, media)
    if known is not None:
        return known
    problems, probed = decodable.find(repo.store, media, StatCache.of(repo).probes())
    StatCache.of(repo).remember_probes(probed)
    StatCache.of(repo).remember_problems(folder, media, problems)
    return problems


def _refuse_purged(repo: BaseRepository, stored: IngestResult, tree: str) -> None:
    """Refuse bytes that were purged from this repository (a purge is meant to last), whether
    they were hashed now or the stat cache vouched for them (or for the whole tree)."""
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
    import pyarrow.compute as pc

    from casdb.tables.arrays import strings

    present = strings([f.path for f in src.files])
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
