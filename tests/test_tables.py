"""Table storage: history independence, local effect of inserts, column-wise effect of relabels."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casdb.core.errors import IntegrityError
from casdb.model.objects import Partition, Run, Table
from casdb.store.backends.local import LocalBackend
from casdb.store.objectstore import ObjectStore
from casdb.tables.partitions import encode_column, load_arrow, store_table
from casdb.testing.profiles import examples


def table(n: int, seed: int = 0, start: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table({
        "file": [f"audio/{i:07d}.wav" for i in range(start, start + n)],
        "emotion": rng.choice(["a", "b", "c", "d"], n),
        "score": rng.random(n),
    })


def partitions(store, table_id):
    t = store.get(table_id, "table")
    return [run.columns for run in t.runs]


def test_same_rows_in_any_order_give_the_same_runs_and_come_back_in_their_order(tmp_path):
    store = ObjectStore(LocalBackend(tmp_path))
    t = table(50_000)
    shuffled = t.take(pa.array(np.random.default_rng(1).permutation(len(t))))
    sorted_id = store_table(store, "t", "filewise", t, ["file"])
    shuffled_id = store_table(store, "t", "filewise", shuffled, ["file"])
    assert partitions(store, sorted_id) == partitions(store, shuffled_id)
    assert store.get(sorted_id, "table").order == ()  # a sorted file stores no order
    assert len(store.get(shuffled_id, "table").order) == len(partitions(store, shuffled_id))
    assert load_arrow(store, store.get(sorted_id, "table")).equals(t)
    assert load_arrow(store, store.get(shuffled_id, "table")).equals(shuffled)


def test_inserted_rows_change_only_nearby_runs(tmp_path):
    store = ObjectStore(LocalBackend(tmp_path))
    t = table(100_000)
    before = partitions(store, store_table(store, "t", "filewise", t, ["file"]))
    extra = pa.table({"file": [f"audio/{50_000:07d}.wav.extra{i}" for i in range(10)],
                      "emotion": ["a"] * 10, "score": [0.5] * 10})
    after = partitions(store, store_table(store, "t", "filewise", pa.concat_tables([t, extra]),
                                          ["file"]))
    assert len(before) >= 6
    assert len(set(after) - set(before)) <= 2  # the run that got the rows (and maybe a neighbour)


def test_relabelling_one_column_stores_only_that_column_again(tmp_path):
    store = ObjectStore(LocalBackend(tmp_path))
    t = table(60_000)
    before = partitions(store, store_table(store, "t", "filewise", t, ["file"]))
    relabelled = t.set_column(1, "emotion", pa.array(["z"] * len(t)))
    after = partitions(store, store_table(store, "t", "filewise", relabelled, ["file"]))
    assert len(before) == len(after)
    for old, new in zip(before, after, strict=True):
        assert old[0] == new[0] and old[2] == new[2]  # file and score partitions kept
        assert old[1] != new[1]


def test_empty_table_keeps_its_types(tmp_path):
    store = ObjectStore(LocalBackend(tmp_path))
    empty = table(0)
    back = load_arrow(store, store.get(store_table(store, "t", "filewise", empty, ["file"]), "table"))
    assert back.schema == empty.schema and back.num_rows == 0


def stored_bytes(store, table_id) -> dict[str, int]:
    """Every object of a stored table (table, partitions, order partitions) -> bytes on disk."""
    store.publish()
    t = store.get(table_id, "table")
    ids = {table_id, *(p for run in t.runs for p in run.columns), *t.order}
    return {i: len(store.read_stored(i)) for i in ids}


def shuffled(t: pa.Table, seed: int) -> pa.Table:
    return t.take(pa.array(np.random.default_rng(seed).permutation(len(t))))


def test_relabel_and_append_of_an_unsorted_table_store_little(tmp_path):
    store = ObjectStore(LocalBackend(tmp_path))
    v1 = shuffled(table(100_000), 1)
    v1_id = store_table(store, "t", "filewise", v1, ["file"])
    before = stored_bytes(store, v1_id)
    n_runs = len(store.get(v1_id, "table").runs)
    # Relabel 10 rows: only the emotion partitions of their runs and the table are new.
    emotion = v1.column("emotion").to_numpy(zero_copy_only=False).copy()
    emotion[np.arange(0, 100_000, 10_000)] = "z"
    relabelled = v1.set_column(1, "emotion", pa.array(emotion))
    rid = store_table(store, "t", "filewise", relabelled, ["file"])
    new = set(stored_bytes(store, rid)) - set(before)
    assert len(new) <= 11 and store.get(rid, "table").order[0] in before  # order kept whole
    # Append 100 rows whose files sort between existing ones (into one or two runs).
    extra = pa.table({"file": [f"audio/{50_000:07d}.wav.extra{i}" for i in range(100)],
                      "emotion": ["a"] * 100, "score": [0.5] * 100})
    aid = store_table(store, "t", "filewise", pa.concat_tables([v1, extra]), ["file"])
    added = {i: b for i, b in stored_bytes(store, aid).items() if i not in before}
    assert len(added) <= 1 + 2 * 4  # the table, and 3 columns + order of at most 2 runs
    assert n_runs >= 6 and sum(added.values()) < 3 * sum(before.values()) / n_runs
    back = load_arrow(store, store.get(aid, "table"))
    assert back.equals(pa.concat_tables([v1, extra]).combine_chunks())


def test_a_sorted_table_with_rows_appended_out_of_order_stores_little_order(tmp_path):
    store = ObjectStore(LocalBackend(tmp_path))
    v1 = table(100_000)
    before = stored_bytes(store, store_table(store, "t", "filewise", v1, ["file"]))
    extra = pa.table({"file": ["audio/0000000.wav.late"], "emotion": ["a"], "score": [0.5]})
    aid = store_table(store, "t", "filewise", pa.concat_tables([v1, extra]), ["file"])
    t = store.get(aid, "table")
    assert len(t.order) == len(t.runs)  # now out of order: every run gets an order partition
    order_bytes = sum(b for i, b in stored_bytes(store, aid).items() if i in t.order)
    assert order_bytes < 0.01 * sum(before.values())  # runs in file order compress to ~nothing
    assert load_arrow(store, t).column("file")[-1].as_py() == "audio/0000000.wav.late"


def crafted_order(store, steps: list[pa.Array]) -> Table:
    """A stored table of 4 sorted rows in 2 runs, with these order partitions (steps) forged."""
    base = store.get(store_table(store, "t", "filewise", table(4), ["file"]), "table")
    runs = (Run(2, (), (), tuple(base.runs[0].columns)), Run(2, (), (), tuple(base.runs[0].columns)))
    # both runs show rows 0-1 of the table; the order partitions decide where they go
    order = tuple(store.put(Partition(encode_column(pa.chunked_array([s]), "order")))
                  for s in steps)
    return Table("t", "filewise", base.index, base.columns, runs, order)


def test_crafted_row_orders_are_integrity_errors(tmp_path):
    store = ObjectStore(LocalBackend(tmp_path))
    good = crafted_order(store, [pa.array([0, 1], pa.int32()), pa.array([2, 1], pa.int32())])
    assert load_arrow(store, good).num_rows == 4
    for steps in (
        [pa.array([0, 1], pa.int32()), pa.array([1, 1], pa.int32())],  # a row twice
        [pa.array([0, 1], pa.int32()), pa.array([2, 2], pa.int32())],  # position 4 of 4 rows
        [pa.array([-1, 1], pa.int32()), pa.array([3, 1], pa.int32())],  # negative
        [pa.array([0], pa.int32()), pa.array([2, 1, 1], pa.int32())],  # runs of other sizes
        [pa.array([0, None], pa.int32()), pa.array([2, 1], pa.int32())],  # missing
        [pa.array(["0", "1"]), pa.array([2, 1], pa.int32())],  # not integers
        [pa.array([2**63 - 1, 2**63 - 1], pa.int64()), pa.array([2, 1], pa.int32())],  # overflow
    ):
        with pytest.raises(IntegrityError, match="row order"):
            load_arrow(store, crafted_order(store, steps))


steps = st.one_of(st.integers(-2, 4), st.integers(-(2**63), 2**63 - 1))


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(steps, min_size=4, max_size=4))
def test_fuzzed_row_orders_give_a_permutation_or_an_integrity_error(tmp_path_factory, values):
    store = ObjectStore(LocalBackend(tmp_path_factory.getbasetemp() / "fuzzed-orders"))
    t = crafted_order(store, [pa.array(values[:2], pa.int64()), pa.array(values[2:], pa.int64())])
    try:
        back = load_arrow(store, t)
    except IntegrityError:
        return
    assert sorted(back.column("file").to_pylist()) == sorted(table(4).column("file")[:2].to_pylist() * 2)


def test_crafted_order_partition_bytes_are_integrity_errors(tmp_path):
    store = ObjectStore(LocalBackend(tmp_path))
    t = crafted_order(store, [pa.array([0, 1], pa.int32()), pa.array([2, 1], pa.int32())])
    junk = store.put(Partition(b"not an arrow stream"))
    with pytest.raises(IntegrityError):
        load_arrow(store, Table(t.name, t.type, t.index, t.columns, t.runs, (junk, t.order[1])))
