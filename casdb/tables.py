"""Tables: reading table files with the header's dtypes, and storing them as column partitions.

A table is stored with its rows sorted by index and cut into runs at content-defined boundaries
(a hash of each row's index key), each column of a run its own partition object (an Arrow IPC
stream). The same rows always give the same ids; relabelling one column stores only that
column's partitions again; inserting rows moves only the boundaries near them.

Example:
    >>> import tempfile, pandas as pd
    >>> from casdb.backends.local import LocalBackend
    >>> from casdb.store import ObjectStore
    >>> store = ObjectStore(LocalBackend(tempfile.mkdtemp()))
    >>> df = pd.DataFrame({"emotion": ["happy", "sad"]},
    ...                   index=pd.Index(["b.wav", "a.wav"], name="file"))
    >>> table = store.get(store_table(store, "emotion", "filewise", df), "table")
    >>> table.rows, load_table(store, table)["emotion"].tolist()
    (2, ['sad', 'happy'])
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from casdb.chunking import cut_points_array
from casdb.errors import InvalidDataset
from casdb.header import column_dtypes, misc_levels
from casdb.objects import Column, Partition, Run, Table

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from casdb.store import ObjectStore

RUN_AVERAGE = 1 << 13
"""Rows per run on average (a power of two)."""

INDEX_LEVELS = {"filewise": ("file",), "segmented": ("file", "start", "end")}


# -- reading table files -----------------------------------------------------------------------

def read_table(path: Path, table_id: str, kind: str, header: dict[str, Any]) -> pd.DataFrame:
    """Read ``db.<table>.csv|parquet`` into a DataFrame indexed as audformat indexes it."""
    import pandas as pd

    levels = (
        misc_levels(header, table_id) if kind == "misc" else dict.fromkeys(INDEX_LEVELS[kind])
    )
    try:
        if path.suffix == ".parquet":
            df = pd.read_parquet(path)
            if set(levels) - set(df.columns):
                df = df.reset_index()
        else:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except Exception as exc:  # noqa: BLE001 - pandas/pyarrow raise many types for a bad file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidDataset(f"table {table_id!r}: cannot parse {path.name}: {first}") from exc
    missing = [level for level in levels if level not in df.columns]
    if missing and not (kind == "segmented" and missing == ["end"]):
        raise InvalidDataset(f"table {table_id!r}: {path.name} has no column {missing[0]!r}")
    if kind == "segmented" and "end" not in df.columns:
        df["end"] = pd.NaT
    where = f"table {table_id!r}"
    for level, dtype in levels.items():
        df[level] = _convert(df[level], dtype or ("time" if level in ("start", "end") else "str"),
                             f"{where}, index {level!r}")
    for column, dtype in column_dtypes(header, table_id).items():
        if column in df.columns:
            df[column] = _convert(df[column], dtype, f"{where}, column {column!r}")
    df = df.set_index(list(levels))
    _check_index(df, where)
    return df


def _convert(series: pd.Series, dtype: str | None, where: str) -> pd.Series:
    import pandas as pd

    try:
        if dtype in (None, "str", "object"):
            return series.astype("string")
        if dtype == "int":
            return pd.to_numeric(series).astype("Int64")
        if dtype == "float":
            return pd.to_numeric(series).astype("float64")
        if dtype == "bool":
            if series.dtype == bool or str(series.dtype) == "boolean":
                return series.astype("boolean")
            mapped = series.map({"True": True, "False": False, "true": True, "false": False})
            bad = series.notna() & mapped.isna()
            if bad.any():
                raise ValueError(f"not a bool: {series[bad].iloc[0]!r}")
            return mapped.astype("boolean")
        if dtype == "time":
            return pd.to_timedelta(series)
        if dtype == "date":
            return pd.to_datetime(series)
    except (ValueError, TypeError) as exc:
        row = _first_bad_row(series, dtype)
        raise InvalidDataset(f"{where}: row {row}: {exc}") from exc
    raise InvalidDataset(f"{where}: unknown dtype {dtype!r}")


def _first_bad_row(series: pd.Series, dtype: str | None) -> str:
    import pandas as pd

    for i, value in enumerate(series):
        if pd.isna(value):
            continue
        try:
            if dtype in ("int", "float"):
                float(value)
            elif dtype == "time":
                pd.to_timedelta(value)
            elif dtype == "date":
                pd.to_datetime(value)
            else:
                continue
        except (ValueError, TypeError):
            return f"{i + 1} ({value!r})"
    return "?"


def _check_index(df: pd.DataFrame, where: str) -> None:
    duplicated = df.index.duplicated()
    if duplicated.any():
        first = df.index[duplicated][0]
        raise InvalidDataset(f"{where}: duplicated index entry {first!r}")
    if "start" in df.index.names and "end" in df.index.names:
        start = df.index.get_level_values("start")
        end = df.index.get_level_values("end")
        bad = (end < start) & end.notna()
        if bad.any():
            i = int(bad.argmax())
            raise InvalidDataset(
                f"{where}: segment {df.index[i][0]!r} starts at {start[i]} after its end {end[i]}"
            )


def referenced_files(df: pd.DataFrame) -> list[str]:
    """The unique media paths a filewise or segmented table references, in first-seen order."""
    return list(dict.fromkeys(df.index.get_level_values("file").tolist()))


# -- storing and loading --------------------------------------------------------------------

def store_table(store: ObjectStore, name: str, kind: str, df: pd.DataFrame) -> str:
    """Store a table as runs of column partitions; return the table's id."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    flat = df.reset_index()
    levels = list(df.index.names)
    table = pa.Table.from_pandas(flat, preserve_index=False)
    if len(table):
        order = pc.sort_indices(table, sort_keys=[(lv, "ascending", "at_end") for lv in levels])
        table = table.take(order)
        flat = flat.iloc[order.to_numpy()]
    hashes = pd.util.hash_pandas_object(flat[levels], index=False).to_numpy(dtype=np.uint64)
    runs = []
    start = 0
    for end in cut_points_array(hashes, RUN_AVERAGE):
        ids = tuple(
            store.put(Partition(_encode_column(table.column(i).slice(start, end - start), name)))
            for i, name in enumerate(table.column_names)
        )
        key_rows = table.select(levels).slice(start, end - start)
        runs.append(Run(end - start, _key(key_rows, 0), _key(key_rows, end - start - 1), ids))
        start = end
    columns = [Column(f.name, str(f.type)) for f in table.schema]
    return store.put(Table(name, kind, tuple(columns[: len(levels)]),
                           tuple(columns[len(levels):]), tuple(runs)))


def _key(rows: pa.Table, i: int) -> tuple:
    out = []
    import pyarrow as pa

    for column in rows.columns:
        scalar = column[i]
        # Durations as integer nanoseconds: plain values that msgpack encodes.
        out.append(scalar.value if isinstance(scalar, pa.DurationScalar) else scalar.as_py())
    return tuple(out)


def _encode_column(chunked: pa.ChunkedArray, name: str) -> bytes:
    """Deterministic Arrow IPC bytes of one column slice (fresh buffers, no offsets)."""
    import numpy as np
    import pyarrow as pa

    array = chunked.combine_chunks() if chunked.num_chunks != 1 else chunked.chunk(0)
    array = array.take(pa.array(np.arange(len(array))))  # canonical: rebased, no slack
    batch = pa.record_batch([array], names=[name])
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def load_table(store: ObjectStore, table: Table) -> pd.DataFrame:
    """Read a stored table back into a DataFrame with its index."""
    import pyarrow as pa

    names = [c.name for c in table.index + table.columns]
    if not table.runs:
        schema = pa.schema([(c.name, _arrow_type(c.dtype)) for c in table.index + table.columns])
        frame = schema.empty_table().to_pandas()
    else:
        arrays: list[list[pa.Array]] = [[] for _ in names]
        for run in table.runs:
            for i, pid in enumerate(run.columns):
                data = store.get(pid, "partition").arrow
                arrays[i].append(pa.ipc.open_stream(data).read_all().column(0))
        columns = [pa.chunked_array([c for part in parts for c in part.chunks]) for parts in arrays]
        frame = pa.table(columns, names=names).to_pandas()
    return frame.set_index([c.name for c in table.index])


def _arrow_type(text: str) -> pa.DataType:
    import pyarrow as pa

    return pa.type_for_alias(text) if "[" not in text else pa.duration(text[9:-1])
