"""Row-level diffs: the same answer as a plain pandas comparison, reading only what changed."""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

import casdb.tables.partitions
from casdb.api import Repository
from casdb.store.backends.local import LocalBackend
from casdb.store.objectstore import ObjectStore
from casdb.tables.partitions import store_table
from casdb.tables.rowdiff import diff_tables
from casdb.testing.profiles import examples
from casdb.testing.synth import file_name, make_dataset, write_tables


def stored(store, frame: pd.DataFrame, levels=("file",)):
    table = pa.Table.from_pandas(frame.reset_index(), preserve_index=False)
    return store.get(store_table(store, "t", "filewise", table, list(levels)), "table")


def naive(old: pd.DataFrame, new: pd.DataFrame):
    added = set(new.index) - set(old.index)
    removed = set(old.index) - set(new.index)
    changed = set()
    for key in set(old.index) & set(new.index):
        for column in new.columns:
            a, b = old.at[key, column], new.at[key, column]
            if pd.isna(a) != pd.isna(b) or (not pd.isna(a) and a != b):
                changed.add((key, column))
    return added, removed, changed


rows = st.dictionaries(
    st.integers(min_value=0, max_value=300).map(lambda i: f"f{i:04d}.wav"),
    st.tuples(st.sampled_from(["a", "b", None]), st.one_of(st.none(), st.integers(0, 3))),
    max_size=120,
)


def frame(data: dict) -> pd.DataFrame:
    df = pd.DataFrame(
        {"label": pd.array([v[0] for v in data.values()], dtype="string"),
         "score": pd.array([v[1] for v in data.values()], dtype="Int64")},
        index=pd.Index(list(data), name="file", dtype="string"))
    return df


@settings(max_examples=examples(60), deadline=None)
@given(rows, rows)
def test_diff_matches_pandas(tmp_path_factory, old, new):
    store = ObjectStore(LocalBackend(tmp_path_factory.mktemp("s")))
    a, b = frame(old), frame(new)
    with small_runs():
        d = diff_tables(store, stored(store, a), stored(store, b))
    added, removed, changed = naive(a, b)
    assert set(d.added.index) == added
    assert set(d.removed.index) == removed
    assert set(zip(d.changed.index, d.changed["column"], strict=True)) == changed


@settings(max_examples=examples(40), deadline=None)
@given(rows, rows, st.integers(0, 2**32 - 2))
def test_diff_of_tables_in_any_file_order_matches_pandas(tmp_path_factory, old, new, seed):
    """Row diffs compare rows by index: the order of the files they came from does not matter."""
    store = ObjectStore(LocalBackend(tmp_path_factory.mktemp("s")))
    a = frame(old).sample(frac=1, random_state=seed)
    b = frame(new).sample(frac=1, random_state=seed + 1)
    with small_runs():
        d = diff_tables(store, stored(store, a), stored(store, b))
    added, removed, changed = naive(a, b)
    assert set(d.added.index) == added
    assert set(d.removed.index) == removed
    assert set(zip(d.changed.index, d.changed["column"], strict=True)) == changed


def test_repo_diff_of_unsorted_versions(tmp_path):
    """Two versions of a dataset whose tables are not sorted: relabel one row, append rows."""
    root = make_dataset(tmp_path / "src", files=12, duration=0.05)
    shuffled = list(np.random.default_rng(0).permutation(12))
    write_tables(root, shuffled)
    repo = Repository.init(tmp_path / "repo")
    repo.commit(root, dataset="d", version="1.0.0")
    make_dataset(root, files=15, duration=0.05)  # three more files
    write_tables(root, shuffled + [12, 13, 14])
    csv = root / "db.emotion.csv"
    lines = csv.read_text().splitlines()
    first = lines[1].split(",")
    lines[1] = ",".join([first[0], first[1], "0.95", first[3]])
    csv.write_text("\n".join(lines) + "\n")
    repo.commit(root, dataset="d", version="2.0.0")
    rows = repo.diff("d", "1.0.0", "2.0.0").tables["emotion"].rows
    assert rows.added.index.tolist() == [file_name(i) for i in (12, 13, 14)]
    assert rows.removed.empty
    assert rows.changed.index.tolist() == [first[0]] and rows.changed["column"].tolist() == [
        "confidence"]
    got = repo.table("d", "emotion", "2.0.0")
    assert got.index.tolist() == [line.split(",")[0] for line in lines[1:]]  # the file's order


@contextlib.contextmanager
def small_runs():
    """Small runs, so that a table of a hundred rows has many of them."""
    before = casdb.tables.partitions.RUN_AVERAGE
    casdb.tables.partitions.RUN_AVERAGE = 4
    try:
        yield
    finally:
        casdb.tables.partitions.RUN_AVERAGE = before


def test_relabelling_reads_only_the_changed_runs(tmp_path):
    store = ObjectStore(LocalBackend(tmp_path))
    n = 200_000
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {"label": pd.array(rng.choice(["a", "b", "c"], n), dtype="string"),
         "score": rng.random(n)},
        index=pd.Index([f"audio/{i:07d}.wav" for i in range(n)], name="file", dtype="string"))
    old = stored(store, df)
    changed = df.copy()
    picks = np.arange(0, 2000, 100)  # 20 rows, all in the first runs
    changed.iloc[picks, 0] = "z"
    new = stored(store, changed)
    d = diff_tables(store, old, new)
    assert d.changed_columns() == {"label": 20} and d.added.empty and d.removed.empty
    assert d.runs_decoded <= 2 < len(new.runs) // 4


def test_segmented_index_and_column_changes(tmp_path):
    store = ObjectStore(LocalBackend(tmp_path))
    index = pd.MultiIndex.from_arrays(
        [pd.array(["a", "a", "b"], dtype="string"),
         pd.to_timedelta([0, 1, 0], unit="s"), pd.to_timedelta([1, 2, np.nan], unit="s")],
        names=["file", "start", "end"])
    a = pd.DataFrame({"x": [1.0, np.nan, 3.0]}, index=index)
    b = pd.DataFrame({"x": [1.0, np.nan, 4.0], "y": ["p", "q", "r"]}, index=index)
    d = diff_tables(store, stored(store, a, index.names), stored(store, b, index.names))
    assert d.columns_added == ["y"]
    assert d.changed_columns() == {"x": 1}
    assert d.changed.index[0] == ("b", pd.Timedelta(0), pd.NaT) or d.changed.index[0][0] == "b"


def test_a_column_that_was_all_missing(tmp_path):
    store = ObjectStore(LocalBackend(tmp_path))
    files = [f"f{i}.wav" for i in range(5)]
    old = pa.table({"file": files, "note": pa.nulls(5)})
    new = pa.table({"file": files, "note": pa.array([None, None, "x", None, None], pa.string())})
    a = store.get(store_table(store, "t", "filewise", old, ["file"]), "table")
    b = store.get(store_table(store, "t", "filewise", new, ["file"]), "table")
    d = diff_tables(store, a, b)
    assert d.changed.index.tolist() == ["f2.wav"] and d.changed["new"].tolist() == ["x"]


def _pandas_key_hashes(table, levels):
    """Version 1 of the index hash (pandas' hash_pandas_object), as casdb stored tables up to
    issue 16."""
    columns = {}
    for level in levels:
        column = table.column(level)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            values = column.to_numpy(zero_copy_only=False)
        elif pa.types.is_temporal(column.type):
            values = column.cast(pa.int64()).fill_null(np.iinfo(np.int64).min).to_numpy()
        else:
            values = column.to_pandas().to_numpy(dtype=object)
        columns[level] = pd.Series(values, dtype=object if values.dtype == object else None)
    return pd.util.hash_pandas_object(pd.DataFrame(columns), index=False).to_numpy(np.uint64)


@settings(max_examples=examples(30), deadline=None)
@given(rows, rows)
def test_diff_across_key_hash_versions_matches_pandas(tmp_path_factory, old, new):
    """A table stored by an older casdb (other run boundaries) diffs right against one stored
    now, and reads back the same."""
    store = ObjectStore(LocalBackend(tmp_path_factory.mktemp("s")))
    a, b = frame(old), frame(new)
    with small_runs():
        current = casdb.tables.partitions.key_hashes
        casdb.tables.partitions.key_hashes = _pandas_key_hashes
        try:
            before = stored(store, a)
        finally:
            casdb.tables.partitions.key_hashes = current
        after = stored(store, b)
        d = diff_tables(store, before, after)
        back = casdb.tables.partitions.load_arrow(store, before)
    assert back.column("file").to_pylist() == list(a.index)  # the file's order, read back
    added, removed, changed = naive(a, b)
    assert set(d.added.index) == added
    assert set(d.removed.index) == removed
    assert set(zip(d.changed.index, d.changed["column"], strict=True)) == changed
