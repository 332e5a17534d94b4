"""The contract every backend keeps: subclass :class:`BackendContract` in a test module, give it
a ``backend`` fixture (a fresh, empty backend per test) and the two raw hooks, which read and
write the underlying storage directly, bypassing the backend under test (as zarr's
``StoreTests`` do with ``get``/``set``), so a backend cannot pass by agreeing with itself.

Example::

    class TestLocal(BackendContract):
        @pytest.fixture
        def backend(self, tmp_path):
            return LocalBackend(tmp_path)

        def raw_put(self, backend, key, data):
            path = backend.root / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

        def raw_get(self, backend, key):
            path = backend.root / key
            return path.read_bytes() if path.exists() else None

Keys in the contract never name a folder of another key (``a`` and ``a/b``): a folder cannot
hold both. Besides the tests below, the contract runs the stateful model of
:mod:`casdb.testing.backendmodel` against the backend.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from casdb.core.errors import Conflict, InvalidInput, NotFound

INVALID_KEYS = ["", "/abs", "a//b", "a/", "./a", "a/./b", "../a", "a/../b", "a/.."]


def race(n: int, attempt: Callable[[int], bool]) -> list[int]:
    """Run ``attempt(i)`` for ``i < n`` in ``n`` threads released at once; the ``i`` that won."""
    barrier = threading.Barrier(n)
    wins: list[int] = []

    def run(i: int) -> None:
        barrier.wait()
        if attempt(i):
            wins.append(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return wins


class BackendContract:
    """Shared tests: get/put/put-if-absent, ranges, files, compare-and-swap, listing, delete,
    empty values, invalid keys, raw storage, and the stateful model."""

    # -- hooks a subclass implements -------------------------------------------------------

    def raw_put(self, backend, key: str, data: bytes) -> None:
        """Write ``data`` at ``key`` in the storage itself, not through ``backend``."""
        raise NotImplementedError

    def raw_get(self, backend, key: str) -> bytes | None:
        """The bytes the storage holds at ``key`` (None: absent), not through ``backend``."""
        raise NotImplementedError

    # -- get, put, delete --------------------------------------------------------------------

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

    def test_delete_then_every_read_says_absent(self, backend, tmp_path: Path) -> None:
        backend.put("d/k", b"gone soon")
        backend.delete("d/k")
        assert not backend.exists("d/k") and backend.modified("d/k") == 0.0
        assert sorted(backend.list("d/")) == []
        with pytest.raises(NotFound):
            backend.get("d/k")
        with pytest.raises(NotFound):
            backend.get_ranges("d/k", [(0, 1)])
        with pytest.raises(NotFound):
            backend.get_file("d/k", tmp_path / "out")
        # An absent key again: put-if-absent and a swap from "absent" both succeed.
        assert backend.put("d/k", b"again", exclusive=True) is True
        backend.delete("d/k")
        backend.swap("d/k", None, b"swapped")
        assert backend.get("d/k") == b"swapped"

    def test_delete_leaves_the_neighbours(self, backend) -> None:
        for key in ("n/a", "n/b", "n/c/d"):
            backend.put(key, key.encode())
        backend.delete("n/b")
        assert sorted(backend.list("n/")) == ["n/a", "n/c/d"]
        assert backend.get("n/a") == b"n/a" and backend.get("n/c/d") == b"n/c/d"

    def test_empty_values(self, backend, tmp_path: Path) -> None:
        assert backend.put("e/empty", b"") is True
        assert backend.get("e/empty") == b"" and backend.exists("e/empty")
        assert backend.modified("e/empty") > 0
        assert sorted(backend.list("e/")) == ["e/empty"]
        assert backend.get_ranges("e/empty", [(0, 0)]) == [b""]
        assert backend.put("e/empty", b"x", exclusive=True) is False  # empty is not absent
        # b"" and None (absent) are different expectations for a swap.
        with pytest.raises(Conflict):
            backend.swap("e/empty", None, b"1")
        backend.swap("e/empty", b"", b"1")
        backend.swap("e/empty", b"1", b"")
        assert backend.get("e/empty") == b""
        (tmp_path / "empty").write_bytes(b"")
        assert backend.put_file("e/file", tmp_path / "empty") is True
        backend.get_file("e/file", tmp_path / "back")
        assert (tmp_path / "back").read_bytes() == b"" and backend.get("e/file") == b""

    def test_binary_values_come_back_exactly(self, backend) -> None:
        data = bytes(range(256)) * 3 + b"\r\n\x00\n"
        backend.put("bin/x", data)
        assert backend.get("bin/x") == data

    @pytest.mark.parametrize("key", INVALID_KEYS)
    def test_invalid_keys_are_refused(self, backend, key: str) -> None:
        calls = [lambda: backend.get(key), lambda: backend.put(key, b"x"),
                 lambda: backend.put(key, b"x", exclusive=True), lambda: backend.exists(key),
                 lambda: backend.modified(key), lambda: backend.delete(key),
                 lambda: backend.swap(key, None, b"x"), lambda: backend.get_ranges(key, [(0, 1)])]
        for call in calls:
            with pytest.raises(InvalidInput, match="invalid key"):
                call()
        assert sorted(backend.list("")) == []  # nothing was written anywhere

    def test_modified(self, backend) -> None:
        assert backend.modified("m/x") == 0.0
        backend.put("m/x", b"1")
        first = backend.modified("m/x")
        assert abs(first - time.time()) < 120
        backend.put("m/x", b"2")
        assert backend.modified("m/x") >= first
        backend.delete("m/x")
        assert backend.modified("m/x") == 0.0

    # -- put-if-absent -----------------------------------------------------------------------

    def test_put_if_absent(self, backend) -> None:
        assert backend.put("k", b"first", exclusive=True) is True
        assert backend.put("k", b"second", exclusive=True) is False
        assert backend.get("k") == b"first"
        assert backend.put("k", b"third") is True and backend.get("k") == b"third"

    def test_put_file_never_overwrites(self, backend, tmp_path: Path) -> None:
        src = tmp_path / "src"
        src.write_bytes(b"from a file")
        backend.put("pf/a", b"put first")
        assert backend.put_file("pf/a", src) is False and backend.get("pf/a") == b"put first"
        assert backend.put_file("pf/b", src) is True
        assert backend.put("pf/b", b"other", exclusive=True) is False
        assert backend.get("pf/b") == b"from a file"

    def test_concurrent_put_if_absent_has_one_winner(self, backend) -> None:
        wins = race(8, lambda i: backend.put("race", f"{i}".encode(), exclusive=True))
        assert len(wins) == 1 and backend.get("race") == f"{wins[0]}".encode()

    # -- ranges and files --------------------------------------------------------------------

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

    def test_range_edge_cases(self, backend) -> None:
        data = bytes(range(100))
        backend.put("r/x", data)
        assert backend.get_ranges("r/x", []) == []
        assert backend.get_ranges("r/x", [(0, 100)]) == [data]  # the whole value
        assert backend.get_ranges("r/x", [(5, 5)]) == [b""]  # empty range
        # Unsorted, overlapping and repeated ranges come back in the order asked.
        ranges = [(90, 100), (0, 10), (5, 15), (0, 10), (99, 100)]
        assert backend.get_ranges("r/x", ranges) == [data[s:e] for s, e in ranges]
        with pytest.raises(NotFound):
            backend.get_ranges("r/none", [(0, 1)])

    # -- compare-and-swap --------------------------------------------------------------------

    def test_compare_and_swap(self, backend) -> None:
        backend.swap("refs/r", None, b"1")
        with pytest.raises(Conflict):
            backend.swap("refs/r", None, b"x")  # exists already
        backend.swap("refs/r", b"1", b"2")
        with pytest.raises(Conflict):
            backend.swap("refs/r", b"1", b"3")  # stale
        assert backend.get("refs/r") == b"2"

    def test_swap_on_a_deleted_key_conflicts(self, backend) -> None:
        backend.swap("refs/s", None, b"1")
        backend.delete("refs/s")
        with pytest.raises(Conflict):
            backend.swap("refs/s", b"1", b"2")
        assert not backend.exists("refs/s")

    def test_concurrent_swaps_have_one_winner(self, backend) -> None:
        backend.swap("refs/h", None, b"0")

        def attempt(i: int) -> bool:
            try:
                backend.swap("refs/h", b"0", f"{i + 1}".encode())
            except Conflict:
                return False
            return True

        wins = race(6, attempt)
        assert len(wins) == 1 and backend.get("refs/h") == f"{wins[0] + 1}".encode()

    def test_concurrent_creating_swaps_have_one_winner(self, backend) -> None:
        def attempt(i: int) -> bool:
            try:
                backend.swap("refs/new", None, f"{i}".encode())
            except Conflict:
                return False
            return True

        wins = race(2, attempt)
        assert len(wins) == 1 and backend.get("refs/new") == f"{wins[0]}".encode()

    def test_swap_chains_from_two_threads_lose_no_update(self, backend) -> None:
        """Two threads each add 10 increments by read-then-swap, retrying on Conflict: no lost
        update, so the counter ends at 20."""
        backend.put("refs/count", b"0")

        def add(_: int) -> bool:
            for _ in range(10):
                while True:
                    current = backend.get("refs/count")
                    try:
                        backend.swap("refs/count", current, str(int(current) + 1).encode())
                        break
                    except Conflict:
                        continue
            return True

        assert race(2, add) and backend.get("refs/count") == b"20"

    # -- listing -----------------------------------------------------------------------------

    def test_list(self, backend) -> None:
        for key in ("p/a", "p/b/c", "q/d"):
            backend.put(key, b"x")
        assert sorted(backend.list("p/")) == ["p/a", "p/b/c"]
        assert sorted(backend.list("none/")) == []

    def test_list_edge_cases(self, backend) -> None:
        assert sorted(backend.list("")) == []  # an empty backend
        keys = ["p/a", "p/b/c", "p/b/d/e", "pq/f", "q/g"]
        for key in keys:
            backend.put(key, b"x")
        assert sorted(backend.list("")) == keys
        assert sorted(backend.list("p/")) == ["p/a", "p/b/c", "p/b/d/e"]
        assert sorted(backend.list("p")) == sorted(backend.list("p/"))  # the slash is optional
        assert sorted(backend.list("p/b/")) == ["p/b/c", "p/b/d/e"]  # nested
        assert sorted(backend.list("p/b/d/")) == ["p/b/d/e"]
        assert sorted(backend.list("p/a/")) == []  # a key is not a folder
        assert sorted(backend.list("pq/")) == ["pq/f"]  # "p/" is not a prefix of "pq/f"
        backend.delete("q/g")
        assert sorted(backend.list("q/")) == []  # emptied

    def test_list_many_keys(self, backend) -> None:
        """More keys than one S3 listing page (1000) returns."""
        keys = [f"many/{i // 100:02d}/{i:04d}" for i in range(1100)]
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda k: self.raw_put(backend, k, b""), keys))
        listed = list(backend.list("many/"))
        assert len(listed) == len(keys) and sorted(listed) == keys

    # -- raw storage -------------------------------------------------------------------------

    def test_reads_what_the_storage_holds(self, backend, tmp_path: Path) -> None:
        self.raw_put(backend, "raw/a", b"written underneath")
        self.raw_put(backend, "raw/sub/b", b"")
        assert backend.get("raw/a") == b"written underneath" and backend.exists("raw/sub/b")
        assert backend.get("raw/sub/b") == b"" and backend.modified("raw/a") > 0
        assert backend.get_ranges("raw/a", [(0, 7), (8, 18)]) == [b"written", b"underneath"]
        assert sorted(backend.list("raw/")) == ["raw/a", "raw/sub/b"]
        backend.get_file("raw/a", tmp_path / "a")
        assert (tmp_path / "a").read_bytes() == b"written underneath"
        assert backend.put("raw/a", b"no", exclusive=True) is False
        backend.swap("raw/a", b"written underneath", b"swapped")
        assert self.raw_get(backend, "raw/a") == b"swapped"

    def test_writes_reach_the_storage(self, backend, tmp_path: Path) -> None:
        backend.put("w/a", b"one")
        backend.put("w/a", b"two")
        backend.put("w/b", b"", exclusive=True)
        backend.swap("w/c", None, b"three")
        (tmp_path / "f").write_bytes(b"four")
        backend.put_file("w/d", tmp_path / "f")
        assert [self.raw_get(backend, k) for k in ("w/a", "w/b", "w/c", "w/d")] == [
            b"two", b"", b"three", b"four"]
        backend.delete("w/a")
        assert self.raw_get(backend, "w/a") is None and self.raw_get(backend, "w/b") == b""

    def test_swap_sees_a_change_made_underneath(self, backend) -> None:
        backend.put("refs/u", b"1")
        self.raw_put(backend, "refs/u", b"2")  # another writer, e.g. another machine
        with pytest.raises(Conflict):
            backend.swap("refs/u", b"1", b"3")
        assert self.raw_get(backend, "refs/u") == b"2"

    # -- the stateful model ------------------------------------------------------------------

    def test_matches_a_dict(self, backend) -> None:
        from casdb.testing.backendmodel import check_against_dict

        check_against_dict(backend)
