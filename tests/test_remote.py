"""Remotes: push/pull/clone against a folder and a real S3 server
(SeaweedFS), conflicts, resumption, loads straight from a remote, and failures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import casdb
from casdb.api import Repository
from casdb.core.errors import BackendError, Conflict, IntegrityError, InvalidInput, NotFound
from casdb.maintenance.fsck import check
from casdb.remote.layout import Remote
from casdb.testing.cli import run_casdb
from casdb.testing.files import age
from casdb.testing.synth import make_dataset, write_audio, write_tables


@pytest.fixture(params=["folder", pytest.param("s3", marks=pytest.mark.s3)])
def remote_url(request, tmp_path) -> str:
    if request.param == "folder":
        return str(tmp_path / "remote")
    return request.getfixturevalue("s3_url")


@pytest.fixture
def published(tmp_path) -> Repository:
    repo = Repository.init(tmp_path / "repo")
    src = make_dataset(tmp_path / "src", files=12, duration=0.2, sampling_rate=8000)
    age(src)
    repo.commit(src, dataset="synth", version="1.0.0")
    return repo


def next_version(repo: Repository, src: Path, version: str, new: range) -> None:
    for i in new:
        write_audio(src / f"audio/000/{i:06d}.wav", 500 + i, 0.2, 8000, 1)
    write_tables(src, range(new.stop), seed=new.stop)
    age(src)
    repo.commit(src, dataset="synth", version=version)


def test_push_clone_pull_move_only_what_is_missing(published, remote_url, tmp_path):
    published.remote_add("origin", remote_url)
    first = published.push()
    assert first.blobs == 12 and first.objects > 0 and first.requests == 2  # one pack
    assert sorted(first.refs) == ["synth heads/main", "synth tags/1.0.0"]
    assert published.push().objects == 0  # nothing new
    clone = Repository.clone(remote_url, tmp_path / "clone")
    assert clone.versions("synth") == ["1.0.0"] and check(clone).ok
    assert clone.resolve("synth") == published.resolve("synth")
    next_version(published, tmp_path / "src", "2.0.0", range(12, 15))
    second = published.push()
    assert second.blobs == 3  # only the new files travel
    pulled = clone.pull()
    assert pulled.blobs == 3 and clone.versions("synth") == ["1.0.0", "2.0.0"]
    assert check(clone).ok and clone.pull().objects == 0
    pd_a = published.table("synth", "emotion", "2.0.0")
    assert clone.table("synth", "emotion", "2.0.0").equals(pd_a)


def test_large_blobs_travel_alone_and_intact(tmp_path, s3_url):
    repo = Repository.init(tmp_path / "repo")
    src = make_dataset(tmp_path / "src", files=2, duration=60.0, sampling_rate=48000, channels=2)
    repo.commit(src, dataset="long", version="1")  # two 11.5 MB files: multipart uploads
    repo.remote_add("s3", s3_url)
    result = repo.push()
    assert result.blobs == 2 and result.requests == 2 + 2
    clone = Repository.clone(s3_url, tmp_path / "clone")
    assert check(clone).ok
    for blob in clone.media("long")["blob"]:
        assert clone.store.blob_path(blob).read_bytes() == repo.store.blob_path(blob).read_bytes()


def test_refs_on_the_remote(published, tmp_path):
    url = str(tmp_path / "remote")
    published.remote_add("origin", url)
    published.push()
    other = Repository.clone(url, tmp_path / "other")
    # Both commit a new version on main from the same head; the first push wins.
    next_version(published, tmp_path / "src", "2.0.0", range(12, 14))
    src_b = make_dataset(tmp_path / "src-b", files=3, duration=0.2, sampling_rate=8000, seed=9)
    other.commit(src_b, dataset="synth", version="2.1.0")
    published.push()
    with pytest.raises(Conflict, match="pull, then push again"):
        other.push()
    remote = Remote.open(url)
    assert remote.refs("synth")["heads/main"] == published.resolve("synth")
    assert "tags/2.1.0" not in remote.refs("synth")
    with pytest.raises(Conflict, match="diverged"):
        other.pull()
    assert "2.0.0" in other.versions("synth")  # the other's versions arrived all the same
    other.pull(rebase=True)  # the local commit, re-made on top of the remote's head
    assert other.get_commit(other.resolve("synth")).parents == (published.resolve("synth"),)
    assert other.push().refs == ["synth tags/2.1.0", "synth heads/main"]
    assert Remote.open(url).refs("synth")["tags/2.1.0"] == other.resolve("synth", "2.1.0")
    assert check(Repository.clone(url, tmp_path / "after")).ok
    # A version is never re-published with other content.
    third = Repository.init(tmp_path / "third")
    third.commit(src_b, dataset="synth", version="1.0.0")
    third.remote_add("origin", url, create=False)
    with pytest.raises(casdb.AlreadyExists, match="never re-published"):
        third.push()


PUSHER = textwrap.dedent("""
    import sys
    from casdb.core.errors import Conflict
    from casdb.api import Repository
    try:
        Repository(sys.argv[1]).push()
    except Conflict as exc:
        print(exc); sys.exit(6)
""")


def test_two_pushers_at_once_one_wins(published, s3_url, tmp_path):
    published.remote_add("origin", s3_url)
    published.push()
    repos = []
    for name in ("a", "b"):
        repo = Repository.clone(s3_url, tmp_path / name)
        src = make_dataset(tmp_path / f"src-{name}", files=4, duration=0.2, seed=ord(name))
        repo.commit(src, dataset="synth", version=f"9.{name}")
        repos.append(repo)
    env = {**os.environ}
    procs = [subprocess.Popen([sys.executable, "-c", PUSHER, str(r.path)], env=env,
                              stdout=subprocess.PIPE, text=True) for r in repos]
    codes = sorted(p.wait() for p in procs)
    assert codes == [0, 6]
    head = Remote.open(s3_url).refs("synth")["heads/main"]
    assert head in {r.resolve("synth") for r in repos}
    clone = Repository.clone(s3_url, tmp_path / "check")
    assert check(clone).ok


@pytest.mark.slow  # about 3 s: a killed push process
def test_interrupted_push_resumes_and_is_never_visible(tmp_path):
    repo = Repository.init(tmp_path / "repo")
    src = make_dataset(tmp_path / "src", files=16, duration=30.0, sampling_rate=48000, channels=2)
    repo.commit(src, dataset="big", version="1")  # 16 blobs of 5.8 MB: each travels alone
    url = str(tmp_path / "remote")
    repo.remote_add("origin", url)
    proc = subprocess.Popen([sys.executable, "-c", PUSHER, str(repo.path)])
    blobs = tmp_path / "remote" / "blobs"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sum(1 for _ in blobs.rglob("*") if _.is_file()) < 3:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    arrived = sum(1 for p in blobs.rglob("*") if p.is_file() and not p.name.startswith(".tmp"))
    assert 0 < arrived < 16
    assert Remote.open(url).refs("big") == {}  # nothing half-pushed is visible
    with pytest.raises(NotFound):
        Repository.clone(url, tmp_path / "early").versions("big")
    result = repo.push()
    assert result.blobs == 16 - arrived  # what arrived is not sent again
    clone = Repository.clone(url, tmp_path / "clone")
    assert clone.versions("big") == ["1"] and check(clone).ok


PULLER = textwrap.dedent("""
    import sys
    from casdb.api import Repository
    Repository(sys.argv[1]).pull()
""")


@pytest.mark.slow  # about 3 s: a killed pull process
def test_interrupted_pull_resumes(tmp_path):
    repo = Repository.init(tmp_path / "repo")
    src = make_dataset(tmp_path / "src", files=16, duration=30.0, sampling_rate=48000, channels=2)
    repo.commit(src, dataset="big", version="1")
    url = str(tmp_path / "remote")
    repo.remote_add("origin", url)
    repo.push()
    target = Repository.init(tmp_path / "target")
    target.remote_add("origin", url, create=False)
    proc = subprocess.Popen([sys.executable, "-c", PULLER, str(target.path)])
    blobs = target.path / "blobs"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sum(1 for p in blobs.rglob("*") if p.is_file()) < 3:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    arrived = sum(1 for p in blobs.rglob("*") if p.is_file())
    assert 0 < arrived < 16 and target.datasets() == []  # no ref before everything is there
    result = target.pull()
    assert result.blobs == 16 - arrived  # what arrived is not fetched again
    assert target.versions("big") == ["1"] and check(target).ok


def test_load_straight_from_a_remote(published, remote_url, tmp_path):
    published.remote_add("origin", remote_url)
    published.push()
    cache_root = tmp_path / "cache"
    ds = casdb.load("synth", "1.0.0", repo=remote_url, cache_root=cache_root,
                    media=r"00000[0-2]\.wav")
    assert len(ds.files) == 3 and all(os.path.exists(f) for f in ds.files)
    objects = cache_root / ".remotes"
    fetched = [p for p in objects.rglob("blobs/*/*") if p.is_file()]
    assert len(fetched) == 3  # only the blobs this checkout placed
    full = casdb.load("synth", repo=remote_url, cache_root=cache_root)
    assert full.version == "1.0.0" and len(full.files) == 12
    gone = "s3://missing-bucket/x" if remote_url.startswith("s3") else str(tmp_path / "gone")
    offline = casdb.load("synth", "1.0.0", repo=gone, cache_root=cache_root)
    assert len(offline["emotion"].get()) == 12
    with pytest.raises(NotFound, match="no dataset 'synt'.*did you mean synth"):
        casdb.load("synt", repo=remote_url, cache_root=cache_root)
    done = run_casdb("--repo", remote_url, "checkout", "synth@1.0.0", "--cache",
                     str(tmp_path / "cli-cache"), "--tables", "emotion")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].endswith("synth/1.0.0/original")


def test_remote_failures_are_clear_and_leave_the_repository_intact(published, s3_env, tmp_path,
                                                                    monkeypatch):
    from casdb.testing.seaweed import SECRET_KEY

    with pytest.raises(InvalidInput, match="never in the URL"):
        published.remote_add("x", "s3://KEY:SECRET@casdb/p")
    assert "SECRET" not in (published.path / "config").read_text()
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    with pytest.raises(BackendError, match="access denied.*check the credentials") as info:
        Remote.create("s3://casdb/denied")
    assert "wrong-secret" not in str(info.value) and SECRET_KEY not in str(info.value)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    with pytest.raises(BackendError, match="bucket 'absent-bucket' does not exist"):
        Remote.open("s3://absent-bucket/p")
    from casdb.testing.seaweed import free_ports

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_ports(1)[0]}")
    started = time.monotonic()
    with pytest.raises(BackendError, match="cannot connect to the endpoint"):
        Remote.create("s3://casdb/unreachable")
    assert time.monotonic() - started < 60
    assert check(published).ok and published.versions("synth") == ["1.0.0"]


def test_a_stalled_server_times_out(s3_env, monkeypatch):
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []
    stop = threading.Event()

    def accept() -> None:  # accept connections and never answer
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.getsockname()[1]}")
    monkeypatch.setenv("CASDB_S3_TIMEOUT", "1")
    started = time.monotonic()
    try:
        with pytest.raises(BackendError, match="timed out"):
            Remote.open("s3://casdb/stalled")
    finally:
        stop.set()
        thread.join()
        server.close()
        for conn in held:
            conn.close()
    assert time.monotonic() - started < 30


def test_corrupt_or_missing_objects_on_the_remote(published, tmp_path):
    url = str(tmp_path / "remote")
    published.remote_add("origin", url)
    published.push()
    pack = next((tmp_path / "remote" / "packs").glob("*.pack"))
    data = bytearray(pack.read_bytes())
    data[len(data) // 2] ^= 0xFF
    pack.chmod(0o644)
    pack.write_bytes(bytes(data))
    target = Repository.init(tmp_path / "target")
    target.remote_add("origin", url, create=False)
    with pytest.raises(IntegrityError, match="arrived corrupt"):
        target.pull()
    assert target.datasets() == [] and check(target).ok
    assert not [p for p in (target.path / "tmp").iterdir()]
    for idx in (tmp_path / "remote" / "packs").glob("*.idx"):
        idx.unlink()
    with pytest.raises(IntegrityError, match="lacks (object|blob)"):
        target.pull()
    assert target.datasets() == [] and check(target).ok


@pytest.mark.slow  # about 3 s: push, clone and a load from the remote
def test_unsorted_tables_keep_their_order_through_a_folder_remote(tmp_path):
    """Order partitions travel with push and clone, and a load from the remote fetches them."""
    repo = Repository.init(tmp_path / "repo")
    src = make_dataset(tmp_path / "src", files=6, duration=0.05, sampling_rate=8000)
    order = [4, 1, 5, 0, 3, 2]
    write_tables(src, order)
    repo.commit(src, dataset="synth", version="1.0.0")
    url = str(tmp_path / "remote")
    repo.remote_add("origin", url)
    repo.push()
    clone = Repository.clone(url, tmp_path / "clone")
    assert check(clone).ok
    expected = [f"audio/000/{i:06d}.wav" for i in order]
    assert clone.table("synth", "emotion", "1.0.0").index.tolist() == expected
    ds = casdb.load("synth", repo=url, cache_root=tmp_path / "cache", full_path=False)
    assert ds["emotion"].get().index.tolist() == expected
