"""Purge: the bytes leave the repository, the remotes and the cache; the versions stay."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import casdb
from casdb.api import Repository
from casdb.maintenance.fsck import check
from casdb.testing.corrupt import files_holding
from casdb.testing.purging import SECRET


def secret_bytes(repo: Repository) -> bytes:
    blob = repo.media("synth", "1.0.0").loc[SECRET, "blob"]
    return repo.store.blob_path(blob).read_bytes()


def test_dry_run_lists_every_holder(versions):
    report = versions.purge("synth", [SECRET], "consent withdrawn", dry_run=True)
    assert len(report.blobs) == 1
    assert report.holders == [("copy", "1", "renamed/x.wav")] + [
        ("synth", v, SECRET) for v in ("1.0.0", "2.0.0", "3.0.0")]
    assert versions.store.blob_path(report.blobs[0]).exists() and versions.purged() == []


def test_purge_removes_the_bytes_and_keeps_the_versions(versions, tmp_path):
    cache_root = tmp_path / "cache"
    needle = secret_bytes(versions)[100:400]  # PCM samples: found only in that file
    casdb.load("synth", "1.0.0", repo=versions, cache_root=cache_root, link="copy")
    casdb.load("synth", "2.0.0", repo=versions, cache_root=cache_root,
               flavour={"sampling_rate": 4000})
    assert files_holding(versions.path, needle) and files_holding(cache_root, needle)
    report = versions.purge("synth", [SECRET], "consent withdrawn", cache_root=cache_root)
    assert report.deleted_blobs == 1 and len(report.cache_folders) == 2 and report.derived >= 1
    assert files_holding(versions.path, needle) == [] and files_holding(cache_root, needle) == []
    stones = versions.purged()
    assert [(t.dataset, t.paths, t.reason) for t in stones] == [
        ("synth", [SECRET], "consent withdrawn")]
    result = check(versions)
    assert result.ok and result.purged == 1  # an expected absence, not a problem
    for v in ("1.0.0", "2.0.0", "3.0.0"):
        ds = casdb.load("synth", v, repo=versions, cache_root=cache_root)
        assert str(ds.root / SECRET) not in ds.files and not (ds.root / SECRET).exists()
        assert SECRET not in set(ds["emotion"].get().index.str.slice(len(str(ds.root)) + 1))
        assert ds.purged == [SECRET]
    kept = casdb.load("synth", "1.0.0", repo=versions, cache_root=cache_root, removed_media=True,
                      full_path=False)
    assert SECRET in kept["emotion"].get().index and len(kept["emotion"].get()) == 8
    copy = casdb.load("copy", "1", repo=versions, cache_root=cache_root)
    assert copy.files == []
    # A new commit of the same bytes cannot bring them back unnoticed: they are stored again
    # (a new, deliberate commit), and the tombstone still lists them.
    assert versions.purged()[0].blob == stones[0].blob


PURGER = textwrap.dedent("""
    import sys
    from casdb.api import Repository
    Repository(sys.argv[1]).purge("synth", ["audio/000/000003.wav"], "consent",
                                  cache_root=sys.argv[2])
""")


def test_an_interrupted_purge_is_finished_by_running_it_again(versions, tmp_path):
    needle = secret_bytes(versions)[100:400]
    cache_root = tmp_path / "cache"
    for delay in (0.2, 0.5):
        casdb.load("synth", "3.0.0", repo=versions, cache_root=cache_root)
        proc = subprocess.Popen([sys.executable, "-c", PURGER, str(versions.path),
                                 str(cache_root)])
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert check(versions).ok
    versions.purge("synth", [SECRET], "consent", cache_root=cache_root)
    assert files_holding(versions.path, needle) == [] and files_holding(cache_root, needle) == []
    assert len(versions.purged()) == 1 and check(versions).ok


def test_purge_reaches_remotes_now_or_on_the_next_push(versions, tmp_path, s3_env):
    needle = secret_bytes(versions)[100:400]
    folder = tmp_path / "remote"
    s3_url = f"s3://casdb/purge-{os.getpid()}-{time.time_ns()}"
    versions.remote_add("folder", str(folder), audio_codec="none")  # raw bytes are searched for
    versions.remote_add("s3", s3_url, audio_codec="none")
    versions.push("folder")
    versions.push("s3")
    assert files_holding(folder, needle)
    # The folder remote is out of reach during the purge.
    shutil.move(folder, tmp_path / "away")
    report = versions.purge("synth", [SECRET], "consent", cache_root=tmp_path / "cache")
    assert report.remotes["s3"] == "purged" and "not reached" in report.remotes["folder"]
    bucket = [k for k in s3_env.keys("casdb", s3_url.split("/", 3)[3] + "/")]
    client = s3_env.client()
    assert not [k for k in bucket if needle in client.get_object(Bucket="casdb", Key=k)["Body"].read()]
    shutil.move(tmp_path / "away", folder)
    versions.push("folder")  # the next push purges the remote that was away
    assert files_holding(folder, needle) == []
    for url in (str(folder), s3_url):
        clone = Repository.clone(url, tmp_path / f"clone-{abs(hash(url))}")
        assert clone.purged() and check(clone).ok
        ds = casdb.load("synth", "2.0.0", repo=clone, cache_root=tmp_path / f"c-{abs(hash(url))}")
        assert len(ds.files) == 8 and not files_holding(clone.path, needle)


def test_a_pull_brings_the_purge_of_others(versions, tmp_path):
    url = str(tmp_path / "remote")
    versions.remote_add("origin", url, audio_codec="none")
    versions.push()
    mirror = Repository.clone(url, tmp_path / "mirror")
    needle = secret_bytes(versions)[100:400]
    assert files_holding(mirror.path, needle)
    versions.purge("synth", [SECRET], "consent", cache_root=tmp_path / "cache")
    mirror.pull()
    assert files_holding(mirror.path, needle) == [] and mirror.purged() and check(mirror).ok
    # The mirror never sends the bytes back.
    assert mirror.push().blobs == 0 and files_holding(Path(url), needle) == []
