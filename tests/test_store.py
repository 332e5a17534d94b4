"""The object store: put-if-absent, verification on read, blobs, and a stateful model test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from casdb.core.errors import IntegrityError, InvalidDataset, NotFound
from casdb.core.ids import hash_bytes
from casdb.model.objects import Header, Partition
from casdb.store.backends.local import LocalBackend
from casdb.store.objectstore import ObjectStore, blob_key, object_key
from casdb.testing.corrupt import flip_bit_at
from casdb.testing.profiles import examples


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(LocalBackend(tmp_path))


def test_put_is_idempotent_and_content_addressed(store):
    a = store.put(Header({"name": "x"}))
    assert store.put(Header({"name": "x"})) == a
    assert store.publish() == 1
    other = ObjectStore(store.backend)
    assert other.put(Header({"name": "x"})) == a and other.publish() == 0
    assert len(list(store.object_ids())) == 1


def test_nothing_is_visible_before_publish_and_discard_leaves_nothing(store, tmp_path):
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(3 * 1024 * 1024))
    oid = store.put(Header({"name": "x"}))
    blob, new = store.put_file(src)
    assert new and store.get(oid).data == {"name": "x"}  # readable by the writer
    assert list(store.object_ids()) == [] and not store.has_blob(blob)
    store.discard()
    assert list((tmp_path / "tmp").iterdir()) == []
    assert store.put_file(src) == (blob, True)
    store.publish()
    assert store.has_blob(blob) and list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.parametrize("offset", [0, 5, -1])
def test_flipped_byte_in_object_raises_integrity_error(store, offset):
    oid = store.put(Partition(b"some partition bytes " * 20))
    store.publish()
    flip_bit_at(store.backend.path(object_key(oid)), offset)
    with pytest.raises(IntegrityError):
        ObjectStore(store.backend).get(oid)


def test_object_stored_under_the_wrong_id_is_detected(store):
    a = store.put(Header({"name": "a"}))
    b = store.put(Header({"name": "b"}))
    store.publish()
    pa, pb = store.backend.path(object_key(a)), store.backend.path(object_key(b))
    os.replace(pb, pa)
    with pytest.raises(IntegrityError, match="hash differently"):
        ObjectStore(store.backend).get(a)


def test_missing_object_is_not_found(store):
    with pytest.raises(NotFound):
        store.get("00" * 32)


@pytest.mark.parametrize("size", [0, 10, 3 * 1024 * 1024 + 7])
def test_blob_id_is_blake3_of_the_file(store, tmp_path, size):
    src = tmp_path / "a.bin"
    src.write_bytes(os.urandom(size))
    blob, new = store.put_file(src)
    assert blob == hash_bytes(src.read_bytes())
    assert new and store.put_file(src) == (blob, False)
    store.publish()
    assert store.put_file(src) == (blob, False)
    path = store.blob_path(blob)
    assert path.read_bytes() == src.read_bytes()
    assert not os.stat(path).st_mode & 0o222  # read-only
    assert not [p for p in (tmp_path / "tmp").iterdir()]  # no temporary left behind


def test_flipped_byte_in_blob_is_detected(store, tmp_path):
    src = tmp_path / "a.bin"
    src.write_bytes(b"audio" * 1000)
    blob, _ = store.put_file(src)
    store.publish()
    store.verify_blob(blob)
    flip_bit_at(store.backend.path(blob_key(blob)), 100)
    with pytest.raises(IntegrityError):
        store.verify_blob(blob)


def test_unreadable_source_is_invalid_dataset(store, tmp_path):
    with pytest.raises(InvalidDataset, match="cannot read"):
        store.put_file(tmp_path / "missing.wav")


class StoreMatchesDict(RuleBasedStateMachine):
    """The store behaves like a dict from id to object, across fresh store instances."""

    def __init__(self) -> None:
        super().__init__()
        import tempfile

        self.root = Path(tempfile.mkdtemp())
        self.store = ObjectStore(LocalBackend(self.root))
        self.model: dict[str, object] = {}

    @rule(data=st.binary(max_size=200))
    def put_partition(self, data):
        obj = Partition(data)
        self.model[self.store.put(obj)] = obj

    @rule(name=st.text(max_size=20))
    def put_header(self, name):
        obj = Header({"name": name})
        self.model[self.store.put(obj)] = obj

    @rule()
    def publish_and_reopen(self):
        self.store.publish()
        self.store = ObjectStore(LocalBackend(self.root))

    @invariant()
    def everything_reads_back(self):
        published = set(self.store.object_ids())
        assert published <= set(self.model)
        for oid, obj in self.model.items():
            assert self.store.get(oid) == obj


    def teardown(self):
        self.store.publish()
        assert set(ObjectStore(LocalBackend(self.root)).object_ids()) == set(self.model)


TestStoreMatchesDict = StoreMatchesDict.TestCase
TestStoreMatchesDict.settings = settings(max_examples=examples(25), stateful_step_count=15, deadline=None)
