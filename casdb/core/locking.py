"""Inter-process locks on files (``flock``): released by the kernel when a process dies.

A writer killed with SIGKILL therefore never leaves a stale lock behind.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.lock"
    >>> with FileLock(path):
    ...     pass
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from casdb.core.errors import Conflict, storage_error


class FileLock:
    """An exclusive lock on ``path``, waiting up to ``timeout`` seconds (then ``Conflict``);
    ``timeout=None`` waits as long as it takes (a checkout waiting for another to finish)."""

    def __init__(self, path: Path, timeout: float | None = 60.0, shared: bool = False) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        self._fd: int | None = None

    def __enter__(self) -> FileLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise storage_error(exc, str(self.path)) from exc
        if self.timeout is None:
            try:
                fcntl.flock(fd, self.mode)
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
            return self
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, self.mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise Conflict(
                        f"{self.path} is held by another process for over {self.timeout:.0f} s"
                    ) from None
                time.sleep(0.01)
        self._fd = fd
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
