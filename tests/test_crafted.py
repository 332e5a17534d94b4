"""Crafted repositories: versions, remotes, tombstones and cache states naming unsafe paths.

Each is built with casdb's own encoders (casdb.testing.crafted) and served from the local
repository, a folder remote and S3 (SeaweedFS). Every reader must refuse it with
IntegrityError (CLI: exit 7, one line, no traceback) and write nothing outside its folders.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import casdb
from casdb.api import Repository
from casdb.core.errors import IntegrityError
from casdb.testing.cli import CASDB
from casdb.testing.crafted import (
    PLACES,
    UNSAFE_PATHS,
    craft_state,
    craft_version,
    serve,
    tombstone_bytes,
    tree_snapshot,
    write_tombstones,
)
from casdb.testing.synth import make_dataset

ESCAPE_PROBE = Path("/etc/casdb-crafted-x")


def _casdb(*args: str, cache: Path) -> subprocess.CompletedProcess:
    """The CLI in a subprocess, its cache in ``cache`` (never the user's)."""
    return subprocess.run([CASDB, *args], capture_output=True, text=True,
                          env={**os.environ, "CASDB_CACHE": str(cache)})


def _refused(done: subprocess.CompletedProcess) -> None:
    """Exit 7 with one line on stderr and no traceback."""
    assert done.returncode == 7, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.fixture(scope="module")
def honest_template(tmp_path_factory) -> Path:
    """One honest repository for the module, copied for each test (a commit per test cost more
    than the rest of most tests here)."""
    root = tmp_path_factory.mktemp("honest")
    repo = Repository.init(root / "repo")
    src = make_dataset(root / "src", files=3, duration=0.05, sampling_rate=8000)
    repo.commit(src, dataset="synth", version="1.0.0")
    return repo.path


@pytest.fixture
def honest(tmp_path, honest_template) -> Repository:
    """A repository with one honest version (synth 1.0.0) of 3 short files."""
    import shutil

    shutil.copytree(honest_template, tmp_path / "repo", symlinks=True)
    return Repository(tmp_path / "repo")


def _outside(tmp_path: Path, *owned: Path) -> dict:
    return tree_snapshot(tmp_path, tuple(owned))


def _refuses_or_ignores(place: str, call) -> None:
    """A checkout places media from the media index and never reads folder trees: a crafted
    tree is not its input (fsck, clone, pull, purge and gc refuse it). Anything else is."""
    if place == "tree":
        call()
    else:
        with pytest.raises(IntegrityError):
            call()


# The quick subset takes one unsafe path of each kind (an escape, absolute, a drive letter, NUL,
# a long component, not normalised); the full suite all of them.
_QUICK = {"../x", "/etc/casdb-crafted-x", "C:\\x", "a\x00b", "a/" + "n" * 256, "a//b"}


@pytest.mark.parametrize("bad", [
    pytest.param(b, id=str(i), marks=() if b in _QUICK else pytest.mark.slow)
    for i, b in enumerate(UNSAFE_PATHS)])
@pytest.mark.parametrize("place", PLACES)
def test_checkout_and_load_refuse_a_crafted_version(honest, tmp_path, place, bad):
    craft_version(honest, "synth", "2.0.0", place, bad)
    cache, dest = tmp_path / "cache", tmp_path / "dest"
    before = _outside(tmp_path, cache, dest, honest.path)
    _refuses_or_ignores(place, lambda: casdb.load("synth", "2.0.0", repo=honest,
                                                  cache_root=cache))
    _refuses_or_ignores(place, lambda: casdb.checkout("synth", "2.0.0", dest,
                                                      cache_root=cache, repo=honest))
    if place == "tree":
        with pytest.raises(IntegrityError):
            honest.diff("synth", "1.0.0", "2.0.0")
    assert _outside(tmp_path, cache, dest, honest.path) == before
    assert not ESCAPE_PROBE.exists()
    # The honest version still loads.
    assert len(casdb.load("synth", "1.0.0", repo=honest, cache_root=cache).files) == 3


@pytest.mark.parametrize("place", PLACES[1:])
def test_cli_checkout_of_a_crafted_version_exits_7(honest, tmp_path, place):
    craft_version(honest, "synth", "2.0.0", place, "../../x")
    before = _outside(tmp_path, tmp_path / "dest", tmp_path / "cache", honest.path)
    _refused(_casdb("--repo", str(honest.path), "checkout", "synth@2.0.0",
                    str(tmp_path / "dest"), cache=tmp_path / "cache"))
    assert _outside(tmp_path, tmp_path / "dest", tmp_path / "cache", honest.path) == before


SERVED = [(place, bad) for place in PLACES for bad in ("../../x", "/etc/casdb-crafted-x",
                                                        "a/../../b", "C:\\x", "a\x00b")]


@pytest.fixture(params=["folder", pytest.param("s3", marks=[pytest.mark.s3, pytest.mark.slow])])
def remote_url(request, tmp_path) -> str:
    """A folder remote, and (full suite: the same decoders behind another backend) S3."""
    if request.param == "folder":
        return str(tmp_path / "remote")
    return request.getfixturevalue("s3_url")


# The quick subset serves one unsafe path per place; the full suite all of them (every unsafe
# path is refused per place locally above, through the same decoders).
@pytest.mark.parametrize("place,bad", [
    pytest.param(p, b, id=f"{p}-{i}", marks=() if b == "../../x" else pytest.mark.slow)
    for i, (p, b) in enumerate(SERVED)])
def test_crafted_version_from_a_remote_is_refused(honest, tmp_path, remote_url, place, bad):
    # A clean clone first, to pull into later.
    clean_remote = serve(honest, remote_url + "-clean")
    assert clean_remote is not None
    mine = Repository.clone(remote_url + "-clean", tmp_path / "mine")
    craft_version(honest, "synth", "2.0.0", place, bad)
    serve(honest, remote_url)
    cache = tmp_path / "cache"
    owned = (cache, tmp_path / "clone", tmp_path / "clone-cli", mine.path, honest.path,
             tmp_path / "remote", tmp_path / "remote-clean")
    before = _outside(tmp_path, *owned)
    with pytest.raises(IntegrityError):
        Repository.clone(remote_url, tmp_path / "clone")
    if bad == "../../x":  # the CLI says it in one line (S3 credentials come from the env)
        _refused(_casdb("clone", remote_url, str(tmp_path / "clone-cli"), cache=cache))
    _refuses_or_ignores(place, lambda: casdb.load("synth", "2.0.0", repo=remote_url,
                                                  cache_root=cache))
    mine.remote_add("evil", remote_url, create=False)
    with pytest.raises(IntegrityError):
        mine.pull("evil")
    assert mine.versions("synth") == ["1.0.0"]  # no ref moved
    assert _outside(tmp_path, *owned) == before
    assert not ESCAPE_PROBE.exists()


@pytest.mark.parametrize("bad", ["../x", "/etc/casdb-crafted-x", "a\x00b", "C:\\x"])
def test_crafted_tombstones_are_refused(honest, tmp_path, bad):
    blob = next(iter(honest.store.blob_ids()))
    write_tombstones(honest, blob, bad)
    cache = tmp_path / "cache"
    before = _outside(tmp_path, cache, honest.path)
    with pytest.raises(IntegrityError, match="tombstone"):
        honest.purged()
    with pytest.raises(IntegrityError):
        casdb.load("synth", "1.0.0", repo=honest, cache_root=cache)
    _refused(_casdb("--repo", str(honest.path), "purge", "synth", "audio/000/000000.wav",
                    "--reason", "test", cache=cache))
    assert honest.store.has_blob(blob)  # nothing deleted
    # A blob id that is a path: purge would unlink it.
    (honest.path / "purged").write_bytes(tombstone_bytes("../../../x", "a.wav"))
    _refused(_casdb("--repo", str(honest.path), "purged", cache=cache))
    assert _outside(tmp_path, cache, honest.path) == before


def test_crafted_tombstones_on_a_remote_are_refused(honest, tmp_path, remote_url):
    serve(honest, remote_url)
    mine = Repository.clone(remote_url, tmp_path / "mine")
    from casdb.remote.layout import Remote

    blob = next(iter(honest.store.blob_ids()))
    for stone in (tombstone_bytes(blob, "../../x"), tombstone_bytes("../../../" + "x" * 55, "a"),
                  b"[{\"blob\": 1}]", b"\xff\xfe", b"{}"):
        Remote.open(remote_url).backend.put("purged", stone)
        with pytest.raises(IntegrityError):
            mine.pull()
        with pytest.raises(IntegrityError):
            casdb.load("synth", "1.0.0", repo=remote_url, cache_root=tmp_path / "c")
    assert sorted(mine.store.blob_ids()) == sorted(honest.store.blob_ids())


@pytest.mark.parametrize("ref", ["tags/a..b", "tags/-x", "heads/a b", "other/x", "tags/.x",
                                 "heads/x.lock"])
def test_crafted_remote_refs_are_refused(honest, tmp_path, remote_url, ref):
    remote = serve(honest, remote_url)
    commit = honest.resolve("synth")
    remote.backend.put(f"refs/synth/{ref}", (commit + "\n").encode())
    before = _outside(tmp_path, tmp_path / "clone", tmp_path / "cache", honest.path,
                      tmp_path / "remote")
    with pytest.raises(IntegrityError):
        Repository.clone(remote_url, tmp_path / "clone")
    with pytest.raises(IntegrityError):
        casdb.load("synth", "1.0.0", repo=remote_url, cache_root=tmp_path / "cache")
    assert _outside(tmp_path, tmp_path / "clone", tmp_path / "cache", honest.path,
                    tmp_path / "remote") == before


def test_crafted_pack_indexes_are_refused(honest, tmp_path, remote_url):
    import msgpack

    from casdb.model import compression

    remote = serve(honest, remote_url)
    bad_indexes = {
        "0" * 32 + "-" + "1" * 16: [["../../../x", "o", 0, 10]],
        "2" * 32 + "-" + "3" * 16: [["ab" * 32, "o", -1, 10]],
        "4" * 32 + "-" + "5" * 16: [["ab" * 32, "z", 0, 10]],
        "6" * 32 + "-" + "7" * 16: {"a": 1},
        "8" * 32 + "-" + "9" * 16: [["ab" * 32, "o", 0]],
        "x" + "0" * 31 + "-" + "1" * 16: [],  # a name that is no pack name
    }
    for name, entries in bad_indexes.items():
        remote.backend.put(f"packs/{name}.idx", compression.compress(msgpack.packb(entries)))
        with pytest.raises(IntegrityError):
            Repository.clone(remote_url, tmp_path / f"clone-{name[:4]}")
        remote.backend.delete(f"packs/{name}.idx")
    assert not list((tmp_path).glob("**/x"))


@pytest.mark.parametrize("field,bad", [(f, b) for f in ("media", "rows", "files", "tables")
                                       for b in ("../../x", "/etc/casdb-crafted-x", "a\x00b")])
def test_crafted_cache_state_is_refused(honest, tmp_path, field, bad):
    cache = tmp_path / "cache"
    ds = casdb.load("synth", "1.0.0", repo=honest, cache_root=cache)
    craft_state(ds.root, field, bad)
    before = _outside(tmp_path, cache, honest.path)
    with pytest.raises(IntegrityError, match="state.json"):
        casdb.load("synth", "1.0.0", repo=honest, cache_root=cache)
    for args in (["cache", "verify"], ["cache", "evict", "--max-size", "0"], ["cache", "ls"]):
        _refused(_casdb("--repo", str(honest.path), *args, cache=cache))
    assert _outside(tmp_path, cache, honest.path) == before


@pytest.mark.parametrize("bad", ["..", "../x", "a/b", "C:x", "a\x00b"])
def test_purge_and_gc_refuse_a_crafted_tree(honest, tmp_path, bad):
    craft_version(honest, "synth", "2.0.0", "tree", bad)
    blobs = sorted(honest.store.blob_ids())
    before = _outside(tmp_path, honest.path)
    cache = tmp_path / "cache"
    _refused(_casdb("--repo", str(honest.path), "purge", "synth", "audio/000/000000.wav",
                    "--reason", "test", cache=cache))
    done = _casdb("--repo", str(honest.path), "gc", "--grace", "0s", cache=cache)
    assert done.returncode == 7 and "Traceback" not in done.stderr
    assert sorted(honest.store.blob_ids()) == blobs  # nothing deleted
    assert _outside(tmp_path, honest.path) == before
