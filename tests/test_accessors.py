"""The audb.info-style accessors (casdb.api.accessors): each against what audformat and
soundfile read from a checkout of the same version, from a repository and from a remote
(metadata without a single blob), and their errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import casdb
from casdb import about
from casdb.api import Repository
from casdb.core.errors import InvalidInput, NotFound
from casdb.testing.files import age
from casdb.testing.richdb import build_db
from casdb.testing.synth import make_dataset

audformat = pytest.importorskip("audformat")
sf = pytest.importorskip("soundfile")

METADATA = ("tables", "misc_tables", "schemes", "splits", "raters", "attachments", "media")
AUDIO = ("formats", "sampling_rates", "channels", "bit_depths")


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> tuple[Repository, Path]:
    """rich 1.0.0 (audformat's rich test db) and synth 1.0.0 / 2.0.0; a checkout of each."""
    tmp = tmp_path_factory.mktemp("acc")
    repo = Repository.init(tmp / "repo")
    build_db(tmp / "rich", "parquet")
    repo.commit(tmp / "rich", dataset="rich", version="1.0.0")
    src = make_dataset(tmp / "syn", files=6, duration=0.3, sampling_rate=8000)
    age(src)
    repo.commit(src, dataset="synth", version="1.0.0")
    src2 = make_dataset(tmp / "syn2", files=8, duration=0.2, sampling_rate=16000, channels=2)
    age(src2)
    repo.commit(src2, dataset="synth", version="2.0.0")
    out = tmp / "out"
    for name, version in (("rich", "1.0.0"), ("synth", "1.0.0"), ("synth", "2.0.0")):
        casdb.checkout(name, version, out / name / version, repo=repo)
    return repo, out


def _audio_truth(root: Path, db: audformat.Database) -> dict:
    """What soundfile reads from the checked-out media files (attachments left out)."""
    skip = [a.path for a in db.attachments.values()]
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                   if p.is_file() and not p.relative_to(root).as_posix().startswith(".casdb")
                   and p.name != "db.yaml" and not p.name.startswith("db.")
                   and not any(p.relative_to(root).as_posix().startswith(s) for s in skip))
    infos = [sf.info(str(root / f)) for f in files]
    depth = {"PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "PCM_U8": 8, "FLOAT": 32}
    return {
        "files": files,
        "duration": sum(i.frames / i.samplerate for i in infos),
        "formats": {Path(f).suffix[1:].lower() for f in files},
        "sampling_rates": {i.samplerate for i in infos},
        "channels": {i.channels for i in infos},
        "bit_depths": {depth[i.subtype] for i in infos},
    }


@pytest.mark.parametrize("name,version", [("rich", "1.0.0"), ("synth", "1.0.0"),
                                          ("synth", "2.0.0")])
def test_each_accessor_agrees_with_audformat_on_a_checkout(corpora, name, version):
    repo, out = corpora
    root = out / name / version
    db = audformat.Database.load(str(root), load_data=False)
    head = about.header(name, version, repo=repo, audformat=True)
    assert isinstance(head, audformat.Database)
    assert head.name == db.name and head.description == db.description
    assert head.license_url == db.license_url and head.meta == db.meta
    assert about.header(name, version, repo=repo)["name"] == db.name
    for part in METADATA:  # plain mappings: the header's sections, as db.yaml has them
        theirs = {k: v.to_dict() for k, v in getattr(db, part).items()}
        assert getattr(about, part)(name, version, repo=repo) == theirs, part
        ours = getattr(about, part)(name, version, repo=repo, audformat=True)
        assert {k: v.to_dict() for k, v in ours.items()} == theirs, part
    assert not any(len(t.df) for t in head.tables.values())  # a header without table data
    truth = _audio_truth(root, db)
    assert about.files(name, version, repo=repo) == truth["files"]
    assert about.duration(name, version, repo=repo).total_seconds() == pytest.approx(
        truth["duration"])
    for part in AUDIO:
        assert getattr(about, part)(name, version, repo=repo) == truth[part], part
    deps = about.dependencies(name, version, repo=repo)
    assert list(deps.columns) == ["blob", "bytes", "format", "sampling_rate", "channels",
                                  "bit_depth", "duration", "type", "removed"]
    assert sorted(deps.index[deps["type"] == "media"]) == truth["files"]
    for f in deps.index:
        assert deps.loc[f, "bytes"] == (root / f).stat().st_size


def test_rich_schemes_labels_and_attachments(corpora, tmp_path):
    repo, out = corpora
    db = audformat.Database.load(str(out / "rich" / "1.0.0"))
    schemes = about.schemes("rich", repo=repo, audformat=True)
    for sid, scheme in db.schemes.items():  # misc-table labels resolve, as audb's do
        assert schemes[sid].labels_as_list == scheme.labels_as_list, sid
    assert set(about.attachments("rich", repo=repo)) == {"file", "folder"}
    cache = tmp_path / "cache"
    paths = about.load_attachment("rich", "folder", repo=repo, cache_root=cache)
    assert [Path(p).relative_to(cache / "rich" / "1.0.0" / "original").as_posix()
            for p in paths] == ["extra/folder/sub/notes.md"]
    assert Path(paths[0]).read_text() == "# notes"
    frame = about.load_table("rich", "people", repo=repo, cache_root=cache)
    expected = db["people"].get()
    assert list(frame["object"]) == list(expected["object"])
    mapped = about.load_table("rich", "people", repo=repo, cache_root=cache,
                              map={"speaker": "age"})
    assert list(mapped["age"].astype("object").where(mapped["age"].notna(), None)) == [31, None,
                                                                                       47]
    misc = about.load_table("rich", "pairs", repo=repo, cache_root=cache)
    assert misc.equals(db["pairs"].get())


def test_media_filters_select_as_a_load_does(corpora):
    repo, _ = corpora
    some = about.duration("synth", "1.0.0", repo=repo, media=r"00000[01]\.wav")
    assert some.total_seconds() == pytest.approx(0.6)
    every = about.files("synth", "1.0.0", repo=repo)
    assert about.duration("synth", "1.0.0", repo=repo, media=every[:3]).total_seconds() == \
        pytest.approx(0.9)
    assert about.sampling_rates("rich", repo=repo, tables=["people"]) == {8000}


def test_versions_latest_exists_cached_and_load_media(corpora, tmp_path):
    repo, _ = corpora
    assert about.versions("synth", repo=repo) == ["1.0.0", "2.0.0"]
    assert about.latest_version("synth", repo=repo) == "2.0.0"
    cache = tmp_path / "cache"
    assert about.cached(cache_root=cache).empty
    assert not about.exists("synth", repo=repo, cache_root=cache)
    one = about.files("synth", "2.0.0", repo=repo)[1]
    paths = about.load_media("synth", one, repo=repo, cache_root=cache,
                             flavour={"format": "flac", "mixdown": True})
    assert len(paths) == 1 and paths[0].endswith(Path(one).stem + ".flac")
    assert sf.info(paths[0]).channels == 1
    assert not about.exists("synth", "2.0.0", repo=repo, cache_root=cache,
                            flavour={"format": "flac", "mixdown": True})  # one file only
    casdb.load("synth", "1.0.0", repo=repo, cache_root=cache)
    assert about.exists("synth", "1.0.0", repo=repo, cache_root=cache)
    table = about.cached(cache_root=cache)
    assert sorted(zip(table["version"], table["flavour"], table["complete"],
                      table["format"], table["mixdown"], strict=True)) == [
        ("1.0.0", "original", True, None, False),
        ("2.0.0", casdb.Flavour(format="flac", mixdown=True).id, False, "flac", True)]
    assert set(about.cached("synth", cache_root=cache)["dataset"]) == {"synth"}
    assert about.cached("rich", cache_root=cache).empty


def test_a_remote_answers_the_same_without_fetching_a_blob(corpora, tmp_path):
    repo, _ = corpora
    url = str(tmp_path / "remote")
    repo.remote_add("acc", url)  # the module's repository gains a remote: nothing else uses it
    repo.push("acc")
    cache = tmp_path / "cache"
    for name, version in (("rich", "1.0.0"), ("synth", "2.0.0")):
        for part in (*METADATA, "files", *AUDIO, "header"):
            assert getattr(about, part)(name, version, repo=url, cache_root=cache) == \
                getattr(about, part)(name, version, repo=repo), part
        assert about.duration(name, version, repo=url, cache_root=cache) == \
            about.duration(name, version, repo=repo)
        assert about.dependencies(name, version, repo=url, cache_root=cache).equals(
            about.dependencies(name, version, repo=repo))
    assert about.header("rich", repo=url, cache_root=cache, audformat=True).name == "unittest"
    assert about.versions("synth", repo=url, cache_root=cache) == ["1.0.0", "2.0.0"]
    assert about.latest_version("synth", repo=url, cache_root=cache) == "2.0.0"
    blobs = [p for p in (cache / ".remotes").glob("*/blobs/*/*") if p.is_file()]
    assert blobs == []  # metadata only: not one media or attachment blob
    assert not [p for p in cache.iterdir() if not p.name.startswith(".")]  # no folders
    one = about.files("synth", repo=url, cache_root=cache)[0]
    about.load_media("synth", [one], repo=url, cache_root=cache)
    blobs = [p for p in (cache / ".remotes").glob("*/blobs/*/*") if p.is_file()]
    assert len(blobs) == 1  # the file asked for, and only it

def test_bad_input_is_one_clear_error(corpora, tmp_path, monkeypatch):
    repo, _ = corpora
    with pytest.raises(NotFound, match="no dataset 'synt'.*did you mean synth"):
        about.files("synt", repo=repo)
    with pytest.raises(NotFound, match="no version, branch or commit '9.9.9'"):
        about.header("synth", "9.9.9", repo=repo)
    with pytest.raises(NotFound, match="no table 'peple'.*did you mean people"):
        about.load_table("rich", "peple", repo=repo, cache_root=tmp_path / "c")
    with pytest.raises(NotFound, match="no attachment 'fil'.*did you mean file"):
        about.load_attachment("rich", "fil", repo=repo, cache_root=tmp_path / "c")
    with pytest.raises(NotFound, match="no media file 'nope.wav'"):
        about.load_media("synth", ["nope.wav"], repo=repo, cache_root=tmp_path / "c")
    with pytest.raises(NotFound, match="no media .* matches"):
        about.duration("synth", repo=repo, media="^nothing$")
    with pytest.raises(InvalidInput):
        about.load_media("synth", [], repo=repo, cache_root=tmp_path / "c")
    with pytest.raises(InvalidInput, match="invalid dataset name|dataset"):
        about.tables("../x", repo=repo)
    with pytest.raises(NotFound, match="no casdb repository"):
        about.tables("synth", repo=tmp_path / "none")
    monkeypatch.setitem(sys.modules, "audformat", None)  # as if audformat were not installed
    with pytest.raises(InvalidInput, match="pip install audformat"):
        about.header("synth", repo=repo, audformat=True)
    assert about.header("synth", repo=repo)["name"] == "synth"  # the mapping needs none
