"""Refs: compare-and-swap, immutable tags, listing."""

from __future__ import annotations

import pytest

from casdb.core.errors import AlreadyExists, Conflict, IntegrityError
from casdb.store.backends.local import LocalBackend
from casdb.store.refs import RefStore, RefUpdate

A, B, C = "aa" * 32, "bb" * 32, "cc" * 32


@pytest.fixture
def refs(tmp_path):
    return RefStore(LocalBackend(tmp_path))


def test_compare_and_swap(refs):
    refs.update("db", [RefUpdate("heads/main", None, A)])
    refs.update("db", [RefUpdate("heads/main", A, B)])
    with pytest.raises(Conflict, match="moved"):
        refs.update("db", [RefUpdate("heads/main", A, C)])
    assert refs.get("db", "heads/main") == B


def test_tags_are_immutable_and_a_failed_update_writes_nothing(refs):
    refs.update("db", [RefUpdate("tags/1.0.0", None, A), RefUpdate("heads/main", None, A)])
    with pytest.raises(AlreadyExists, match="1.0.0 exists"):
        refs.update("db", [RefUpdate("tags/1.0.0", None, B), RefUpdate("heads/main", A, B)])
    assert refs.get("db", "heads/main") == A
    assert refs.tags("db") == {"1.0.0": A}


def test_listing(refs):
    refs.update("x", [RefUpdate("tags/1", None, A), RefUpdate("heads/main", None, A)])
    refs.update("y", [RefUpdate("heads/dev", None, B)])
    assert refs.datasets() == ["x", "y"]
    assert refs.all() == [("x", "tags/1", A), ("x", "heads/main", A), ("y", "heads/dev", B)]


def test_damaged_ref_is_integrity_error(refs, tmp_path):
    refs.update("db", [RefUpdate("heads/main", None, A)])
    (tmp_path / "refs" / "db" / "heads" / "main").write_text("garbage")
    with pytest.raises(IntegrityError, match="damaged"):
        refs.get("db", "heads/main")
