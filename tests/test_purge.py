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

import pytest

import casdb
from casdb.api import Repository
from casdb.core.errors import InvalidInput, NotFound
from casdb.maintenance.fsck import check
from casdb.testing.cli import run_casdb
from casdb.testing.corrupt import files_holding
from casdb.testing.files import age
from casdb.testing.synth import make_dataset, write_audio, write_tables

SECRET = "audio/000/000003.wav"


@pytest.fixture
def versions(tmp_path) -> Repository:
    """synth 1.0.0 .. 3.0.0 all hold SECRET; dataset copy holds the same bytes elsewhere."""
    repo = Repository.init(tmp_path / "repo")
    src = make_dataset(tmp_path / "src", files=8, duration=0.3, sampling_rate=8000)
    age(src)
    repo.commit(src, dataset="synth", version="1.0.0")
    for n, v in ((8, "2.0.0"), (9, "3.0.0")):
        write_audio(src / f"audio/000/{n:06d}.wav", 100 + n, 0.3, 8000, 1)
        write_tables(src, range(n + 1), seed=n)
        age(src)
        repo.commit(src, dataset="synth", version=v)
    other = tmp_path / "other"
    (other / "renamed").mkdir(parents=True)
    shutil.copy(src / SECRET, other / "renamed" / "x.wav")
    (other / "db.yaml").write_text("name: other\n")
    repo.commit(other, dataset="copy", version="1")
    return repo


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


@pytest.mark.slow  # about 3 s: CLI subprocesses
def test_log_show_and_cli(versions, tmp_path):
    done = run_casdb("purge", "synth", "audio/none.wav", "--reason", "x", repo=versions.path)
    assert done.returncode == 4 and "no file 'audio/none.wav' in any version" in done.stderr
    done = run_casdb("purge", "synth", SECRET, repo=versions.path)
    assert done.returncode == 2 and "--reason" in done.stderr
    with pytest.raises(InvalidInput, match="give a reason"):
        versions.purge("synth", [SECRET], " ")
    done = run_casdb("purge", "synth", SECRET, "--reason", "consent", "--dry-run",
                     repo=versions.path)
    assert done.returncode == 0 and "dry run: nothing deleted" in done.stdout
    assert "copy 1 renamed/x.wav" in done.stdout
    env = {**os.environ, "CASDB_CACHE": str(tmp_path / "cache")}
    done = run_casdb("purge", "synth", SECRET, "--reason", "consent", repo=versions.path, env=env)
    assert done.returncode == 0 and "1 blobs deleted" in done.stdout
    done = run_casdb("purged", repo=versions.path)
    assert "synth: audio/000/000003.wav  (consent)" in done.stdout
    assert "held by copy 1 renamed/x.wav" in done.stdout
    assert "purged: 1 file (audio/000/000003.wav)" in run_casdb("log", "synth", repo=versions.path).stdout
    assert "purged:       1 file" in run_casdb("show", "synth@2.0.0", repo=versions.path).stdout
    done = run_casdb("fsck", repo=versions.path)
    assert done.returncode == 0 and "purged: 1 blobs (expected absences" in done.stdout
    with pytest.raises(NotFound):
        versions.purge("nope", [SECRET], "x")


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
    versions.remote_add("folder", str(folder))
    versions.remote_add("s3", s3_url)
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
    versions.remote_add("origin", url)
    versions.push()
    mirror = Repository.clone(url, tmp_path / "mirror")
    needle = secret_bytes(versions)[100:400]
    assert files_holding(mirror.path, needle)
    versions.purge("synth", [SECRET], "consent", cache_root=tmp_path / "cache")
    mirror.pull()
    assert files_holding(mirror.path, needle) == [] and mirror.purged() and check(mirror).ok
    # The mirror never sends the bytes back.
    assert mirror.push().blobs == 0 and files_holding(Path(url), needle) == []
