"""The command group itself (casdb/cli/__init__.py): errors as one line with the error's exit
code, a missing repository, and a --help that imports no heavy library."""

from __future__ import annotations

import os
import subprocess
import sys

from casdb.store.objectstore import object_key
from casdb.testing.cli import run_casdb
from casdb.testing.corrupt import flip_bit_at


def test_errors_are_one_line_with_the_error_exit_code(cli, source):
    cli("commit", str(source), "-d", "synth", "-v", "1")
    cases = [
        (["log", "nope"], 4, "no dataset 'nope'"),
        (["show", "synth@9"], 4, "has no version"),
        (["commit", str(source), "-d", "synth", "-v", "1"], 5, "exists already"),
        (["commit", str(source), "-d", "bad name"], 2, "invalid dataset name"),
        (["diff", "synth", "1", "2"], 4, "has no version"),
    ]
    for args, code, message in cases:
        result = cli(*args)
        assert result.exit_code == code, (args, result.output)
        assert result.stderr.startswith("casdb: error: ") and message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert "Traceback" not in result.output


def test_subprocess_round_trip_and_corruption(tmp_path, source):
    repo = tmp_path / "r"
    assert run_casdb("init", str(repo)).returncode == 0
    assert run_casdb("init", str(repo)).returncode == 5
    done = run_casdb("commit", str(source), "--dataset", "synth", "--version", "1", repo=repo)
    assert done.returncode == 0, done.stderr
    commit_id = done.stdout.splitlines()[0]
    assert run_casdb("fsck", repo=repo).returncode == 0
    flip_bit_at(repo / object_key(commit_id))
    for args in (["fsck"], ["log", "synth"]):
        result = run_casdb(*args, repo=repo)
        assert result.returncode == 7, result
        assert "Traceback" not in result.stderr and "corrupt" in result.stderr


def test_missing_repository(tmp_path):
    result = run_casdb("ls", repo=tmp_path / "nothing")
    assert result.returncode == 4 and "casdb init" in result.stderr


def test_help_does_not_import_heavy_libraries():
    code = ("import sys; from casdb.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('pandas', 'pyarrow', 'librosa', 'soundfile', 'numpy', 'scipy', 'pedalboard', 'colorednoise') if m in sys.modules]\n"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "COLUMNS": "100"})
    assert out.stdout.strip().splitlines()[-1] == "[]", out
