"""Round trips through casdb lose nothing of audformat's data model (checked with audformat)."""

from __future__ import annotations

from pathlib import Path

import audformat
import audformat.testing
import numpy as np
import pandas as pd
import pytest

import casdb
from casdb.api import Repository
from casdb.testing.richdb import build_db


def shuffle_rows(root: Path, table_id: str, seed: int) -> None:
    """Put the rows of a saved table file in a random order that is not sorted by index."""
    import pyarrow.parquet as pq

    parquet, csv = root / f"db.{table_id}.parquet", root / f"db.{table_id}.csv"
    if parquet.exists():
        rows = pq.read_table(parquet)
    else:
        header, *rows = csv.read_text(encoding="utf-8").splitlines(keepends=True)
    order = np.random.default_rng(seed).permutation(len(rows))
    if len(rows) > 1 and (order == np.arange(len(rows))).all():
        order = order[::-1]
    if parquet.exists():
        pq.write_table(rows.take(order), parquet)
    else:
        csv.write_text(header + "".join(rows[i] for i in order), encoding="utf-8")


def assert_same_table(got: pd.DataFrame, expected: pd.DataFrame, what: str) -> None:
    """Equal values, dtypes, row order, and category order (so equal ``.cat.codes``)."""
    pd.testing.assert_frame_equal(got, expected, check_exact=True, check_categorical=True,
                                  obj=what)
    for column in expected.columns:
        if isinstance(expected[column].dtype, pd.CategoricalDtype):
            assert list(got[column].cat.categories) == list(expected[column].cat.categories), (
                what, column)
            assert got[column].cat.codes.tolist() == expected[column].cat.codes.tolist()


def commit_db(tmp_path: Path, storage_format: str, shuffled: bool):
    root = tmp_path / "db"
    build_db(root, storage_format)
    if shuffled:
        for seed, table_id in enumerate(audformat.Database.load(str(root), load_data=False)):
            shuffle_rows(root, table_id, seed)
    source = audformat.Database.load(str(root), load_data=True)
    repo = Repository.init(tmp_path / "repo")
    repo.commit(root, dataset="unittest", version="1.0.0")
    return source, repo


def relabelled_misc_categories(source: audformat.Database) -> list[str]:
    """Columns whose categories (from a misc table) are not in sorted order in ``source``."""
    out = []
    for table_id in source:
        df = source[table_id].df
        for column in df.columns:
            if isinstance(df[column].dtype, pd.CategoricalDtype):
                categories = list(df[column].cat.categories)
                if categories != sorted(categories):
                    out.append(f"{table_id}.{column}")
    return out


SHUFFLED = [
    pytest.param(False, id="file-order", marks=pytest.mark.slow),  # audformat's own order
    pytest.param(True, id="unsorted"),
]


@pytest.mark.parametrize("shuffled", SHUFFLED)
@pytest.mark.parametrize("storage_format", ["csv", "parquet"])
def test_tables_checkout_and_header_equal_what_audformat_loads(tmp_path, storage_format, shuffled):
    source, repo = commit_db(tmp_path, storage_format, shuffled)
    if shuffled:  # the case this test is for: rows and misc-table categories out of order
        assert not source["files"].df.index.is_monotonic_increasing
        assert relabelled_misc_categories(source)
    snap = repo.snapshot("unittest", "1.0.0")

    header = audformat.Database.load_header_from_yaml(snap.header)
    assert str(header) == str(source)

    assert sorted(snap.table_ids) == sorted(list(source.tables) + list(source.misc_tables))
    for table_id in snap.table_ids:
        got = snap.table(table_id)
        assert_same_table(got, source[table_id].df, table_id)
        assert_same_table(repo.table("unittest", table_id, "1.0.0"), source[table_id].df, table_id)
        assert list(got.index.names) == list(source[table_id].df.index.names)

    ds = casdb.load("unittest", version="1.0.0", repo=repo, cache_root=tmp_path / "cache",
                    full_path=False)
    checkout = audformat.Database.load(str(ds.root), load_data=True)
    assert checkout == source
    for table_id in source:
        assert_same_table(checkout[table_id].df, source[table_id].df, f"checkout {table_id}")
        assert_same_table(ds[table_id].get(), source[table_id].df, f"casdb.load {table_id}")


def test_csv_and_parquet_store_the_same_objects(tmp_path):
    repo = Repository.init(tmp_path / "repo")
    ids = []
    for storage_format in ("csv", "parquet"):
        root = tmp_path / storage_format
        build_db(root, storage_format)
        result = repo.commit(root, dataset=storage_format)
        ids.append(dict(repo.get_commit(result.id).tables))
    assert ids[0] == ids[1]
