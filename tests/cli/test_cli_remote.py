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


def test_push_and_pull_prune_deleted_branches(published, tmp_path):
    import casdb

    url = str(tmp_path / "remote")
    published.remote_add("origin", url)
    published.create_branch("synth", "exp", "1.0.0")
    assert run_casdb("push", repo=published.path).returncode == 0
    other = casdb.Repository.clone(url, tmp_path / "other")
    assert "exp" in other.branches("synth")
    published.delete_branch("synth", "exp")
    done = run_casdb("push", "--prune", repo=published.path)
    assert done.returncode == 0, done.stderr
    assert "deleted synth heads/exp" in done.stdout
    assert "heads/exp" not in casdb.open_repository(url, cache_root=tmp_path / "c").branches(
        "synth")
    done = run_casdb("pull", "--prune", "--json", repo=other.path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["deleted"] == ["synth heads/exp"]
    assert "exp" not in other.branches("synth")
