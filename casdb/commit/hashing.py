"""Copying and hashing a commit's files on an engine's workers (:mod:`casdb.core.engine`).

A partition is a run of files. For each, the worker copies the file into a temporary path the
driver named (in the repository's ``tmp/``) and hashes the copy; if the blob is stored
already, it removes the copy and reports the id alone. It writes nothing else: the driver
re-hashes each copy as it stages it (:meth:`ObjectStore.adopt_blob_file`), publishes, and
moves refs. Temporary names are fixed by the driver, so a partition run again (its worker was
killed) overwrites the same files with the same bytes: the result is identical and nothing
is left behind but what the driver removes.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "a").write_bytes(b"x")
    >>> out = store_partition([Item("a", str(d / "a"), 1, 0, 0, str(d / "t"))], str(d / "blobs"))
    >>> out[0][0], out[0][2] == str(d / "t"), (d / "t").read_bytes()
    ('a', True, b'x')
"""

from __future__ import annotations

import os
from typing import NamedTuple

from casdb.core import fileops
from casdb.core.errors import InvalidDataset, storage_error
from casdb.core.ids import new_hasher

SMALL_FILE = 1 << 16
"""Files up to this size are read whole and written only if the store lacks them."""


class Item(NamedTuple):
    """One file of a partition: its posix path in the folder, where to read it, its stat when
    scanned, and the temporary path the driver chose for its copy."""

    path: str
    abspath: str
    size: int
    mtime_ns: int
    ino: int
    tmp: str


def store_partition(items: list[Item], blobs: str) -> list[tuple[str, str, str | None, bool]]:
    """Copy and hash each item; ``(path, blob id, tmp or None, unchanged)`` per item, where
    ``tmp`` None means the blob is under ``blobs`` already (no copy kept) and ``unchanged``
    whether the file still has the stat it was scanned with."""
    return [_store(item, blobs) for item in items]


def _store(item: Item, blobs: str) -> tuple[str, str, str | None, bool]:
    try:
        src = open(item.abspath, "rb")
    except OSError as exc:
        raise InvalidDataset(f"cannot read {item.abspath}: {exc.strerror or exc}") from exc
    with src:
        if item.size <= SMALL_FILE:
            try:
                data = src.read()
            except OSError as exc:
                raise InvalidDataset(f"cannot read {item.abspath}: {exc.strerror or exc}") from exc
            hasher = new_hasher(len(data))
            hasher.update(data)
            blob = hasher.hexdigest()
            if os.path.exists(_blob_path(blobs, blob)):
                return item.path, blob, None, _unchanged(item)
            _write(item.tmp, data)
            return item.path, blob, item.tmp, _unchanged(item)
        try:
            # "wb", not "xb": a rerun of this partition overwrites its own earlier copy
            with open(item.tmp, "wb") as dst:
                if not fileops.reflink(src, dst) and not fileops.copy_range(src, dst):
                    fileops.stream(src, dst)
        except OSError as exc:
            raise storage_error(exc, item.tmp) from exc
    hasher = new_hasher(item.size)
    if os.path.getsize(item.tmp):
        hasher.update_mmap(item.tmp)
    blob = hasher.hexdigest()
    if os.path.exists(_blob_path(blobs, blob)):
        os.unlink(item.tmp)
        return item.path, blob, None, _unchanged(item)
    return item.path, blob, item.tmp, _unchanged(item)


def _write(path: str, data: bytes) -> None:
    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError as exc:
        raise storage_error(exc, path) from exc


def _blob_path(blobs: str, blob: str) -> str:
    return f"{blobs}/{blob[:2]}/{blob[2:]}"


def _unchanged(item: Item) -> bool:
    """Whether the file still has the stat it had when scanned (else its id may be stale)."""
    try:
        st = os.stat(item.abspath)
    except OSError:
        return False
    return (st.st_size, st.st_mtime_ns, st.st_ino) == (item.size, item.mtime_ns, item.ino)
