"""Placing stored bytes at a path: reflink, hardlink or copy, chosen automatically or forced.

A checkout does not need a second copy of the media: the store already holds the exact bytes of
every file as a read-only blob. In order of preference, a file is placed by

- ``reflink``: a copy-on-write clone (btrfs, XFS, APFS-like file systems): no bytes copied, and
  the clone is an independent file;
- ``hardlink``: a second name for the blob itself; blobs are read-only, so an edit cannot slip
  into the store by accident (``casdb cache verify`` catches a deliberate one);
- ``copy``: the bytes are copied (in the kernel, ``copy_file_range``), e.g. when the cache lives
  on another file system than the repository.

``auto`` tries them in that order and remembers what the file system refused. Every file is
placed atomically: a clone or copy is written to a temporary name first, so a file under its
final name is always complete.

Example:
    >>> import os, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "blob").write_bytes(b"RIFF")
    >>> linker = Linker("auto", tmp_dir=d)
    >>> linker.place(d / "blob", d / "a.wav") in ("reflink", "hardlink")
    True
    >>> (d / "a.wav").read_bytes()
    b'RIFF'
"""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

from casdb.core import fileops
from casdb.core.atomic import temp_name
from casdb.core.errors import InvalidInput, NotFound, storage_error

MODES = ("auto", "reflink", "hardlink", "copy")
READ_ONLY = 0o444
_NO_HARDLINK = (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP)


def check_mode(mode: str) -> str:
    """Return ``mode`` if it is one of :data:`MODES`, else raise ``InvalidInput``."""
    if mode not in MODES:
        raise InvalidInput(f"unknown link mode {mode!r}: use one of {', '.join(MODES)}")
    return mode


class Linker:
    """Places files by the best method the file systems allow (thread-safe).

    ``mode`` is ``auto`` or a method to force; a forced method the file system refuses is a
    ``StorageError``. ``writable`` leaves copies writable (a checkout the user will edit);
    hardlinks always stay read-only, because they share their bytes with the store.
    """

    def __init__(
        self,
        mode: str = "auto",
        *,
        tmp_dir: Path,
        writable: bool = False,
        reuse: dict[str, str] | None = None,
    ) -> None:
        self.mode = check_mode(mode)
        self.reuse = reuse or {}
        """Source -> a read-only copy of it already on the destination's file system (another
        cached version): linked instead of copied again."""
        self.tmp_dir = Path(tmp_dir)
        self.writable = writable
        self._reflink = mode in ("auto", "reflink")
        self._hardlink = mode in ("auto", "hardlink") and not writable
        self._anonymous = hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd")
        self.used: dict[str, int] = {}
        self._lock = threading.Lock()

    def place(self, source: str | Path, dest: str | Path, *, dir_fd: int | None = None) -> str:
        """Put the bytes of ``source`` at ``dest``; return the method. An existing file of that
        name is never replaced (``FileExistsError``).

        With ``dir_fd``, ``dest`` is a name in that open folder: the file is created there and
        nowhere else (no path is resolved again, so a folder swapped for a symlink meanwhile
        cannot redirect it).
        """
        if dir_fd is None:  # a path: its folder, opened once for this call
            folder, name = os.path.split(str(dest))
            try:
                fd = os.open(folder or ".", os.O_RDONLY | os.O_DIRECTORY)
            except OSError as exc:
                raise storage_error(exc, str(dest)) from exc
            try:
                return self.place(source, name, dir_fd=fd)
            finally:
                os.close(fd)
        method = self._place(str(source), str(dest), dir_fd)
        with self._lock:
            self.used[method] = self.used.get(method, 0) + 1
        return method

    def _place(self, source: str, dest: str, dir_fd: int) -> str:
        if self._reflink:
            if self._clone(source, dest, dir_fd):
                return "reflink"
            if self.mode == "reflink":
                raise storage_error(OSError(errno.EOPNOTSUPP, "the file system cannot reflink"),
                                    dest)
        if self._hardlink:
            try:
                os.link(source, dest, dst_dir_fd=dir_fd)
                return "hardlink"
            except FileExistsError:
                raise
            except FileNotFoundError as exc:
                if not os.path.exists(source):
                    raise NotFound(f"{source} is missing") from exc
                raise storage_error(exc, dest) from exc
            except OSError as exc:
                if exc.errno not in _NO_HARDLINK or self.mode == "hardlink":
                    raise storage_error(exc, dest) from exc
                self._hardlink = False  # another file system: copy from now on
        earlier = self.reuse.get(source)
        if earlier is not None and not self.writable:
            try:
                os.link(earlier, dest, dst_dir_fd=dir_fd)
                return "reused"
            except FileExistsError:
                raise
            except OSError:
                pass  # gone or on another file system: copy
        self._copy(source, dest, dir_fd)
        return "copy"

    def _clone(self, source: str, dest: str, dir_fd: int) -> bool:
        if self._via_temp(source, dest, fileops.reflink, dir_fd):
            return True
        self._reflink = False  # this file system cannot: stop trying
        return False

    def _copy(self, source: str, dest: str, dir_fd: int) -> None:
        self._via_temp(source, dest, lambda s, d: fileops.copy_range(s, d) or fileops.stream(s, d),
                       dir_fd)

    def _via_temp(self, source: str, dest: str, fill, dir_fd: int) -> bool:
        """``fill(src, tmp)`` a temporary file, then move it to ``dest`` if ``fill`` says it
        did; the temporary file never outlives the call."""
        if self._anonymous:
            done = self._via_anonymous(source, dest, fill, dir_fd)
            if done is not None:
                return done
        tmp = temp_name(self.tmp_dir)
        try:
            with open(source, "rb") as src, open(tmp, "xb") as dst:
                done = fill(src, dst)
        except OSError as exc:
            _unlink(tmp)
            raise _copy_error(exc, source, dest) from exc
        if not done:
            _unlink(tmp)
            return False
        self._finish(tmp, dest, dir_fd)
        return True

    def _via_anonymous(self, source: str, dest: str, fill, dir_fd: int) -> bool | None:
        """:meth:`_via_temp` with an unnamed file (``O_TMPFILE``) in the destination folder,
        linked in once filled: one directory entry made instead of three operations (create,
        link, unlink; a copy checkout of 2000 files spent most of its time there). None: the
        file system cannot, use a named temporary file from now on."""
        try:
            fd = os.open(".", os.O_TMPFILE | os.O_WRONLY, 0o666, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
                self._anonymous = False
                return None
            raise storage_error(exc, dest) from exc
        try:
            with open(fd, "wb", closefd=False) as dst:
                try:
                    with open(source, "rb") as src:
                        done = fill(src, dst)
                except OSError as exc:
                    raise _copy_error(exc, source, dest) from exc
                if not done:
                    return False
                dst.flush()
            if not self.writable:
                os.fchmod(fd, READ_ONLY)
            # put-if-absent: the unnamed file gets its name by a link, never over another file
            try:
                os.link(f"/proc/self/fd/{fd}", dest, dst_dir_fd=dir_fd, follow_symlinks=True)
            except FileExistsError:
                raise
            except OSError as exc:
                # /proc is not this process's, or linking through it is not allowed: a named
                # temporary file from now on (the folder still being there rules out the rest)
                if exc.errno in (errno.ENOENT, errno.EPERM, errno.EACCES) \
                        and os.fstat(dir_fd).st_nlink > 0:
                    self._anonymous = False
                    return None
                raise
            return True
        except FileExistsError:
            raise
        except OSError as exc:
            raise storage_error(exc, dest) from exc
        finally:
            os.close(fd)

    def _finish(self, tmp: str, dest: str, dir_fd: int) -> None:
        try:
            if not self.writable:
                os.chmod(tmp, READ_ONLY)
            try:  # put-if-absent: link, never rename over a file someone else put there
                os.link(tmp, dest, dst_dir_fd=dir_fd)
            finally:
                _unlink(tmp)
        except FileExistsError:
            raise
        except OSError as exc:
            _unlink(tmp)
            raise storage_error(exc, dest) from exc


def _copy_error(exc: OSError, source: str, dest: str) -> Exception:
    """What a failed copy of ``source`` to ``dest`` is: ``NotFound`` if the source is gone,
    else a ``StorageError``."""
    if isinstance(exc, FileNotFoundError) and not os.path.exists(source):
        return NotFound(f"{source} is missing")
    return storage_error(exc, dest)


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name the same file (a hardlink of the other)."""
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _unlink(path: str | Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
