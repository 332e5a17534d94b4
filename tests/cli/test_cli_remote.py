"""Remotes: casdb remote add/ls, push, pull and clone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from casdb.testing.cli import run_casdb


@pytest.mark.slow  # about 3.5 s: CLI subprocesses against a folder and S3
def test_cli_remote_push_pull_clone(published, tmp_path):
    url = str(tmp_path / "remote")
    repo = str(published.path)
    done = run_casdb("remote", "add", "origin", url, repo=published.path)
    assert done.returncode == 0 and "added remote origin" in done.stdout
    assert run_casdb("remote", "ls", repo=published.path).stdout.strip() == f"origin\t{url}"
    done = run_casdb("push", repo=published.path)
    assert done.returncode == 0 and "12 blobs" in done.stdout and "synth tags/1.0.0" in done.stdout
    done = run_casdb("clone", url, str(tmp_path / "c"))
    assert done.returncode == 0 and "cloned 1 datasets" in done.stdout
    done = run_casdb("pull", repo=tmp_path / "c")
    assert done.returncode == 0 and "no refs changed" in done.stdout
    for args, code, message in (
        (["push", "nowhere"], 4, "no remote 'nowhere'"),
        (["remote", "add", "origin", url], 5, "exists already"),
        (["remote", "add", "s", "s3://AK:SK@b/p"], 2, "never in the URL"),
        (["clone", str(tmp_path / "not-a-remote"), str(tmp_path / "d")], 4, "no casdb remote"),
    ):
        done = run_casdb(*args, repo=Path(repo))
        assert done.returncode == code and message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr and "SK@" not in done.stderr
    assert not (tmp_path / "d").exists()
    assert json.loads((published.path / "remotes.json").read_text()) == {"origin": url}
