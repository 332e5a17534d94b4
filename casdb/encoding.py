"""Canonical msgpack encoding of the structural objects: pure functions, no I/O.

Every object is a msgpack map with a ``type`` tag and a ``format`` version next to its fields.
Maps are written with their keys sorted and ids as 32 raw bytes, so equal objects always give
equal bytes, on any machine; the id of an object is the blake3 hash of these bytes. The header
is the exception: db.yaml's key order is content (it orders tables and columns), so it is kept.
Dates and datetimes (``expires`` in db.yaml) travel as msgpack extension types.

Example:
    >>> from casdb.objects import Header
    >>> decode(encode(Header({"name": "emodb", "languages": ["deu"]})))
    Header(data={'name': 'emodb', 'languages': ['deu']})
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgpack

from casdb.errors import IntegrityError
from casdb.ids import from_raw, to_raw
from casdb.objects import (
    DIR,
    FILE,
    Column,
    Commit,
    Header,
    Partition,
    Run,
    Table,
    Tree,
    TreeChild,
    TreeEntry,
)

FORMAT = 1
TABLE_ORDER_FORMAT = 2
"""Format of a table object that records its rows' file order (``Table.order``). A table in
sorted order keeps format 1 and its old bytes; a casdb that predates the order refuses a format 2
table instead of handing out its rows in the wrong order."""
_EXT_DATE = 1
_EXT_DATETIME = 2
_EXT_BIGINT = 3

Object = Tree | Header | Table | Partition | Commit


# -- canonical plain values -------------------------------------------------------------------

def _key_order(key: Any) -> tuple:
    return (type(key).__name__, key)


class Ordered(dict):
    """A mapping whose key order is part of its content (db.yaml: the order of columns)."""


def canonical(value: Any, keep_order: bool = False) -> Any:
    """Return ``value`` with maps sorted by key and tuples as lists (recursively).

    Maps inside an :class:`Ordered` keep their order, at every depth.
    """
    if isinstance(value, dict):
        keep_order = keep_order or isinstance(value, Ordered)
        keys = list(value) if keep_order else sorted(value, key=_key_order)
        return {k: canonical(value[k], keep_order) for k in keys}
    if isinstance(value, (list, tuple)):
        return [canonical(v, keep_order) for v in value]
    if isinstance(value, int) and not -(2**63) <= value < 2**64:
        return msgpack.ExtType(_EXT_BIGINT, str(value).encode())
    return value


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return msgpack.ExtType(_EXT_DATETIME, value.isoformat().encode())
    if isinstance(value, dt.date):
        return msgpack.ExtType(_EXT_DATE, value.isoformat().encode())
    raise TypeError(f"cannot encode {type(value).__name__} value {value!r}")


def _ext_hook(code: int, data: bytes) -> Any:
    if code == _EXT_DATE:
        return dt.date.fromisoformat(data.decode())
    if code == _EXT_DATETIME:
        return dt.datetime.fromisoformat(data.decode())
    if code == _EXT_BIGINT:
        return int(data)
    return msgpack.ExtType(code, data)


def pack(value: Any) -> bytes:
    """Canonical msgpack bytes of a plain value."""
    try:
        return msgpack.packb(canonical(value), use_bin_type=True, default=_default)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"cannot encode value: {exc}") from exc


def unpack(data: bytes) -> Any:
    """The plain value of msgpack bytes written by :func:`pack`."""
    return msgpack.unpackb(data, raw=False, strict_map_key=False, ext_hook=_ext_hook)


# -- objects ----------------------------------------------------------------------------------

def _tree_fields(tree: Tree) -> dict:
    if tree.is_leaf:
        return {
            "level": 0,
            "entries": [[e.name, e.kind, to_raw(e.id), e.size, e.count] for e in tree.entries],
        }
    return {
        "level": tree.level,
        "children": [[c.first, to_raw(c.id), c.count] for c in tree.children],
    }


def _table_fields(table: Table) -> dict:
    order = {"order": [to_raw(i) for i in table.order], "format": TABLE_ORDER_FORMAT}
    return {
        **(order if table.order else {}),
        "name": table.name,
        "table_type": table.type,
        "index": [[c.name, c.dtype] for c in table.index],
        "columns": [[c.name, c.dtype] for c in table.columns],
        "runs": [
            [r.rows, list(r.first), list(r.last), [to_raw(i) for i in r.columns]]
            for r in table.runs
        ],
    }


def _commit_fields(commit: Commit) -> dict:
    return {
        "dataset": commit.dataset,
        "tree": to_raw(commit.tree),
        "header": to_raw(commit.header),
        "tables": [[name, to_raw(i)] for name, i in commit.tables],
        "parents": [to_raw(p) for p in commit.parents],
        "author": commit.author,
        "time": commit.time,
        "tz_offset": commit.tz_offset,
        "message": commit.message,
        "media": to_raw(commit.media) if commit.media else None,
    }


def type_of(obj: Object) -> str:
    """The type tag of an object."""
    return {
        Tree: "tree",
        Header: "header",
        Table: "table",
        Partition: "partition",
        Commit: "commit",
    }[type(obj)]


def encode(obj: Object) -> bytes:
    """The canonical bytes of an object (its id is their blake3 hash)."""
    kind = type_of(obj)
    if isinstance(obj, Header):
        return pack({"type": kind, "format": FORMAT, "data": Ordered(obj.data)})
    if isinstance(obj, Tree):
        fields = _tree_fields(obj)
    elif isinstance(obj, Table):
        fields = _table_fields(obj)
    elif isinstance(obj, Partition):
        fields = {"arrow": bytes(obj.arrow)}
    else:
        fields = _commit_fields(obj)
    # casdb's own objects hold only plain values in fields it orders itself: the same bytes as
    # pack() gives, without walking every value in Python (trees hold 100k entries).
    fields["type"] = kind
    fields.setdefault("format", FORMAT)  # a table with a row order sets its own
    try:
        return msgpack.packb({k: fields[k] for k in sorted(fields)}, use_bin_type=True,
                             default=_default)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"cannot encode {kind}: {exc}") from exc


def decode(data: bytes, expect: str | None = None) -> Object:
    """The object encoded in ``data``; ``IntegrityError`` if it is malformed or not ``expect``."""
    try:
        fields = unpack(data)
        kind = fields["type"]
        if fields["format"] not in ((FORMAT, TABLE_ORDER_FORMAT) if kind == "table" else (FORMAT,)):
            raise IntegrityError(f"unsupported {kind} format {fields['format']}")
        if expect is not None and kind != expect:
            raise IntegrityError(f"expected a {expect} object, found a {kind}")
        return _DECODERS[kind](fields)
    except IntegrityError:
        raise
    except Exception as exc:  # noqa: BLE001 - any malformation is an integrity problem
        raise IntegrityError(f"malformed object: {type(exc).__name__}: {exc}") from exc


def _decode_tree(f: dict) -> Tree:
    if f["level"] == 0:
        entries = []
        for name, kind, raw, size, count in f["entries"]:
            if kind not in (FILE, DIR):
                raise ValueError(f"unknown entry kind {kind!r}")
            entries.append(TreeEntry(name, kind, from_raw(raw), size, count))
        return Tree(entries=tuple(entries))
    children = tuple(TreeChild(first, from_raw(raw), count) for first, raw, count in f["children"])
    return Tree(children=children, level=f["level"])


def _decode_table(f: dict) -> Table:
    return Table(
        name=f["name"],
        type=f["table_type"],
        index=tuple(Column(n, t) for n, t in f["index"]),
        columns=tuple(Column(n, t) for n, t in f["columns"]),
        runs=tuple(
            Run(rows, tuple(first), tuple(last), tuple(from_raw(i) for i in ids))
            for rows, first, last, ids in f["runs"]
        ),
        order=_decode_order(f),
    )


def _decode_order(f: dict) -> tuple[str, ...]:
    """A table's row order: one partition per run, only in format 2 (format 1: sorted)."""
    if f["format"] == FORMAT:
        return ()
    order = tuple(from_raw(i) for i in f["order"])
    if not order or len(order) != len(f["runs"]):
        raise ValueError(f"table order has {len(order)} partitions for {len(f['runs'])} runs")
    return order


def _decode_commit(f: dict) -> Commit:
    return Commit(
        dataset=f["dataset"],
        tree=from_raw(f["tree"]),
        header=from_raw(f["header"]),
        tables=tuple((name, from_raw(raw)) for name, raw in f["tables"]),
        parents=tuple(from_raw(p) for p in f["parents"]),
        author=f["author"],
        time=f["time"],
        tz_offset=f["tz_offset"],
        message=f["message"],
        media=from_raw(f["media"]) if f["media"] is not None else None,
    )


_DECODERS = {
    "tree": _decode_tree,
    "header": lambda f: Header(f["data"]),
    "table": _decode_table,
    "partition": lambda f: Partition(f["arrow"]),
    "commit": _decode_commit,
}
