"""Several corpora as one: load_corpora and compose (issue 13, item 3)."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf
import yaml

import casdb
from casdb.core.errors import InvalidInput, NotFound
from casdb.testing.cli import run_casdb
from casdb.testing.synth import EMOTIONS, make_dataset, relabel

MAP_B = {"anger": "ang", "happiness": "hap", "neutral": "neu", "sadness": "sad"}


def _with_split(root: Path) -> Path:
    """A train split table holding the first half of the files."""
    header = yaml.safe_load((root / "db.yaml").read_text())
    header["tables"]["emotion.train"] = {"type": "filewise", "split_id": "train"}
    (root / "db.yaml").write_text(yaml.safe_dump(header, sort_keys=False))
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.wav"))
    (root / "db.emotion.train.csv").write_text("file\n" + "\n".join(files[: len(files) // 2]) + "\n")
    return root


@pytest.fixture
def corpora(tmp_path) -> casdb.Repository:
    """a: 8 files with a train split; b: 6 files whose labels are spelled as in MAP_B."""
    repo = casdb.Repository.init(tmp_path / "repo")
    a = _with_split(make_dataset(tmp_path / "a", files=8, duration=0.1, seed=1))
    repo.commit(a, dataset="a", version="1.0.0")
    b = relabel(make_dataset(tmp_path / "b", files=6, duration=0.1, seed=2), MAP_B)
    repo.commit(b, dataset="b", version="1.0.0")
    return repo


def _spec(**b) -> dict:
    part_b = {"name": "b", "version": "1.0.0", "table": "emotion", "label": "emotion",
              "speaker": "speaker", "labels": {v: k for k, v in MAP_B.items()}, **b}
    return {"datasets": [{"name": "a", "version": "1.0.0", "table": "emotion",
                          "label": "emotion", "speaker": "speaker"}, part_b]}


def test_load_corpora_maps_labels_and_converts_media_once(corpora, tmp_path):
    spec = _spec(swap={"neutral": "sadness", "sadness": "neutral"}, drop=["hap"],
                 labels={"ang": "anger", "neu": "neutral", "sad": "sadness"})
    df = casdb.load_corpora(spec, repo=corpora, cache_root=tmp_path / "c",
                            flavour={"sampling_rate": 8000})
    assert list(df.columns) == ["dataset", "version", "file", "label", "original_label",
                                "speaker", "split"]
    assert df.groupby("dataset").size().to_dict() == {"a": 8, "b": 4}  # its 2 "hap" rows dropped
    b = df[df["dataset"] == "b"]
    swapped = {"ang": "anger", "neu": "sadness", "sad": "neutral"}
    assert (b["label"] == b["original_label"].map(swapped)).all()
    assert set(df["label"]) <= set(EMOTIONS)
    assert all(sf.info(f).samplerate == 8000 for f in df["file"])
    assert df["speaker"].notna().all()
    again = casdb.load_corpora(spec, repo=corpora, cache_root=tmp_path / "c",
                               flavour={"sampling_rate": 8000})
    assert again.equals(df)


def test_splits_take_only_their_rows(corpora, tmp_path):
    spec = {"datasets": [{"name": "a", "table": "emotion", "label": "emotion",
                          "splits": ["train"]}]}
    df = casdb.load_corpora(spec, repo=corpora, cache_root=tmp_path / "c")
    assert len(df) == 4 and set(df["split"]) == {"train"}
    assert df["speaker"].isna().all()  # no speaker column named


def test_speaker_from_another_table(corpora, tmp_path):
    spec = {"datasets": [{"name": "a", "table": "segments", "label": "emotion",
                          "speaker": "emotion.speaker"}]}
    df = casdb.load_corpora(spec, repo=corpora, cache_root=tmp_path / "c")
    assert list(df.columns[:5]) == ["dataset", "version", "file", "start", "end"]
    assert df["speaker"].str.startswith("spk").all()


def test_compose_commits_no_media_bytes_and_records_provenance(corpora, tmp_path):
    blobs = set(corpora.store.blob_ids())
    out = casdb.compose(_spec(), dataset="ab", version="1.0.0", repo=corpora)
    assert out.commit.new_bytes == 0 and out.rows == 14
    assert out.per_dataset == {"a": 8, "b": 6}
    assert set(corpora.store.blob_ids()) == blobs
    assert set(out.labels) == set(EMOTIONS)
    media = corpora.media("ab", "1.0.0")
    assert set(media.index) == ({f"a/{p}" for p in corpora.media("a", "1.0.0").index}
                                | {f"b/{p}" for p in corpora.media("b", "1.0.0").index})
    header = corpora.header("ab", "1.0.0")
    sources = header["composition"]["sources"]
    assert [s["commit"] for s in sources] == [corpora.resolve("a", "1.0.0"),
                                              corpora.resolve("b", "1.0.0")]
    assert header["composition"]["spec"]["datasets"][1]["labels"]["ang"] == "anger"
    ds = casdb.load("ab", "1.0.0", repo=corpora, cache_root=tmp_path / "c", full_path=False)
    table = ds["labels"].get()
    assert table.loc["b/audio/000/000000.wav", "original_label"] in MAP_B.values()
    import audformat

    db = audformat.Database.load(str(ds.root))
    assert len(db["labels"].get()) == 14
    shown = run_casdb("show", "ab@1.0.0", repo=corpora.path)
    assert "composed from" in shown.stdout and "a 1.0.0" in shown.stdout
    assert "compose a@1.0.0, b@1.0.0" in run_casdb("log", "ab", repo=corpora.path).stdout


def test_composed_splits_become_split_tables(corpora, tmp_path):
    spec = {"datasets": [{"name": "a", "table": "emotion", "label": "emotion",
                          "splits": ["train"]}]}
    out = casdb.compose(spec, dataset="train-only", repo=corpora)
    header = corpora.header("train-only")
    assert header["tables"]["labels.train"]["split_id"] == "train"
    assert header["splits"] == {"train": {"type": "train"}}
    assert out.rows == 4 and out.commit.files == 4


def test_cli_compose(corpora, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(_spec()))
    done = run_casdb("compose", str(spec), "--dataset", "ab", "--version", "1.0.0",
                     repo=corpora.path)
    assert done.returncode == 0, done.stderr
    assert "14 items (a 8, b 6)" in done.stdout
    assert "0 new files (0 B)" in done.stdout


def test_load_corpora_from_a_remote(corpora, tmp_path):
    url = str(tmp_path / "remote")
    corpora.remote_add("origin", url)
    corpora.push()
    df = casdb.load_corpora(_spec(), repo=url, cache_root=tmp_path / "c")
    assert len(df) == 14 and all(Path(f).is_file() for f in df["file"])


BAD = [
    (_spec(labels={"ang": "anger"}), "label 'hap' is not in the label map"),
    ({"datasets": [{"name": "a", "table": "nope", "label": "emotion"}]}, "no table 'nope'"),
    ({"datasets": [{"name": "a", "table": "emotion", "label": "nope"}]}, "no column 'nope'"),
    ({"datasets": [{"name": "a", "table": "emotion", "label": "emotion", "speaker": "who"}]},
     "no speaker column 'who'"),
    ({"datasets": [{"name": "a", "table": "emotion", "label": "emotion", "splits": ["dev"]}]},
     "no split 'dev'"),
    ({"datasets": [{"name": "a", "table": "emotion", "label": "emotion"}] * 2},
     "named twice"),
    ({"datasets": [{"name": "a", "table": "emotion", "label": "emotion", "lables": {}}]},
     "unknown key 'lables'"),
    ({"datasets": [{"name": "a", "table": "emotion"}]}, "'label' is missing"),
    ({"datasets": [{"name": "a", "table": "emotion", "label": "emotion", "labels": ["x"]}]},
     "must map labels"),
    ({"datasets": []}, "lists no dataset"),
    ({"datasets": [{"name": "../x", "table": "t", "label": "l"}]}, "invalid dataset name"),
]


@pytest.mark.parametrize(("spec", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_specs_are_one_line_errors_and_store_nothing(corpora, spec, message):
    before = (corpora.datasets(), sorted(corpora.store.object_ids()))
    with pytest.raises(InvalidInput, match=message):
        casdb.compose(spec, dataset="ab", repo=corpora)
    assert (corpora.datasets(), sorted(corpora.store.object_ids())) == before


def test_bad_yaml_and_unknown_datasets(corpora, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("datasets: [unclosed")
    with pytest.raises(InvalidInput, match="spec.yaml"):
        casdb.compose(spec, dataset="ab", repo=corpora)
    with pytest.raises(InvalidInput, match="no corpus spec"):
        casdb.compose(tmp_path / "missing.yaml", dataset="ab", repo=corpora)
    with pytest.raises(NotFound, match="no dataset 'c'"):
        casdb.compose({"datasets": [{"name": "c", "table": "t", "label": "l"}]}, dataset="ab",
                      repo=corpora)
    spec.write_text(yaml.safe_dump(_spec(labels={"ang": "anger"})))
    done = run_casdb("compose", str(spec), "--dataset", "ab", repo=corpora.path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
