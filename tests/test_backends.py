"""The backend contract (casdb.testing.backends) on every backend: a folder, a real S3 server
(SeaweedFS) and the in-memory backend the other two are checked against."""

from __future__ import annotations

import pytest

from casdb.store.backends.base import Backend
from casdb.store.backends.local import LocalBackend
from casdb.testing.backends import BackendContract
from casdb.testing.memory import MemoryBackend


class TestLocalBackend(BackendContract):
    @pytest.fixture
    def backend(self, tmp_path):
        return LocalBackend(tmp_path / "b")

    def raw_put(self, backend, key, data):
        path = backend.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def raw_get(self, backend, key):
        path = backend.root / key
        return path.read_bytes() if path.is_file() else None


class TestS3Backend(BackendContract):
    @pytest.fixture
    def backend(self, s3_url, s3_client):
        from casdb.store.backends.s3 import S3Backend

        self.client = s3_client
        return S3Backend.from_url(s3_url)

    def raw_put(self, backend, key, data):
        self.client.put_object(Bucket=backend.bucket, Key=f"{backend.prefix}/{key}", Body=data)

    @pytest.mark.slow  # ~4 s against SeaweedFS (the folder backend's run stays in the subset)
    def test_concurrent_put_if_absent_has_one_winner(self, backend) -> None:
        super().test_concurrent_put_if_absent_has_one_winner(backend)

    def raw_get(self, backend, key):
        try:
            answer = self.client.get_object(Bucket=backend.bucket, Key=f"{backend.prefix}/{key}")
        except self.client.exceptions.NoSuchKey:
            return None
        return answer["Body"].read()

    @pytest.mark.slow  # about 3 s: 1100 uploads, for a listing longer than one S3 page
    def test_list_many_keys(self, backend):
        super().test_list_many_keys(backend)


class TestMemoryBackend(BackendContract):
    @pytest.fixture
    def backend(self):
        return MemoryBackend()

    def raw_put(self, backend, key, data):
        import time

        backend.data[key] = data
        backend.times[key] = time.time()

    def raw_get(self, backend, key):
        return backend.data.get(key)


def test_every_backend_is_a_backend(tmp_path):
    assert isinstance(MemoryBackend(), Backend) and isinstance(LocalBackend(tmp_path), Backend)


def test_push_and_pull_through_a_memory_remote(tmp_path):
    """The layers above the protocol run on MemoryBackend: a push and a pull through it."""
    from casdb.api import Repository
    from casdb.remote import transfer
    from casdb.remote.layout import FORMAT, MARKER, Remote
    from casdb.testing.synth import make_dataset

    origin = Repository.init(tmp_path / "origin")
    origin.commit(make_dataset(tmp_path / "src", files=4, duration=0.05, sampling_rate=8000),
                  dataset="synth", version="1.0.0")
    remote = Remote(MemoryBackend(), "memory://test")
    remote.backend.put(MARKER, f'{{"format": {FORMAT}}}'.encode())
    transfer.push(origin, remote)
    assert any(remote.backend.list("refs/"))
    mirror = Repository.init(tmp_path / "mirror")
    transfer.pull(mirror, remote)
    assert mirror.versions("synth") == ["1.0.0"]
    assert mirror.resolve("synth", "1.0.0") == origin.resolve("synth", "1.0.0")
