"""Maintenance: casdb fsck, gc, purge and purged."""

from __future__ import annotations

import os

import pytest

import casdb
from casdb.core.errors import InvalidInput, NotFound
from casdb.maintenance.gc import collect, parse_duration
from casdb.testing.cli import run_casdb
from casdb.testing.files import make_old
from casdb.testing.garbage import garbage
from casdb.testing.purging import SECRET


def test_fsck_reports_a_damaged_ref_and_checks_the_rest(cli, source, repo):
    cli("commit", str(source), "-d", "good", "-v", "1")
    cli("commit", str(source), "-d", "bad", "-v", "1")
    (repo.path / "refs" / "bad" / "heads" / "main").write_text("deadbeef")
    result = cli("fsck")
    assert result.exit_code == 7
    assert "damaged" in result.stderr and "1 problem found" in result.stderr
    assert "checked 0 objects" not in result.output


def test_durations_and_cli(repo, source, tmp_path):
    assert parse_duration("15m") == 900 and parse_duration("1d") == 86400
    with pytest.raises(InvalidInput, match="invalid duration"):
        parse_duration("soon")
    with pytest.raises(InvalidInput, match="negative"):
        collect(repo, grace=-1)
    repo.commit(source, dataset="synth", version="1")
    garbage(repo, tmp_path)
    make_old(repo.path / "objects")
    make_old(repo.path / "blobs")
    done = run_casdb("gc", "--dry-run", repo=repo.path)
    assert done.returncode == 0 and done.stdout.startswith("would delete ") and "5 blobs" in done.stdout
    done = run_casdb("gc", repo=repo.path)
    assert done.returncode == 0 and done.stdout.startswith("deleted ") and "5 blobs" in done.stdout
    done = run_casdb("gc", "--grace", "later", repo=repo.path)
    assert done.returncode == 2 and "invalid duration" in done.stderr


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


def test_purge_cli_lists_dest_checkouts(small, tmp_path, cli):
    repo, _ = small
    dest = tmp_path / "mine"
    done = cli("checkout", "synth@1.0.0", str(dest), "--cache", str(tmp_path / "cache"))
    assert done.exit_code == 0, done.output
    other = tmp_path / "other-cache"
    casdb.load("synth", "1.0.0", repo=repo, cache_root=other)
    done = cli("purge", "synth", SECRET, "--reason", "consent", "--dry-run")
    assert done.exit_code == 0 and f"  {dest}" in done.stdout
    done = cli("purge", "synth", SECRET, "--reason", "consent", "--cache", str(tmp_path / "cache"))
    assert done.exit_code == 0, done.output
    assert "from 2 cache roots" in done.stdout and f"  cache {other}" in done.stdout
    assert "1 checkout folder still holds purged files; delete it yourself:" in done.stdout
    assert f"  {dest}\n" in done.stdout and (dest / SECRET).exists()
