"""casdb.hf: a version as a Hugging Face ``datasets.Dataset`` whose Audio column references the
cached files (no copy), and a table with its media paths as an Arrow record-batch reader."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import casdb
from casdb.api import Repository
from casdb.testing.synth import make_dataset

datasets = pytest.importorskip("datasets")
hf = pytest.importorskip("casdb.hf")


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Repository:
    tmp = tmp_path_factory.mktemp("hf")
    repo = Repository.init(tmp / "repo")
    repo.commit(make_dataset(tmp / "src", files=5, duration=0.1, sampling_rate=16000),
                dataset="synth", version="1.0.0")
    return repo


def _raw(hfds):
    return hfds.cast_column("audio", datasets.Audio(decode=False))


def test_dataset_rows_carry_the_labels_and_reference_the_cached_files(published, tmp_path):
    cache = tmp_path / "cache"
    hfds = hf.to_dataset("synth", "1.0.0", repo=published, cache_root=cache)
    ds = casdb.load("synth", "1.0.0", repo=published, cache_root=cache, full_path=False)
    table = ds["emotion"].get()
    assert isinstance(hfds.features["audio"], datasets.Audio) and hfds.features["audio"].decode
    assert hfds.num_rows == len(table)
    for row in _raw(hfds):
        expected = table.loc[row["file"]]
        assert row["emotion"] == expected["emotion"] and row["speaker"] == expected["speaker"]
        assert row["confidence"] == pytest.approx(expected["confidence"])
        path = row["audio"]["path"]
        assert row["audio"]["bytes"] is None  # a reference, not a copy
        # the cached file itself: same inode as the file of the load's checkout
        assert os.path.samefile(path, os.path.join(ds.root, row["file"]))
        assert path.startswith(str(cache))


def test_the_audio_feature_has_the_flavours_sampling_rate(published, tmp_path):
    import soundfile as sf

    hfds = hf.to_dataset("synth", "1.0.0", repo=published, cache_root=tmp_path,
                         flavour={"sampling_rate": 8000})
    assert hfds.features["audio"].sampling_rate == 8000
    paths = [r["audio"]["path"] for r in _raw(hfds)]
    assert paths and all(sf.info(p).samplerate == 8000 for p in paths)
    assert hf.to_dataset("synth", "1.0.0", repo=published, cache_root=tmp_path
                         ).features["audio"].sampling_rate is None


def test_a_segmented_table_gives_its_segments_in_seconds(published, tmp_path):
    hfds = _raw(hf.to_dataset("synth", "1.0.0", repo=published, table="segments",
                              cache_root=tmp_path))
    assert hfds.column_names == ["audio", "file", "start", "end", "emotion"]
    assert {(r["start"], r["end"]) for r in hfds} == {(0.0, 0.1)}


def test_record_batches_read_the_table_with_its_cached_paths(published, tmp_path):
    reader = hf.record_batches("synth", "1.0.0", repo=published, cache_root=tmp_path,
                               batch_size=2)
    batches = list(reader)
    assert [b.num_rows for b in batches] == [2, 2, 1]
    ds = casdb.load("synth", "1.0.0", repo=published, cache_root=tmp_path, full_path=False)
    table = ds["emotion"].get()
    rows = [r for b in batches for r in b.to_pylist()]
    assert [r["file"] for r in rows] == list(table.index)
    for r in rows:
        assert os.path.samefile(r["path"], os.path.join(ds.root, r["file"]))
        assert r["emotion"] == table.loc[r["file"], "emotion"]
    assert reader.schema.names == ["path", "file", "emotion", "confidence", "speaker"]


@pytest.mark.parametrize("size", [0, -1, 1.5, True, "2"])
def test_record_batches_refuse_a_bad_batch_size(published, tmp_path, size):
    with pytest.raises(casdb.InvalidInput, match="batch size"):
        hf.record_batches("synth", "1.0.0", repo=published, cache_root=tmp_path,
                          batch_size=size)


@pytest.mark.parametrize("call", [hf.to_dataset, hf.record_batches])
def test_bad_tables_and_names_are_one_line_errors(published, tmp_path, call):
    kw = {"repo": published, "cache_root": tmp_path}
    cases = [
        (dict(table="nope"), casdb.NotFound),
        (dict(table="speaker"), casdb.InvalidInput),  # a misc table has no media
        (dict(table=3), casdb.InvalidInput),
        (dict(version="9.9.9"), casdb.NotFound),
    ]
    for extra, error in cases:
        args = {"version": "1.0.0", **kw, **extra}
        with pytest.raises(error) as info:
            call("synth", args.pop("version"), **args)
        assert "\n" not in str(info.value)
    column = "audio_column" if call is hf.to_dataset else "path_column"
    for name in ["file", "emotion", ""]:
        with pytest.raises(casdb.InvalidInput) as info:
            call("synth", "1.0.0", **kw, **{column: name})
        assert "\n" not in str(info.value)
    with pytest.raises(casdb.NotFound):
        call("nosuch", "1.0.0", **kw)


def test_import_casdb_loads_neither_datasets_nor_torch():
    code = ("import sys, casdb; casdb.Repository; print(sorted(m for m in ('datasets', 'torch', "
            "'torchcodec', 'casdb.hf', 'casdb.torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
