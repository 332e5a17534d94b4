"""Branches and tags after the fact: create, list, delete (by compare-and-swap), what gc keeps,
and how deletions travel through push and pull (``prune``)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casdb.api import Repository
from casdb.core.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from casdb.maintenance.gc import collect
from casdb.remote.layout import Remote
from casdb.store.refs import TOMBSTONE_GRACE, RefStore, RefUpdate
from casdb.testing.backends import race
from casdb.testing.files import age, make_old
from casdb.testing.memory import MemoryBackend
from casdb.testing.profiles import examples
from casdb.testing.synth import make_dataset, write_audio


@pytest.fixture
def two(tmp_path) -> tuple[Repository, str, str]:
    """synth 1.0.0 and 2.0.0 on main; returns (repo, commit of 1.0.0, commit of 2.0.0)."""
    repo = Repository.init(tmp_path / "repo")
    src = make_dataset(tmp_path / "src", files=3, duration=0.1, sampling_rate=8000)
    age(src)
    first = repo.commit(src, dataset="synth", version="1.0.0").id
    write_audio(src / "audio/000/extra.wav", 9, 0.1, 8000, 1)
    age(src)
    second = repo.commit(src, dataset="synth", version="2.0.0").id
    return repo, first, second


def refs_on_disk(repo: Repository) -> dict[str, bytes]:
    root = repo.path / "refs"
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_create_list_and_delete_branches(two):
    repo, first, second = two
    assert repo.create_branch("synth", "fix", "1.0.0") == first
    assert repo.create_branch("synth", "exp", first[:8]) == first  # a commit prefix
    assert repo.create_branch("synth", "copy", "main") == second  # a branch
    assert repo.create_branch("synth", "head") == second  # default: main's head
    listing = {b.name: (b.commit, b.versions) for b in repo.branch_list("synth")}
    assert listing == {"copy": (second, ("2.0.0",)), "exp": (first, ("1.0.0",)),
                       "fix": (first, ("1.0.0",)), "head": (second, ("2.0.0",)),
                       "main": (second, ("2.0.0",))}
    assert repo.log("synth", "fix")[0].id == first
    assert repo.delete_branch("synth", "fix") == first
    assert "fix" not in repo.branches("synth")
    # A commit on the new branch starts from where the branch was created.
    src = make_dataset(repo.path.parent / "src2", files=2, duration=0.1, seed=3)
    age(src)
    made = repo.commit(src, dataset="synth", branch="exp")
    assert repo.get_commit(made.id).parents == (first,)


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda r: r.create_branch("synth", "main", "1.0.0"), AlreadyExists, "branch 'main' already"),
    (lambda r: r.create_branch("synth", "x", "9.9.9"), NotFound, "no version, branch or commit"),
    (lambda r: r.create_branch("synth", "../x", "1.0.0"), InvalidInput, "invalid branch name"),
    (lambda r: r.create_branch("nope", "x", "1.0.0"), NotFound, "no dataset 'nope'"),
    (lambda r: r.delete_branch("synth", "main"), InvalidInput, "refusing to delete the main"),
    (lambda r: r.delete_branch("synth", "mian"), NotFound, "did you mean main"),
    (lambda r: r.delete_branch("synth", "a/b"), InvalidInput, "invalid branch name"),
    (lambda r: r.tag("synth", "main", "1.0.0"), AlreadyExists, "1.0.0 exists already"),
    (lambda r: r.tag("synth", "1.0.0", "2.0.0"), AlreadyExists, "versions are immutable"),
    (lambda r: r.tag("synth", "zzzz", "3.0.0"), NotFound, "no version, branch or commit"),
    (lambda r: r.tag("synth", "main", "bad/version"), InvalidInput, "invalid version"),
    (lambda r: r.delete_tag("synth", "7.0.0"), NotFound, "no version '7.0.0'"),
    (lambda r: r.delete_tag("synth", ".."), InvalidInput, "invalid version"),
])
def test_bad_input_changes_nothing(two, call, error, match):
    repo = two[0]
    before = refs_on_disk(repo)
    with pytest.raises(error, match=match):
        call(repo)
    assert refs_on_disk(repo) == before


def test_tag_an_existing_commit_and_delete_it(two):
    repo, first, second = two
    assert repo.tag("synth", first[:10], "1.0.1") == first
    assert repo.tag("synth", None, "2.0.1") == second
    assert repo.resolve("synth", "1.0.1") == first
    assert repo.versions("synth") == ["1.0.0", "1.0.1", "2.0.0", "2.0.1"]
    assert repo.delete_tag("synth", "1.0.1") == first
    assert repo.versions("synth") == ["1.0.0", "2.0.0", "2.0.1"]


def test_deleting_the_last_ref_needs_force(tmp_path):
    repo = Repository.init(tmp_path / "repo")
    src = make_dataset(tmp_path / "src", files=2, duration=0.1)
    repo.commit(src, dataset="d", version="1")
    repo.delete_branch("d", "main", force=True)
    with pytest.raises(InvalidInput, match="last ref of d"):
        repo.delete_tag("d", "1")
    assert repo.versions("d") == ["1"]
    repo.delete_tag("d", "1", force=True)
    assert repo.datasets() == []


def test_delete_refuses_a_ref_that_moved(two):
    repo, first, second = two
    with pytest.raises(Conflict, match="nothing deleted"):
        repo.refs.delete("synth", "heads/main", first)  # main is at the second commit
    assert repo.branches("synth")["main"] == second


def test_gc_keeps_what_only_a_new_branch_or_tag_reaches(tmp_path):
    repo = Repository.init(tmp_path / "repo")
    src = make_dataset(tmp_path / "src", files=3, duration=0.1)
    age(src)
    repo.commit(src, dataset="d", version="1")
    other = make_dataset(tmp_path / "other", files=3, duration=0.1, seed=5)
    age(other)
    side = repo.commit(other, dataset="d", branch="side").id  # only the branch reaches it
    repo.tag("d", "side", "2")
    repo.delete_branch("d", "side")  # now only the tag does
    make_old(repo.path / "objects")
    make_old(repo.path / "blobs")
    assert collect(repo, grace=0).objects == 0
    assert repo.store.has(side)
    repo.create_branch("d", "keep", "2")
    repo.delete_tag("d", "2")  # now only the new branch does
    assert collect(repo, grace=0).objects == 0 and repo.store.has(side)
    repo.delete_branch("d", "keep")  # now nothing does
    report = collect(repo, grace=0)
    assert report.objects > 0 and report.blobs == 3
    assert not repo.store.has(side)
    assert len(repo.snapshot("d", "1").media()) == 3  # what main reaches is intact


# -- remote refs: tombstones ------------------------------------------------------------------


def test_remote_ref_remove_is_compare_and_swap(remote_url):
    refs = Remote.create(remote_url).refstore
    a, b = "a" * 64, "b" * 64
    refs.swap("d", "heads/x", None, a)
    with pytest.raises(Conflict):
        refs.remove("d", "heads/x", b)  # it is at a, not b: nothing deleted
    assert refs.get("d", "heads/x") == a
    refs.remove("d", "heads/x", a)
    assert refs.get("d", "heads/x") is None and refs.of("d") == {}
    with pytest.raises(Conflict):
        refs.remove("d", "heads/x", a)  # gone already
    refs.swap("d", "heads/x", None, b)  # created anew
    assert refs.get("d", "heads/x") == b


def test_a_remove_racing_a_move_loses_no_update():
    """A delete and a move of the same branch at once: one wins, and the outcome is its."""
    refs = RefStore(MemoryBackend(), where="mem://r")
    a, b = "a" * 64, "b" * 64
    for _ in range(30):
        refs.backend.put("refs/d/heads/main", (a + "\n").encode())

        def attempt(i: int) -> bool:
            try:
                refs.remove("d", "heads/main", a) if i == 0 else refs.swap("d", "heads/main", a, b)
            except Conflict:
                return False
            return True

        wins = race(2, attempt)
        assert len(wins) == 1
        assert refs.get("d", "heads/main") == (None if wins == [0] else b)


def test_a_tombstone_reads_as_absent_and_only_an_old_one_is_replaced(tmp_path):
    from casdb.store.backends.local import LocalBackend

    backend = LocalBackend(tmp_path)
    refs = RefStore(backend, where=str(tmp_path))
    backend.put("refs/d/heads/x", b"")  # an interrupted delete: the tombstone, not yet removed
    backend.put("refs/d/heads/main", ("c" * 64 + "\n").encode())
    assert refs.get("d", "heads/x") is None and refs.of("d") == {"heads/main": "c" * 64}
    with pytest.raises(Conflict):  # a delete may be under way: retry later
        refs.swap("d", "heads/x", None, "a" * 64)
    old = time.time() - TOMBSTONE_GRACE - 10
    os.utime(tmp_path / "refs/d/heads/x", (old, old))
    refs.swap("d", "heads/x", None, "a" * 64)
    assert refs.get("d", "heads/x") == "a" * 64


def test_a_mirror_drops_the_branches_deleted_at_its_source(tmp_path):
    from casdb.store.backends.local import LocalBackend

    refs = RefStore(LocalBackend(tmp_path))
    a, b = "a" * 64, "b" * 64
    refs.mirror("d", {"heads/main": a, "heads/fix": b, "tags/1": a})
    refs.mirror("d", {"heads/main": b, "tags/1": a})  # fix deleted on the remote, main moved
    assert refs.of("d") == {"heads/main": b, "tags/1": a}


# -- push and pull ----------------------------------------------------------------------------


@pytest.fixture(params=["folder", pytest.param("s3", marks=pytest.mark.s3)])
def remote_url(request, tmp_path) -> str:
    if request.param == "folder":
        return str(tmp_path / "remote")
    return request.getfixturevalue("s3_url")


def clone_pair(two, url: str, tmp_path: Path) -> tuple[Repository, Repository, Remote]:
    repo = two[0]
    repo.remote_add("origin", url)
    repo.push()
    other = Repository.clone(url, tmp_path / "other")
    return repo, other, repo.remote()


def test_new_branches_and_tags_travel(two, remote_url, tmp_path):
    repo, first, _ = two
    repo, other, remote = clone_pair(two, remote_url, tmp_path)
    repo.create_branch("synth", "fix", "1.0.0")
    repo.tag("synth", "main", "2.0.1")
    pushed = repo.push()
    assert sorted(pushed.refs) == ["synth heads/fix", "synth tags/2.0.1"]
    assert pushed.objects == pushed.blobs == 0  # the commits were there already
    pulled = other.pull()
    assert sorted(pulled.refs) == ["synth heads/fix", "synth tags/2.0.1"]
    assert other.branches("synth")["fix"] == first


def test_deleted_branches_travel_with_prune(two, remote_url, tmp_path):
    repo, other, remote = clone_pair(two, remote_url, tmp_path)
    repo.create_branch("synth", "fix", "1.0.0")
    repo.create_branch("synth", "old", "1.0.0")
    repo.push()
    other.pull()
    repo.delete_branch("synth", "fix")
    assert repo.push().deleted == []  # without prune, a push deletes nothing
    assert "heads/fix" in remote.refs("synth")
    result = repo.push(prune=True)
    assert result.deleted == ["synth heads/fix"]
    assert "heads/fix" not in remote.refs("synth") and "heads/old" in remote.refs("synth")
    assert not list(remote.backend.list("refs/synth/heads/fix"))  # no tombstone left
    # A pull without prune keeps the branch here; with prune, it goes.
    assert other.pull().deleted == [] and "fix" in other.branches("synth")
    assert other.pull(prune=True).deleted == ["synth heads/fix"]
    assert sorted(other.branches("synth")) == ["main", "old"]
    # Tags are never pruned.
    repo.delete_tag("synth", "1.0.0")
    repo.push(prune=True)
    assert "tags/1.0.0" in remote.refs("synth")


def test_prune_spares_branches_never_seen_and_new_work(two, tmp_path):
    repo, other, remote = clone_pair(two, str(tmp_path / "remote"), tmp_path)
    other.create_branch("synth", "theirs", "1.0.0")
    other.push()  # a branch the first repository never saw
    repo.create_branch("synth", "mine", "1.0.0")  # made here, never pushed
    assert repo.push(prune=True).deleted == []
    assert "heads/theirs" in remote.refs("synth")
    assert repo.pull(prune=True).deleted == []
    assert {"mine", "theirs"} <= set(repo.branches("synth"))
    # "theirs" deleted on the remote, but moved here since it was seen: new work, kept.
    src = make_dataset(tmp_path / "more", files=2, duration=0.1, seed=11)
    age(src)
    repo.commit(src, dataset="synth", branch="theirs")
    other.delete_branch("synth", "theirs")
    assert other.push(prune=True).deleted == ["synth heads/theirs"]
    assert repo.pull(prune=True).deleted == []
    assert "theirs" in repo.branches("synth")


def test_prune_refuses_a_branch_moved_on_the_remote(two, tmp_path):
    repo, other, remote = clone_pair(two, str(tmp_path / "remote"), tmp_path)
    repo.create_branch("synth", "fix", "1.0.0")
    repo.push()
    other.pull()
    heads = other.branches("synth")
    other.refs.update("synth", [RefUpdate("heads/fix", heads["fix"], heads["main"])])
    other.push()  # fix moved forward on the remote
    repo.delete_branch("synth", "fix")
    before = remote.refs("synth")
    with pytest.raises(Conflict, match="moved on"):
        repo.push(prune=True)
    assert remote.refs("synth") == before


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=200), st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=70),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=12), kids,
                                                               max_size=3),
    max_leaves=8).map(lambda v: json.dumps(v).encode())))
def test_a_damaged_tracking_record_prunes_nothing(tmp_path, data):
    """Whatever the record holds (fuzzed bytes, any JSON), reading it never fails and yields
    only branch -> id pairs."""
    from casdb.remote import tracking

    cache = tmp_path / "cache"
    cache.mkdir(exist_ok=True)
    (cache / tracking.FILE).write_bytes(data)
    remote = Remote(MemoryBackend(), "mem://r", cache)
    for dataset in ("d", "synth", ""):
        seen = tracking.seen(remote, dataset)
        assert all(isinstance(c, str) and len(c) == 64 for c in seen.values())
        assert all(r.startswith("heads/") and "/" not in r[6:] for r in seen)


def test_a_crafted_record_never_prunes_a_tag_or_a_stray_key(two, tmp_path):
    repo, other, remote = clone_pair(two, str(tmp_path / "remote"), tmp_path)
    first = repo.resolve("synth", "1.0.0")
    record = {"synth": {"tags/1.0.0": first, "heads/../../x": first, "heads/a/b": first}}
    (remote.cache / "branches.json").write_text(json.dumps(record))
    repo.delete_tag("synth", "1.0.0")
    assert repo.push(prune=True).deleted == []
    assert "tags/1.0.0" in remote.refs("synth")


def test_prune_with_a_damaged_record_deletes_nothing(two, tmp_path):
    repo, other, remote = clone_pair(two, str(tmp_path / "remote"), tmp_path)
    repo.create_branch("synth", "fix", "1.0.0")
    repo.push()
    repo.delete_branch("synth", "fix")
    (remote.cache / "branches.json").write_bytes(b"\x00{not json")
    assert repo.push(prune=True).deleted == []
    assert "heads/fix" in remote.refs("synth")
