"""casdb init."""

from __future__ import annotations

from casdb.testing.cli import run_casdb


def test_init_refuses_a_folder_with_files(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    result = run_casdb("init", str(tmp_path / "x"))
    assert result.returncode == 2 and "not an empty folder" in result.stderr
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"
