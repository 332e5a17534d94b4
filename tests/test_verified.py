"""Verified placement: nothing damaged is linked, copied or converted into a checkout, and
placement never writes outside its folder or over a file casdb did not write."""

from __future__ import annotations

import os
import random
import sqlite3
from pathlib import Path

import pytest
import soundfile as sf

import casdb
from casdb.api import Repository
from casdb.audio.flavour import Flavour
from casdb.checkouts.materialise import Folders
from casdb.core.errors import AlreadyExists, IntegrityError
from casdb.store.fingerprints import DB, hash_file
from casdb.testing.cli import run_casdb
from casdb.testing.corrupt import flip_byte
from casdb.testing.synth import make_dataset, media_blobs


@pytest.fixture
def published(tmp_path) -> Repository:
    repo = Repository.init(tmp_path / "repo")
    src = make_dataset(tmp_path / "src", files=8, duration=0.2, sampling_rate=8000)
    repo.commit(src, dataset="synth", version="1.0.0")
    return repo


def handed_out(folder: Path, files: dict[str, str]) -> int:
    """Files in a checkout whose bytes are not their blob's."""
    return sum(hash_file(str(folder / f)) != b for f, b in files.items()
               if (folder / f).exists())


def test_flipped_store_blobs_are_never_handed_out(published, tmp_path):
    files = media_blobs(published)
    rng = random.Random(11)
    trials, refused = 12, 0
    for trial in range(trials):
        file = rng.choice(sorted(files))
        undo = flip_byte(published.store.blob_path(files[file]), rng)
        try:
            with pytest.raises(IntegrityError, match=f"{file}.*damaged.*casdb fsck"):
                casdb.load("synth", "1.0.0", repo=published, cache_root=tmp_path / f"c{trial}")
            refused += 1
        finally:
            undo()
        folder = tmp_path / f"c{trial}" / "synth" / "1.0.0" / "original"
        assert handed_out(folder, files) == 0
    assert refused == trials
    ds = casdb.load("synth", "1.0.0", repo=published, cache_root=tmp_path / "good")
    assert handed_out(Path(ds.root), files) == 0


def test_a_write_through_a_hardlinked_checkout_is_caught_and_repaired_from_a_remote(
        published, tmp_path):
    files = media_blobs(published)
    ds = casdb.load("synth", "1.0.0", repo=published, cache_root=tmp_path / "a")
    file = sorted(files)[0]
    assert ds.state.link == {"hardlink": len(files)}
    flip_byte(Path(ds.root) / file, random.Random(3), keep_mtime=True)  # root writes through
    with pytest.raises(IntegrityError, match=file):
        casdb.load("synth", "1.0.0", repo=published, cache_root=tmp_path / "b")
    # A remote that has the blob repairs the store; the new checkout gets the right bytes.
    clean = Repository.init(tmp_path / "clean")
    clean.commit(make_dataset(tmp_path / "src2", files=8, duration=0.2, sampling_rate=8000),
                 dataset="synth", version="1.0.0")
    clean.remote_add("origin", str(tmp_path / "remote"))
    clean.push()
    published.remote_add("origin", str(tmp_path / "remote"), create=False)
    again = casdb.load("synth", "1.0.0", repo=published, cache_root=tmp_path / "c")
    assert handed_out(Path(again.root), files) == 0
    published.store.verify_blob(files[file])
    # The old folder still holds the damaged inode: cache verify finds and repairs it.
    done = run_casdb("cache", "verify", "--cache", str(tmp_path / "a"), repo=published.path)
    assert done.returncode == 0, done.stderr
    assert "repaired" in done.stdout and handed_out(Path(ds.root), files) == 0


def test_damaged_converted_files_are_converted_again(published, tmp_path):
    flavour = Flavour(sampling_rate=16000)
    root = tmp_path / "c"
    ds = casdb.load("synth", "1.0.0", repo=published, cache_root=root, flavour=flavour)
    derived = sorted(p for p in (root / ".derived" / flavour.id).rglob("*") if p.is_file())
    assert len(derived) == 8
    good = {p: p.read_bytes() for p in derived}
    rng = random.Random(5)
    for trial, victim in enumerate(derived[:4]):
        flip_byte(victim, rng)
        out = casdb.checkout("synth", "1.0.0", dest=tmp_path / f"d{trial}",
                             flavour=flavour, cache_root=root, repo=published)
        assert out.converted == 1  # the damaged one, and only it
        for p, data in good.items():
            assert p.read_bytes() == data
        for f in Path(out.path).rglob("*.wav"):
            assert sf.info(f).samplerate == 16000
    # The first folder linked the copies that were damaged: cache verify says so and repairs.
    flip_byte(derived[5], rng)
    done = run_casdb("cache", "verify", "--cache", str(root), repo=published.path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "corrupt in the cache's converted copy" in done.stdout
    assert all(p.read_bytes() == data for p, data in good.items())
    assert ds.root


def test_the_remote_object_cache_is_verified(published, tmp_path):
    url = str(tmp_path / "remote")
    published.remote_add("origin", url)
    published.push()
    files = media_blobs(published)
    root = tmp_path / "cache"
    casdb.load("synth", "1.0.0", repo=url, cache_root=root, media=sorted(files)[:4])
    cached = [p for p in (root / ".remotes").rglob("blobs/*/*") if p.is_file()]
    assert len(cached) == 4
    rng = random.Random(7)
    for victim in cached:
        flip_byte(victim, rng)
    out = casdb.checkout("synth", "1.0.0", dest=tmp_path / "dest", cache_root=root, repo=url)
    # the four that were damaged came again from the remote before being linked
    assert handed_out(out.path, files) == 0
    for victim in cached:
        assert hash_file(str(victim)) == victim.parent.name + victim.name
    flip_byte(cached[0], rng)
    done = run_casdb("cache", "verify", "--cache", str(root), "--no-repair")
    assert done.returncode == 7 and "corrupt" in done.stdout
    done = run_casdb("cache", "verify", "--cache", str(root))
    assert "fetched again" in done.stdout


def test_a_damaged_fingerprint_database_only_costs_a_rehash(published, tmp_path):
    db = published.path / DB
    assert db.exists()
    db.write_bytes(b"garbage" * 100)
    ds = casdb.load("synth", "1.0.0", repo=published, cache_root=tmp_path / "c")
    assert handed_out(Path(ds.root), media_blobs(published)) == 0
    with sqlite3.connect(db) as conn:  # rebuilt with what was verified
        assert conn.execute("SELECT count(*) FROM fp").fetchone()[0] == 8


def test_placement_never_follows_a_planted_symlink(published, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    casdb.checkout("synth", "1.0.0", dest=dest, request=casdb.Request(
        only_metadata=True), repo=published)
    os.symlink(outside, dest / "audio")
    with pytest.raises(AlreadyExists, match="in the way"):
        casdb.checkout("synth", "1.0.0", dest=dest, repo=published)
    assert list(outside.iterdir()) == []


def test_a_foreign_file_in_the_way_is_never_replaced(published, tmp_path):
    dest = tmp_path / "dest"
    casdb.checkout("synth", "1.0.0", dest=dest, request=casdb.Request(
        only_metadata=True), repo=published)
    file = sorted(media_blobs(published))[0]
    (dest / file).parent.mkdir(parents=True)
    (dest / file).write_bytes(b"my notes")
    with pytest.raises(AlreadyExists, match="in the way"):
        casdb.checkout("synth", "1.0.0", dest=dest, repo=published)
    assert (dest / file).read_bytes() == b"my notes"


@pytest.mark.parametrize("path", ["../x", "a/../../x", "/etc/x", "a//b", "./a", "a/\0b", ""])
def test_placement_refuses_unsafe_paths(tmp_path, path):
    folders = Folders(tmp_path)
    try:
        with pytest.raises(IntegrityError, match="not a safe relative path"):
            folders.parent_of(path)
    finally:
        folders.close()
    assert list(tmp_path.iterdir()) == []


def test_a_warm_load_refuses_a_file_modified_since_checkout(published, tmp_path):
    from casdb.checkouts.placed import check_in_place

    root = tmp_path / "c"
    ds = casdb.load("synth", "1.0.0", repo=published, cache_root=root)
    assert check_in_place(root, Path(ds.root)) == 0  # one stat per file, nothing re-hashed
    file = sorted(media_blobs(published))[2]
    undo = flip_byte(Path(ds.root) / file, random.Random(9))
    with pytest.raises(IntegrityError, match=f"{file} was modified.*casdb cache verify"):
        casdb.load("synth", "1.0.0", repo=published, cache_root=root)
    with pytest.raises(IntegrityError, match="was modified"):  # the repository path too
        casdb.checkout("synth", "1.0.0", cache_root=root, repo=published)
    undo()  # the bytes are right again (a re-hash proves it): the folder loads
    assert casdb.load("synth", "1.0.0", repo=published, cache_root=root).root == ds.root


def test_linking_a_blob_into_another_folder_costs_no_rehash(published, tmp_path):
    from casdb.checkouts.placed import check_in_place

    root = tmp_path / "c"
    first = casdb.load("synth", "1.0.0", repo=published, cache_root=root)
    casdb.checkout("synth", "1.0.0", dest=tmp_path / "d", cache_root=root, repo=published)
    casdb.load("synth", "1.0.0", repo=published, cache_root=root, flavour={"bit_depth": 24})
    # the blobs' ctime changed with every new link; the cache-wide record followed
    assert check_in_place(root, Path(first.root)) == 0
    assert published.store.check_blobs(list(media_blobs(published).values())) == []


@pytest.mark.parametrize("name", ["db.yaml", "db.emotion.parquet"])
def test_a_warm_load_refuses_modified_metadata(published, tmp_path, name):
    root = tmp_path / "c"
    ds = casdb.load("synth", "1.0.0", repo=published, cache_root=root)
    flip_byte(Path(ds.root) / name, random.Random(2))
    with pytest.raises(IntegrityError, match=f"{name} was modified"):
        casdb.load("synth", "1.0.0", repo=published, cache_root=root)
    done = run_casdb("cache", "verify", "--cache", str(root), repo=published.path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert casdb.load("synth", "1.0.0", repo=published, cache_root=root)["emotion"].get().shape
