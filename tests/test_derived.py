"""commit_files: a version made of stored blobs (what splits and compositions commit)."""

from __future__ import annotations

import shutil

import pytest

import casdb
from casdb.commit.committer import commit_files
from casdb.core.errors import InvalidDataset, NotFound
from casdb.tables import mediaindex
from casdb.testing.synth import make_dataset


@pytest.fixture
def setup(tmp_path):
    repo = casdb.Repository.init(tmp_path / "r")
    src = make_dataset(tmp_path / "src", files=4, duration=0.1)
    repo.commit(src, dataset="d", version="1.0.0")
    snap = repo.snapshot("d", "1.0.0")
    files = {f: (r.blob, int(r.bytes)) for f, r in snap.media().iterrows()}
    known = mediaindex.known_properties(repo.store, snap.commit.media)
    folder = tmp_path / "derived"
    folder.mkdir()
    for p in [src / "db.yaml", *src.glob("db.*.*")]:
        shutil.copy(p, folder)
    return repo, src, folder, files, known


def test_a_derived_version_stores_no_media_bytes_and_loads(setup, tmp_path):
    repo, src, folder, files, known = setup
    blobs_before = set(repo.store.blob_ids())
    out = commit_files(repo, folder, files, dataset="e", known_media=known, version="1.0.0")
    assert (out.new_bytes, out.new_files, out.files) == (0, 0, 4)
    assert set(repo.store.blob_ids()) == blobs_before
    ds = casdb.load("e", "1.0.0", repo=repo, cache_root=tmp_path / "c", full_path=False)
    original = casdb.load("d", "1.0.0", repo=repo, cache_root=tmp_path / "c", full_path=False)
    assert ds["emotion"].get().equals(original["emotion"].get())
    assert repo.media("e", "1.0.0").equals(repo.media("d", "1.0.0"))


def test_a_blob_not_in_the_store_is_refused(setup):
    repo, _, folder, files, known = setup
    path = next(iter(files))
    files[path] = ("ab" * 32, 10)
    with pytest.raises(NotFound, match="not in the store"):
        commit_files(repo, folder, files, dataset="e", known_media=known)
    assert "e" not in repo.datasets()


def test_a_table_naming_a_file_the_version_lacks_is_refused(setup):
    repo, _, folder, files, known = setup
    files.pop(sorted(files)[0])
    with pytest.raises(InvalidDataset, match="is not in the folder"):
        commit_files(repo, folder, files, dataset="e", known_media=known)
    assert "e" not in repo.datasets()


def test_media_files_in_the_folder_are_refused(setup):
    repo, src, folder, files, known = setup
    (folder / "extra.wav").write_bytes(b"x")
    with pytest.raises(InvalidDataset, match="stored blobs"):
        commit_files(repo, folder, files, dataset="e", known_media=known)


def test_purged_bytes_are_refused(setup, tmp_path):
    repo, _, folder, files, known = setup
    path = sorted(files)[0]
    repo.purge("d", [path], reason="consent withdrawn", cache_root=tmp_path / "c")
    with pytest.raises(InvalidDataset, match="purged"):
        commit_files(repo, folder, files, dataset="e", known_media=known)


def test_known_properties_are_optional(setup):
    repo, _, folder, files, _ = setup
    out = commit_files(repo, folder, files, dataset="e", message="probed again")
    assert repo.media("e").equals(repo.media("d"))
    assert out.files == 4


def test_files_of_lends_the_tree_and_media_index(setup):
    repo, _, folder, files, known = setup
    source = repo.snapshot("d", "1.0.0").commit
    out = commit_files(repo, folder, files, dataset="e", files_of=source)
    derived = repo.get_commit(out.id)
    assert (derived.tree, derived.media) == (source.tree, source.media)
    assert (out.files, out.bytes) == (4, sum(n for _, n in files.values()))
    assert repo.media("e").equals(repo.media("d"))
