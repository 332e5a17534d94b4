"""Adversarial review of verified placement (issue 11): symlinks planted in a checkout or the
cache, bytes changed between the check and the link, lost evidence, and `cache verify` repairs.
Each test is an attack or a careless act that casdb once let through."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

import casdb
from casdb.api import Repository
from casdb.audio.flavour import Flavour
from casdb.core.errors import AlreadyExists, IntegrityError
from casdb.store.fingerprints import hash_file, stamp
from casdb.testing.cli import run_casdb
from casdb.testing.corrupt import flip_byte
from casdb.testing.synth import make_dataset, media_blobs


@pytest.fixture
def published(tmp_path) -> Repository:
    repo = Repository.init(tmp_path / "repo")
    src = make_dataset(tmp_path / "src", files=4, duration=0.2, sampling_rate=8000)
    repo.commit(src, dataset="synth", version="1.0.0")
    return repo


def test_a_symlinked_state_folder_in_dest_is_refused(published, tmp_path):
    # A DEST someone else prepared: .casdb points elsewhere; nothing may be written there.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    os.symlink(elsewhere, dest / ".casdb")
    with pytest.raises(AlreadyExists, match=r"\.casdb.*symlink"):
        casdb.checkout("synth", "1.0.0", dest=dest, repo=published)
    assert list(elsewhere.iterdir()) == []
    done = run_casdb("checkout", "synth@1.0.0", str(dest), repo=published.path)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert list(elsewhere.iterdir()) == []


def test_a_blob_written_between_the_check_and_the_link_is_not_vouched_for(published):
    # A checkout checks every blob first and links them later (after conversions): a write
    # through another checkout's hardlink in between must not be recorded as the good bytes.
    store = published.store
    blob = next(iter(media_blobs(published).values()))
    path = store.blob_file(blob)
    check = store.verifier()
    assert store.check_blobs([blob], check) == []
    flip_byte(path, random.Random(4), keep_mtime=True)  # root writes through a hardlink
    before = stamp(path)
    os.link(path, path + ".link")  # the checkout's hardlink
    check.restamp(blob, path, before)
    check.save()
    assert store.check_blobs([blob]) == [blob]


def test_a_checkout_rechecks_a_source_that_changed_since_the_check(published, tmp_path):
    # Same, end to end: the placement itself refuses a source whose stamp changed meanwhile.
    from casdb.checkouts.linking import Linker
    from casdb.checkouts.materialise import _Item, _place_all, _Placed

    store = published.store
    file, blob = next(iter(media_blobs(published).items()))
    check = store.verifier()
    assert store.check_blobs([blob], check) == []
    flip_byte(store.blob_file(blob), random.Random(6), keep_mtime=True)
    dest = tmp_path / "dest"
    (dest / "tmp").mkdir(parents=True)
    item = _Item(file, store.blob_file(blob), None, blob, blob, check)
    with pytest.raises(IntegrityError, match="damaged"):
        _place_all(dest, [item], Linker(tmp_dir=dest / "tmp"), False, _Placed(tmp_path / "c"))
    assert not (dest / file).exists()


def test_a_converted_file_is_checked_on_a_warm_load_without_the_placed_records(
        published, tmp_path):
    # The cache-wide .placed.db was lost (deleted, damaged): a converted file modified since
    # must still not be handed out (its conversion's hash is in .derived.db).
    root = tmp_path / "c"
    flavour = Flavour(sampling_rate=16000)
    ds = casdb.load("synth", "1.0.0", repo=published, cache_root=root, flavour=flavour)
    file = sorted(Path(ds.root).rglob("*.wav"))[0]
    flip_byte(file, random.Random(8))
    (root / ".placed.db").unlink()
    with pytest.raises(IntegrityError, match="was modified"):
        casdb.load("synth", "1.0.0", repo=published, cache_root=root, flavour=flavour)


def test_no_false_alarm_after_cache_verify_reconverts(published, tmp_path):
    # cache verify converts a damaged copy again and re-places it (a new inode): the next warm
    # load must accept the good bytes.
    root = tmp_path / "c"
    flavour = Flavour(sampling_rate=16000)
    ds = casdb.load("synth", "1.0.0", repo=published, cache_root=root, flavour=flavour)
    file = sorted(Path(ds.root).rglob("*.wav"))[0]
    flip_byte(file, random.Random(8))
    done = run_casdb("cache", "verify", "--cache", str(root), repo=published.path)
    assert done.returncode == 0, done.stdout + done.stderr
    again = casdb.load("synth", "1.0.0", repo=published, cache_root=root, flavour=flavour)
    assert hash_file(str(file)) is not None and again.root == ds.root


def test_editing_a_writable_dest_checkout_is_no_false_alarm(published, tmp_path):
    # `--link copy` gives "files you may edit": running the same checkout again (to resume or
    # widen it) must not refuse the user's edits as damage; a linked DEST still is checked.
    dest = tmp_path / "dest"
    casdb.checkout("synth", "1.0.0", dest=dest, link="copy", cache_root=tmp_path / "c", repo=published)
    edited = sorted(dest.rglob("*.wav"))[0]
    edited.write_bytes(b"my own edit")
    out = casdb.checkout("synth", "1.0.0", dest=dest, link="copy",
                         cache_root=tmp_path / "c", repo=published)
    assert edited.read_bytes() == b"my own edit" and out.state.complete
    linked = tmp_path / "linked"
    casdb.checkout("synth", "1.0.0", dest=linked, cache_root=tmp_path / "c", repo=published)
    flip_byte(sorted(linked.rglob("*.wav"))[0], random.Random(2))
    with pytest.raises(IntegrityError, match="was modified"):
        casdb.checkout("synth", "1.0.0", dest=linked, cache_root=tmp_path / "c", repo=published)


def test_a_warm_load_waits_for_a_checkout_rewriting_the_folder(published, tmp_path):
    # A load widening a folder rewrites its tables before its state; a warm load of the same
    # folder meanwhile must wait for it, not call the half-written folder damaged.
    import threading

    from casdb.core.locking import FileLock

    root = tmp_path / "c"
    files = sorted(media_blobs(published))
    ds = casdb.load("synth", "1.0.0", repo=published, cache_root=root, media=files[:1])
    table = Path(ds.root) / "db.emotion.parquet"
    good = table.read_bytes()
    outcome = []
    with FileLock(Path(ds.root) / ".casdb" / "lock", timeout=None):
        table.chmod(0o644)
        table.write_bytes(b"half-way through a widening")

        def warm() -> None:
            try:
                outcome.append(casdb.load("synth", "1.0.0", repo=published, cache_root=root,
                                          media=files[:1]).root)
            except IntegrityError as exc:
                outcome.append(exc)

        loader = threading.Thread(target=warm)
        loader.start()
        loader.join(0.5)
        assert outcome == []  # waiting for the writer
        table.write_bytes(good)  # the writer finishes
    loader.join(10)
    assert outcome == [ds.root]
    flip_byte(table, random.Random(3))  # real damage is still refused, after the wait
    with pytest.raises(IntegrityError, match="was modified"):
        casdb.load("synth", "1.0.0", repo=published, cache_root=root, media=files[:1])


def test_widening_a_folder_checks_the_files_already_there(published, tmp_path):
    # A partial load, a write through one of its hardlinks (root), then a wider load: the
    # folder handed out holds the old files too, so they are checked like on a warm load.
    root = tmp_path / "c"
    files = sorted(media_blobs(published))
    ds = casdb.load("synth", "1.0.0", repo=published, cache_root=root, media=files[:1])
    flip_byte(Path(ds.root) / files[0], random.Random(5))
    with pytest.raises(IntegrityError, match=f"{files[0]} was modified"):
        casdb.load("synth", "1.0.0", repo=published, cache_root=root)


def test_a_commit_reusing_blobs_keeps_their_fingerprints(published, tmp_path):
    # A new version that reuses every blob touches them (for gc's grace): the next checkout
    # must not re-hash them all, yet a blob damaged before the commit is still caught.
    import shutil

    store = published.store
    files = media_blobs(published)
    assert store.check_blobs(list(files.values())) == []
    victim = sorted(files)[1]
    flip_byte(store.blob_path(files[victim]), random.Random(7))
    src = tmp_path / "again"
    shutil.copytree(tmp_path / "src", src)
    Repository(published.path).commit(src, dataset="synth", version="2.0.0")
    check = Repository(published.path).store.verifier()
    assert Repository(published.path).store.check_blobs(list(files.values()), check) == [
        files[victim]]
    assert check.rehashed == 1  # only the damaged one


def test_a_dest_of_another_flavour_is_refused(published, tmp_path):
    # DEST holds a 16 kHz flavour of the version: asking for the original there must not hand
    # out the 16 kHz files as the original (nor mix both in one folder).
    dest = tmp_path / "dest"
    files = sorted(media_blobs(published))
    casdb.checkout("synth", "1.0.0", dest=dest, flavour={"sampling_rate": 16000},
                   cache_root=tmp_path / "c", request=casdb.Request(media=files[:1]), repo=published)
    for request in (casdb.Request(media=files[:1]), casdb.Request()):
        with pytest.raises(casdb.core.errors.Conflict, match="flavour"):
            casdb.checkout("synth", "1.0.0", dest=dest, cache_root=tmp_path / "c",
                           request=request, repo=published)
    assert len(list(dest.rglob("*.wav"))) == 1


def test_a_warm_load_refuses_a_symlinked_state_folder(published, tmp_path):
    import shutil

    root = tmp_path / "c"
    ds = casdb.load("synth", "1.0.0", repo=published, cache_root=root)
    meta = Path(ds.root) / ".casdb"
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(meta, elsewhere)
    shutil.rmtree(meta)
    os.symlink(elsewhere, meta)
    before = sorted(p.name for p in elsewhere.iterdir())
    with pytest.raises(AlreadyExists, match=r"\.casdb.*symlink"):
        casdb.load("synth", "1.0.0", repo=published, cache_root=root)
    assert sorted(p.name for p in elsewhere.iterdir()) == before
