"""Table storage: history independence, local effect of inserts, column-wise effect of relabels."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from casdb.backends.local import LocalBackend
from casdb.store import ObjectStore
from casdb.tables import load_arrow, store_table


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
