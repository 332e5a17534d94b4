"""Remote transfers as a pipeline: several packs uploading at once during a push, several range
reads at once during a fetch, and what an interruption of either leaves behind."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import casdb.remote.transfer as transfer
from casdb.api import Repository
from casdb.core.errors import BackendError, IntegrityError
from casdb.maintenance.fsck import check
from casdb.remote.layout import OBJECT, PACKS, Remote
from casdb.store.backends.local import LocalBackend
from casdb.testing.files import age
from casdb.testing.synth import make_dataset

FILES = 24


class RecordingBackend(LocalBackend):
    """A folder backend that records the order in which pack indexes were written and can fail
    the ``fail_at``-th pack body it is asked to write (counting from 1)."""

    def __init__(self, root: Path, fail_at: int | None = None) -> None:
        super().__init__(root)
        self.fail_at = fail_at
        self.indexes: list[str] = []
        self.bodies = 0
        self.active = 0
        self.most_active = 0
        self._lock = threading.Lock()

    def put(self, key: str, data: bytes, *, exclusive: bool = False) -> bool:
        if key.startswith(PACKS + "/") and key.endswith(".pack"):
            with self._lock:
                self.bodies += 1
                self.active += 1
                self.most_active = max(self.most_active, self.active)
                failing = self.bodies == self.fail_at
            try:
                if failing:
                    raise BackendError(f"{key}: the connection dropped (injected)")
                # a network's latency: a local write can end before the next pack is built,
                # and then whether two uploads overlapped would depend on the machine's load
                time.sleep(0.2)
                return super().put(key, data, exclusive=exclusive)
            finally:
                with self._lock:
                    self.active -= 1
        written = super().put(key, data, exclusive=exclusive)
        if key.endswith(".idx"):
            with self._lock:
                self.indexes.append(key[len(PACKS) + 1 : -len(".idx")])
        return written


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Repository:
    """A repository of ``FILES`` small WAVs, pushed in packs of about 3 files each."""
    monkeypatch.setattr(transfer, "PACK_SIZE", 20_000)
    repo = Repository.init(tmp_path / "repo")
    src = make_dataset(tmp_path / "src", files=FILES, duration=0.5, sampling_rate=16000)
    age(src)
    repo.commit(src, dataset="synth", version="1.0.0")
    return repo


def open_remote(path: Path, backend: LocalBackend) -> Remote:
    Remote.create(str(path), audio_codec="none")
    return Remote(backend, str(path), None, "none")


def kinds(remote: Remote) -> dict[str, set[str]]:
    """Pack -> the kinds of entry it holds."""
    return {p: {k for _, k, _, _ in remote._pack_index(p)} for p in remote._packs()}


def test_packs_go_up_several_at_once_and_objects_only_after_all_blobs(repo, tmp_path):
    backend = RecordingBackend(tmp_path / "remote")
    remote = open_remote(tmp_path / "remote", backend)
    result = transfer.push(repo, remote)
    assert result.blobs == FILES and result.refs
    held = kinds(remote)
    assert len(held) >= 5 and backend.most_active >= 2  # packs really overlapped
    with_objects = [p for p, k in held.items() if OBJECT in k]
    first = min(backend.indexes.index(p) for p in with_objects)
    blob_only = [p for p, k in held.items() if OBJECT not in k]
    assert all(backend.indexes.index(p) < first for p in blob_only)
    clone = Repository.clone(str(tmp_path / "remote"), tmp_path / "clone")
    assert clone.versions("synth") == ["1.0.0"] and check(clone).ok
    assert sorted(clone.media("synth", "1.0.0")["blob"]) == sorted(
        repo.media("synth", "1.0.0")["blob"])


def test_a_push_failing_while_packs_are_in_flight_is_resumed(repo, tmp_path):
    backend = RecordingBackend(tmp_path / "remote", fail_at=3)
    remote = open_remote(tmp_path / "remote", backend)
    with pytest.raises(BackendError, match="injected"):
        transfer.push(repo, remote)
    assert remote.refs("synth") == {}  # nothing half-pushed is visible
    held = kinds(remote)
    assert all(OBJECT not in k for k in held.values())  # no object before all its blobs
    arrived = sum(1 for k in remote.index().values() if k.pack is not None)
    assert 0 < arrived < FILES
    result = transfer.push(repo, open_remote(tmp_path / "remote", LocalBackend(tmp_path / "remote")))
    assert result.blobs == FILES - arrived  # what arrived is not sent again
    clone = Repository.clone(str(tmp_path / "remote"), tmp_path / "clone")
    assert clone.versions("synth") == ["1.0.0"] and check(clone).ok


def test_a_corrupt_blob_among_many_range_reads_stops_the_fetch(repo, tmp_path):
    url = str(tmp_path / "remote")
    transfer.push(repo, open_remote(tmp_path / "remote", LocalBackend(url)))
    remote = Remote.open(url)
    where = remote.index()
    blob = sorted(b for b, e in where.items() if e.kind != OBJECT)[FILES // 2]
    entry = where[blob]
    pack = tmp_path / "remote" / PACKS / f"{entry.pack}.pack"
    data = bytearray(pack.read_bytes())
    data[entry.offset + entry.length // 2] ^= 0xFF
    pack.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=blob):
        Repository.clone(url, tmp_path / "clone")
    target = tmp_path / "clone" / "blobs" / blob[:2] / blob[2:]
    assert not target.exists()  # a corrupt blob is never stored


def test_read_packed_keeps_every_blob_once_from_several_threads(repo, tmp_path):
    url = str(tmp_path / "remote")
    transfer.push(repo, open_remote(tmp_path / "remote", LocalBackend(url)))
    remote = Remote.open(url)
    where = remote.index()
    blobs = [b for b, e in where.items() if e.kind != OBJECT]
    got: dict[str, bytes] = {}
    threads: set[int] = set()

    def keep(blob: str, data: bytes) -> None:
        threads.add(threading.get_ident())
        got[blob] = bytes(data)

    reads = transfer.read_packed(remote, where, blobs, {}, keep)
    assert reads >= 5 and sorted(got) == sorted(blobs)
    assert threading.get_ident() not in threads
    for blob, data in got.items():
        assert repo.store.blob_path(blob).read_bytes() == data
