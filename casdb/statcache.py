"""The stat cache: (path, size, mtime_ns, inode) -> blob id, so unchanged files are not read again.

Kept in SQLite in the repository (``statcache.db``); it is a cache, never the truth: losing it
only costs a re-hash. Entries are not trusted for files modified in the last
``RACY_SECONDS`` before they were recorded (the "racy git" problem: a file written twice within
one timestamp tick could change without its mtime changing).

Example:
    >>> import tempfile, pathlib
    >>> cache = StatCache(pathlib.Path(tempfile.mkdtemp()) / "statcache.db")
    >>> cache.record([("/data/a.wav", 10, 5, 7, "ab" * 32)], now_ns=10**12)
    >>> cache.under("/data")["/data/a.wav"][3] == "ab" * 32
    True
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from casdb.errors import storage_error

RACY_SECONDS = 2


class StatCache:
    """A table of (path -> size, mtime_ns, ino, id) in SQLite."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        try:
            return self._open()
        except sqlite3.DatabaseError:
            # Damaged (not merely locked): it is only a cache, so start afresh.
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            try:
                return self._open()
            except sqlite3.Error as exc:
                raise storage_error(OSError(str(exc)), str(self.path)) from exc

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60)
        try:
            db.execute(
                "CREATE TABLE IF NOT EXISTS stat (path TEXT PRIMARY KEY, size INTEGER, "
                "mtime_ns INTEGER, ino INTEGER, id TEXT) WITHOUT ROWID"
            )
        except sqlite3.Error:
            db.close()
            raise
        return db

    def under(self, folder: str) -> dict[str, tuple[int, int, int, str]]:
        """``path -> (size, mtime_ns, ino, id)`` for every known path under ``folder``."""
        low = folder.rstrip("/") + "/"
        high = folder.rstrip("/") + "0"  # "0" follows "/" in byte order
        db = self._connect()
        try:
            return {
                row[0]: (row[1], row[2], row[3], row[4])
                for row in db.execute(
                    "SELECT path, size, mtime_ns, ino, id FROM stat WHERE path >= ? AND path < ?",
                    (low, high),
                )
            }
        except sqlite3.Error:
            return {}  # unreadable cache: every file is simply read again
        finally:
            db.close()

    def record(self, rows: Iterable[tuple[str, int, int, int, str]], now_ns: int) -> None:
        """Remember ``(path, size, mtime_ns, ino, id)`` rows, skipping racily recent files."""
        racy = now_ns - RACY_SECONDS * 10**9
        keep = [r for r in rows if r[2] < racy]
        if not keep:
            return
        db = self._connect()
        try:
            with db:
                db.executemany("INSERT OR REPLACE INTO stat VALUES (?, ?, ?, ?, ?)", keep)
        except sqlite3.Error as exc:
            raise storage_error(OSError(str(exc)), str(self.path)) from exc
        finally:
            db.close()

    def forget_ids(self, ids: Iterable[str]) -> None:
        """Drop every entry pointing at these blob ids (after a purge or gc removed them)."""
        db = self._connect()
        try:
            with db:
                db.executemany("DELETE FROM stat WHERE id = ?", [(i,) for i in ids])
        finally:
            db.close()
