"""Shell completion (click's mechanism): commands, datasets, NAME@VERSION, versions, branches
and remotes from the repository of --repo / CASDB_REPO; never an error without one."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from casdb.cli import cli


def complete(line: str, env: dict[str, str] | None = None) -> list[str]:
    """What bash would be offered for the last word of ``line`` (``""`` after a space)."""
    words = line.split()
    cword = len(words) if line.endswith(" ") else len(words) - 1
    result = CliRunner().invoke(cli, [], prog_name="casdb", env={
        "_CASDB_COMPLETE": "bash_complete", "COMP_WORDS": line, "COMP_CWORD": str(cword),
        **(env or {})})
    assert result.exit_code == 0, result.output
    return [item.split(",", 1)[1] for item in result.stdout.splitlines() if item]


@pytest.fixture
def repo(published):
    published.create_branch("synth", "fix", "1.0.0")
    published.tag("synth", "main", "1.1.0")
    published.remote_add("origin", str(published.path.parent / "remote"))
    return published


def test_commands_and_options():
    assert complete("casdb br") == ["branch"]
    assert set(complete("casdb ")) >= {"branch", "tag", "show", "checkout", "push"}
    assert "--delete" in complete("casdb branch x --")


def test_datasets_versions_branches_remotes(repo):
    r = f"casdb --repo {repo.path} "
    assert complete(r + "show sy") == ["synth"]
    assert complete(r + "show synth@") == ["synth@1.1.0", "synth@1.0.0", "synth@fix",
                                           "synth@main"]
    assert complete(r + "checkout synth@1.") == ["synth@1.1.0", "synth@1.0.0"]
    assert complete(r + "tag synth@f") == ["synth@fix"]
    assert complete(r + "log ") == ["synth"]
    assert complete(r + "diff synth 1.0") == ["1.0.0"]
    assert complete(r + "branch synth --delete ") == ["fix", "main"]
    assert complete(r + "branch synth new --from m") == ["main"]
    assert complete(r + "tag synth --delete 1.1") == ["1.1.0"]
    assert complete(r + "push o") == ["origin"]
    assert complete(r + "branch synth ") == []  # a new branch's name: nothing to offer
    assert complete(r + "remote add ") == []  # a new remote's name either


def test_the_repository_comes_from_the_environment(repo):
    assert complete("casdb show s", env={"CASDB_REPO": str(repo.path)}) == ["synth"]


@pytest.mark.parametrize("where", ["missing", "empty", "damaged", "s3://bucket/prefix"])
def test_no_usable_repository_completes_nothing(tmp_path, where):
    path = tmp_path / where
    if where == "empty":
        path.mkdir()
    elif where == "damaged":
        path.mkdir()
        (path / "config").write_bytes(b"\x00not a config")
        (path / "refs").write_text("a file where a folder belongs")
    repo = where if "://" in where else str(path)
    for line in ("show s", "show synth@", "diff synth ", "branch synth --delete ", "push "):
        assert complete(f"casdb --repo {repo} {line}") == []


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_shell_scripts_are_generated(shell):
    result = CliRunner().invoke(cli, [], prog_name="casdb",
                                env={"_CASDB_COMPLETE": f"{shell}_source"})
    assert result.exit_code == 0 and "_CASDB_COMPLETE" in result.stdout
