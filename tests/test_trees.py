"""Trees: build, walk, diff, and splitting of big folders."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casdb.history import trees
from casdb.store.backends.local import LocalBackend
from casdb.store.objectstore import ObjectStore
from casdb.testing.profiles import examples


@pytest.fixture
def store(tmp_path):
    return ObjectStore(LocalBackend(tmp_path))


def bid(i: int) -> str:
    return f"{i:064x}"


def test_walk_returns_every_file(store):
    files = {"a/b/c.wav": (bid(1), 1), "a/d.wav": (bid(2), 2), "e.txt": (bid(3), 3)}
    root = trees.build(store, files)
    assert root.count == 3 and root.size == 6
    assert {p: (e.id, e.size) for p, e in trees.walk(store, root.id)} == files


def test_file_and_folder_with_one_name_is_rejected(store):
    with pytest.raises(ValueError, match="share a name"):
        trees.build(store, {"a": (bid(1), 1), "a/b": (bid(2), 1)})


@pytest.mark.slow
def test_one_change_in_a_big_folder_rewrites_little(store):
    n = 100_000
    files = {f"audio/{i:06d}.wav": (bid(i), 100) for i in range(n)}
    first = trees.build(store, files)
    store.publish()
    before = set(store.object_ids())
    listing_bytes = sum(store.backend.path(f"objects/{o[:2]}/{o[2:]}").stat().st_size for o in before)
    files["audio/050000.wav"] = (bid(n + 1), 100)
    second = trees.build(store, files)
    store.publish()
    new = set(store.object_ids()) - before
    new_bytes = sum(store.backend.path(f"objects/{o[:2]}/{o[2:]}").stat().st_size for o in new)
    # A leaf, the index node(s) above it, and the root folder: a handful of objects.
    assert 2 <= len(new) <= 5
    assert new_bytes < listing_bytes / 50
    changes = list(trees.diff(store, first.id, second.id))
    assert [(c.path, c.kind) for c in changes] == [("audio/050000.wav", "changed")]


def test_same_listing_same_id_whatever_the_insertion_order(store):
    files = {f"f{i}": (bid(i), i) for i in range(3000)}
    a = trees.build(store, files)
    b = trees.build(store, dict(reversed(list(files.items()))))
    assert a.id == b.id


listing = st.dictionaries(
    st.lists(st.sampled_from(["a", "b", "c", "d.wav", "e.wav"]), min_size=1, max_size=3).map("/".join),
    st.integers(min_value=0, max_value=5),
    max_size=30,
)


def _valid(files: dict) -> dict:
    """Drop paths that would make a file and a folder share a name."""
    out: dict = {}
    for path in sorted(files, key=len):
        parts = path.split("/")
        if any("/".join(parts[:i]) in out for i in range(1, len(parts))):
            continue
        if any(p.startswith(path + "/") for p in out):
            continue
        out[path] = (bid(files[path]), files[path])
    return out


@settings(max_examples=examples(60), deadline=None)
@given(listing, listing)
def test_diff_matches_a_plain_dict_diff(tmp_path_factory, old, new):
    store = ObjectStore(LocalBackend(tmp_path_factory.mktemp("s")))
    old, new = _valid(old), _valid(new)
    a, b = trees.build(store, old), trees.build(store, new)
    got = {(c.path, c.kind) for c in trees.diff(store, a.id, b.id)}
    want = {(p, "added") for p in new.keys() - old.keys()}
    want |= {(p, "removed") for p in old.keys() - new.keys()}
    want |= {(p, "changed") for p in old.keys() & new.keys() if old[p] != new[p]}
    assert got == want
