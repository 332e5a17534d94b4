"""Browsing a remote without cloning it (ls, log, show, diff, purged with --repo URL), and the
--json output of every command that has it (issue 14, items 1 and 3)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import casdb
from casdb.testing.cli import run_casdb
from casdb.testing.synth import make_dataset


def _two_versions(tmp_path: Path) -> casdb.Repository:
    repo = casdb.Repository.init(tmp_path / "repo")
    src = make_dataset(tmp_path / "src", files=8, duration=0.1, sampling_rate=8000)
    repo.commit(src, dataset="synth", version="1.0.0", message="first")
    (src / "audio/000/000001.wav").unlink()
    for table in ("emotion", "segments"):
        path = src / f"db.{table}.csv"
        path.write_text("\n".join(line for line in path.read_text().splitlines()
                                  if "000001" not in line) + "\n")
    repo.commit(src, dataset="synth", version="2.0.0", message="without one file")
    return repo


@pytest.fixture(params=["folder", pytest.param("s3", marks=[pytest.mark.s3, pytest.mark.slow])])
def remote(request, tmp_path):
    """(the local repository, the URL of a remote holding the same, env for the CLI)"""
    repo = _two_versions(tmp_path)
    url = str(tmp_path / "remote") if request.param == "folder" else request.getfixturevalue("s3_url")
    repo.remote_add("origin", url)
    repo.push()
    env = {**os.environ, "CASDB_CACHE": str(tmp_path / "cache")}
    return repo, url, env


def _json(url, env, *args):
    done = run_casdb(*args, "--json", repo=url, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_browsing_a_remote_fetches_no_media(remote, tmp_path):
    repo, url, env = remote
    ls = _json(url, env, "ls")
    assert ls == [{"dataset": "synth", "versions": ["1.0.0", "2.0.0"],
                   "branches": {"main": repo.resolve("synth")}}]
    log = _json(url, env, "log", "synth")
    assert [e["versions"] for e in log] == [["2.0.0"], ["1.0.0"]]
    assert log[0]["files"] == {"added": 0, "changed": 0, "removed": 1}
    assert log[0]["message"] == "without one file" and log[0]["parents"] == [log[1]["commit"]]
    show = _json(url, env, "show", "synth@1.0.0")
    assert show["commit"] == repo.resolve("synth", "1.0.0")
    assert show["media"]["files"] == 8 and show["header"]["name"] == "synth"
    assert {t["id"] for t in show["tables"]} == {"emotion", "segments", "speaker"}
    diff = _json(url, env, "diff", "synth", "1.0.0", "2.0.0")
    assert diff["files"] == [{"path": "audio/000/000001.wav", "kind": "removed"}]
    assert diff["tables"][0]["rows"]["removed"] == 1
    assert _json(url, env, "purged") == []
    text = run_casdb("show", "synth@2.0.0", repo=url, env=env)
    assert text.returncode == 0 and "7 files" in text.stdout
    blobs = list((tmp_path / "cache" / ".remotes").rglob("blobs/*/*"))
    assert blobs == []  # refs and metadata only


def test_browsing_from_python(remote, tmp_path):
    repo, url, _ = remote
    view = casdb.open_repository(url, cache_root=tmp_path / "cache")
    assert view.datasets() == ["synth"]
    assert view.versions("synth") == ["1.0.0", "2.0.0"]
    assert [e.versions for e in view.log("synth")] == [["2.0.0"], ["1.0.0"]]
    assert view.table("synth", "emotion", "2.0.0").equals(repo.table("synth", "emotion", "2.0.0"))
    assert view.resolve("synth", repo.resolve("synth", "1.0.0")[:8]) == repo.resolve("synth", "1.0.0")
    assert casdb.info("synth", "1.0.0", repo=url).media.files == 8
    with pytest.raises(casdb.NotFound, match="no dataset 'nope'"):
        view.versions("nope")


def test_a_view_follows_refs_deleted_on_the_remote(tmp_path):
    repo = _two_versions(tmp_path)
    url = str(tmp_path / "remote")
    repo.remote_add("origin", url)
    repo.push()
    view = casdb.open_repository(url, cache_root=tmp_path / "cache")
    assert view.versions("synth") == ["1.0.0", "2.0.0"]
    os.unlink(Path(url) / "refs" / "synth" / "tags" / "2.0.0")
    fresh = casdb.open_repository(url, cache_root=tmp_path / "cache")
    assert fresh.versions("synth") == ["1.0.0"]


def test_local_json_outputs(tmp_path):
    repo = _two_versions(tmp_path)
    env = {**os.environ, "CASDB_CACHE": str(tmp_path / "cache")}
    fsck = _json(repo.path, env, "fsck")
    assert fsck["ok"] is True and fsck["problems"] == [] and fsck["objects"] > 0
    casdb.load("synth", "1.0.0", repo=repo, cache_root=tmp_path / "cache")
    cached = _json(repo.path, env, "cache", "ls")
    assert [(c["dataset"], c["version"], c["files"], c["complete"]) for c in cached] == [
        ("synth", "1.0.0", 8, True)]
    remote = str(tmp_path / "remote")
    repo.remote_add("origin", remote)
    pushed = _json(repo.path, env, "push")
    assert pushed["blobs"] == 8 and "synth tags/2.0.0" in pushed["refs"]
    other = casdb.Repository.clone(remote, tmp_path / "other")
    src = make_dataset(tmp_path / "src3", files=3, duration=0.1, sampling_rate=8000, seed=5)
    other.commit(src, dataset="more", version="1.0.0")
    other.push()
    pulled = _json(repo.path, env, "pull")
    assert sorted(pulled["refs"]) == ["more heads/main", "more tags/1.0.0"] and pulled["blobs"] == 3
    repo.purge("synth", ["audio/000/000002.wav"], reason="consent withdrawn",
               cache_root=tmp_path / "cache")
    stones = _json(repo.path, env, "purged")
    assert stones[0]["reason"] == "consent withdrawn" and stones[0]["dataset"] == "synth"


def test_fsck_json_exits_7_on_problems(tmp_path):
    repo = _two_versions(tmp_path)
    blob = next(iter(repo.store.blob_ids()))
    os.chmod(repo.store.blob_path(blob), 0o644)
    repo.store.blob_path(blob).write_bytes(b"damaged")
    done = run_casdb("fsck", "--json", repo=repo.path)
    assert done.returncode == 7
    assert json.loads(done.stdout)["ok"] is False


def test_ls_and_show_search_the_configured_repositories(tmp_path, monkeypatch):
    a = casdb.Repository.init(tmp_path / "a")
    a.commit(make_dataset(tmp_path / "s1", files=2, duration=0.1), dataset="one", version="1.0.0")
    b = _two_versions(tmp_path)  # synth 1.0.0 and 2.0.0
    b.remote_add("origin", str(tmp_path / "remote"))
    b.push()
    config = tmp_path / "config.yaml"
    config.write_text(f"repositories: [{a.path}, {tmp_path / 'remote'}]\n")
    env = {k: v for k, v in os.environ.items() if k != "CASDB_REPO"}
    env.update(CASDB_CONFIG=str(config), CASDB_CACHE=str(tmp_path / "cache"))
    done = run_casdb("ls", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert [(d["dataset"], d["versions"], d["repository"]) for d in json.loads(done.stdout)] == [
        ("one", ["1.0.0"], str(a.path)), ("synth", ["1.0.0", "2.0.0"], str(tmp_path / "remote"))]
    shown = run_casdb("show", "synth@2.0.0", "--json", env=env)  # found in the second one
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["media"]["files"] == 7
    monkeypatch.setenv("CASDB_CONFIG", str(config))
    monkeypatch.delenv("CASDB_REPO", raising=False)
    assert casdb.info("one").media.files == 2
