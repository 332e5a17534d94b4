"""Bringing a folder's files into the blob store: skip what the stat cache knows, copy and hash
the rest on all cores, with a progress bar.

Example:
    >>> import tempfile, pathlib
    >>> from casdb.backends.local import LocalBackend
    >>> from casdb.store import ObjectStore
    >>> from casdb.source import scan
    >>> src = pathlib.Path(tempfile.mkdtemp()); repo = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (src / "db.yaml").write_text("name: demo\\n"); _ = (src / "a.wav").write_bytes(b"x")
    >>> result = ingest(ObjectStore(LocalBackend(repo)), StatCache(repo / "s.db"), scan(src).files)
    >>> result.new_files, result.files["a.wav"][1]
    (1, 1)
"""

from __future__ import annotations

import os
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from casdb.parallel import workers
from casdb.progress import Progress
from casdb.source import SourceFile
from casdb.statcache import StatCache
from casdb.store import ObjectStore


@dataclass
class IngestResult:
    """What an ingest found and did."""

    files: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Posix path -> (blob id, size) for every file."""
    hashed_files: int = 0
    hashed_bytes: int = 0
    new_files: int = 0
    """Blobs the store did not have before."""
    new_bytes: int = 0
    stat_rows: list[tuple[str, int, int, int, str]] = field(default_factory=list)
    """Stat cache rows for the files read (recorded once their blobs are published)."""
    started_ns: int = 0


def ingest(
    store: ObjectStore,
    cache: StatCache,
    files: list[SourceFile],
    *,
    root: str | None = None,
    progress: bool | None = None,
) -> IngestResult:
    """Stage every file as a blob, reading only files the stat cache cannot vouch for.

    The blobs become durable with ``store.publish()``; record ``result.stat_rows`` in the
    stat cache after that.

    ``root`` is the folder the files are in (the stat cache is read for it in one query).
    """
    result = IngestResult()
    started_ns = time.time_ns()
    known: dict[str, tuple[int, int, int, str]] = {}
    if files:
        known = cache.under(root or os.path.commonpath([os.path.dirname(f.abspath) for f in files]))
    todo: list[SourceFile] = []
    for f in files:
        hit = known.get(f.abspath)
        if hit is not None and hit[:3] == (f.size, f.mtime_ns, f.ino) and store.has_blob(hit[3]):
            result.files[f.path] = (hit[3], f.size)
        else:
            todo.append(f)
    rows = []
    total = sum(f.size for f in todo)
    with Progress("storing", total, len(todo), progress) as bar, ThreadPoolExecutor(workers()) as pool:
        futures = {pool.submit(store.put_file, f.abspath, f.size): f for f in todo}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_EXCEPTION)
            for future in done:
                f = futures[future]
                if future.exception() is not None:
                    for other in pending:
                        other.cancel()
                    raise future.exception()
                blob, new = future.result()
                result.files[f.path] = (blob, f.size)
                result.hashed_files += 1
                result.hashed_bytes += f.size
                if new:
                    result.new_files += 1
                    result.new_bytes += f.size
                rows.append((f.abspath, f.size, f.mtime_ns, f.ino, blob))
                bar.advance(f.size)
    result.stat_rows = _unchanged(rows)
    result.started_ns = started_ns
    return result


def _unchanged(rows: list[tuple[str, int, int, int, str]]) -> list[tuple[str, int, int, int, str]]:
    """Rows whose file still has the stat it had when scanned (else its hash may be stale)."""
    out = []
    for row in rows:
        try:
            st = os.stat(row[0])
        except OSError:
            continue
        if (st.st_size, st.st_mtime_ns, st.st_ino) == row[1:4]:
            out.append(row)
    return out
