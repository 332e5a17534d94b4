"""The one atomic-write helper every file casdb writes goes through.

A write goes to a temporary file on the same file system, is flushed and fsynced, and is then
moved into place in one step: ``os.replace`` (overwrite) or ``os.link`` (put-if-absent, which fails
if the name exists, so a racing writer never clobbers a finished file). A reader therefore sees the
old file or the complete new one, never a torn write; a crash leaves only a temporary file.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> atomic_write(d / "a", b"hello")
    True
    >>> atomic_write(d / "a", b"other", exclusive=True)
    False
    >>> (d / "a").read_bytes()
    b'hello'
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from casdb.core.errors import storage_error

TMP_PREFIX = ".tmp-"
FSYNC_EACH = 64
"""A stage of up to this many files fsyncs each; a bigger one syncs the file system once."""


def temp_name(directory: Path) -> Path:
    """A fresh temporary path in ``directory``, unique across processes and threads."""
    return directory / f"{TMP_PREFIX}{os.getpid()}-{os.urandom(8).hex()}"


def fsync_dir(directory: Path) -> None:
    """Make the names in ``directory`` durable (after a rename or link into it)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class Pending:
    """A write in progress: write to ``file``; ``path`` may be set (or changed) before the end."""

    file: BinaryIO
    path: Path | None
    placed: bool = False
    """After the block: whether the file now stands at ``path`` (False: it existed, exclusive)."""


@contextlib.contextmanager
def atomic_file(
    path: Path | None,
    *,
    tmp_dir: Path,
    exclusive: bool = False,
    mode: int | None = None,
    sync_dir: bool = True,
    durable: bool = True,
) -> Iterator[Pending]:
    """Open a temporary file in ``tmp_dir`` that becomes ``pending.path`` when the block ends.

    ``tmp_dir`` must be on the same file system as the destination. The destination may be set
    inside the block (a content-addressed file is named by the hash of what was written). With
    ``exclusive`` the file is placed only if the name is free (put-if-absent). ``mode`` is applied
    before the file becomes visible (0o444 for read-only blobs). ``sync_dir=False`` leaves the
    fsync of the destination folder to the caller, who can then sync each folder once.
    ``durable=False`` skips every fsync: for a cache that checks what it reads and whose loss
    costs only time (the file is still replaced atomically).
    If the block raises, nothing is placed and the temporary file is removed. ``OSError`` from
    writing (disk full, no permission) becomes ``StorageError``.
    """
    tmp = temp_name(Path(tmp_dir))
    try:
        f = open(tmp, "xb")
    except OSError as exc:
        raise storage_error(exc, str(path or tmp_dir)) from exc
    pending = Pending(f, Path(path) if path is not None else None)
    try:
        try:
            with f:
                yield pending
                f.flush()
                if durable:
                    os.fsync(f.fileno())
            if pending.path is None:
                raise ValueError("atomic_file: no destination path was set")
            if mode is not None:
                os.chmod(tmp, mode)
            pending.placed = _place(tmp, pending.path, exclusive)
            if pending.placed and sync_dir and durable:
                fsync_dir(pending.path.parent)
        except OSError as exc:
            raise storage_error(exc, str(pending.path or tmp)) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _place(tmp: Path, path: Path, exclusive: bool) -> bool:
    if not exclusive:
        os.replace(tmp, path)
        return True
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    return True


def atomic_write(
    path: Path,
    data: bytes | bytearray | memoryview,
    *,
    tmp_dir: Path | None = None,
    exclusive: bool = False,
    mode: int | None = None,
    sync_dir: bool = True,
    durable: bool = True,
) -> bool:
    """Write ``data`` to ``path`` atomically; see :func:`atomic_file`. Returns whether it was placed.

    ``tmp_dir`` defaults to ``path``'s folder.
    """
    path = Path(path)
    with atomic_file(
        path, tmp_dir=tmp_dir or path.parent, exclusive=exclusive, mode=mode, sync_dir=sync_dir,
        durable=durable,
    ) as pending:
        pending.file.write(data)
    return pending.placed


def sync_filesystem(path: Path) -> None:
    """Flush every written byte of the file system holding ``path`` to disk (``syncfs``)."""
    import ctypes

    fd = os.open(path, os.O_RDONLY)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if getattr(libc, "syncfs", None) is None or libc.syncfs(fd) != 0:
            os.sync()  # no syncfs here: flush everything
    finally:
        os.close(fd)


class Stage:
    """Many files written at once, made durable together, then published put-if-absent.

    Writing thousands of objects with an fsync each is slow; this is Git's batch mode instead:
    files are written to ``tmp_dir`` without fsync, one ``syncfs`` makes them all durable, and
    only then are they linked to their final names (``os.link``: an existing name is kept, so a
    finished file is never clobbered). A file is therefore never visible under its final name
    before its bytes are on disk; a crash leaves only temporary files in ``tmp_dir``.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> stage = Stage(d)
        >>> stage.add_bytes(b"x", str(d / "a"))
        True
        >>> (d / "a").exists(), stage.publish(), (d / "a").read_bytes()
        (False, 1, b'x')
    """

    def __init__(self, tmp_dir: Path, mode: int | None = None) -> None:
        self.tmp_dir = Path(tmp_dir)
        self.mode = mode
        self._files: dict[str, str] = {}  # final path -> temporary path
        self._lock = threading.Lock()
        self.placed: list[str] = []
        """Final paths the last :meth:`publish` placed (a name that existed is not listed)."""

    def __contains__(self, final: str) -> bool:
        return final in self._files

    def temp(self) -> str:
        """A fresh temporary path in ``tmp_dir`` (the caller writes it, then calls :meth:`add`)."""
        return str(temp_name(self.tmp_dir))

    def add(self, tmp: str, final: str) -> bool:
        """Schedule ``tmp`` to become ``final``; False (and ``tmp`` removed) if already scheduled."""
        with self._lock:
            if final in self._files:
                _unlink(tmp)
                return False
            self._files[final] = tmp
            return True

    def add_bytes(self, data: bytes | bytearray | memoryview, final: str) -> bool:
        """Write ``data`` to a temporary file scheduled to become ``final``."""
        if final in self._files:
            return False
        tmp = self.temp()
        try:
            with open(tmp, "xb") as f:
                f.write(data)
        except OSError as exc:
            _unlink(tmp)
            raise storage_error(exc, str(final)) from exc
        return self.add(tmp, final)

    def temp_path(self, final: str) -> str | None:
        """Where a scheduled file can be read before it is published."""
        return self._files.get(final)

    def publish(self) -> int:
        """Make every scheduled file durable and visible; return how many were newly placed."""
        with self._lock:
            files, self._files = self._files, {}
        self.placed = []
        if not files:
            return 0
        placed = 0
        folders: set[Path] = set()
        try:
            if self.mode is not None:  # before the flush, so the mode is as durable as the bytes
                for tmp in files.values():
                    os.chmod(tmp, self.mode)
            if len(files) <= FSYNC_EACH:
                for tmp in files.values():  # a few files: flush just them
                    fd = os.open(tmp, os.O_RDONLY)
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)
            else:  # many: one flush of the file system beats one per file
                sync_filesystem(self.tmp_dir)
            for final, tmp in files.items():
                try:
                    os.link(tmp, final)
                    placed += 1
                    self.placed.append(final)
                    folders.add(os.path.dirname(final))
                except FileExistsError:
                    pass
                os.unlink(tmp)
            if len(folders) <= FSYNC_EACH:
                for folder in sorted(folders):
                    fsync_dir(Path(folder))
            else:  # names in many folders: one flush instead of a journal commit per folder
                sync_filesystem(self.tmp_dir)
        except OSError as exc:
            for tmp in files.values():
                _unlink(tmp)
            raise storage_error(exc, str(self.tmp_dir.parent)) from exc
        return placed

    def discard(self) -> None:
        """Drop every scheduled file (after a failure)."""
        with self._lock:
            files, self._files = self._files, {}
        for tmp in files.values():
            _unlink(tmp)


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
