"""casdb branch: list, create from versions, branches and commit prefixes, delete; bad input as
one-line errors with their exit codes, nothing changed."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from casdb.cli import cli


def run(repo, *args: str, input: str | None = None):
    return CliRunner().invoke(cli, ["--repo", str(repo.path), *args], input=input)


def refs_on_disk(repo) -> dict[str, bytes]:
    root = repo.path / "refs"
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_list_create_delete(published):
    first = published.resolve("synth", "1.0.0")
    listed = run(published, "branch", "synth")
    assert listed.exit_code == 0 and listed.stdout.split() == ["main", first[:10], "1.0.0"]
    made = run(published, "branch", "synth", "fix", "--from", "1.0.0")
    assert made.exit_code == 0 and made.stdout == f"created branch fix of synth at {first[:10]}\n"
    assert run(published, "branch", "synth", "exp", "--from", first[:7]).exit_code == 0
    assert run(published, "branch", "synth", "head").exit_code == 0  # from main's head
    lines = run(published, "branch", "synth").stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["exp", "fix", "head", "main"]
    assert all(line.split()[1:] == [first[:10], "1.0.0"] for line in lines)
    gone = run(published, "branch", "synth", "--delete", "fix")
    assert gone.exit_code == 0 and gone.stdout == f"deleted branch fix of synth (was {first[:10]})\n"
    assert sorted(published.branches("synth")) == ["exp", "head", "main"]
    assert run(published, "branch", "synth", "-d", "main", "--force").exit_code == 0
    assert sorted(published.branches("synth")) == ["exp", "head"]


@pytest.mark.parametrize(("args", "code", "message"), [
    (["synth", "main", "--from", "1.0.0"], 5, "has a branch 'main' already"),
    (["synth", "x", "--from", "9.9"], 4, "no version, branch or commit '9.9'"),
    (["synth", "x", "--from", "abcdef12"], 4, "no version, branch or commit"),
    (["synth", "bad..name"], 2, "invalid branch name"),
    (["synth", "--delete", "main"], 2, "refusing to delete the main branch"),
    (["synth", "--delete", "nope"], 4, "has no branch 'nope'"),
    (["synth", "--delete", "main", "x"], 2, "--delete takes no NEW branch"),
    (["synth", "--from", "1.0.0"], 2, "need a NEW branch"),
    (["nosuch"], 4, "no dataset 'nosuch'"),
])
def test_bad_input(published, args, code, message):
    before = refs_on_disk(published)
    result = run(published, "branch", *args)
    assert result.exit_code == code, result.output
    assert result.stderr.startswith("casdb: error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1 and not result.stdout  # one line, no traceback
    assert refs_on_disk(published) == before
