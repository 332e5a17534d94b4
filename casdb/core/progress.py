"""Progress bars for long operations: files, bytes and rate, on stderr, only on a terminal.

Example:
    >>> with Progress("hashing", total_bytes=10, total_files=1, enabled=False) as p:
    ...     p.advance(10)
"""

from __future__ import annotations

import sys
import threading
from types import TracebackType


class Progress:
    """A byte-counting bar that also shows files done; thread-safe; silent when disabled."""

    def __init__(
        self, label: str, total_bytes: int, total_files: int, enabled: bool | None = None
    ) -> None:
        self.total_files = total_files
        self.files = 0
        self._lock = threading.Lock()
        if enabled is None:
            enabled = sys.stderr.isatty()
        self._bar = None
        if enabled and total_files:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total_bytes, desc=label, unit="B", unit_scale=True, unit_divisor=1024,
                file=sys.stderr, leave=False, dynamic_ncols=True, mininterval=0.2,
            )

    def advance(self, nbytes: int, files: int = 1) -> None:
        """Count ``files`` more files of ``nbytes`` bytes in all as done."""
        with self._lock:
            self.files += files
            if self._bar is not None:
                self._bar.set_postfix_str(f"{self.files}/{self.total_files} files", refresh=False)
                self._bar.update(nbytes)

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.close()
