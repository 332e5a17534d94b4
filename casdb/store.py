"""The object store: hash, compress, verify.

Structural objects live under ``objects/ab/cdef...`` as zstd frames of their canonical bytes;
media blobs live under ``blobs/ab/cdef...`` as their exact bytes, read-only, so that a checkout can
link them. Every read re-hashes what it read and raises ``IntegrityError`` on a mismatch.

Example:
    >>> import tempfile
    >>> from casdb.backends.local import LocalBackend
    >>> from casdb.objects import Header
    >>> store = ObjectStore(LocalBackend(tempfile.mkdtemp()))
    >>> oid = store.put(Header({"name": "emodb"}))
    >>> store.get(oid, "header").data
    {'name': 'emodb'}
"""

from __future__ import annotations

import errno
import fcntl
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from casdb import compression, encoding
from casdb.atomic import atomic_file, fsync_dir
from casdb.backends.local import LocalBackend
from casdb.errors import IntegrityError, InvalidDataset, NotFound
from casdb.ids import hash_bytes, is_id, new_hasher

OBJECTS = "objects"
BLOBS = "blobs"
BLOB_MODE = 0o444
CHUNK = 1 << 20
_FICLONE = 0x40049409
_NO_REFLINK = (errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EPERM)
_CACHE_SIZE = 4096


def object_key(object_id: str) -> str:
    return f"{OBJECTS}/{object_id[:2]}/{object_id[2:]}"


def blob_key(object_id: str) -> str:
    return f"{BLOBS}/{object_id[:2]}/{object_id[2:]}"


class _ReadError(Exception):
    """Reading a source file failed (kept apart from write errors, which are StorageError)."""


class ObjectStore:
    """Content-addressed storage of objects and blobs in a repository folder."""

    def __init__(self, backend: LocalBackend) -> None:
        self.backend = backend
        self._cache: OrderedDict[str, encoding.Object] = OrderedDict()
        self._present: set[str] = set()
        self._touched: set[Path] = set()
        self._lock = threading.Lock()
        self._reflink = True

    # -- structural objects -------------------------------------------------------------------

    def put(self, obj: encoding.Object) -> str:
        """Store ``obj`` if absent and return its id."""
        return self.put_raw(encoding.encode(obj))

    def put_raw(self, data: bytes) -> str:
        """Store canonical object bytes if absent and return their id."""
        object_id = hash_bytes(data)
        if object_id not in self._present:
            key = object_key(object_id)
            self.backend.put(key, compression.compress(data), exclusive=True, sync_dir=False)
            self._note_written(key)
            self._present.add(object_id)
        return object_id

    def get(self, object_id: str, expect: str | None = None) -> encoding.Object:
        """The object with this id, verified; ``NotFound`` or ``IntegrityError`` otherwise."""
        obj = self._cache.get(object_id)
        if obj is not None:
            with self._lock:
                if object_id in self._cache:
                    self._cache.move_to_end(object_id)
        if obj is None:
            obj = encoding.decode(self.get_raw(object_id), expect)
            with self._lock:
                self._cache[object_id] = obj
                if len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        elif expect is not None and encoding.type_of(obj) != expect:
            raise IntegrityError(f"object {object_id} is a {encoding.type_of(obj)}, not a {expect}")
        return obj

    def get_raw(self, object_id: str) -> bytes:
        """The canonical bytes of an object, verified against its id."""
        try:
            stored = self.backend.get(object_key(object_id))
        except NotFound as exc:
            raise NotFound(f"object {object_id} is missing") from exc
        try:
            data = compression.decompress(stored)
        except IntegrityError as exc:
            raise IntegrityError(f"object {object_id} is corrupt: {exc}") from exc
        if hash_bytes(data) != object_id:
            raise IntegrityError(f"object {object_id} is corrupt: its bytes hash differently")
        return data

    def has(self, object_id: str) -> bool:
        return object_id in self._present or self.backend.exists(object_key(object_id))

    def object_ids(self) -> Iterator[str]:
        """Ids of every stored object (not blobs)."""
        yield from _ids_under(self.backend, OBJECTS)

    # -- blobs --------------------------------------------------------------------------------

    def blob_path(self, object_id: str) -> Path:
        """The file holding a blob."""
        return self.backend.path(blob_key(object_id))

    def has_blob(self, object_id: str) -> bool:
        return self.backend.exists(blob_key(object_id))

    def blob_ids(self) -> Iterator[str]:
        """Ids of every stored blob."""
        yield from _ids_under(self.backend, BLOBS)

    def put_file(self, source: Path, size: int = 0) -> tuple[str, bool]:
        """Copy a file into the blob store while hashing it; return ``(id, newly stored)``.

        The file is streamed in chunks, so memory stays bounded for files of any size; the copy
        is a reflink where the file system allows it. A read error becomes ``InvalidDataset``
        naming the file; a write error (disk full) becomes ``StorageError``.
        """
        backend = self.backend
        backend.make_dir(backend.tmp)
        hasher = new_hasher(size)
        try:
            src = open(source, "rb")
        except OSError as exc:
            raise InvalidDataset(f"cannot read {source}: {exc.strerror or exc}") from exc
        with src, atomic_file(
            None, tmp_dir=backend.tmp, exclusive=True, mode=BLOB_MODE, sync_dir=False
        ) as pending:
            if self._try_reflink(src, pending.file):
                # Hash the clone itself, so the id matches the stored bytes even if the
                # source changes meanwhile.
                with open(pending.file.name, "rb") as clone:
                    _copy_hash(clone, None, hasher)
            else:
                try:
                    _copy_hash(src, pending.file, hasher)
                except _ReadError as exc:
                    raise InvalidDataset(f"cannot read {source}: {exc}") from exc
            object_id = hasher.hexdigest()
            pending.path = self.blob_path(object_id)
            backend.make_dir(pending.path.parent)
        if pending.placed:
            self._note_written(blob_key(object_id))
        return object_id, pending.placed

    def _try_reflink(self, src: BinaryIO, dst: BinaryIO) -> bool:
        if not self._reflink:
            return False
        try:
            fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
        except OSError as exc:
            if exc.errno in _NO_REFLINK:
                self._reflink = False
            return False
        return True

    def verify_blob(self, object_id: str) -> None:
        """Re-hash a stored blob; ``NotFound`` or ``IntegrityError`` if it is not intact."""
        hasher = new_hasher(0)
        try:
            with open(self.blob_path(object_id), "rb") as f:
                _copy_hash(f, None, hasher)
        except FileNotFoundError as exc:
            raise NotFound(f"blob {object_id} is missing") from exc
        except (OSError, _ReadError) as exc:
            raise IntegrityError(f"blob {object_id} is unreadable: {exc}") from exc
        if hasher.hexdigest() != object_id:
            raise IntegrityError(f"blob {object_id} is corrupt: its bytes hash differently")

    # -- durability ---------------------------------------------------------------------------

    def _note_written(self, key: str) -> None:
        with self._lock:
            self._touched.add(self.backend.path(key).parent)

    def sync(self) -> None:
        """Make the names of every object written so far durable; call before a ref points at them.

        Each file was fsynced when written; this fsyncs each folder that received one, once.
        """
        with self._lock:
            touched, self._touched = self._touched, set()
        for directory in sorted(touched):
            fsync_dir(directory)


def _copy_hash(src: BinaryIO, dst: BinaryIO | None, hasher) -> None:
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    while True:
        try:
            n = src.readinto(buf)
        except OSError as exc:
            raise _ReadError(exc.strerror or str(exc)) from exc
        if not n:
            break
        hasher.update(view[:n])
        if dst is not None:
            dst.write(view[:n])


def _ids_under(backend: LocalBackend, top: str) -> Iterator[str]:
    for key in backend.list(top + "/"):
        object_id = key[len(top) + 1 :].replace("/", "")
        if is_id(object_id):
            yield object_id
