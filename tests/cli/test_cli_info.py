"""casdb info NAME[@VERSION] --what PART [--json]: each part, from a repository and from a
remote URL (no blob fetched), and bad input as one line."""

from __future__ import annotations

import json

import pytest
import yaml

from casdb import about
from casdb.testing.cli import run_casdb


@pytest.fixture
def cli(published):
    """Run the CLI in-process on ``published``."""
    from click.testing import CliRunner

    from casdb.cli import cli as group

    def run(*args: str):
        return CliRunner().invoke(group, ["--repo", str(published.path), *args])

    return run


PARTS = ("header", "tables", "misc-tables", "schemes", "splits", "raters", "attachments",
         "media", "duration", "files", "formats", "sampling-rates", "channels", "bit-depths",
         "dependencies", "versions")


@pytest.mark.parametrize("what", PARTS)
def test_each_part_as_json_is_what_python_gives(cli, published, what):
    done = cli("info", "synth@1.0.0", "--what", what, "--json")
    assert done.exit_code == 0, done.output
    value = json.loads(done.output)
    repo = published
    if what == "versions":
        assert value == about.versions("synth", repo=repo)
    elif what == "duration":
        assert value == pytest.approx(about.duration("synth", repo=repo).total_seconds())
    elif what == "dependencies":
        frame = about.dependencies("synth", repo=repo)
        assert [row["file"] for row in value] == list(frame.index)
        assert [row["blob"] for row in value] == list(frame["blob"])
    elif what in ("formats", "sampling-rates", "channels", "bit-depths"):
        assert value == sorted(getattr(about, what.replace("-", "_"))("synth", repo=repo))
    else:
        assert value == getattr(about, what.replace("-", "_"))("synth", "1.0.0", repo=repo)


def test_text_output(cli, published):
    done = cli("info", "synth")
    assert done.exit_code == 0 and yaml.safe_load(done.output) == about.header("synth",
                                                                                repo=published)
    files = cli("info", "synth@1.0.0", "--what", "files").output.splitlines()
    assert files == about.files("synth", repo=published) and len(files) == 12
    assert cli("info", "synth", "--what", "sampling-rates").output == "8000\n"
    assert cli("info", "synth", "--what", "duration").output.endswith("(2.400 s)\n")
    deps = cli("info", "synth", "--what", "dependencies").output.splitlines()
    assert deps[0].split() == ["blob", "bytes", "format", "sampling_rate", "channels",
                               "bit_depth", "duration", "type", "removed"]
    assert len(deps) == 2 + 12  # the header's two lines, then one per file


def test_bad_input_is_one_line(cli, published):
    for args, text in ((("synt",), "no dataset 'synt'"),
                       (("synth@9.9",), "no version, branch or commit '9.9'")):
        done = cli("info", *args)
        assert done.exit_code != 0
        assert done.output.startswith("casdb: error: ") and len(done.output.splitlines()) == 1
        assert text in done.output
    done = cli("info", "synth", "--what", "nothing")
    assert done.exit_code == 2 and "nothing" in done.output


@pytest.mark.slow  # about 6 s: several casdb subprocesses against a remote
def test_a_remote_url_without_fetching_media(published, tmp_path):
    url = str(tmp_path / "remote")
    published.remote_add("origin", url)
    published.push()
    cache = tmp_path / "cache"
    for what in ("header", "schemes", "files", "duration", "dependencies"):
        done = run_casdb("--repo", url, "info", "synth@1.0.0", "--what", what, "--json",
                         "--cache", str(cache))
        assert done.returncode == 0, done.stderr
        local = run_casdb("info", "synth@1.0.0", "--what", what, "--json", repo=published.path)
        assert json.loads(done.stdout) == json.loads(local.stdout), what
    assert not [p for p in (cache / ".remotes").glob("*/blobs/*/*") if p.is_file()]
    done = run_casdb("--repo", url, "info", "nope", "--cache", str(cache))
    assert done.returncode != 0 and done.stderr.startswith("casdb: error: no dataset 'nope'")
    assert len(done.stderr.splitlines()) == 1
