"""gc's sweep at scale (issue 16): folder by folder, stopped or killed between folders, the
compact set of marked ids, and the names it leaves alone."""

from __future__ import annotations

import os
import signal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casdb.api import Repository
from casdb.maintenance.fsck import check
from casdb.maintenance.gc import Marked, _Sweeper, collect
from casdb.testing.files import make_old
from casdb.testing.garbage import loose
from casdb.testing.kills import Forked
from casdb.testing.profiles import examples


class Stop(Exception):
    """Raised by the progress callback: an error in the middle of a sweep."""


def stopper(after: int, *, kill: bool = False):
    """An ``on_folder`` callback that stops the gc after ``after`` folders (SIGKILL with
    ``kill``: no handler, no ``finally`` runs)."""
    seen: list[str] = []

    def on_folder(folder: str) -> None:
        seen.append(folder)
        if len(seen) == after:
            if kill:
                os.kill(os.getpid(), signal.SIGKILL)
            raise Stop(folder)

    return on_folder


def stored(repo: Repository) -> tuple[set[str], set[str]]:
    return set(repo.store.object_ids()), set(repo.store.blob_ids())


def finish_and_check(repo: Repository, objects: set[str], blobs: set[str]) -> None:
    """What an interrupted gc left: the repository is sound, some garbage went and some is
    left; a second gc deletes exactly the rest and nothing reachable."""
    after = check(Repository(repo.path), verify_blobs=True)
    assert after.ok, after.problems
    left_objects, left_blobs = stored(repo)
    left_objects &= objects
    left_blobs &= blobs
    assert 0 < len(left_objects) < len(objects)  # stopped midway through objects/
    assert left_blobs == blobs  # blobs/ comes after objects/: not reached
    assert set(after.unreachable_objects) == left_objects
    assert not (repo.path / "statcache").exists()  # cleared before the first deletion
    again = collect(Repository(repo.path), grace=0)
    assert (again.objects, again.blobs) == (len(left_objects), len(left_blobs))
    final = check(Repository(repo.path))
    assert final.ok and not final.unreachable_objects and not final.unreachable_blobs
    assert Repository(repo.path).versions("synth") == ["1"]


@pytest.fixture
def littered(repo, source):
    """A committed version and 600 unreachable objects and 300 blobs, all old."""
    repo.commit(source, dataset="synth", version="1")
    assert (repo.path / "statcache").exists()
    objects, blobs = loose(repo, 600, 300, seed=3)
    make_old(repo.path / "objects")
    make_old(repo.path / "blobs")
    return objects, blobs


@pytest.fixture
def one_thread(monkeypatch):
    """A sweep on one thread: folders are swept in order, so a stop after the 60th leaves the
    rest of objects/ and all of blobs/ (32 threads may have run ahead by then)."""
    monkeypatch.setattr(_Sweeper, "probe", lambda self, folders, marked: 1)


def test_gc_stopped_between_folders_leaves_a_sound_repository(repo, littered, one_thread):
    objects, blobs = littered
    with pytest.raises(Stop):
        collect(repo, grace=0, on_folder=stopper(60))
    finish_and_check(repo, objects, blobs)


def test_gc_killed_between_folders_leaves_a_sound_repository(repo, littered, one_thread):
    objects, blobs = littered
    child = Forked(lambda: collect(Repository(repo.path), grace=0, on_folder=stopper(60, kill=True)))
    assert child.wait() == -signal.SIGKILL
    finish_and_check(repo, objects, blobs)  # the lock died with the process: gc runs again


def test_gc_sweeps_every_folder_once_and_reports_them(repo, littered):
    objects, blobs = littered
    folders: list[str] = []
    report = collect(repo, grace=0, on_folder=folders.append)
    assert (report.objects, report.blobs) == (len(objects), len(blobs))
    expected = sorted(f"objects/{d}" for d in os.listdir(repo.path / "objects")) + sorted(
        f"blobs/{d}" for d in os.listdir(repo.path / "blobs"))
    assert folders == expected  # in order, each once (emptied folders stay)
    assert report.kept_objects == len(stored(repo)[0]) and report.kept_blobs == len(stored(repo)[1])


def test_gc_leaves_names_that_are_not_stored_ids(repo, littered):
    folder = repo.path / "objects" / "ab"
    folder.mkdir(exist_ok=True)
    strangers = ["AB" * 31, "ab" * 30, "ab" * 31 + "0", ".tmp-writer", "ab" * 30 + "zz"]
    for name in strangers:
        (folder / name).write_bytes(b"not ours")
    (repo.path / "objects" / "zz").mkdir()
    (repo.path / "objects" / "zz" / ("ab" * 31)).write_bytes(b"not ours")
    make_old(repo.path / "objects")
    report = collect(repo, grace=0)
    assert report.objects == len(littered[0])
    assert all((folder / name).exists() for name in strangers)
    assert (repo.path / "objects" / "zz" / ("ab" * 31)).exists()


@settings(max_examples=examples(60), deadline=None)
@given(st.sets(st.binary(min_size=32, max_size=32), max_size=40),
       st.lists(st.binary(min_size=32, max_size=32), max_size=40), st.randoms())
def test_marked_answers_as_a_set(marked, others, rnd):
    # Names of the same folder as marked ids (a shared first byte), and of others.
    probe = list(marked) + others + [m[:31] + bytes([m[31] ^ 1]) for m in marked]
    rnd.shuffle(probe)
    compact = Marked(marked)
    assert len(compact) == len(marked)
    for first in {p[0] for p in probe}:
        fan = f"{first:02x}"
        names = [p[1:].hex() for p in probe if p[0] == first]
        got = compact.alive(fan, names).tolist()
        assert got == [bytes.fromhex(fan + n) in marked for n in names]
