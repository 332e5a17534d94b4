"""casdb cache ls, verify and evict: the checkout cache."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

import casdb
from casdb.testing.cli import run_casdb
from casdb.testing.corrupt import flip_byte


def test_cache_verify_never_repairs_through_a_symlinked_folder(published, tmp_path):
    # A user moved a cached folder's audio/ elsewhere and left a symlink; the files there are
    # theirs now (edited). `cache verify` must neither delete them nor write there.
    root = tmp_path / "c"
    ds = casdb.load("synth", "1.0.0", repo=published, cache_root=root)
    import shutil

    audio = Path(ds.root) / "audio"
    mine = tmp_path / "mine"
    shutil.copytree(audio, mine, copy_function=shutil.copyfile)  # copies, not links
    for f in mine.rglob("*.wav"):
        f.chmod(0o644)
        f.write_bytes(b"my edit of " + f.name.encode())
    for dirpath, _, _ in os.walk(audio):
        os.chmod(dirpath, 0o755)
    shutil.rmtree(audio)
    os.symlink(mine, audio)
    before = {p: p.read_bytes() for p in mine.rglob("*.wav")}
    done = run_casdb("cache", "verify", "--cache", str(root), repo=published.path)
    assert "Traceback" not in done.stderr
    assert {p: p.read_bytes() for p in mine.rglob("*.wav")} == before
    assert done.returncode == 7 and "in the way" in done.stdout


@pytest.mark.parametrize("name", ["media.parquet", "files.json"])
def test_one_damaged_folder_does_not_stop_cache_verify(published, tmp_path, name):
    root = tmp_path / "c"
    a = casdb.load("synth", "1.0.0", repo=published, cache_root=root)
    b = casdb.load("synth", "1.0.0", repo=published, cache_root=root, flavour={"bit_depth": 24})
    (Path(a.root) / ".casdb" / name).write_bytes(b"garbage")
    flip_byte(sorted(Path(b.root).rglob("*.wav"))[0], random.Random(1))
    done = run_casdb("cache", "verify", "--cache", str(root), repo=published.path)
    assert "Traceback" not in done.stderr
    assert "damaged" in done.stdout  # the broken folder is reported ...
    assert "repaired" in done.stdout  # ... and the other one still verified and repaired


def test_evict_keeps_gc_as_a_hidden_alias(published, tmp_path):
    root = tmp_path / "c"
    casdb.load("synth", "1.0.0", repo=published, cache_root=root)
    assert "evict" in run_casdb("cache", "--help").stdout
    assert " gc " not in run_casdb("cache", "--help").stdout
    done = run_casdb("cache", "gc", "--max-size", "0", "--dry-run", "--cache", str(root))
    assert done.returncode == 0, done.stderr
    assert "would remove" in done.stdout
    assert casdb.cache_ls(cache_root=root)  # a dry run: still there
    done = run_casdb("cache", "evict", "--max-size", "0", "--cache", str(root))
    assert done.returncode == 0, done.stderr
    assert not casdb.cache_ls(cache_root=root)
