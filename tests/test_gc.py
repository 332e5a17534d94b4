"""Garbage collection of the repository and the checkout cache."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import casdb
from casdb.api import Repository
from casdb.maintenance.fsck import check
from casdb.maintenance.gc import collect
from casdb.testing.cli import run_casdb
from casdb.testing.files import age, make_old
from casdb.testing.garbage import garbage
from casdb.testing.synth import file_name, make_dataset, write_audio, write_tables


def test_gc_deletes_only_what_no_ref_reaches(repo, source, tmp_path):
    repo.commit(source, dataset="synth", version="1")
    objects, blobs = garbage(repo, tmp_path)
    assert objects and blobs
    young = collect(repo, grace=3600)  # the lost commit is recent: spared
    assert young.objects == young.blobs == 0 and young.kept_young == len(objects) + len(blobs)
    make_old(repo.path / "objects")
    make_old(repo.path / "blobs")
    dry = collect(repo, grace=3600, dry_run=True)
    assert (dry.objects, dry.blobs) == (len(objects), len(blobs))
    assert set(repo.store.object_ids()) >= objects  # a dry run deletes nothing
    report = collect(repo, grace=3600)
    assert (report.objects, report.blobs) == (len(objects), len(blobs)) and report.bytes > 0
    assert not (set(repo.store.object_ids()) & objects)
    result = check(repo)
    assert result.ok and not result.unreachable_objects and not result.unreachable_blobs
    assert collect(repo, grace=0).objects == 0
    # Every version still loads.
    assert len(casdb.load("synth", "1", repo=repo, cache_root=tmp_path / "c").files) == 12


def test_gc_and_fsck_reach_the_row_order_of_unsorted_tables(repo, source, tmp_path):
    write_tables(source, [11, 3, 7, 0, 5, 1, 9, 2, 10, 4, 8, 6])  # not sorted by file
    repo.commit(source, dataset="synth", version="1")
    order = repo.store.get(repo.snapshot("synth", "1").commit.tables[0][1], "table").order
    assert order  # the emotion table remembers its order
    make_old(repo.path / "objects")
    make_old(repo.path / "blobs")
    assert collect(repo, grace=0).objects == 0
    assert check(repo).ok and not check(repo).unreachable_objects
    assert repo.table("synth", "emotion", "1").index[:2].tolist() == [file_name(11), file_name(3)]
    os.remove(repo.store._path("objects", order[0]))
    report = check(Repository(repo.path))  # a fresh object cache
    assert not report.ok and any(order[0] in p for p in report.problems)


def test_gc_waits_for_writers_and_writers_for_gc(repo, source, tmp_path):
    repo.commit(source, dataset="synth", version="1")
    garbage(repo, tmp_path)
    make_old(repo.path)
    done = threading.Event()
    with repo.writing():  # a commit in progress
        thread = threading.Thread(target=lambda: (collect(repo, grace=0), done.set()))
        thread.start()
        assert not done.wait(0.5)  # gc waits for the writer
    assert done.wait(30)
    thread.join()
    # And an object a commit finds instead of writing is touched (the guard for writers on
    # other machines, which do not share the lock): it looks young to a gc.
    from casdb.model.objects import Header

    object_id = repo.store.put(Header({"name": "x"}))
    repo.store.publish()
    path = repo.store._path("objects", object_id)
    os.utime(path, (0, 0))
    from casdb.store.objectstore import ObjectStore

    ObjectStore(repo.backend).put(Header({"name": "x"}))
    assert time.time() - os.stat(path).st_mtime < 60


COMMITTER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from casdb.api import Repository
    from casdb.testing.synth import file_name, make_dataset, write_audio, write_tables
    repo = Repository(sys.argv[1])
    src = make_dataset(Path(sys.argv[2]), files=20, duration=0.2)
    for v in range(6):
        write_audio(src / f"audio/000/{100 + v:06d}.wav", 300 + v, 0.2, 16000, 1)
        repo.commit(src, dataset="synth", version=str(v))
""")


def test_gc_while_another_process_commits(repo, tmp_path):
    # Garbage to sweep, made old, so that each gc has real deleting to do.
    for i in range(3):
        garbage_src = make_dataset(tmp_path / f"g{i}", files=10, duration=0.1, seed=200 + i)
        repo.commit(garbage_src, dataset=f"g{i}", version="1")
        import shutil

        shutil.rmtree(repo.path / "refs" / f"g{i}")
    make_old(repo.path)
    proc = subprocess.Popen([sys.executable, "-c", COMMITTER, str(repo.path),
                             str(tmp_path / "src")])
    runs = 0
    while proc.poll() is None:
        collect(repo, grace=0)  # no grace at all: only the lock protects the committer
        runs += 1
    assert proc.returncode == 0 and runs > 0
    collect(repo, grace=0)
    result = check(repo)
    assert result.ok and repo.versions("synth") == [str(v) for v in range(6)]
    assert not result.unreachable_objects and not result.unreachable_blobs


GC_IN_PROCESS = textwrap.dedent("""
    import sys
    from casdb.maintenance.gc import collect
    from casdb.api import Repository
    collect(Repository(sys.argv[1]), grace=0)
""")


def test_interrupted_gc_loses_nothing_reachable(repo, source, tmp_path):
    import signal

    repo.commit(source, dataset="synth", version="1")
    for i in range(3):
        garbage_src = make_dataset(tmp_path / f"g{i}", files=40, duration=0.1, seed=100 + i)
        repo.commit(garbage_src, dataset=f"g{i}", version="1")
        import shutil

        shutil.rmtree(repo.path / "refs" / f"g{i}")
    for delay in (0.05, 0.2, 0.5):
        proc = subprocess.Popen([sys.executable, "-c", GC_IN_PROCESS, str(repo.path)])
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert check(repo).ok  # whatever was deleted, every version is intact
    collect(repo, grace=0)
    report = check(repo)
    assert report.ok and not report.unreachable_blobs


def test_gc_refuses_to_sweep_a_damaged_repository(repo, source, tmp_path):
    result = repo.commit(source, dataset="synth", version="1")
    garbage(repo, tmp_path)
    make_old(repo.path)
    commit = repo.store._path("objects", result.id)
    os.chmod(commit, 0o644)
    Path(commit).write_bytes(b"damaged")
    report = collect(repo, grace=0)
    assert report.problems and report.objects == report.blobs == 0
    done = run_casdb("gc", "--grace", "0", repo=repo.path)
    assert done.returncode == 7 and "gc stopped before deleting anything" in done.stderr


def test_cache_gc_evicts_least_recently_used(repo, tmp_path):
    from casdb.checkouts.cachecheck import evict, folder_size

    src = make_dataset(tmp_path / "src", files=6, duration=0.5)
    for v in ("1", "2", "3"):
        write_audio(src / f"audio/000/{50 + int(v):06d}.wav", int(v), 0.5, 16000, 1)
        repo.commit(src, dataset="synth", version=v)
    root = tmp_path / "cache"
    for v in ("1", "2", "3"):
        casdb.load("synth", v, repo=repo, cache_root=root, link="copy")
        time.sleep(0.05)
    casdb.load("synth", "1", repo=repo, cache_root=root)  # 1 is now the most recently used
    sizes = {v: folder_size(root / "synth" / v / "original") for v in ("1", "2", "3")}
    assert all(s > 0 for s in sizes.values())
    dry = evict(root, sizes["1"] + sizes["3"], dry_run=True)
    assert [p.parent.name for p in dry.folders] == ["2"] and (root / "synth" / "2").exists()
    out = evict(root, sizes["1"] + sizes["3"])
    assert [p.parent.name for p in out.folders] == ["2"] and not (root / "synth" / "2").exists()
    assert out.after <= sizes["1"] + sizes["3"]
    assert len(casdb.load("synth", "1", repo=repo, cache_root=root).files) == 7
    # Evicted versions load again (from the repository).
    assert len(casdb.load("synth", "2", repo=repo, cache_root=root).files) == 8
    done = run_casdb("cache", "evict", "--max-size", "0", "--cache", str(root))
    assert done.returncode == 0 and "3 folders" in done.stderr
    assert not [e for e in root.glob("synth/*/*")]
    done = run_casdb("cache", "evict", "--max-size", "lots", "--cache", str(root))
    assert done.returncode == 2 and "invalid size" in done.stderr


def test_cache_gc_removes_unlinked_conversions(repo, tmp_path):
    from casdb.checkouts.cachecheck import evict

    src = make_dataset(tmp_path / "src", files=4, duration=0.5, sampling_rate=16000)
    age(src)
    repo.commit(src, dataset="synth", version="1")
    root = tmp_path / "cache"
    casdb.load("synth", "1", repo=repo, cache_root=root, flavour={"sampling_rate": 8000})
    derived = [p for p in (root / ".derived").rglob("*") if p.is_file()]
    assert len(derived) == 4
    out = evict(root, 0)
    assert out.derived == 4 and not [p for p in (root / ".derived").rglob("*") if p.is_file()]


@pytest.mark.parametrize("kind", ["folder", pytest.param("s3", marks=pytest.mark.s3)])
def test_remote_gc(repo, tmp_path, kind, request):
    from casdb.maintenance.remotegc import collect_remote
    from casdb.remote.layout import Remote

    url = str(tmp_path / "remote") if kind == "folder" else request.getfixturevalue("s3_url")
    src = make_dataset(tmp_path / "src", files=6, duration=0.2)
    repo.commit(src, dataset="keep", version="1")
    big = make_dataset(tmp_path / "big", files=2, duration=40.0, sampling_rate=48000, channels=2)
    repo.commit(big, dataset="drop", version="1")
    repo.remote_add("origin", url)
    repo.push()
    remote = Remote.open(url)
    remote.backend.delete("refs/drop/tags/1")  # the drop dataset is no longer published
    remote.backend.delete("refs/drop/heads/main")
    young = collect_remote(remote, grace=3600)
    assert young.blobs == 0 and young.entries == 0 and young.kept_young > 0
    dry = collect_remote(remote, grace=0, dry_run=True)
    assert dry.blobs == 2 and dry.entries > 0
    report = collect_remote(remote, grace=0)
    assert report.blobs == 2 and report.entries == dry.entries and report.packs_rewritten >= 1
    assert collect_remote(remote, grace=0).entries == 0
    clone = Repository.clone(url, tmp_path / "clone")
    assert clone.datasets() == ["keep"] and check(clone).ok
    done = run_casdb("gc", "--remote", "origin", "--grace", "0", repo=repo.path)
    assert done.returncode == 0 and "origin: deleted 0 blobs" in done.stdout
