"""The CLI, in-process through click's runner and as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

from casdb.store.objectstore import object_key
from casdb.testing.cli import run_casdb
from casdb.testing.corrupt import flip_bit_at


def test_commit_log_ls_show_diff_fsck(cli, source, repo):
    result = cli("commit", str(source), "--dataset", "synth", "--version", "1.0.0", "-m", "first")
    assert result.exit_code == 0, result.output
    first_id = result.output.splitlines()[0]
    assert len(first_id) == 64 and "committed synth 1.0.0" in result.output
    (source / "extra.txt").write_text("notes")
    assert cli("commit", str(source), "-d", "synth", "-v", "1.1.0", "-m", "notes").exit_code == 0

    log = cli("log", "synth").output
    assert log.index("(1.1.0)") < log.index("(1.0.0)")
    assert "+1 added" in log and "first" in log and first_id[:10] in log
    assert cli("ls").output.split() == ["synth", "1.0.0", "1.1.0"]
    show = cli("show", "synth@1.0.0").output
    assert "synth 1.0.0" in show and "emotion" in show and "12 files" in show
    diff = cli("diff", "synth", "1.0.0", "1.1.0").output
    assert "1 added" in diff and "+ extra.txt" in diff and "header: unchanged" in diff
    fsck = cli("fsck")
    assert fsck.exit_code == 0 and fsck.output.rstrip().endswith("ok")


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
            "heavy = [m for m in ('pandas', 'pyarrow', 'librosa', 'soundfile', 'numpy') if m in sys.modules]\n"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "COLUMNS": "100"})
    assert out.stdout.strip().splitlines()[-1] == "[]", out


def test_fsck_reports_a_damaged_ref_and_checks_the_rest(cli, source, repo):
    cli("commit", str(source), "-d", "good", "-v", "1")
    cli("commit", str(source), "-d", "bad", "-v", "1")
    (repo.path / "refs" / "bad" / "heads" / "main").write_text("deadbeef")
    result = cli("fsck")
    assert result.exit_code == 7
    assert "damaged" in result.stderr and "1 problem found" in result.stderr
    assert "checked 0 objects" not in result.output


def test_show_card_and_row_diff(cli, source):
    from casdb.testing.synth import write_tables

    cli("commit", str(source), "-d", "synth", "-v", "1")
    write_tables(source, range(11), seed=1)
    (source / "db.yaml").write_text((source / "db.yaml").read_text().replace("CC0-1.0", "MIT"))
    cli("commit", str(source), "-d", "synth", "-v", "2")
    show = cli("show", "synth@2").output
    for text in ("license:      MIT", "12 files", "2.4 s of audio", "sampling rates: 8000 (12)",
                 "emotion [emotion]", "labels anger, happiness, neutral, sadness",
                 "labels from table speaker", "range [0.0, 1.0]", "train: train", "gold: human"):
        assert text in show, text
    diff = cli("diff", "synth", "1", "2").output
    assert "changed emotion (12 -> 11 rows): +0 added, -1 removed, ~11 changed (emotion: 11)" in diff
    assert "- audio/000/000011.wav" in diff and "header: license" in diff
    assert "emotion: 'anger' -> 'happiness'" in diff


def test_init_refuses_a_folder_with_files(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    result = run_casdb("init", str(tmp_path / "x"))
    assert result.returncode == 2 and "not an empty folder" in result.stderr
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"
