"""Crashes, full disks and concurrent writers: the repository stays consistent, nothing is lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from casdb.api import Repository
from casdb.core.errors import StorageError
from casdb.maintenance.fsck import check
from casdb.testing.cli import CASDB
from casdb.testing.files import age
from casdb.testing.synth import make_dataset, wav_header


def big_source(root: Path, files: int, size: int, seed: int) -> Path:
    """A dataset whose media are random bytes behind a WAV header (a commit opens each file's
    header, never its samples)."""
    make_dataset(root, files=files, audio=False)
    rng = random.Random(seed)
    for i in range(files):
        path = root / f"audio/{i // 1000:03d}/{i:06d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        body = size - 44 - (size % 2)
        path.write_bytes(wav_header(body) + rng.randbytes(body))
    age(root)
    return root


def commit_process(repo: Path, source: Path, version: str) -> subprocess.Popen:
    return subprocess.Popen(
        [CASDB, "--repo", str(repo), "commit", str(source), "--dataset", "big", "--version", version],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.mark.slow
def test_sigkill_at_random_points_leaves_a_consistent_repository(tmp_path):
    repo = Repository.init(tmp_path / "repo")
    first = repo.commit(big_source(tmp_path / "v1", 20, 100_000, 1), dataset="big", version="1")
    source = big_source(tmp_path / "v2", 80, 1_500_000, 2)
    rng = random.Random(2026)
    interrupted = 0
    for attempt in range(6):
        proc = commit_process(repo.path, source, "2")
        # Killed at a random moment once the commit has staged something (a fixed delay raced
        # with start-up, and the commit got faster than the delays): up to 1.5 s later.
        staging = repo.path / "tmp"
        before = set(os.listdir(staging)) if staging.is_dir() else set()  # earlier attempts'
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline and not (
                staging.is_dir() and set(os.listdir(staging)) - before):
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 1.5) if attempt < 3 else rng.uniform(0.0, 0.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        repo = Repository(repo.path)
        report = check(repo)
        assert report.ok, (attempt, report.problems)
        head = repo.resolve("big")
        # Either the previous head is intact, or the commit completed before the kill.
        assert head == first.id or repo.versions("big") == ["1", "2"], attempt
        if head != first.id:
            break
        interrupted += bool(report.temporary_files or report.unreachable_blobs)
    assert interrupted >= 1  # at least one kill landed mid-commit, after some blobs were written
    final = subprocess.run([CASDB, "--repo", str(repo.path), "commit", str(source), "-d", "big",
                            "-v", "3"], capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    assert check(Repository(repo.path)).ok


@pytest.mark.slow
def test_two_processes_committing_one_dataset(tmp_path):
    repo = Repository.init(tmp_path / "repo")
    base = repo.commit(big_source(tmp_path / "v1", 5, 10_000, 1), dataset="big", version="1")
    a = big_source(tmp_path / "a", 60, 1_000_000, 10)
    b = big_source(tmp_path / "b", 60, 1_000_000, 20)
    procs = [commit_process(repo.path, a, "2a"), commit_process(repo.path, b, "2b")]
    results = [(p.wait(), p.stdout.read(), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 6], results  # one wins, the other gets Conflict
    loser = next(r for r in results if r[0] == 6)
    assert "moved" in loser[2] and "Traceback" not in loser[2]
    winner_id = next(r for r in results if r[0] == 0)[1].splitlines()[0]
    repo = Repository(repo.path)
    assert repo.resolve("big") == winner_id
    assert repo.get_commit(winner_id).parents == (base.id,)
    assert check(repo).ok
    # The loser retries on the new head and succeeds.
    retry = a if repo.versions("big") == ["1", "2b"] else b
    version = "2a" if retry is a else "2b"
    assert repo.commit(retry, dataset="big", version=version).parent == winner_id


def test_same_version_from_two_processes(tmp_path):
    repo = Repository.init(tmp_path / "repo")
    a = big_source(tmp_path / "a", 30, 300_000, 1)
    b = big_source(tmp_path / "b", 30, 300_000, 2)
    procs = [commit_process(repo.path, a, "1"), commit_process(repo.path, b, "1")]
    codes = sorted(p.wait() for p in procs)
    assert codes[0] == 0 and codes[1] in (5, 6), codes  # AlreadyExists or Conflict
    assert check(Repository(repo.path)).ok
    assert Repository(repo.path).versions("big") == ["1"]


def test_write_limit_mid_commit_is_a_storage_error(tmp_path):
    """The kernel refuses a write mid-commit (RLIMIT_FSIZE); refs and objects stay intact."""
    repo = Repository.init(tmp_path / "repo")
    first = repo.commit(big_source(tmp_path / "v1", 5, 10_000, 1), dataset="big", version="1")
    source = big_source(tmp_path / "v2", 10, 300_000, 2)
    code = textwrap.dedent(f"""
        import resource, signal, sys
        from casdb.api import Repository
        from casdb.core.errors import StorageError
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
        try:
            Repository({str(repo.path)!r}).commit({str(source)!r}, dataset="big", version="2")
        except StorageError as exc:
            print(exc); sys.exit(8)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 8, result.stderr
    assert "File too large" in result.stdout
    repo = Repository(repo.path)
    assert repo.resolve("big") == first.id and repo.versions("big") == ["1"]
    assert check(repo).ok
    assert not [p for p in (repo.path / "tmp").iterdir()]


@pytest.fixture
def small_filesystem(tmpfs):
    """A real 3 MB tmpfs (the RLIMIT_FSIZE test covers write failures where none can be had)."""
    return tmpfs("3m")


def test_disk_full_mid_commit(tmp_path, small_filesystem):
    repo = Repository.init(small_filesystem / "repo")
    first = repo.commit(big_source(tmp_path / "v1", 5, 10_000, 1), dataset="big", version="1")
    with pytest.raises(StorageError, match="No space left on device"):
        repo.commit(big_source(tmp_path / "v2", 20, 400_000, 2), dataset="big", version="2")
    repo = Repository(repo.path)
    assert repo.resolve("big") == first.id and repo.versions("big") == ["1"]
    assert check(repo).ok
    assert not [p for p in (repo.path / "tmp").iterdir()]
    # Once there is room again (a smaller version), committing works.
    repo.commit(big_source(tmp_path / "v3", 5, 10_000, 3), dataset="big", version="3")
    assert check(repo).ok and os.path.exists(repo.path / "config")
