"""casdb tag: publish a version on an existing commit, list, delete with confirmation; a tag
that exists (exit 5) and other bad input change nothing."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from casdb.cli import cli


def run(repo, *args: str, input: str | None = None):
    return CliRunner().invoke(cli, ["--repo", str(repo.path), *args], input=input)


def refs_on_disk(repo) -> dict[str, bytes]:
    root = repo.path / "refs"
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_tag_list_and_delete_with_confirmation(published):
    first = published.resolve("synth", "1.0.0")
    for ref, version in [(f"synth@{first[:8]}", "1.0.1"), ("synth@main", "1.0.2"),
                         ("synth", "1.0.3"), ("synth@1.0.0", "1.0.4")]:
        result = run(published, "tag", ref, version)
        assert result.exit_code == 0 and result.stdout == f"tagged synth {version} at {first[:10]}\n"
    listed = run(published, "tag", "synth").stdout.split()
    assert listed == [w for v in ("1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4")
                      for w in (v, first[:10])]
    refused = run(published, "tag", "synth", "--delete", "1.0.1", input="n\n")
    assert refused.exit_code == 1 and "1.0.1" in published.versions("synth")
    assert "delete version 1.0.1 of synth" in refused.stderr
    agreed = run(published, "tag", "synth", "--delete", "1.0.1", input="y\n")
    assert agreed.exit_code == 0 and "deleted version 1.0.1 of synth" in agreed.stdout
    assert run(published, "tag", "synth", "-d", "1.0.2", "--yes").exit_code == 0
    assert published.versions("synth") == ["1.0.0", "1.0.3", "1.0.4"]


@pytest.mark.parametrize(("args", "code", "message"), [
    (["synth@main", "1.0.0"], 5, "synth 1.0.0 exists already"),
    (["synth@nope", "2.0.0"], 4, "no version, branch or commit 'nope'"),
    (["synth", "bad/version"], 2, "invalid version"),
    (["nosuch@main", "1.0.0"], 4, "no dataset 'nosuch'"),
    (["synth", "--delete", "9.9.9", "--yes"], 4, "has no version '9.9.9'"),
    (["synth", "--delete", "1.0.0", "--yes"], 2, "last ref of synth"),
    (["synth@main", "--delete", "1.0.0"], 2, "--delete takes the dataset NAME only"),
    (["synth@main"], 2, "missing VERSION"),
])
def test_bad_input(published, args, code, message):
    if "last ref" in message:
        published.delete_branch("synth", "main", force=True)
    before = refs_on_disk(published)
    result = run(published, "tag", *args)
    assert result.exit_code == code, result.output
    assert result.stderr.startswith("casdb: error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1 and not result.stdout
    assert refs_on_disk(published) == before
