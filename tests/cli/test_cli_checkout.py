"""casdb checkout: into the cache or a folder, flavours, and what it refuses."""

from __future__ import annotations

import os
import random

import pytest

from casdb.testing.cli import run_casdb
from casdb.testing.corrupt import flip_byte
from casdb.testing.files import media_on_disk
from casdb.testing.synth import media_blobs


@pytest.mark.slow  # about 5 s: several CLI subprocesses
def test_cli_checkout_and_cache(two_versions, tmp_path):
    from casdb.testing.cli import run_casdb

    env = {**os.environ, "CASDB_CACHE": str(tmp_path / "cache")}
    done = run_casdb("checkout", "synth@1.0.0", "--tables", "emotion", repo=two_versions.path,
                     env=env)
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "cache" / "synth" / "1.0.0" / "original"
    assert done.stdout.splitlines()[-1] == str(folder)
    assert "12 files placed" in done.stderr
    done = run_casdb("checkout", "synth", str(tmp_path / "d"), "--only-metadata",
                     repo=two_versions.path)
    assert done.stdout.splitlines()[-1] == str(tmp_path / "d") and not media_on_disk(tmp_path / "d")
    done = run_casdb("cache", "ls", env=env)
    assert done.returncode == 0 and "synth" in done.stdout and "partial" in done.stdout
    done = run_casdb("cache", "verify", repo=two_versions.path, env=env)
    assert done.returncode == 0 and "0 broken" in done.stderr
    for args, code, message in (
        (["checkout", "synth@9"], 4, "no version, branch or commit '9'"),
        (["checkout", "synth", "--tables", "nope"], 4, "no table 'nope'"),
        (["checkout", "synth", "--media", "["], 2, "invalid media regular expression"),
        (["checkout", "synth", str(tmp_path / "cache")], 5, "not empty"),
    ):
        done = run_casdb(*args, repo=two_versions.path, env=env)
        assert done.returncode == code and message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr


@pytest.mark.slow  # about 3 s: CLI subprocesses
def test_cli_flavour_options(stereo, tmp_path):
    from casdb.testing.cli import run_casdb

    env = {**os.environ, "CASDB_CACHE": str(tmp_path / "c")}
    done = run_casdb("checkout", "synth@1.0.0", "--sampling-rate", "16000", "--mixdown",
                     "--format", "flac", "--bit-depth", "24", repo=stereo.path, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].endswith("synth/1.0.0/16000hz-mix-24bit-flac")
    assert "converted 8 files" in done.stderr
    for args, message in ((["--sampling-rate", "0"], "invalid sampling rate 0"),
                          (["--bit-depth", "12"], "invalid bit depth 12"),
                          (["--format", "ogg"], "invalid format 'ogg'"),
                          (["--channels", "5"], "channel 5 is out of range"),
                          (["--channels", "a,b"], "invalid channels 'a,b'")):
        done = run_casdb("checkout", "synth", *args, repo=stereo.path, env=env)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)


def test_cli_refuses_a_damaged_blob_with_exit_code_7(published, tmp_path):
    files = media_blobs(published)
    flip_byte(published.store.blob_path(next(iter(files.values()))), random.Random(1))
    done = run_casdb("checkout", "synth@1.0.0", "--cache", str(tmp_path / "c"),
                     repo=published.path)
    assert done.returncode == 7
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "casdb fsck" in done.stderr
