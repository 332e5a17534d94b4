"""Round trips through casdb lose nothing of audformat's data model (checked with audformat)."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import audformat
import audformat.testing
import numpy as np
import pandas as pd
import pytest

from casdb.repo import Repository
from casdb.testing.synth import write_audio


def build_db(root: Path, storage_format: str) -> audformat.Database:
    """audformat's own rich test database, plus unicode names, empty and multi-level tables."""
    random.seed(1)  # audformat's generator draws its values from these
    np.random.seed(1)
    db = audformat.testing.create_db(minimal=False)
    db.expires = dt.date(2031, 12, 24)
    db.license_url = "https://creativecommons.org/publicdomain/zero/1.0/"
    db.meta["pipeline"] = {"steps": ["denoise", "trim"], "version": 2}
    db.schemes["speaker_age"] = audformat.Scheme("int", minimum=0)
    db.schemes["object"] = audformat.Scheme("object")
    db.misc_tables["speakers"] = audformat.MiscTable(
        pd.Index(["spk-ä", "spk-b"], dtype="string", name="speaker"))
    db.misc_tables["speakers"]["age"] = audformat.Column(scheme_id="speaker_age")
    db.misc_tables["speakers"]["age"].set([31, 47])
    db.schemes["speaker"] = audformat.Scheme("str", labels="speakers")
    db.misc_tables["pairs"] = audformat.MiscTable(pd.MultiIndex.from_arrays(
        [pd.Series([1, 2, 2], dtype="Int64"), pd.Series(["x", "y", "z"], dtype="string")],
        names=["run", "item"]))
    db.misc_tables["pairs"]["score"] = audformat.Column(scheme_id="float")
    db.misc_tables["pairs"]["score"].set([0.5, None, -0.25])
    files = ["audio/ünïcödé/straße.wav", "audio/日本語.wav", "audio/plain.wav"]
    db["people"] = audformat.Table(audformat.filewise_index(files), media_id="microphone")
    db["people"]["speaker"] = audformat.Column(scheme_id="speaker")
    db["people"]["speaker"].set(["spk-ä", None, "spk-b"])
    db["people"]["object"] = audformat.Column(scheme_id="object")
    db["people"]["object"].set(["a", "b", None])
    db["empty"] = audformat.Table(audformat.filewise_index([]))
    db["empty"]["label"] = audformat.Column(scheme_id="label")
    db["open_segments"] = audformat.Table(audformat.segmented_index(
        files=[files[0], files[0], files[1]], starts=["0s", "1s", "0.5s"], ends=["1s", pd.NaT, pd.NaT]))
    db["open_segments"]["label"] = audformat.Column(scheme_id="label")
    db["open_segments"]["label"].set(["label1", "label2", None])
    db.save(root, storage_format=storage_format)
    audformat.testing.create_audio_files(db)
    for f in files:
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        write_audio(root / f, 0, 0.01, 8000, 1)  # real audio: a commit refuses fake WAVs
    (root / "extra" / "folder" / "sub").mkdir(parents=True, exist_ok=True)
    (root / "extra" / "file.txt").write_text("attachment")
    (root / "extra" / "folder" / "sub" / "notes.md").write_text("# notes")
    return db


def sorted_like_casdb(df: pd.DataFrame) -> pd.DataFrame:
    """casdb returns rows sorted by index (missing values last)."""
    return df.sort_index(na_position="last", kind="stable")


def same_categories(expected: pd.DataFrame, got: pd.DataFrame) -> pd.DataFrame:
    """Categories of misc-table labels follow the misc table's (sorted) order in casdb."""
    expected = expected.copy()
    for column in expected.columns:
        if isinstance(expected[column].dtype, pd.CategoricalDtype):
            expected[column] = expected[column].cat.set_categories(got[column].cat.categories)
    return expected


@pytest.mark.parametrize("storage_format", ["csv", "parquet"])
def test_tables_and_header_equal_what_audformat_loads(tmp_path, storage_format):
    root = tmp_path / "db"
    build_db(root, storage_format)
    source = audformat.Database.load(str(root), load_data=True)
    repo = Repository.init(tmp_path / "repo")
    repo.commit(root, dataset="unittest", version="1.0.0")
    snap = repo.snapshot("unittest", "1.0.0")

    header = audformat.Database.load_header_from_yaml(snap.header)
    assert str(header) == str(source)

    assert sorted(snap.table_ids) == sorted(list(source.tables) + list(source.misc_tables))
    for table_id in snap.table_ids:
        got = snap.table(table_id)
        expected = same_categories(sorted_like_casdb(source[table_id].df), got)
        pd.testing.assert_frame_equal(got, expected, check_exact=True, obj=table_id)
        assert list(got.index.names) == list(source[table_id].df.index.names)


def test_csv_and_parquet_store_the_same_objects(tmp_path):
    repo = Repository.init(tmp_path / "repo")
    ids = []
    for storage_format in ("csv", "parquet"):
        root = tmp_path / storage_format
        build_db(root, storage_format)
        result = repo.commit(root, dataset=storage_format)
        ids.append(dict(repo.get_commit(result.id).tables))
    assert ids[0] == ids[1]
