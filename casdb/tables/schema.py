"""What the header says about each table: index levels, columns, and their audformat dtypes.

audformat gives every column a scheme (or none); the scheme gives a dtype (``bool``, ``int``,
``float``, ``str``, ``time``, ``date``, ``object``), optional labels (a list, a mapping, or the id
of a misc table whose index holds the labels) and an optional range. casdb stores each dtype as
one Arrow type, and converts back to the pandas dtypes audformat uses when loading.

Example:
    >>> header = {"name": "x", "schemes": {"e": {"dtype": "str", "labels": ["a", "b"]}},
    ...           "tables": {"t": {"type": "filewise", "columns": {"e": {"scheme_id": "e"}}}}}
    >>> lay = layout(header, "t")
    >>> lay.levels, lay.columns["e"].labels
    ({'file': 'str'}, ['a', 'b'])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from casdb.core.errors import InvalidDataset

if TYPE_CHECKING:
    import pyarrow as pa

INDEX_LEVELS = {
    "filewise": {"file": "str"},
    "segmented": {"file": "str", "start": "time", "end": "time"},
}


@dataclass(frozen=True)
class ColumnSpec:
    """One column as the header defines it."""

    name: str
    dtype: str
    """audformat dtype; ``object`` when the column has no scheme."""
    scheme_id: str | None = None
    labels: list | None = None
    """Allowed values from a list or mapping of labels."""
    labels_table: str | None = None
    """Misc table whose index holds the allowed values."""
    minimum: float | None = None
    maximum: float | None = None

    @property
    def labelled(self) -> bool:
        return self.labels is not None or self.labels_table is not None


@dataclass(frozen=True)
class TableLayout:
    """A table's type, index levels (name -> dtype) and columns, in header order."""

    id: str
    kind: str
    levels: dict[str, str]
    columns: dict[str, ColumnSpec]

    @property
    def names(self) -> list[str]:
        """Index levels, then columns."""
        return list(self.levels) + list(self.columns)


def scheme_dtype(scheme: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    """The audformat dtype of a scheme, inferred from its labels as audformat does when unset.

    No dtype and no labels means ``str``; labels from a list or mapping take the type of the
    first label; labels from a misc table take the dtype of its index level.
    """
    import datetime as dt

    dtype = scheme.get("dtype")
    if dtype is not None:
        return dtype
    labels = scheme.get("labels")
    if labels is None:
        return "str"
    if isinstance(labels, str):
        levels = ((header or {}).get("misc_tables") or {}).get(labels, {}).get("levels") or {}
        return next(iter(levels.values()), "str") or "str"
    values = list(labels)
    if not values:
        return "str"
    first = values[0]
    for kind, name in ((bool, "bool"), (int, "int"), (float, "float"), (str, "str"),
                       (dt.datetime, "date"), (dt.date, "date"), (dt.timedelta, "time")):
        if isinstance(first, kind):
            return name
    return "object"


def layout(header: dict[str, Any], table_id: str) -> TableLayout:
    """The layout of ``table_id`` (a table or a misc table) in ``header``."""
    tables = header.get("tables") or {}
    misc = header.get("misc_tables") or {}
    if table_id in tables:
        spec = tables[table_id] or {}
        kind = spec.get("type")
        levels = dict(INDEX_LEVELS[kind])
    elif table_id in misc:
        spec = misc[table_id] or {}
        kind = "misc"
        levels = {str(k): (v or "object") for k, v in (spec.get("levels") or {}).items()}
    else:
        raise InvalidDataset(f"db.yaml has no table {table_id!r}")
    schemes = header.get("schemes") or {}
    columns = {}
    for name, cspec in (spec.get("columns") or {}).items():
        name = str(name)
        scheme_id = (cspec or {}).get("scheme_id") if isinstance(cspec, dict) else None
        if scheme_id is None:
            columns[name] = ColumnSpec(name, "object")
            continue
        if scheme_id not in schemes:
            raise InvalidDataset(f"table {table_id!r}, column {name!r}: unknown scheme {scheme_id!r}")
        scheme = schemes[scheme_id] or {}
        labels = scheme.get("labels")
        columns[name] = ColumnSpec(
            name,
            scheme_dtype(scheme, header),
            scheme_id,
            labels=list(labels) if isinstance(labels, (list, dict)) else None,
            labels_table=labels if isinstance(labels, str) else None,
            minimum=scheme.get("minimum"),
            maximum=scheme.get("maximum"),
        )
    overlap = set(levels) & set(columns)
    if overlap:
        raise InvalidDataset(f"table {table_id!r}: column {sorted(overlap)[0]!r} is also an index level")
    return TableLayout(table_id, kind, levels, columns)


def arrow_type(dtype: str) -> pa.DataType | None:
    """The Arrow type casdb stores an audformat dtype as (None for ``object``: kept as read)."""
    import pyarrow as pa

    return {
        "bool": pa.bool_(),
        "int": pa.int64(),
        "float": pa.float64(),
        "str": pa.string(),
        "time": pa.duration("ns"),
        "date": pa.timestamp("ns"),
    }.get(dtype)


def pandas_dtype(dtype: str) -> str:
    """The pandas dtype audformat uses for an audformat dtype."""
    return {
        "bool": "boolean",
        "int": "Int64",
        "float": "float64",
        "str": "string",
        "time": "timedelta64[ns]",
        "date": "datetime64[ns]",
    }.get(dtype, "object")


def load_order(header: dict[str, Any]) -> list[str]:
    """Table ids with misc tables first, as their indexes may label other tables' columns."""
    return [str(t) for t in (header.get("misc_tables") or {})] + [
        str(t) for t in (header.get("tables") or {})
    ]
