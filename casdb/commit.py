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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from casdb import trees
from casdb.errors import AlreadyExists, InvalidDataset
from casdb.ids import short
from casdb.ingest import ingest
from casdb.names import check_branch, check_dataset, check_version
from casdb.objects import Commit, Header
from casdb.refs import RefUpdate
from casdb.schema import TableLayout, layout, load_order
from casdb.source import Source, check_media_path, scan
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

    src = scan(source)
    frames = read_tables(src)
    _check_media(src, frames)

    store = repo.store
    try:
        stored = ingest(store, repo.statcache, src.files, root=str(src.root), progress=progress)
        tables = tuple(
            sorted(
                (tid, store_table(store, tid, lay.kind, table, list(lay.levels)))
                for tid, (lay, table) in frames.items()
            )
        )
        root = trees.build(store, stored.files)
        now = time.time()
        obj = Commit(
            dataset=dataset,
            tree=root.id,
            header=store.put(Header(src.header)),
            tables=tables,
            parents=(parent,) if parent else (),
            author=author if author is not None else default_author(),
            time=int(now),
            tz_offset=time.localtime(now).tm_gmtoff // 60,
            message=message,
        )
        commit_id = store.put(obj)
        store.publish()  # everything durable and visible before any ref points at it
    except BaseException:
        store.discard()
        raise
    repo.statcache.record(stored.stat_rows, stored.started_ns)
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


def read_tables(src: Source) -> dict[str, tuple[TableLayout, pa.Table]]:
    """Read and check every table of the folder (misc tables first: they may hold labels)."""
    out: dict[str, tuple[TableLayout, pa.Table]] = {}
    label_sets: dict[str, list] = {}
    for tid in load_order(src.header):
        lay = layout(src.header, tid)
        table = read_table_file(src.tables[tid][1], lay, label_sets)
        if lay.kind == "misc" and len(lay.levels) == 1:
            label_sets[tid] = table.column(0).to_pylist()
        out[tid] = (lay, table)
    return out


def _check_media(src: Source, frames: dict[str, tuple[TableLayout, pa.Table]]) -> None:
    """Every file a filewise or segmented table names must be in the folder."""
    import pyarrow as pa
    import pyarrow.compute as pc

    present = pa.array(sorted(f.path for f in src.files), type=pa.string())
    for tid, (lay, table) in frames.items():
        if lay.kind == "misc":
            continue
        files = table.column("file")
        where = f"table {tid!r}, index 'file'"
        for path in pc.unique(files).to_pylist():
            check_media_path(path, where)
        missing = pc.invert(pc.is_in(files, value_set=present))
        if pc.any(missing).as_py():
            row = pc.index(missing, True).as_py()
            raise InvalidDataset(
                f"{where}, row {row + 1}: media {files[row].as_py()!r} is not in the folder"
            )
