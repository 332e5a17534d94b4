"""casdb split: protocols from the command line, dry runs, show and log, one-line errors."""

from __future__ import annotations

import pytest

from casdb.testing.cli import run_casdb
from casdb.testing.emocorpus import make_corpus, store_state


@pytest.fixture
def emo(repo, tmp_path):
    repo.commit(make_corpus(tmp_path / "emo", speakers=5, per_cell=3), dataset="emo",
                version="1.0.0")
    return repo


def test_serab_commits_a_version_shown_and_logged(cli, emo):
    result = cli("split", "emo@1.0.0", "--protocol", "serab", "--ratios", "60,20,20",
                 "--seed", "4", "--version", "1.1.0")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines[0]) == 64 and "serab -> serab" in result.output
    assert "committed emo 1.1.0" in result.output and "0 new files (0 B)" in result.output
    show = cli("show", "emo@1.1.0").output
    assert "serab.test: test - serab (serab): test, seed 4" in show
    assert "split protocols (1)" in show and "serab: serab -> serab, 1 fold, seed 4" in show
    assert "split_id" not in show and "serab.train" in show and "split serab.train" in show
    log = cli("log", "emo").output
    assert "split emo@1.0.0 by serab (serab, 1 fold, seed 4)" in log


def test_emobox_dry_run_prints_folds_partitions_speakers_labels(cli, emo):
    before = store_state(emo)
    result = cli("split", "emo@1.0.0", "--protocol", "emobox", "--dry-run")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "emobox -> loso" in out and "5 speakers (4-6)" in out
    for fold in range(1, 6):
        assert f"fold{fold}    test        12 rows     1 speakers (spk{fold - 1:02d})" in out
    assert "angry=3 happy=3 neutral=3 sad=3" in out and "dry run: nothing committed" in out
    assert store_state(emo) == before


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--protocol", "nope", "--version", "2"], 2, "unknown protocol 'nope'"),
    (["--protocol", "loso", "--speaker", "who", "--version", "2"], 2, "no speaker column 'who'"),
    (["--protocol", "loso", "--table", "gone", "--version", "2"], 4, "no table 'gone'"),
    (["--protocol", "loso", "--label", "valence", "--version", "2"], 2, "column 'valence'"),
    (["--protocol", "kfold", "--folds", "9", "--version", "2"], 2, "9 folds need at least 9"),
    (["--protocol", "serab", "--ratios", "60,30,20", "--version", "2"], 2, "sum to 1"),
    (["--protocol", "serab", "--ratios", "60,x,20", "--version", "2"], 2, "separated by commas"),
    (["--protocol", "serab", "--ratios", "80,-10,30", "--version", "2"], 2, "negative"),
    (["--protocol", "loso", "--version", "1.0.0"], 5, "emo 1.0.0 exists already"),
    (["--protocol", "loso"], 2, "give a new version"),
])
def test_bad_input_is_one_line_and_stores_nothing(emo, args, code, message):
    before = store_state(emo)
    done = run_casdb("split", "emo@1.0.0", *args, repo=emo.path)
    assert done.returncode == code, done.stderr
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert store_state(emo) == before


def test_balanced_from_the_command_line(cli, emo):
    result = cli("split", "emo@1.0.0", "-p", "balanced", "--items", "8", "--labels",
                 "angry,sad", "--where", "agreement>=0.5", "--branch", "bench")
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.split()[:2] == ["fold1", "test"])
    assert line.split()[2:4] == ["8", "rows"] and line.endswith("angry=4 sad=4")
    assert "balanced.test" in cli("show", "emo@bench").output
