"""Purge holes (issue 11, item 7): purged bytes are not committed again, every cache that loaded
from the repository is cleaned, DEST checkouts are listed, show and gc report true figures."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import casdb
from casdb.api import Repository
from casdb.checkouts import records as checkouts
from casdb.checkouts.selection import Request
from casdb.core.errors import IntegrityError, InvalidDataset
from casdb.history.summary import summarize
from casdb.maintenance.fsck import check
from casdb.maintenance.gc import collect
from casdb.testing.cli import run_casdb
from casdb.testing.corrupt import files_holding
from casdb.testing.files import age
from casdb.testing.profiles import examples
from casdb.testing.synth import write_tables

SECRET = "audio/000/000001.wav"


def tmp_files(repo: Repository) -> list[str]:
    return sorted(os.listdir(repo.path / "tmp"))


# -- committing purged bytes -----------------------------------------------------------------


def test_committing_purged_bytes_is_refused(small, tmp_path):
    repo, src = small
    blob = repo.media("synth", "1.0.0").loc[SECRET, "blob"]
    repo.purge("synth", [SECRET], "consent withdrawn", cache_root=tmp_path / "cache")
    stone = repo.purged()[0]
    blobs_before = set(repo.store.blob_ids())
    with pytest.raises(InvalidDataset) as caught:
        repo.commit(src, dataset="synth", version="2.0.0")
    message = str(caught.value)
    assert "\n" not in message and message.startswith(SECRET)
    for part in (blob[:10], "synth", SECRET, "'consent withdrawn'", stone.date, "casdb purged"):
        assert part in message
    # Nothing published: no ref, no blob, no temporary file left.
    assert repo.versions("synth") == ["1.0.0"] and set(repo.store.blob_ids()) == blobs_before
    assert not repo.store.has_blob(blob) and tmp_files(repo) == []
    # The same bytes under another name, in another dataset, are refused too.
    other = tmp_path / "other"
    (other / "x").mkdir(parents=True)
    shutil.copy(src / SECRET, other / "x" / "copy.wav")
    shutil.copy(src / SECRET, other / "x" / "copy2.wav")
    (other / "db.yaml").write_text("name: other\n")
    with pytest.raises(InvalidDataset, match=r"^x/copy.wav \(and 1 more file\) holds bytes purged"):
        repo.commit(other, dataset="other", version="1")
    assert "other" not in repo.datasets()
    # The CLI: exit code 3, one line.
    done = run_casdb("commit", str(src), "--dataset", "synth", "--version", "2.0.0",
                     repo=repo.path)
    assert done.returncode == 3 and len(done.stderr.splitlines()) == 1
    assert "holds bytes purged from this repository" in done.stderr
    # Without the file, the folder commits.
    (src / SECRET).unlink()
    write_tables(src, [0, 2, 3])
    age(src)
    repo.commit(src, dataset="synth", version="2.0.0")
    assert check(repo).ok


@pytest.mark.parametrize("listing_changed", [False, True])
def test_refused_when_the_stat_cache_vouches_for_purged_bytes(small, tmp_path, listing_changed):
    """A commit that raced the purge saved a stat cache naming the purged blob: the next commit
    reads nothing (whole tree reused, or the file's stat row trusted), and is still refused."""
    repo, src = small
    saved = tmp_path / "statcache"
    shutil.copytree(repo.path / "statcache", saved)
    repo.purge("synth", [SECRET], "consent", cache_root=tmp_path / "cache")
    shutil.rmtree(repo.path / "statcache", ignore_errors=True)  # clear() may remove it
    shutil.copytree(saved, repo.path / "statcache")
    if listing_changed:
        (src / "notes.txt").write_text("new")
        age(src)
    with pytest.raises(InvalidDataset, match="holds bytes purged"):
        repo.commit(src, dataset="synth", version="2.0.0")
    assert repo.versions("synth") == ["1.0.0"] and tmp_files(repo) == []


def test_a_pull_does_not_bring_purged_bytes_back(small, tmp_path):
    """Someone else committed the purged bytes again (under another name) and pushed them to a
    remote that was out of reach during the purge: a pull gets the version, not the bytes, and
    purges the remote."""
    repo, src = small
    url = str(tmp_path / "remote")
    repo.remote_add("origin", url, audio_codec="none")  # raw bytes are searched for
    repo.push()
    other = Repository.clone(url, tmp_path / "other")
    needle = (src / SECRET).read_bytes()[100:400]
    shutil.move(url, tmp_path / "away")
    repo.purge("synth", [SECRET], "consent", cache_root=tmp_path / "cache")
    shutil.move(tmp_path / "away", url)
    again = tmp_path / "again"
    again.mkdir()
    shutil.copy(src / SECRET, again / "renamed.wav")
    (again / "db.yaml").write_text("name: again\n")
    other.commit(again, dataset="again", version="1")  # that repository knows no tombstone yet
    # Its push meets the remote first: the remote still lacks the tombstone (out of reach
    # during the purge), so the bytes land there.
    other.push()
    assert files_holding(Path(url), needle)
    repo.pull()
    assert "again" in repo.datasets() and files_holding(repo.path, needle) == []
    assert files_holding(Path(url), needle) == [] and check(repo).ok
    ds = casdb.load("again", "1", repo=repo, cache_root=tmp_path / "c2")
    assert ds.files == [] and ds.purged == ["renamed.wav"]


# -- every cache root, DEST checkouts ----------------------------------------------------------


def test_purge_cleans_every_cache_root_and_lists_dest_checkouts(small, tmp_path):
    repo, src = small
    needle = (src / SECRET).read_bytes()[100:400]
    a, b, c = tmp_path / "cache-a", tmp_path / "cache-b", tmp_path / "cache-c"
    casdb.load("synth", "1.0.0", repo=repo, cache_root=a)
    casdb.load("synth", "1.0.0", repo=repo, cache_root=b, link="copy")
    casdb.load("synth", "1.0.0", repo=repo, cache_root=c, flavour={"sampling_rate": 4000})
    dest = tmp_path / "mine"
    casdb.checkout("synth", "1.0.0", dest, cache_root=a, link="copy", repo=repo)
    clean = tmp_path / "clean"
    casdb.checkout("synth", "1.0.0", clean, cache_root=a, link="copy",
                   request=Request.make(None, "000000", False), repo=repo)
    gone = tmp_path / "gone"
    casdb.checkout("synth", "1.0.0", gone, cache_root=a, repo=repo)
    shutil.rmtree(gone)  # the user deleted it already
    recorded = checkouts.read(repo)
    assert set(recorded.caches) == {a, b, c} and set(recorded.folders) == {dest, clean, gone}
    shutil.rmtree(c / "synth")  # a root that only holds converted copies still gets cleaned
    assert files_holding(b, needle) and files_holding(dest, needle)
    dry = repo.purge("synth", [SECRET], "consent", dry_run=True)
    assert dry.checkouts == [dest] and files_holding(b, needle)
    report = repo.purge("synth", [SECRET], "consent", cache_root=a)
    assert report.cache_roots == [a, b, c] and not report.problems and report.derived >= 1
    blob = dry.blobs[0]
    assert not [p for p in (c / ".derived").rglob(blob[2:])]  # the converted copy went too
    for root in (a, b, c):
        assert files_holding(root, needle) == [], root
    # DEST folders are user data: listed, never deleted.
    assert report.checkouts == [dest] and files_holding(dest, needle)


def test_concurrent_records_all_stay(repo, tmp_path):
    roots = [tmp_path / f"cache-{i}" for i in range(12)]
    threads = [threading.Thread(target=checkouts.record, args=(repo, r, r / "dest"))
               for r in roots]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    recorded = checkouts.read(repo)
    assert sorted(recorded.caches) == sorted(roots)
    assert sorted(recorded.folders) == sorted(r / "dest" for r in roots)
    checkouts.record(repo, roots[0], roots[0] / "dest")  # recorded once
    assert len(checkouts.read(repo).caches) == 12
    checkouts.record(repo, tmp_path / "x" / ".." / "y")  # kept normalised
    assert checkouts.read(repo).caches[-1] == tmp_path / "y"


def test_a_full_record_drops_vanished_paths_first(repo, tmp_path, monkeypatch):
    monkeypatch.setattr(checkouts, "MAX_ENTRIES", 3)
    live = tmp_path / "live"
    live.mkdir()
    for path in (tmp_path / "old-1", live, tmp_path / "old-2"):
        checkouts.record(repo, path)
    checkouts.record(repo, tmp_path / "new")
    assert checkouts.read(repo).caches == [live, tmp_path / "new"]
    for n in range(3):  # all exist: the oldest goes
        (tmp_path / f"more-{n}").mkdir()
        checkouts.record(repo, tmp_path / f"more-{n}")
    assert checkouts.read(repo).caches == [tmp_path / f"more-{n}" for n in range(3)]


CRAFTED = [
    b"not json",
    b"\xff\xfe",
    b"[1, 2]",
    json.dumps({"format": 2, "caches": []}).encode(),
    json.dumps({"format": 1, "caches": "/tmp"}).encode(),
    json.dumps({"format": 1, "caches": ["relative/path"]}).encode(),
    json.dumps({"format": 1, "caches": ["/tmp/../etc"]}).encode(),
    json.dumps({"format": 1, "caches": ["/tmp/a\u0000b"]}).encode(),
    json.dumps({"format": 1, "caches": ["/" + "a" * 5000]}).encode(),
    json.dumps({"format": 1, "caches": [17]}).encode(),
    json.dumps({"format": 1, "folders": [["/tmp"]]}).encode(),
    json.dumps({"format": 1, "folders": ["/tmp"] * 5000}).encode(),
    b"[" * 100_000,
    b" " * (5 << 20),
]


@pytest.mark.parametrize("data", CRAFTED, ids=range(len(CRAFTED)))
def test_a_damaged_record_is_refused_and_nothing_else_fails(small, tmp_path, data):
    repo, src = small
    (repo.path / checkouts.CHECKOUTS).write_bytes(data)
    with pytest.raises(IntegrityError, match="checkouts"):
        checkouts.read(repo)
    # A checkout still works, warns, and leaves the damaged file for the user to look at.
    with pytest.warns(checkouts.NotRecorded, match="not recorded"):
        casdb.load("synth", "1.0.0", repo=repo, cache_root=tmp_path / "cache")
    assert (repo.path / checkouts.CHECKOUTS).read_bytes() == data
    # A purge still finishes (the given cache is cleaned) and reports the problem.
    needle = (src / SECRET).read_bytes()[100:400]
    report = repo.purge("synth", [SECRET], "consent", cache_root=tmp_path / "cache")
    assert len(report.problems) == 1 and "checkouts" in report.problems[0]
    assert files_holding(tmp_path / "cache", needle) == [] and files_holding(repo.path, needle) == []


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(
    st.binary(max_size=300),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                 lambda inner: st.lists(inner, max_size=4)
                 | st.dictionaries(st.sampled_from(["format", "caches", "folders", "x"]), inner,
                                   max_size=4),
                 max_leaves=12).map(lambda v: json.dumps(v).encode()),
))
def test_fuzzed_records_raise_only_integrity_errors(data):
    try:
        recorded = checkouts._decode(data, Path("/r/checkouts"))
    except IntegrityError:
        return
    assert all(p.is_absolute() for p in recorded.caches + recorded.folders)


def test_loads_from_a_remote_are_not_recorded_in_its_object_cache(small, tmp_path):
    repo, _ = small
    url = str(tmp_path / "remote")
    repo.remote_add("origin", url)
    repo.push()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        casdb.load("synth", "1.0.0", repo=url, cache_root=tmp_path / "cache")
    assert checkouts.read(repo).caches == []
    view = next((tmp_path / "cache" / ".remotes").iterdir())
    assert not (view / checkouts.CHECKOUTS).exists()


# -- show and gc figures -----------------------------------------------------------------------


def test_show_leaves_purged_files_out_of_the_media_figures(small, tmp_path):
    repo, src = small
    before = summarize(repo, "synth", "1.0.0").media
    size = (src / SECRET).stat().st_size
    repo.purge("synth", [SECRET], "consent", cache_root=tmp_path / "cache")
    after = summarize(repo, "synth", "1.0.0").media
    assert (after.files, after.bytes) == (before.files - 1, before.bytes - size)
    assert (after.purged_files, after.purged_bytes) == (1, size)
    assert after.duration == pytest.approx(before.duration - 0.2)
    assert sum(after.formats.values()) == before.files - 1
    assert sum(after.sampling_rates.values()) == sum(before.sampling_rates.values()) - 1
    done = run_casdb("show", "synth@1.0.0", repo=repo.path)
    files = sum(1 for p in src.rglob("*") if p.is_file() and p.name != "db.yaml"
                and not p.name.startswith("db."))
    assert f"  {files - 1} files, " in done.stdout
    assert "(1 purged file, " in done.stdout and "left out)" in done.stdout


def test_gc_kept_counts_what_stays_on_disk(small, tmp_path):
    repo, src = small
    repo.purge("synth", [SECRET], "consent", cache_root=tmp_path / "cache")
    report = collect(repo, grace=0)
    assert report.objects == report.blobs == 0
    assert report.kept_blobs == len(list(repo.store.blob_ids()))
    assert report.kept_objects == len(list(repo.store.object_ids()))
    assert report.reachable_blobs == report.kept_blobs + 1  # the mark names the purged blob
    done = run_casdb("gc", "--grace", "0", repo=repo.path)
    assert done.returncode == 0
    assert (f"kept {report.kept_objects} reachable objects and {report.kept_blobs} blobs"
            in done.stdout)


@pytest.mark.slow
def test_seaweedfs_keeps_purged_bytes_until_it_vacuums(small, tmp_path, s3_env, s3_url):
    """What docs/purge-gc.md says about S3 servers, shown on the real one: a delete only marks
    the needle deleted; the bytes stay in the volume file until a vacuum compacts it."""
    repo, src = small
    needle = (src / SECRET).read_bytes()[1000:1400]
    repo.remote_add("s3", s3_url, audio_codec="none")
    repo.push("s3")
    assert files_holding(s3_env.data, needle)
    report = repo.purge("synth", [SECRET], "consent", cache_root=tmp_path / "cache")
    assert report.remotes["s3"] == "purged"
    bucket, prefix = s3_url[len("s3://"):].split("/", 1)
    client = s3_env.client()
    assert not [k for k in s3_env.keys(bucket, prefix + "/")
                if needle in client.get_object(Bucket=bucket, Key=k)["Body"].read()]
    assert files_holding(s3_env.data, needle)  # deleted through S3, still on the server's disk
    # The filer deletes an object's chunks from the volumes in the background, a moment later:
    # vacuum until the volume no longer holds them.
    deadline = time.monotonic() + 30
    while files_holding(s3_env.data, needle) and time.monotonic() < deadline:
        s3_env.vacuum()
        time.sleep(0.5)
    assert files_holding(s3_env.data, needle) == []


def test_purge_deletes_no_dest_checkout_under_a_recorded_root(small, tmp_path):
    """A recorded cache root may hold user folders (a DEST checkout three levels down looks like
    a cache folder): purge deletes only folders where the cache itself puts versions."""
    repo, src = small
    root = tmp_path / "shared"
    dest = root / "projects" / "emo" / "data"
    casdb.checkout("synth", "1.0.0", dest, cache_root=root, link="copy", repo=repo)
    casdb.load("synth", "1.0.0", repo=repo, cache_root=root)
    report = repo.purge("synth", [SECRET], "consent", cache_root=tmp_path / "cache")
    assert root in report.cache_roots and report.checkouts == [dest]
    assert report.cache_folders == [root / "synth" / "1.0.0" / "original"]
    assert (dest / SECRET).exists() and (dest / "db.yaml").exists()


@pytest.mark.parametrize("name", ["files.json", "media.parquet"])
def test_a_dest_checkout_with_a_damaged_index_is_listed(small, tmp_path, name):
    repo, _ = small
    dest = tmp_path / "mine"
    casdb.checkout("synth", "1.0.0", dest, cache_root=tmp_path / "cache", repo=repo)
    if name == "media.parquet":  # a folder from before files.json
        (dest / ".casdb" / "files.json").unlink()
    index = dest / ".casdb" / name
    data = bytearray(index.read_bytes())
    data[len(data) // 2] ^= 0xFF
    data[-8:] = b"\0" * 8  # the footer length and magic: not a parquet file any more
    os.chmod(index, 0o644)
    index.write_bytes(bytes(data))
    assert repo.purge("synth", [SECRET], "consent", dry_run=True).checkouts == [dest]


RECORDER = """
import sys
from pathlib import Path
from casdb.checkouts import records as checkouts
from casdb.api import Repository
repo = Repository(sys.argv[1])
for n in range(100000):
    checkouts.record(repo, Path(sys.argv[2]) / f"cache-{n}")
"""


def test_a_killed_recorder_leaves_a_readable_record(repo, tmp_path):
    import signal
    import subprocess
    import sys

    for delay in (0.05, 0.2, 0.4):
        proc = subprocess.Popen([sys.executable, "-c", RECORDER, str(repo.path), str(tmp_path)],
                                env={**os.environ})
        deadline = time.monotonic() + 30
        while not (repo.path / checkouts.CHECKOUTS).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        recorded = checkouts.read(repo)  # never half a file
        assert recorded.caches and all(p.parent == tmp_path for p in recorded.caches)
    checkouts.record(repo, tmp_path / "after")  # the lock died with the process
    assert checkouts.read(repo).caches[-1] == tmp_path / "after"
