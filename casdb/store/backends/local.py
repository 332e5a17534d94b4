"""A repository in a local folder (or a shared file system mounted as one)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from casdb.core.atomic import TMP_PREFIX, atomic_file, atomic_write, fsync_dir
from casdb.core.errors import Conflict, NotFound, storage_error
from casdb.store.backends.base import check_key


class LocalBackend:
    """Keys are files under ``root``; writes go through :func:`casdb.core.atomic.atomic_write`.

    Example:
        >>> import tempfile
        >>> b = LocalBackend(tempfile.mkdtemp())
        >>> b.put("refs/x", b"1"), b.put("refs/x", b"2", exclusive=True), b.get("refs/x")
        (True, False, b'1')
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).absolute()
        self.tmp = self.root / "tmp"
        self._made: set[Path] = set()

    def make_dir(self, path: Path) -> None:
        """Create ``path`` (and parents) once per process; writes into it can then skip mkdir."""
        if path in self._made:
            return
        try:
            if not path.is_dir():
                self.make_dir(path.parent)
                path.mkdir(exist_ok=True)
                fsync_dir(path.parent)  # the new folder's name survives a power loss
        except OSError as exc:
            raise storage_error(exc, str(path)) from exc
        self._made.add(path)

    def path(self, key: str) -> Path:
        """The file that holds ``key``."""
        return self.root.joinpath(*check_key(key).split("/"))

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"no {key} in {self.root}") from exc

    def put(self, key: str, data: bytes, *, exclusive: bool = False) -> bool:
        path = self.path(key)
        self.make_dir(path.parent)
        self.make_dir(self.tmp)
        return atomic_write(path, data, exclusive=exclusive, tmp_dir=self.tmp)

    def get_ranges(self, key: str, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        try:
            with open(self.path(key), "rb") as f:
                out = []
                for start, end in ranges:
                    f.seek(start)
                    out.append(f.read(end - start))
                return out
        except FileNotFoundError as exc:
            raise NotFound(f"no {key} in {self.root}") from exc

    def get_file(self, key: str, path: Path) -> None:
        import shutil

        try:
            shutil.copyfile(self.path(key), path)
        except FileNotFoundError as exc:
            if not self.path(key).exists():
                raise NotFound(f"no {key} in {self.root}") from exc
            raise storage_error(exc, str(path)) from exc
        except OSError as exc:
            raise storage_error(exc, str(path)) from exc

    def put_file(self, key: str, path: Path) -> bool:
        target = self.path(key)
        if target.exists():
            return False
        self.make_dir(target.parent)
        self.make_dir(self.tmp)
        import shutil

        with atomic_file(target, tmp_dir=self.tmp, exclusive=True) as pending, open(path, "rb") as f:
            shutil.copyfileobj(f, pending.file, 1 << 20)
        return pending.placed

    def swap(self, key: str, expected: bytes | None, new: bytes) -> None:
        from casdb.core.locking import FileLock

        self.path(key)  # refuse an invalid key before its lock file is made
        with FileLock(self.root / "locks" / (key.replace("/", "%") + ".lock")):
            try:
                current = self.get(key)
            except NotFound:
                current = None
            if current != expected:
                raise Conflict(f"{key} changed meanwhile")
            self.put(key, new)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def modified(self, key: str) -> float:
        try:
            return os.stat(self.path(key)).st_mtime
        except FileNotFoundError:
            return 0.0

    def list(self, prefix: str) -> Iterator[str]:
        base = self.path(prefix.rstrip("/")) if prefix.strip("/") else self.root
        if not base.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for name in sorted(filenames):
                if not name.startswith(TMP_PREFIX):
                    yield f"{rel}/{name}" if rel != "." else name

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path(key))
