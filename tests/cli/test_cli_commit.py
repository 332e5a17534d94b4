"""casdb commit: what it refuses, and how it says so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import casdb
from casdb.api import Repository
from casdb.testing.cli import CASDB
from casdb.testing.files import put
from casdb.testing.garbage import nothing_stored
from casdb.testing.synth import make_dataset

BAD = "audio/000/000001.wav"  # the media file made undecodable (as in tests/test_undecodable.py)


def test_cli_refuses_with_exit_code_3_and_one_line(tmp_path, src):
    (src / BAD).write_text("hello")
    repo = Repository.init(tmp_path / "repo").path
    env = {**os.environ, "PYTHONPATH": str(Path(casdb.__file__).parents[1])}
    casdb_cmd = [sys.executable, "-c", "from casdb.cli import cli; cli()"]
    out = subprocess.run([*casdb_cmd, "--repo", str(repo), "commit", str(src), "-d", "d"],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 3
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert BAD in out.stderr
    ok = subprocess.run([*casdb_cmd, "--repo", str(repo), "commit", str(src), "-d", "d",
                         "--allow-undecodable"], capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr


def test_cli_refuses_a_name_that_is_not_utf8_in_one_line(repo, tmp_path):
    src = make_dataset(tmp_path / "src", files=2, duration=0.1, sampling_rate=8000)
    put(src, b"audio", b"\xff\xfe.wav")
    done = subprocess.run([CASDB, "--repo", str(repo.path), "commit", str(src), "--dataset", "d",
                           "--version", "1"], capture_output=True, text=True)
    assert done.returncode == 3, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert r"b'audio/\xff\xfe.wav'" in done.stderr
    assert nothing_stored(repo)


def test_cli_nothing_to_commit_exits_0_and_allow_empty_records(repo, tmp_path):
    src = make_dataset(tmp_path / "src", files=2, duration=0.1, sampling_rate=8000)
    base = [CASDB, "--repo", str(repo.path), "commit", str(src), "--dataset", "d"]
    first = subprocess.run([*base, "--version", "1"], capture_output=True, text=True, check=True)
    head = first.stdout.split()[0]
    same = subprocess.run(base, capture_output=True, text=True)
    assert same.returncode == 0, same.stderr
    assert same.stdout.splitlines() == [head, f"nothing to commit, d is at 1 ({head[:10]})"]
    assert repo.branches("d") == {"main": head}
    empty = subprocess.run([*base, "--allow-empty"], capture_output=True, text=True, check=True)
    new = empty.stdout.split()[0]
    assert new != head and "committed d (main)" in empty.stdout
    assert repo.branches("d") == {"main": new} and repo.get_commit(new).parents == (head,)
