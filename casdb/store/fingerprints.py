"""Stat fingerprints: cheap evidence that a file still holds the bytes it was verified to hold.

Re-hashing every blob before each checkout would make a warm load cost as much as reading the
whole dataset. Instead, when casdb writes or verifies a file it records the file's fingerprint
``(size, mtime_ns, ctime_ns, inode)`` next to the hash it verified. Before the file is used
again, one ``stat`` compares the fingerprint: equal means nothing wrote to the file since (a
write, a truncation, a ``chmod``, a ``touch``, a write through a hardlink and an ``utime`` that
hides a write all change ``ctime``, which user space cannot set back); different means the file is
re-hashed, and only a matching hash is trusted (and recorded anew).

Records live in a small SQLite database (``fingerprints.db``): in the repository for blobs, in
the cache's ``.derived/`` folder for converted files. The database is a cache of evidence and
nothing else: if it is missing, unreadable, damaged or read-only, files are simply re-hashed.

What a fingerprint does not catch: bit rot below the file system (the bytes change, the
metadata does not) — ``casdb fsck`` and ``casdb cache verify`` re-hash everything for that.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "f").write_bytes(b"abc")
    >>> fps = Fingerprints(d / "fingerprints.db")
    >>> from casdb.core.ids import hash_bytes
    >>> ok = Verifier(fps)
    >>> ok.intact("k", str(d / "f"), hash_bytes(b"abc")), ok.rehashed
    (True, 1)
    >>> ok.save(); Verifier(fps).intact("k", str(d / "f"), hash_bytes(b"abc"))
    True
    >>> _ = (d / "f").write_bytes(b"abd")
    >>> Verifier(fps).intact("k", str(d / "f"), hash_bytes(b"abc"))
    False
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from casdb.core.ids import new_hasher

DB = "fingerprints.db"
_BATCH = 900  # SQLite's limit on host parameters in one statement is 999 (older builds)


class Stamp(NamedTuple):
    """What one ``stat`` says about a file."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int


def stamp(path: str) -> Stamp | None:
    """The fingerprint of ``path`` now (following symlinks), or None if it cannot be stat'ed."""
    try:
        return stamp_of(os.stat(path))
    except OSError:
        return None


def stamp_of(st: os.stat_result) -> Stamp:
    """The fingerprint in a ``stat`` result already at hand."""
    return Stamp(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def hash_file(path: str) -> str | None:
    """The blake3 id of a file's bytes, or None if it cannot be read."""
    try:
        size = os.stat(path).st_size
        hasher = new_hasher(size)
        if size:
            hasher.update_mmap(path)
    except (OSError, ValueError):
        return None
    return hasher.hexdigest()


class Fingerprints:
    """The records: key -> (verified hash, stamp). Thread-safe; every failure degrades to "no
    record" (the caller then re-hashes), never to an error."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._broken = False

    def _connect(self) -> sqlite3.Connection | None:
        if self._conn is None and not self._broken:
            try:
                self._conn = _open(self.path)
            except sqlite3.Error:
                self._broken = not self._reset()
        return self._conn

    def _reset(self) -> bool:
        """A damaged database is thrown away (it only costs re-hashing)."""
        for suffix in ("", "-journal", "-wal", "-shm"):
            try:
                os.unlink(self.path + suffix)
            except FileNotFoundError:
                pass
            except OSError:
                return False
        try:
            self._conn = _open(self.path)
        except sqlite3.Error:
            return False
        return True

    def get_many(self, keys: Iterable[str]) -> dict[str, tuple[str, Stamp]]:
        """Records of ``keys`` (those that have one, and are well-formed)."""
        keys = list(dict.fromkeys(keys))
        out: dict[str, tuple[str, Stamp]] = {}
        with self._lock:
            conn = self._connect()
            if conn is None:
                return out
            try:
                for i in range(0, len(keys), _BATCH):
                    part = keys[i : i + _BATCH]
                    rows = conn.execute(
                        "SELECT key, hash, size, mtime, ctime, inode FROM fp WHERE key IN "
                        f"({','.join('?' * len(part))})", part).fetchall()
                    for key, digest, *st in rows:
                        if isinstance(digest, str) and all(isinstance(v, int) for v in st):
                            out[key] = (digest, Stamp(*st))
            except sqlite3.Error as exc:
                self._damaged(exc)
                return {}
        return out

    def put_many(self, records: Iterable[tuple[str, str, Stamp]]) -> None:
        """Record ``(key, verified hash, stamp)``; best effort."""
        rows = [(k, h, *s) for k, h, s in records]
        if not rows:
            return
        with self._lock:
            error = _insert(self._connect(), rows)
            if error is not None and self._damaged(error):
                _insert(self._conn, rows)  # once more, into the fresh database

    def _damaged(self, exc: sqlite3.Error) -> bool:
        """After a failed statement: a damaged file (not a busy one) is replaced by an empty
        database; returns whether it was."""
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            return False
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
            self._conn = None
        self._broken = not self._reset()
        return not self._broken


def _insert(conn: sqlite3.Connection | None, rows: list[tuple]) -> sqlite3.Error | None:
    """Insert or replace ``rows`` in one transaction; the error, if it failed."""
    if conn is None:
        return None
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT OR REPLACE INTO fp VALUES (?, ?, ?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        return exc
    return None


def _open(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=10, check_same_thread=False, isolation_level=None)
    # Evidence, not data: a record lost in a power cut costs one re-hash, so no fsync per write.
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("CREATE TABLE IF NOT EXISTS fp (key TEXT PRIMARY KEY, hash TEXT, "
                 "size INTEGER, mtime INTEGER, ctime INTEGER, inode INTEGER)")
    conn.execute("SELECT count(*) FROM fp WHERE key = ''").fetchone()  # damaged: fails here
    return conn


class Verifier:
    """Checks files against their expected hash through :class:`Fingerprints` (thread-safe).

    :meth:`prefetch` loads the records of many keys in one query; :meth:`intact` then costs one
    ``stat`` per file whose fingerprint is unchanged. New evidence (a re-hash that matched, a
    stamp taken after casdb itself changed a file) is kept until :meth:`save`.
    """

    def __init__(self, fingerprints: Fingerprints | None) -> None:
        self.fingerprints = fingerprints
        self.known: dict[str, tuple[str, Stamp]] = {}
        self.rehashed = 0
        """Files hashed because their fingerprint was unknown or had changed."""
        self._new: dict[str, tuple[str, Stamp]] = {}
        self._asked: set[str] = set()
        self._lock = threading.Lock()

    def prefetch(self, keys: Iterable[str]) -> None:
        """Load the records of ``keys`` in one query (each key is asked for once)."""
        with self._lock:
            todo = [k for k in keys if k not in self._asked]
            self._asked.update(todo)
        if self.fingerprints is not None and todo:
            found = self.fingerprints.get_many(todo)
            with self._lock:
                for key, record in found.items():
                    self.known.setdefault(key, record)

    def vouched(self, key: str, path: str, expected: str) -> bool:
        """Whether the record of ``key`` vouches for ``path`` now (one ``stat``, no hashing;
        False means "unknown": :meth:`intact` decides)."""
        record = self.known.get(key)
        return record is not None and record[0] == expected and record[1] == stamp(path)

    def intact(self, key: str, path: str, expected: str) -> bool:
        """Whether ``path`` holds the bytes whose hash is ``expected``."""
        before = stamp(path)
        if before is None:
            return False
        self.prefetch([key])  # no query if it was asked for before
        record = self.known.get(key)
        if record is not None and record == (expected, before):
            return True
        with self._lock:
            self.rehashed += 1
        if hash_file(path) != expected:
            return False
        if stamp(path) == before:  # unchanged while hashed: the evidence holds for this stamp
            self.note(key, expected, before)
        return True

    def note(self, key: str, digest: str, st: Stamp | None) -> None:
        """Record that the file of ``key`` with stamp ``st`` holds ``digest``."""
        if st is None:
            return
        with self._lock:
            self.known[key] = self._new[key] = (digest, st)

    def record_file(self, key: str, path: str) -> None:
        """Record the hash of a file casdb has just written (a conversion)."""
        before = stamp(path)
        digest = hash_file(path)
        if digest is not None and stamp(path) == before:
            self.note(key, digest, before)

    def restamp(self, key: str, path: str, before: Stamp | None) -> None:
        """After casdb changed a verified file's metadata itself (a hardlink changes ctime):
        the new stamp is recorded only if ``before``, the stamp taken just before that change,
        is still the verified one; a write between the check and the link (which may keep
        mtime and size) must not be vouched for."""
        record = self.known.get(key)
        if record is not None and before is not None and record[1] == before:
            self.note(key, record[0], stamp(path))

    def save(self) -> None:
        with self._lock:
            new, self._new = self._new, {}
        if new and self.fingerprints is not None:
            self.fingerprints.put_many((k, h, s) for k, (h, s) in new.items())
