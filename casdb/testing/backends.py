"""The contract every backend keeps: subclass :class:`BackendContract` in a test module and give
it a ``backend`` fixture (a fresh, empty backend per test).

Example::

    class TestLocal(BackendContract):
        @pytest.fixture
        def backend(self, tmp_path):
            return LocalBackend(tmp_path)
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from casdb.errors import Conflict, NotFound


class BackendContract:
    """Shared tests: get/put/put-if-absent, ranges, files, compare-and-swap, listing, delete."""

    def test_put_get_exists_delete(self, backend) -> None:
        assert not backend.exists("a/b")
        assert backend.put("a/b", b"one") is True
        assert backend.get("a/b") == b"one" and backend.exists("a/b")
        assert backend.put("a/b", b"two") is True and backend.get("a/b") == b"two"
        backend.delete("a/b")
        backend.delete("a/b")  # absent: ignored
        assert not backend.exists("a/b")
        with pytest.raises(NotFound):
            backend.get("a/b")

    def test_modified(self, backend) -> None:
        import time

        assert backend.modified("m/x") == 0.0
        backend.put("m/x", b"1")
        assert abs(backend.modified("m/x") - time.time()) < 120

    def test_put_if_absent(self, backend) -> None:
        assert backend.put("k", b"first", exclusive=True) is True
        assert backend.put("k", b"second", exclusive=True) is False
        assert backend.get("k") == b"first"

    def test_concurrent_put_if_absent_has_one_winner(self, backend) -> None:
        wins = []

        def race(i: int) -> None:
            if backend.put("race", f"{i}".encode(), exclusive=True):
                wins.append(i)

        threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(wins) == 1 and backend.get("race") == f"{wins[0]}".encode()

    def test_ranges_and_files(self, backend, tmp_path: Path) -> None:
        data = bytes(range(256)) * 1000
        backend.put("big/x", data)
        assert backend.get_ranges("big/x", [(0, 3), (1000, 1010), (len(data) - 1, len(data))]) == [
            data[:3], data[1000:1010], data[-1:]]
        src = tmp_path / "src"
        src.write_bytes(data * 40)  # 10 MB: a multipart upload on S3
        assert backend.put_file("files/y", src) is True
        assert backend.put_file("files/y", src) is False  # put-if-absent
        backend.get_file("files/y", tmp_path / "back")
        assert (tmp_path / "back").read_bytes() == data * 40
        with pytest.raises(NotFound):
            backend.get_file("files/none", tmp_path / "none")

    def test_compare_and_swap(self, backend) -> None:
        backend.swap("refs/r", None, b"1")
        with pytest.raises(Conflict):
            backend.swap("refs/r", None, b"x")  # exists already
        backend.swap("refs/r", b"1", b"2")
        with pytest.raises(Conflict):
            backend.swap("refs/r", b"1", b"3")  # stale
        assert backend.get("refs/r") == b"2"

    def test_concurrent_swaps_have_one_winner(self, backend) -> None:
        backend.swap("refs/h", None, b"0")
        wins = []

        def race(i: int) -> None:
            try:
                backend.swap("refs/h", b"0", f"{i + 1}".encode())
                wins.append(i)
            except Conflict:
                pass

        threads = [threading.Thread(target=race, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(wins) == 1 and backend.get("refs/h") == f"{wins[0] + 1}".encode()

    def test_list(self, backend) -> None:
        for key in ("p/a", "p/b/c", "q/d"):
            backend.put(key, b"x")
        assert sorted(backend.list("p/")) == ["p/a", "p/b/c"]
        assert sorted(backend.list("none/")) == []
