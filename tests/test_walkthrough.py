"""docs/research.md, "Walkthrough": the block a new user runs, run as it stands (issue 13, item 5)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "research.md"


def _block() -> str:
    text = DOC.read_text()
    section = text[text.index("## Walkthrough"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_the_walkthrough_runs_as_documented(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(_block(), str(DOC), "exec"), {"__name__": "walkthrough"})  # noqa: S102
    out = capsys.readouterr().out
    assert "alpha " in out and "committed crosscorpus 1.0.0" in out
    assert (tmp_path / "walk" / "cache" / "crosscorpus").is_dir()
