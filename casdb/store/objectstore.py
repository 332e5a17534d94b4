"""The object store: hash, compress, verify.

Structural objects live under ``objects/ab/cdef...`` as zstd frames of their canonical bytes;
media blobs live under ``blobs/ab/cdef...`` as their exact bytes, read-only, so that a checkout can
link them. Every read re-hashes what it read and raises ``IntegrityError`` on a mismatch.

New objects and blobs are staged (:class:`casdb.core.atomic.Stage`): written to ``tmp/`` without an
fsync each, then made durable together by :meth:`ObjectStore.publish`, which a commit calls
before it moves any ref. Nothing is visible under its final name before its bytes are on disk.

Example:
    >>> import tempfile
    >>> from casdb.store.backends.local import LocalBackend
    >>> from casdb.model.objects import Header
    >>> store = ObjectStore(LocalBackend(tempfile.mkdtemp()))
    >>> oid = store.put(Header({"name": "emodb"}))
    >>> store.publish()
    1
    >>> store.get(oid, "header").data
    {'name': 'emodb'}
"""

from __future__ import annotations

import errno
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from casdb.core import fileops
from casdb.core.atomic import Stage
from casdb.core.errors import IntegrityError, InvalidDataset, NotFound, storage_error
from casdb.core.ids import hash_bytes, is_id, new_hasher, short
from casdb.model import compression, encoding
from casdb.store.backends.local import LocalBackend
from casdb.store.fingerprints import DB, Fingerprints, Stamp, Verifier, hash_file, stamp

OBJECTS = "objects"
BLOBS = "blobs"
READ_ONLY = 0o444
SMALL_FILE = 1 << 16
"""Files up to this size are read whole and written only if new; bigger ones are copied in the
kernel (``copy_file_range``: no trip through Python's memory) and hashed from the copy."""
CHUNK = 1 << 20
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
        self.root = str(backend.root)
        self.stage = Stage(backend.tmp, mode=READ_ONLY)
        self._cache: OrderedDict[str, encoding.Object] = OrderedDict()
        self._present: set[str] = set()
        self._folders: set[str] = set()
        """Fan-out folders known to exist (made or seen by :meth:`_schedule`)."""
        self._lock = threading.Lock()
        self._reflink = True
        self._copy_range = True
        self._touched: list[tuple[str, Stamp, Stamp]] = []
        """Blobs a commit reused (and touched): ``(id, stamp before, stamp after)``."""
        self.fingerprints = Fingerprints(Path(self.root) / DB)
        """Stat fingerprints of blobs verified intact (written or re-hashed), so a checkout
        can trust a blob after one ``stat`` instead of re-hashing it (:mod:`casdb.store.fingerprints`)."""

    def _path(self, top: str, object_id: str) -> str:
        # Plain strings, not Paths: a commit of 100k files keeps 100k of them in the stage.
        return f"{self.root}/{top}/{object_id[:2]}/{object_id[2:]}"

    def _touch_blob(self, final: str, blob_id: str) -> bool:
        """:func:`_touch` a blob a commit reuses, keeping its stamps: the touch changes its
        ``mtime`` and ``ctime``, and :meth:`publish` carries a fingerprint that vouched for the
        stamp before over to the stamp after (else every reused blob is re-hashed by the next
        checkout)."""
        before = stamp(final)
        if before is None or not _touch(final):
            return os.path.exists(final)
        after = stamp(final)
        if after is not None and after != before:
            with self._lock:
                self._touched.append((blob_id, before, after))
        return True

    def _schedule(self, final: str) -> None:
        folder = os.path.dirname(final)
        if folder in self._folders:  # once per fan-out folder, not a Path and a lookup per file
            return
        self.backend.make_dir(self.backend.tmp)
        self.backend.make_dir(Path(folder))
        self._folders.add(folder)

    # -- structural objects -------------------------------------------------------------------

    def put(self, obj: encoding.Object) -> str:
        """Store ``obj`` if absent and return its id (durable after :meth:`publish`)."""
        return self.put_raw(encoding.encode(obj))

    def put_raw(self, data: bytes) -> str:
        """Store canonical object bytes if absent and return their id."""
        object_id = hash_bytes(data)
        if object_id in self._present:
            return object_id
        final = self._path(OBJECTS, object_id)
        if final not in self.stage:
            if _touch(final):
                self._present.add(object_id)
            else:
                self._schedule(final)
                self.stage.add_bytes(compression.compress(data), final)
        return object_id

    def get(self, object_id: str, expect: str | None = None) -> encoding.Object:
        """The object with this id, verified; ``NotFound`` or ``IntegrityError`` otherwise."""
        obj = self._cache.get(object_id)
        if obj is None:
            obj = encoding.decode(self.get_raw(object_id), expect)
            with self._lock:
                self._cache[object_id] = obj
                if len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        else:
            with self._lock:
                if object_id in self._cache:
                    self._cache.move_to_end(object_id)
            if expect is not None and encoding.type_of(obj) != expect:
                raise IntegrityError(
                    f"object {object_id} is a {encoding.type_of(obj)}, not a {expect}"
                )
        return obj

    def get_partition(self, object_id: str) -> bytes:
        """The Arrow bytes of a partition, verified; not kept in the object cache (they are big)."""
        obj = encoding.decode(self.get_raw(object_id), "partition")
        return obj.arrow

    def get_partitions(self, ids: list[str]) -> dict[str, bytes]:
        """:meth:`get_partition` for many ids, fetched in parallel."""
        from concurrent.futures import ThreadPoolExecutor

        from casdb.core.parallel import workers

        unique = list(dict.fromkeys(ids))
        if len(unique) < 4:
            return {i: self.get_partition(i) for i in unique}
        with ThreadPoolExecutor(workers()) as pool:
            return dict(zip(unique, pool.map(self.get_partition, unique), strict=True))

    def get_raw(self, object_id: str) -> bytes:
        """The canonical bytes of an object, verified against its id."""
        final = self._path(OBJECTS, object_id)
        path = self.stage.temp_path(final) or final
        try:
            with open(path, "rb") as f:
                stored = f.read()
        except FileNotFoundError as exc:
            raise NotFound(f"object {object_id} is missing") from exc
        except OSError as exc:
            raise IntegrityError(f"object {object_id} is unreadable: {exc.strerror}") from exc
        try:
            data = compression.decompress(stored)
        except IntegrityError as exc:
            raise IntegrityError(f"object {object_id} is corrupt: {exc}") from exc
        if hash_bytes(data) != object_id:
            raise IntegrityError(f"object {object_id} is corrupt: its bytes hash differently")
        return data

    def read_stored(self, object_id: str) -> bytes:
        """An object's bytes as stored (compressed), unverified: what a push sends."""
        try:
            with open(self._path(OBJECTS, object_id), "rb") as f:
                return f.read()
        except FileNotFoundError as exc:
            raise NotFound(f"object {object_id} is missing") from exc

    def put_stored(self, object_id: str, stored: bytes) -> None:
        """Store an object received as stored bytes, after checking they hold ``object_id``."""
        try:
            data = compression.decompress(stored)
        except IntegrityError as exc:
            raise IntegrityError(f"object {object_id} arrived corrupt: {exc}") from exc
        if hash_bytes(data) != object_id:
            raise IntegrityError(f"object {object_id} arrived corrupt: its bytes hash differently")
        final = self._path(OBJECTS, object_id)
        if object_id in self._present or final in self.stage or os.path.exists(final):
            return
        self._schedule(final)
        self.stage.add_bytes(stored, final)

    def put_blob_bytes(self, blob_id: str, data: bytes) -> None:
        """Store a blob received whole, after checking its hash."""
        if hash_bytes(data) != blob_id:
            raise IntegrityError(f"blob {blob_id} arrived corrupt: its bytes hash differently")
        final = self._path(BLOBS, blob_id)
        if final in self.stage or os.path.exists(final):
            return
        self._schedule(final)
        self.stage.add_bytes(data, final)

    def put_blob_file(self, blob_id: str, tmp: str) -> None:
        """Store a blob received into ``tmp`` (a file in the repository's tmp/), after checking
        its hash; ``tmp`` is consumed."""
        size = os.path.getsize(tmp)
        hasher = new_hasher(size)
        if size:
            hasher.update_mmap(tmp)
        if hasher.hexdigest() != blob_id:
            _unlink(tmp)
            raise IntegrityError(f"blob {blob_id} arrived corrupt: its bytes hash differently")
        final = self._path(BLOBS, blob_id)
        if final in self.stage or os.path.exists(final):
            _unlink(tmp)
            return
        self._schedule(final)
        self.stage.add(tmp, final)

    def adopt_blob_file(self, blob_id: str, tmp: str | None) -> bool | None:
        """Take a blob another process (an engine's worker) copied into ``tmp`` (a file in
        tmp/) and hashed as ``blob_id``: True if staged as new (after re-hashing it here),
        False if the store has it already (it is touched, as :meth:`put_file` does; ``tmp`` is
        removed). ``tmp`` None means the worker found the blob stored: False, or None if it is
        gone meanwhile (the caller stores the source itself)."""
        final = self._path(BLOBS, blob_id)
        if final in self.stage or self._touch_blob(final, blob_id):
            if tmp is not None:
                _unlink(tmp)
            return False
        if tmp is None:
            return None
        self._schedule(final)
        self.put_blob_file(blob_id, tmp)  # IntegrityError if the bytes hash differently
        return True

    def drop_decoded(self, limit: int) -> None:
        """Drop the decoded objects kept in memory once there are more than ``limit`` (a walk
        over every object reads each once: keeping them would only cost memory)."""
        with self._lock:
            if len(self._cache) > limit:
                self._cache.clear()

    def has(self, object_id: str) -> bool:
        final = self._path(OBJECTS, object_id)
        return object_id in self._present or final in self.stage or os.path.exists(final)

    def object_ids(self) -> Iterator[str]:
        """Ids of every stored object (not blobs)."""
        yield from _ids_under(self.backend, OBJECTS)

    # -- blobs --------------------------------------------------------------------------------

    def blob_path(self, object_id: str) -> Path:
        """The file holding a blob."""
        return Path(self._path(BLOBS, object_id))

    def blob_file(self, object_id: str) -> str:
        """A file holding the blob's bytes now: its staged copy before publishing, else the blob."""
        final = self._path(BLOBS, object_id)
        return self.stage.temp_path(final) or final

    def has_blob(self, object_id: str) -> bool:
        return os.path.exists(self._path(BLOBS, object_id))

    def blob_ids(self) -> Iterator[str]:
        """Ids of every stored blob."""
        yield from _ids_under(self.backend, BLOBS)

    def put_file(self, source: str | Path, size: int | None = None) -> tuple[str, bool]:
        """Store a file's bytes as a blob; return ``(id, new)`` (durable after :meth:`publish`).

        Small files are read whole and written only if the store lacks them. Bigger files are
        copied in the kernel (a reflink where the file system allows it) and then hashed from the
        copy, so the id always matches the stored bytes, even if the source changes meanwhile;
        memory stays bounded for files of any size. A read error becomes ``InvalidDataset``
        naming the file; a write error (disk full) becomes ``StorageError``.
        """
        data = None
        if size is None or size <= SMALL_FILE:
            try:
                with open(source, "rb") as f:
                    data = f.read(SMALL_FILE + 1)
            except OSError as exc:
                raise InvalidDataset(f"cannot read {source}: {exc.strerror or exc}") from exc
        if data is not None and len(data) <= SMALL_FILE:
            return self.put_small(data)
        self.backend.make_dir(self.backend.tmp)
        tmp = self.stage.temp()
        try:
            self._copy(source, tmp)
            hasher = new_hasher(size or 0)
            hasher.update_mmap(tmp)
            _start_writeback(tmp)
        except BaseException:
            _unlink(tmp)
            raise
        object_id = hasher.hexdigest()
        final = self._path(BLOBS, object_id)
        if self._touch_blob(final, object_id):
            _unlink(tmp)
            return object_id, False
        self._schedule(final)
        return object_id, self.stage.add(tmp, final)

    def put_small(self, data: bytes) -> tuple[str, bool]:
        """Store the whole bytes of a small file (read by the caller) as a blob; ``(id, new)``.

        The bytes are hashed here and the same bytes are written, so the id matches what is
        stored. A reused blob is touched (gc's grace), as by :meth:`put_file`."""
        object_id = hash_bytes(data)
        final = self._path(BLOBS, object_id)
        if final in self.stage or self._touch_blob(final, object_id):
            return object_id, False
        self._schedule(final)
        return object_id, self.stage.add_bytes(data, final)

    def _copy(self, source: str | Path, tmp: str) -> None:
        try:
            src = open(source, "rb")
        except OSError as exc:
            raise InvalidDataset(f"cannot read {source}: {exc.strerror or exc}") from exc
        with src:
            try:
                dst = open(tmp, "xb")
            except OSError as exc:
                raise storage_error(exc, tmp) from exc
            with dst:
                if self._try_reflink(src, dst):
                    return
                try:
                    self._copy_range_or_stream(src, dst)
                except _ReadError as exc:
                    raise InvalidDataset(f"cannot read {source}: {exc}") from exc
                except OSError as exc:
                    raise storage_error(exc, tmp) from exc

    def _copy_range_or_stream(self, src: BinaryIO, dst: BinaryIO) -> None:
        if self._copy_range:
            try:
                if fileops.copy_range(src, dst):
                    return
            except OSError as exc:
                if exc.errno in (errno.EIO,):
                    raise _ReadError(exc.strerror) from exc
                raise
            self._copy_range = False
        _copy_hash(src, dst, None)

    def _try_reflink(self, src: BinaryIO, dst: BinaryIO) -> bool:
        if not self._reflink:
            return False
        try:
            if fileops.reflink(src, dst):
                return True
        except OSError:
            return False  # this file failed: copy it instead
        self._reflink = False
        return False

    def verifier(self) -> Verifier:
        """Checks blobs through their fingerprints: ``v.intact(id, store.blob_file(id), id)``."""
        return Verifier(self.fingerprints)

    def check_blobs(self, ids: list[str], verifier: Verifier | None = None) -> list[str]:
        """The ``ids`` whose blob is missing or does not hold its bytes any more (one ``stat``
        per blob whose fingerprint is unchanged, a re-hash otherwise)."""
        from concurrent.futures import ThreadPoolExecutor

        from casdb.core.parallel import workers

        v = verifier or self.verifier()
        unique = list(dict.fromkeys(ids))
        v.prefetch(unique)

        def bad(blob: str) -> bool:
            return not v.intact(blob, self.blob_file(blob), blob)

        # one stat each, serially (a thread per stat costs more than the stat); the re-hashes
        # of what the fingerprints do not vouch for run in parallel
        todo = [b for b in unique if not v.vouched(b, self.blob_file(b), b)]
        if len(todo) < 4:
            found = [b for b in todo if bad(b)]
        else:
            with ThreadPoolExecutor(workers()) as pool:
                found = [b for b, wrong in zip(todo, pool.map(bad, todo), strict=True) if wrong]
        if verifier is None:
            v.save()
        return found

    def replace_blob(self, blob_id: str, tmp: str) -> None:
        """Put a good copy (``tmp``, in the repository's tmp/, consumed) in place of a damaged or
        missing blob, after checking its hash. Checkouts that hardlinked the damaged file keep
        it (``casdb cache verify`` repairs them); new ones get the good bytes."""
        from casdb.core.atomic import fsync_dir

        if hash_file(tmp) != blob_id:
            _unlink(tmp)
            raise IntegrityError(f"blob {short(blob_id)} arrived corrupt: its bytes hash "
                                 "differently")
        final = self._path(BLOBS, blob_id)
        try:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.chmod(tmp, READ_ONLY)
            os.replace(tmp, final)
            fsync_dir(Path(final).parent)
        except OSError as exc:
            _unlink(tmp)
            raise storage_error(exc, final) from exc
        self.fingerprints.put_many([(blob_id, blob_id, stamp(final))])

    def verify_blob(self, object_id: str) -> None:
        """Re-hash a stored blob; ``NotFound`` or ``IntegrityError`` if it is not intact."""
        path = str(self.blob_path(object_id))
        before = stamp(path)
        if before is None:
            if not os.path.lexists(path):
                raise NotFound(f"blob {object_id} is missing")
            raise IntegrityError(f"blob {object_id} is unreadable")
        digest = hash_file(path)
        if digest is None:
            raise IntegrityError(f"blob {object_id} is unreadable")
        if digest != object_id:
            raise IntegrityError(f"blob {object_id} is corrupt: its bytes hash differently")
        if stamp(path) == before:  # unchanged while hashed: the evidence holds for this stamp
            self.fingerprints.put_many([(object_id, object_id, before)])

    # -- durability ---------------------------------------------------------------------------

    def publish(self) -> int:
        """Make every staged object and blob durable and visible; call before moving a ref.

        The fingerprint of every new blob is recorded: its bytes were hashed as they were staged.
        """
        placed = self.stage.publish()
        prefix = f"{self.root}/{BLOBS}/"
        records = []
        for final in self.stage.placed:
            if final.startswith(prefix):
                st = stamp(final)
                if st is not None:
                    blob = final[len(prefix):].replace("/", "")
                    records.append((blob, blob, st))
        with self._lock:
            touched, self._touched = self._touched, []
        if touched:  # only a record that held for the stamp before the touch is carried over
            known = self.fingerprints.get_many(b for b, _, _ in touched)
            records += [(b, b, after) for b, before, after in touched
                        if known.get(b) == (b, before)]
        self.fingerprints.put_many(records)
        return placed

    def discard(self) -> None:
        """Drop everything staged and not yet published (after a failed commit)."""
        self.stage.discard()


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
        if hasher is not None:
            hasher.update(view[:n])
        if dst is not None:
            dst.write(view[:n])


def _start_writeback(path: str) -> None:
    """Start writing a staged copy to disk now, so the sync before publishing has less to do."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    except OSError:
        pass  # only a hint
    finally:
        os.close(fd)


def _touch(path: str) -> bool:
    """Whether ``path`` exists; if so, its mtime becomes now, so that a gc running meanwhile
    sees an object a new commit reuses as young (gc spares what changed within its grace)."""
    try:
        os.utime(path)
    except FileNotFoundError:
        return False
    except OSError:
        return os.path.exists(path)  # another user's file in a shared repository
    return True


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _ids_under(backend: LocalBackend, top: str) -> Iterator[str]:
    for key in backend.list(top + "/"):
        object_id = key[len(top) + 1 :].replace("/", "")
        if is_id(object_id):
            yield object_id
