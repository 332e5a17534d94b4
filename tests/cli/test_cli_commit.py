"""casdb commit: what it refuses, and how it says so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import casdb
from casdb.history.repository import Repository

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
