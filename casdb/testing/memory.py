"""A backend that keeps its keys in a dict: the reference the backend contract is checked against,
and a fast, disk-free backend for tests of the layers above.

Test-only: nothing survives the process, so it lives in ``casdb.testing`` and
:func:`casdb.store.backends.registry.open_backend` never returns it.

Example:
    >>> b = MemoryBackend()
    >>> b.put("refs/x", b"1"), b.put("refs/x", b"2", exclusive=True), b.get("refs/x")
    (True, False, b'1')
    >>> sorted(b.list("refs/"))
    ['refs/x']
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from casdb.core.errors import Conflict, NotFound, storage_error
from casdb.store.backends.base import check_key


class MemoryBackend:
    """Keys -> bytes in a dict, with the same semantics as the folder and S3 backends.

    One lock makes every operation atomic, so put-if-absent and compare-and-swap hold across
    threads. ``data`` and ``times`` are the raw storage (the contract's raw hooks use them).
    """

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.times: dict[str, float] = {}
        self.lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryBackend({len(self.data)} keys)"

    def _set(self, key: str, data: bytes) -> None:
        self.data[key] = bytes(data)
        self.times[key] = time.time()

    def get(self, key: str) -> bytes:
        check_key(key)
        with self.lock:
            try:
                return self.data[key]
            except KeyError:
                raise NotFound(f"no {key} in memory") from None

    def get_ranges(self, key: str, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        data = self.get(key)
        return [data[start:end] for start, end in ranges]

    def get_file(self, key: str, path: Path) -> None:
        data = self.get(key)
        try:
            with open(path, "xb") as f:
                f.write(data)
        except OSError as exc:
            raise storage_error(exc, str(path)) from exc

    def put(self, key: str, data: bytes, *, exclusive: bool = False) -> bool:
        check_key(key)
        with self.lock:
            if exclusive and key in self.data:
                return False
            self._set(key, data)
            return True

    def put_file(self, key: str, path: Path) -> bool:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise storage_error(exc, str(path)) from exc
        return self.put(key, data, exclusive=True)

    def swap(self, key: str, expected: bytes | None, new: bytes) -> None:
        check_key(key)
        with self.lock:
            if self.data.get(key) != expected:
                raise Conflict(f"{key} changed meanwhile")
            self._set(key, new)

    def exists(self, key: str) -> bool:
        check_key(key)
        with self.lock:
            return key in self.data

    def modified(self, key: str) -> float:
        check_key(key)
        with self.lock:
            return self.times.get(key, 0.0)

    def list(self, prefix: str) -> Iterator[str]:
        # Folder-like, as the other backends: "p" and "p/" both list the keys under "p/".
        base = prefix.strip("/")
        start = f"{base}/" if base else ""
        with self.lock:
            keys = [k for k in self.data if k.startswith(start)]
        yield from sorted(keys)

    def delete(self, key: str) -> None:
        check_key(key)
        with self.lock:
            self.data.pop(key, None)
            self.times.pop(key, None)
