"""Row-level diff of two versions of a table, at a cost in proportion to the change.

Runs of rows are cut at content-defined boundaries of the index, so runs whose index did not
change have the same index partitions in both versions. Such runs are paired: a column whose
partition id is the same on both sides is skipped without decoding, and only columns whose
partitions differ are decoded and compared value by value. Runs whose index changed (rows added
or removed near them) are decoded whole and matched by index.

Example:
    >>> import tempfile, pyarrow as pa
    >>> from casdb.backends.local import LocalBackend
    >>> from casdb.store import ObjectStore
    >>> from casdb.tables import store_table
    >>> store = ObjectStore(LocalBackend(tempfile.mkdtemp()))
    >>> a = store_table(store, "t", "filewise", pa.table({"file": ["a", "b"], "x": [1, 2]}), ["file"])
    >>> b = store_table(store, "t", "filewise", pa.table({"file": ["b", "c"], "x": [3, 4]}), ["file"])
    >>> d = diff_tables(store, store.get(a, "table"), store.get(b, "table"))
    >>> d.added.index.tolist(), d.removed.index.tolist(), d.changed[["column", "old", "new"]].values.tolist()
    (['c'], ['a'], [['x', 2, 3]])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from casdb.objects import Run, Table
from casdb.tables import decode_column

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from casdb.store import ObjectStore


@dataclass
class TableDiff:
    """How the rows of one table differ between two versions."""

    name: str
    added: pd.DataFrame
    """Rows only in the new version (index and every column)."""
    removed: pd.DataFrame
    """Rows only in the old version."""
    changed: pd.DataFrame
    """One row per changed value: the row's index, ``column``, ``old``, ``new``."""
    columns_added: list[str] = field(default_factory=list)
    columns_removed: list[str] = field(default_factory=list)
    runs_decoded: int = 0
    """Runs whose partitions had to be read (the rest were skipped by id)."""

    @property
    def changed_rows(self) -> int:
        return self.changed.index.nunique() if len(self.changed) else 0

    def changed_columns(self) -> dict[str, int]:
        """Column -> number of changed values."""
        return self.changed["column"].value_counts().to_dict() if len(self.changed) else {}

    @property
    def empty(self) -> bool:
        return not (len(self.added) or len(self.removed) or len(self.changed)
                    or self.columns_added or self.columns_removed)


def diff_tables(store: ObjectStore, old: Table, new: Table) -> TableDiff:
    """Rows added, removed and changed from ``old`` to ``new`` (two versions of one table)."""
    import pandas as pd
    import pyarrow as pa

    levels = [c.name for c in new.index]
    old_names = [c.name for c in old.index + old.columns]
    new_names = [c.name for c in new.index + new.columns]
    common = [c.name for c in new.columns if c.name in old_names]
    n_index = len(new.index)
    by_index = {run.columns[:n_index]: run for run in old.runs}
    paired_old: set[int] = set()
    changes: list[pd.DataFrame] = []
    unpaired_new: list[Run] = []
    decoded = 0
    # Per changed column: the keys, old and new values of its changed rows, as Arrow pieces.
    pieces: dict[str, tuple[list[list[pa.Array]], list[pa.Array], list[pa.Array]]] = {}
    work = []
    for run in new.runs:
        match = by_index.get(run.columns[:n_index]) if [c.name for c in old.index] == levels else None
        if match is None or run.rows == 0:
            if run.rows:
                unpaired_new.append(run)
            continue
        paired_old.add(id(match))
        differing = [
            c for c in common
            if run.columns[new_names.index(c)] != match.columns[old_names.index(c)]
        ]
        if differing:
            work.append((run, match, differing))
    # Fetch every partition the comparison needs at once, in parallel.
    fetched = store.get_partitions([
        pid for run, match, differing in work
        for pid in (*run.columns[:n_index],
                    *(match.columns[old_names.index(c)] for c in differing),
                    *(run.columns[new_names.index(c)] for c in differing))
    ])
    for run, match, differing in work:
        decoded += 1
        keys = None
        for column in differing:
            a_id = match.columns[old_names.index(column)]
            b_id = run.columns[new_names.index(column)]
            a = decode_column(store, a_id, fetched[a_id])
            b = decode_column(store, b_id, fetched[b_id])
            positions = _differs(a, b).nonzero()[0]
            if not len(positions):
                continue
            if keys is None:  # the index is read only for runs with a changed value
                keys = [decode_column(store, pid, fetched[pid]) for pid in run.columns[:n_index]]
            idx = pa.array(positions)
            entry = pieces.setdefault(column, ([[] for _ in levels], [], []))
            for level, array in zip(entry[0], keys, strict=True):
                level.append(array.take(idx))
            entry[1].append(a.take(idx))
            entry[2].append(b.take(idx))
    for column, (key_parts, olds, news) in pieces.items():
        index = _index([pa.chunked_array(parts) for parts in key_parts], levels)
        changes.append(pd.DataFrame(
            {"column": column, "old": pa.chunked_array(olds).to_pandas().to_numpy(),
             "new": pa.chunked_array(news).to_pandas().to_numpy()}, index=index))
    unpaired_old = [r for r in old.runs if id(r) not in paired_old and r.rows]
    decoded += len(unpaired_old) + len(unpaired_new)
    old_rows = _rows(store, old, unpaired_old, levels)
    new_rows = _rows(store, new, unpaired_new, levels)
    added = new_rows.loc[~new_rows.index.isin(old_rows.index)]
    removed = old_rows.loc[~old_rows.index.isin(new_rows.index)]
    both = new_rows.index.intersection(old_rows.index)
    if len(both):
        a_rows, b_rows = old_rows.loc[both], new_rows.loc[both]
        for column in common:
            a = pa.array(a_rows[column], from_pandas=True)
            b = pa.array(b_rows[column], from_pandas=True)
            mask = _differs(a, b)
            if mask.any():
                keys = both[mask]
                changes.append(pd.DataFrame(
                    {"column": column, "old": a_rows[column].to_numpy()[mask],
                     "new": b_rows[column].to_numpy()[mask]}, index=keys))
    changed = (pd.concat(changes) if changes else
               pd.DataFrame({"column": [], "old": [], "new": []},
                            index=_empty_index(levels)))
    return TableDiff(
        new.name, added, removed, changed.sort_index(kind="stable"),
        columns_added=[c.name for c in new.columns if c.name not in old_names],
        columns_removed=[c.name for c in old.columns if c.name not in new_names],
        runs_decoded=decoded,
    )


def _differs(a: pa.Array, b: pa.Array):
    """Positions where two arrays differ, treating two missing values (and two NaN) as equal."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if a.type != b.type:  # the column's type changed (e.g. all-missing before): compare values
        try:
            b = b.cast(a.type) if not pa.types.is_null(a.type) else b
            a = a.cast(b.type) if pa.types.is_null(a.type) else a
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            left, right = a.to_pylist(), b.to_pylist()
            return np.array([x != y for x, y in zip(left, right, strict=True)], dtype=bool)
    equal = pc.equal(a, b)
    both_null = pc.and_(pc.is_null(a), pc.is_null(b))
    same = pc.or_kleene(equal, both_null)
    if pa.types.is_floating(a.type):
        same = pc.or_kleene(same, pc.and_(pc.is_nan(a), pc.is_nan(b)))
    return ~same.fill_null(False).to_numpy(zero_copy_only=False)


def _index(arrays: list, levels: list[str]) -> pd.Index:
    import pandas as pd

    columns = [array.to_pandas() for array in arrays]
    columns = [c if str(c.dtype).startswith(("timedelta", "datetime")) else c.astype(object)
               for c in columns]
    if len(levels) == 1:
        return pd.Index(columns[0], name=levels[0])
    return pd.MultiIndex.from_arrays(columns, names=levels)


def _rows(store: ObjectStore, table: Table, runs: list[Run], levels: list[str]) -> pd.DataFrame:
    from casdb.tables import load_arrow

    frame = load_arrow(store, table, None, runs).to_pandas()
    # Plain object keys: pandas matches Arrow-backed strings in a slow Python loop.
    keys = {level: frame[level].astype(object) for level in levels
            if not str(frame[level].dtype).startswith(("timedelta", "datetime"))}
    return frame.assign(**keys).set_index(levels)


def _empty_index(levels: list[str]) -> Any:
    import pandas as pd

    if len(levels) == 1:
        return pd.Index([], name=levels[0])
    return pd.MultiIndex.from_arrays([[] for _ in levels], names=levels)
