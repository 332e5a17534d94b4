"""Reading table files (``db.<table>.csv`` or ``.parquet``) into validated Arrow tables.

The result has one column per index level and column of the header, in header order, each of the
Arrow type its audformat dtype maps to (see :mod:`casdb.tables.schema`); ``object`` columns keep the type
pyarrow infers, as audformat does. Every value is checked against its scheme (labels, minimum,
maximum), the index must be unique and segments must not end before they start. A problem is one
``InvalidDataset`` line naming the table, the column and the first offending row (counted from 1,
after the CSV's header line).

Example:
    >>> import tempfile, pathlib
    >>> from casdb.tables.schema import layout
    >>> header = {"name": "x", "tables": {"t": {"type": "filewise", "columns": {"c": {}}}}}
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "db.t.csv"
    >>> _ = path.write_text("file,c\\nb.wav,2\\na.wav,1\\n")
    >>> read_table_file(path, layout(header, "t")).column("file").to_pylist()
    ['b.wav', 'a.wav']
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from casdb.core.errors import InvalidDataset
from casdb.tables.schema import ColumnSpec, TableLayout, arrow_type

if TYPE_CHECKING:
    import pyarrow as pa


def read_table_file(
    path: Path, lay: TableLayout, label_sets: dict[str, list] | None = None
) -> pa.Table:
    """Read and validate one table file; ``label_sets`` maps misc table ids to their index values."""
    where = f"table {lay.id!r}"
    table = _read_parquet(path, lay, where) if path.suffix == ".parquet" else _read_csv(path, lay, where)
    columns = []
    for name in lay.names:
        dtype = lay.levels.get(name) or lay.columns[name].dtype
        columns.append(_convert(table.column(name), dtype, f"{where}, column {name!r}"))
    table = _table(columns, lay.names)
    for name, spec in lay.columns.items():
        _check_values(table.column(name), spec, f"{where}, column {name!r}", label_sets or {})
    _check_index(table, lay, where)
    return table


def _table(columns: list, names: list[str]) -> pa.Table:
    import pyarrow as pa

    return pa.table(columns, names=names)


# -- reading --------------------------------------------------------------------------------------

def _read_csv(path: Path, lay: TableLayout, where: str) -> pa.Table:
    import pyarrow as pa
    from pyarrow import csv

    names = _csv_header(path, where)
    _check_names(names, lay, where, path.name)
    types = {}
    for name in names:
        dtype = lay.levels.get(name) or lay.columns[name].dtype
        # time is parsed after reading (pyarrow's CSV reader has no duration parser);
        # object columns get the type pyarrow infers, as in audformat.
        types[name] = pa.string() if dtype == "time" else arrow_type(dtype)
    types = {k: v for k, v in types.items() if v is not None}
    options = dict(
        read_options=csv.ReadOptions(column_names=names, skip_rows=1),
        convert_options=csv.ConvertOptions(column_types=types, strings_can_be_null=True),
    )
    try:
        table = csv.read_csv(path, **options)
    except pa.ArrowInvalid as exc:
        _diagnose_csv(path, names, types, where, exc)
    return _add_missing_end(table, lay)


def _csv_header(path: Path, where: str) -> list[str]:
    import csv as pycsv

    try:
        with open(path, newline="", encoding="utf-8") as f:
            row = next(pycsv.reader(f), None)
    except (OSError, UnicodeDecodeError, pycsv.Error) as exc:
        raise InvalidDataset(f"{where}: cannot read {path.name}: {exc}") from exc
    if not row:
        raise InvalidDataset(f"{where}: {path.name} is empty (expected a header line)")
    return row


def _diagnose_csv(path: Path, names: list[str], types: dict, where: str, exc: Exception):
    """Find the column and row that made pyarrow fail, reading everything as text."""
    import pyarrow as pa
    from pyarrow import csv

    try:
        text = csv.read_csv(
            path,
            read_options=csv.ReadOptions(column_names=names, skip_rows=1),
            convert_options=csv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=True
            ),
        )
    except pa.ArrowInvalid as inner:
        raise InvalidDataset(f"{where}: cannot parse {path.name}: {_first_line(inner)}") from inner
    for name, typ in types.items():
        if typ == pa.string():
            continue
        values = text.column(name).to_pylist()
        for row, value in enumerate(values, start=1):
            if value is None:
                continue
            try:
                pa.array([value]).cast(typ)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise InvalidDataset(
                    f"{where}, column {name!r}, row {row}: {value!r} is not a valid {_kind(typ)}"
                ) from exc
    raise InvalidDataset(f"{where}: cannot parse {path.name}: {_first_line(exc)}") from exc


def _kind(typ: pa.DataType) -> str:
    import pyarrow as pa

    if pa.types.is_integer(typ):
        return "integer"
    if pa.types.is_floating(typ):
        return "number"
    if pa.types.is_boolean(typ):
        return "bool"
    if pa.types.is_timestamp(typ):
        return "date"
    return str(typ)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _read_parquet(path: Path, lay: TableLayout, where: str) -> pa.Table:
    import pyarrow as pa
    from pyarrow import parquet

    try:
        table = parquet.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise InvalidDataset(f"{where}: cannot parse {path.name}: {_first_line(exc)}") from exc
    _check_names(table.column_names, lay, where, path.name)
    return _add_missing_end(table.replace_schema_metadata(None), lay)


def _check_names(names: list[str], lay: TableLayout, where: str, file: str) -> None:
    expected = lay.names
    optional = {"end"} if lay.kind == "segmented" else set()
    missing = [n for n in expected if n not in names and n not in optional]
    extra = [n for n in names if n not in expected]
    if missing:
        raise InvalidDataset(f"{where}: {file} has no column {missing[0]!r} (db.yaml names it)")
    if extra:
        raise InvalidDataset(f"{where}: {file} has a column {extra[0]!r} that db.yaml does not name")
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InvalidDataset(f"{where}: {file} has the column {dup!r} twice")


def _add_missing_end(table: pa.Table, lay: TableLayout) -> pa.Table:
    import pyarrow as pa

    if lay.kind == "segmented" and "end" not in table.column_names:
        table = table.append_column("end", pa.nulls(len(table), pa.duration("ns")))
    return table


# -- converting and checking -----------------------------------------------------------------------

def _convert(column: pa.ChunkedArray, dtype: str, where: str) -> pa.ChunkedArray:
    """Cast a column to the Arrow type of its dtype (dictionaries decoded, units in ns)."""
    import pyarrow as pa

    column = _plain(column)
    target = arrow_type(dtype)
    if target is None:
        return column
    if dtype == "time" and (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return _parse_time(column, where)
    if column.type == target:
        return column
    try:
        return column.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        values = column.to_pylist()
        for row, value in enumerate(values, start=1):
            try:
                pa.array([value], type=column.type).cast(target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                raise InvalidDataset(f"{where}, row {row}: {value!r} is not a valid {dtype}") from exc
        raise InvalidDataset(f"{where}: cannot convert {column.type} to {dtype}") from exc


def _plain(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Decode dictionaries and use the regular string type (parquet may hold either)."""
    import pyarrow as pa

    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_large_string(column.type):
        column = column.cast(pa.string())
    return column


_TIME = r"^(?P<days>\d+) days? (?P<h>\d{1,2}):(?P<m>\d\d):(?P<s>\d\d)(?:\.(?P<frac>\d{1,9}))?$"
"""audformat's way of writing a time: ``0 days 00:00:01.500000`` (what pandas prints)."""


def _parse_time(column: pa.ChunkedArray, where: str) -> pa.ChunkedArray:
    """Times as durations in ns: audformat's notation vectorised, anything else (negative
    times, ``1.5s``, ``00:00:01``) through pandas."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from casdb.tables.arrays import scalar

    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    parts = pc.extract_regex(column, _TIME)
    if parts.null_count == column.null_count:  # every value in audformat's notation
        def field(name: str) -> pa.Array:
            return pc.cast(pc.struct_field(parts, name), pa.int64())

        def number(n: int) -> pa.Scalar:  # Python scalars would make pyarrow import pandas
            return scalar(n, pa.int64())

        text = pa.string()
        frac = pc.utf8_rpad(pc.struct_field(parts, "frac"), 9, "0")
        frac = pc.cast(pc.if_else(pc.equal(frac, scalar("", text)), scalar("0", text), frac),
                       pa.int64())
        seconds = pc.add(
            pc.multiply(field("days"), number(86400)),
            pc.add(pc.multiply(field("h"), number(3600)),
                   pc.add(pc.multiply(field("m"), number(60)), field("s"))),
        )
        ns = pc.add(pc.multiply(seconds, number(1_000_000_000)), frac)
        return pa.chunked_array([pc.cast(ns, pa.duration("ns"))])
    return _parse_time_pandas(column, where)


def _parse_time_pandas(column: pa.Array, where: str) -> pa.ChunkedArray:
    import pandas as pd
    import pyarrow as pa

    text = column.to_pandas()
    try:
        parsed = pd.to_timedelta(text)
    except (ValueError, TypeError) as exc:
        for row, value in enumerate(text, start=1):
            if value is None or pd.isna(value):
                continue
            try:
                pd.to_timedelta(value)
            except (ValueError, TypeError):
                raise InvalidDataset(f"{where}, row {row}: {value!r} is not a valid time") from exc
        raise InvalidDataset(f"{where}: {exc}") from exc
    return pa.chunked_array([pa.array(parsed.astype("timedelta64[ns]"), type=pa.duration("ns"))])


def _check_values(column: pa.ChunkedArray, spec: ColumnSpec, where: str, label_sets: dict) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    if spec.labelled:
        labels = spec.labels if spec.labels is not None else label_sets.get(spec.labels_table)
        if labels is None and spec.labels_table in label_sets:
            raise InvalidDataset(f"{where}: labels come from misc table {spec.labels_table!r}, "
                                 "whose index has more than one level")
        if labels is None:
            raise InvalidDataset(f"{where}: labels come from unknown misc table {spec.labels_table!r}")
        try:
            allowed = _labels(labels, column.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError) as exc:
            raise InvalidDataset(f"{where}: labels of scheme {spec.scheme_id!r} do not fit "
                                 f"the column's type {column.type}") from exc
        bad = pc.and_(pc.invert(pc.is_in(column, value_set=allowed)), pc.is_valid(column))
        _raise_first(column, bad, where, f"is not a label of scheme {spec.scheme_id!r}")
    if spec.minimum is not None and _numeric(column):
        bad = _null_false(pc.less(column, _bound(spec.minimum)))
        _raise_first(column, bad, where, f"is below the minimum {spec.minimum}")
    if spec.maximum is not None and _numeric(column):
        bad = _null_false(pc.greater(column, _bound(spec.maximum)))
        _raise_first(column, bad, where, f"is above the maximum {spec.maximum}")


def _distinct_keys(table: pa.Table, levels: list[str]) -> int:
    """How many distinct index entries ``table`` has, nulls included.

    The levels are joined as text and counted: a group-by imports pyarrow.dataset and, through
    it, pandas. Text levels may hold the separator, so joined keys can only collide, never
    part: when the count says there are duplicates, the group-by (the error path) decides."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from casdb.tables.arrays import scalar

    def grouped() -> int:
        keys = table.select(levels).group_by(levels, use_threads=False)
        return keys.aggregate([([], "count_all")]).num_rows

    columns = []
    for level in levels:
        column = table.column(level)
        try:
            if pa.types.is_duration(column.type):
                column = pc.cast(column, pa.int64())
            if not pa.types.is_string(column.type):
                column = pc.cast(column, pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            return grouped()
        columns.append(column)
    if len(columns) > 1:
        columns = [pc.binary_join_element_wise(*columns, scalar("\x1f", pa.string()),
                                               null_handling="replace",
                                               null_replacement="\x1e")]
    count = pc.count_distinct(columns[0], mode="all").as_py()
    return count if count == table.num_rows or len(levels) == 1 else grouped()


def _labels(labels: list, typ: pa.DataType) -> pa.Array:
    """A scheme's labels as an array of the column's type (built without pandas:
    :mod:`casdb.tables.arrays`)."""
    import pyarrow as pa

    from casdb.tables import arrays

    if (pa.types.is_string(typ) or pa.types.is_large_string(typ)) \
            and all(isinstance(v, str) for v in labels):
        return arrays.strings(labels).cast(typ)
    if pa.types.is_integer(typ) and all(type(v) is int for v in labels):
        return arrays.numbers(labels, "int64").cast(typ)
    if pa.types.is_floating(typ) and all(type(v) in (int, float) for v in labels):
        return arrays.numbers(labels, "float64").cast(typ)
    return pa.array(labels, type=typ) if labels else pa.array([], typ)


def _bound(value: float) -> pa.Scalar:
    """A scheme's minimum or maximum for a comparison, typed as pyarrow types the Python number
    (an int as int64, so that integers past 2**53 compare exactly; a float as float64)."""
    import pyarrow as pa

    from casdb.tables.arrays import scalar

    if isinstance(value, int) and -(2**63) <= value < 2**63:
        return scalar(int(value), pa.int64())
    return scalar(float(value), pa.float64())


def _null_false(mask: pa.ChunkedArray) -> pa.ChunkedArray:
    """``mask`` with nulls as false (``fill_null(mask, False)`` converts a Python bool)."""
    import pyarrow.compute as pc

    return pc.and_kleene(mask, pc.is_valid(mask))


def _numeric(column: pa.ChunkedArray) -> bool:
    import pyarrow as pa

    return pa.types.is_integer(column.type) or pa.types.is_floating(column.type)


def _raise_first(column: pa.ChunkedArray, bad: pa.ChunkedArray, where: str, what: str) -> None:
    import pyarrow.compute as pc

    if pc.any(bad).as_py():
        row = pc.index(bad, True).as_py()
        raise InvalidDataset(f"{where}, row {row + 1}: {column[row].as_py()!r} {what}")


def _check_index(table: pa.Table, lay: TableLayout, where: str) -> None:
    import pyarrow.compute as pc

    for level in lay.levels:
        if level != "end":
            nulls = pc.is_null(table.column(level))
            if pc.any(nulls).as_py():
                row = pc.index(nulls, True).as_py()
                raise InvalidDataset(f"{where}, index {level!r}, row {row + 1}: value is missing")
    if lay.kind == "segmented":
        bad = _null_false(pc.greater(table.column("start"), table.column("end")))
        if pc.any(bad).as_py():
            row = pc.index(bad, True).as_py()
            raise InvalidDataset(
                f"{where}, row {row + 1}: segment of {table.column('file')[row].as_py()!r} starts "
                f"at {table.column('start')[row].as_py()} after its end {table.column('end')[row].as_py()}"
            )
    if _distinct_keys(table, list(lay.levels)) != table.num_rows:
        index = table.select(list(lay.levels)).to_pandas()
        row = int(index.duplicated(keep="first").to_numpy().argmax())
        first = tuple(index.iloc[row]) if len(lay.levels) > 1 else index.iloc[row, 0]
        raise InvalidDataset(f"{where}, row {row + 1}: duplicated index entry {first!r}")
