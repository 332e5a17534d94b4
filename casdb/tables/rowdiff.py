"""Row-level diff of two versions of a table, at a cost in proportion to the change.

Runs of rows are cut at content-defined boundaries of the index, so runs whose index did not
change have the same index partitions in both versions. Such runs are paired: a column whose
partition id is the same on both sides is skipped without decoding, and only columns whose
partitions differ are decoded and compared value by value. Runs whose index changed (rows added
or removed near them) are decoded whole and matched by index.

Example:
    >>> import tempfile, pyarrow as pa
    >>> from casdb.store.backends.local import LocalBackend
    >>> from casdb.store.objectstore import ObjectStore
    >>> from casdb.tables.partitions import store_table
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

from casdb.model.objects import Run, Table
from casdb.tables.partitions import decode_column

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from casdb.store.objectstore import ObjectStore


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
    pairs = _pair_runs(old, new)
    changes = _paired_changes(store, pairs)
    added, removed, unpaired_changes = _unpaired_changes(store, old, new, pairs)
    return TableDiff(
        new.name, added, removed, _changed_frame(changes + unpaired_changes, pairs.levels),
        columns_added=[c.name for c in new.columns if c.name not in pairs.old_names],
        columns_removed=[c.name for c in old.columns if c.name not in pairs.new_names],
        runs_decoded=len(pairs.work) + len(pairs.unpaired_old) + len(pairs.unpaired_new),
    )


@dataclass
class _Pairs:
    """Runs of the two versions paired by their index partitions."""

    levels: list[str]
    """The index levels (of the new version)."""
    old_names: list[str]
    """Index and column names of the old version, in the order of a run's partitions."""
    new_names: list[str]
    common: list[str]
    """Columns (not index) in both versions."""
    work: list[tuple[Run, Run, list[str]]]
    """(new run, old run, common columns whose partitions differ) of paired runs to compare."""
    unpaired_old: list[Run]
    unpaired_new: list[Run]
    """Non-empty runs without a partner: decoded whole and matched by index."""

    def old_partition(self, run: Run, column: str) -> str:
        return run.columns[self.old_names.index(column)]

    def new_partition(self, run: Run, column: str) -> str:
        return run.columns[self.new_names.index(column)]


def _pair_runs(old: Table, new: Table) -> _Pairs:
    """Pair each run of ``new`` with the run of ``old`` that has the same index partitions (only
    if the index levels are the same), and list the columns whose partitions differ."""
    levels = [c.name for c in new.index]
    old_names = [c.name for c in old.index + old.columns]
    new_names = [c.name for c in new.index + new.columns]
    common = [c.name for c in new.columns if c.name in old_names]
    n_index = len(new.index)
    by_index = {run.columns[:n_index]: run for run in old.runs}
    same_levels = [c.name for c in old.index] == levels
    paired_old: set[int] = set()
    unpaired_new: list[Run] = []
    work = []
    for run in new.runs:
        match = by_index.get(run.columns[:n_index]) if same_levels else None
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
    unpaired_old = [r for r in old.runs if id(r) not in paired_old and r.rows]
    return _Pairs(levels, old_names, new_names, common, work, unpaired_old, unpaired_new)


def _paired_changes(store: ObjectStore, pairs: _Pairs) -> list[pd.DataFrame]:
    """Changed values of paired runs: only the columns whose partitions differ are decoded, and
    the index only of runs with a changed value. One frame per changed column."""
    import pandas as pd
    import pyarrow as pa

    n_index = len(pairs.levels)
    # Fetch every partition the comparison needs at once, in parallel.
    fetched = store.get_partitions([
        pid for run, match, differing in pairs.work
        for pid in (*run.columns[:n_index],
                    *(pairs.old_partition(match, c) for c in differing),
                    *(pairs.new_partition(run, c) for c in differing))
    ])
    # Per changed column: the keys, old and new values of its changed rows, as Arrow pieces.
    pieces: dict[str, tuple[list[list[pa.Array]], list[pa.Array], list[pa.Array]]] = {}
    for run, match, differing in pairs.work:
        keys = None
        for column in differing:
            a_id = pairs.old_partition(match, column)
            b_id = pairs.new_partition(run, column)
            a = decode_column(store, a_id, fetched[a_id])
            b = decode_column(store, b_id, fetched[b_id])
            positions = _differs(a, b).nonzero()[0]
            if not len(positions):
                continue
            if keys is None:  # the index is read only for runs with a changed value
                keys = [decode_column(store, pid, fetched[pid]) for pid in run.columns[:n_index]]
            idx = pa.array(positions)
            entry = pieces.setdefault(column, ([[] for _ in pairs.levels], [], []))
            for level, array in zip(entry[0], keys, strict=True):
                level.append(array.take(idx))
            entry[1].append(a.take(idx))
            entry[2].append(b.take(idx))
    changes = []
    for column, (key_parts, olds, news) in pieces.items():
        index = _index([pa.chunked_array(parts) for parts in key_parts], pairs.levels)
        changes.append(pd.DataFrame(
            {"column": column, "old": pa.chunked_array(olds).to_pandas().to_numpy(),
             "new": pa.chunked_array(news).to_pandas().to_numpy()}, index=index))
    return changes


def _unpaired_changes(
    store: ObjectStore, old: Table, new: Table, pairs: _Pairs
) -> tuple[pd.DataFrame, pd.DataFrame, list[pd.DataFrame]]:
    """Rows of unpaired runs, decoded whole and matched by index: (added, removed, one frame of
    changed values per common column of the rows on both sides)."""
    import pandas as pd
    import pyarrow as pa

    old_rows = _rows(store, old, pairs.unpaired_old, pairs.levels)
    new_rows = _rows(store, new, pairs.unpaired_new, pairs.levels)
    added = new_rows.loc[~new_rows.index.isin(old_rows.index)]
    removed = old_rows.loc[~old_rows.index.isin(new_rows.index)]
    both = new_rows.index.intersection(old_rows.index)
    changes = []
    if len(both):
        a_rows, b_rows = old_rows.loc[both], new_rows.loc[both]
        for column in pairs.common:
            a = pa.array(a_rows[column], from_pandas=True)
            b = pa.array(b_rows[column], from_pandas=True)
            mask = _differs(a, b)
            if mask.any():
                keys = both[mask]
                changes.append(pd.DataFrame(
                    {"column": column, "old": a_rows[column].to_numpy()[mask],
                     "new": b_rows[column].to_numpy()[mask]}, index=keys))
    return added, removed, changes


def _changed_frame(changes: list[pd.DataFrame], levels: list[str]) -> pd.DataFrame:
    """The changed values in one frame, sorted by index (stable: column order kept per row)."""
    import pandas as pd

    changed = (pd.concat(changes) if changes else
               pd.DataFrame({"column": [], "old": [], "new": []},
                            index=_empty_index(levels)))
    return changed.sort_index(kind="stable")


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
    from casdb.tables.partitions import load_arrow

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
