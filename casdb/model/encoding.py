"""Canonical msgpack encoding of the structural objects: pure functions, no I/O.

Every object is a msgpack map with a ``type`` tag and a ``format`` version next to its fields.
Maps are written with their keys sorted and ids as 32 raw bytes, so equal objects always give
equal bytes, on any machine; the id of an object is the blake3 hash of these bytes. The header
is the exception: db.yaml's key order is content (it orders tables and columns), so it is kept.
Dates and datetimes (``expires`` in db.yaml) travel as msgpack extension types.

Example:
    >>> from casdb.model.objects import Header
    >>> decode(encode(Header({"name": "emodb", "languages": ["deu"]})))
    Header(data={'name': 'emodb', 'languages': ['deu']})
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgpack

from casdb.core.errors import IntegrityError
from casdb.core.ids import to_raw
from casdb.model.objects import (
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
    """The object encoded in ``data``; ``IntegrityError`` if it is malformed or not ``expect``.

    Every field is checked for its type and range (ids are 32 bytes, counts and sizes are
    non-negative integers, tree entry names are safe path components in strictly increasing
    order), so a crafted object never reaches the code that places files.
    """
    try:
        fields = unpack(data)
        if not isinstance(fields, dict):
            raise IntegrityError(f"malformed object: a {type(fields).__name__}, not a map")
        kind = fields.get("type")
        if kind not in _DECODERS:
            raise IntegrityError(f"malformed object: unknown type {_short(kind)}")
        if fields.get("format") not in ((FORMAT, TABLE_ORDER_FORMAT) if kind == "table"
                                        else (FORMAT,)):
            raise IntegrityError(f"unsupported {kind} format {_short(fields.get('format'))}")
        if expect is not None and kind != expect:
            raise IntegrityError(f"expected a {expect} object, found a {kind}")
        return _DECODERS[kind](fields)
    except IntegrityError:
        raise
    except Exception as exc:  # noqa: BLE001 - any malformation is an integrity problem
        raise IntegrityError(f"malformed object: {type(exc).__name__}: {_short(exc)}") from exc


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, BaseException) else str(value)
    text = text.replace("\n", " ")
    return text if len(text) <= 120 else text[:117] + "..."


def _count(value: Any, what: str) -> int:
    """A non-negative integer (sizes, counts, rows, levels)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise IntegrityError(f"malformed {what}: {_short(value)} is not a count")
    return value


def _id(raw: Any, what: str) -> str:
    if not isinstance(raw, bytes) or len(raw) != 32:
        raise IntegrityError(f"malformed {what}: {_short(raw)} is not an id")
    return raw.hex()


def _list(value: Any, what: str, width: int | None = None) -> list:
    if not isinstance(value, list):
        raise IntegrityError(f"malformed {what}: {_short(value)} is not a list")
    if width is not None:
        for item in value:
            if not isinstance(item, list) or len(item) != width:
                raise IntegrityError(f"malformed {what}: {_short(item)} is not {width} fields")
    return value


def _decode_tree(f: dict) -> Tree:
    from casdb.core.paths import check_name

    level = _count(f.get("level"), "tree level")
    if level == 0:
        entries = []
        previous = None
        for name, kind, raw, size, count in _list(f.get("entries"), "tree entries", 5):
            check_name(name, "tree entry")
            if previous is not None and not previous < name:
                raise IntegrityError(f"malformed tree: entry {_short(name)} is out of order "
                                     "or repeated")
            previous = name
            if kind not in (FILE, DIR):
                raise IntegrityError(f"malformed tree: unknown entry kind {_short(kind)}")
            if kind == FILE and count != 1:
                raise IntegrityError(f"malformed tree: file {name!r} counts {_short(count)}")
            entries.append(TreeEntry(name, kind, _id(raw, "tree entry"), _count(size, "tree"),
                                     _count(count, "tree")))
        return Tree(entries=tuple(entries))
    children = []
    previous = None
    for first, raw, count in _list(f.get("children"), "tree children", 3):
        check_name(first, "tree node")
        if previous is not None and not previous < first:
            raise IntegrityError(f"malformed tree: node {_short(first)} is out of order")
        previous = first
        children.append(TreeChild(first, _id(raw, "tree node"), _count(count, "tree node")))
    return Tree(children=tuple(children), level=level)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise IntegrityError(f"malformed {what}: {_short(value)} is not text")
    return value


def _decode_table(f: dict) -> Table:
    index = tuple(Column(_text(n, "table column"), _text(t, "table column type"))
                  for n, t in _list(f.get("index"), "table index", 2))
    columns = tuple(Column(_text(n, "table column"), _text(t, "table column type"))
                    for n, t in _list(f.get("columns"), "table columns", 2))
    width = len(index) + len(columns)
    runs = []
    for rows, first, last, ids in _list(f.get("runs"), "table runs", 4):
        ids = _list(ids, "table run")
        if len(ids) != width:
            raise IntegrityError(f"malformed table: a run has {len(ids)} partitions for "
                                 f"{width} columns")
        runs.append(Run(_count(rows, "table run"), tuple(_list(first, "table run key")),
                        tuple(_list(last, "table run key")),
                        tuple(_id(i, "table partition") for i in ids)))
    return Table(name=_text(f.get("name"), "table name"),
                 type=_text(f.get("table_type"), "table type"),
                 index=index, columns=columns, runs=tuple(runs), order=_decode_order(f))


def _decode_order(f: dict) -> tuple[str, ...]:
    """A table's row order: one partition per run, only in format 2 (format 1: sorted)."""
    if f["format"] == FORMAT:
        return ()
    order = tuple(_id(i, "table order") for i in _list(f.get("order"), "table order"))
    if not order or len(order) != len(f["runs"]):
        raise IntegrityError(f"malformed table: its order has {len(order)} partitions for "
                             f"{len(f['runs'])} runs")
    return order


def _decode_commit(f: dict) -> Commit:
    from casdb.core.paths import check_name

    tables = []
    for name, raw in _list(f.get("tables"), "commit tables", 2):
        tables.append((check_name(name, "commit table"), _id(raw, "commit table")))
    media = f.get("media")
    time = f.get("time")
    tz_offset = f.get("tz_offset")
    if not isinstance(time, int) or isinstance(time, bool):
        raise IntegrityError(f"malformed commit: time {_short(time)}")
    if not isinstance(tz_offset, int) or isinstance(tz_offset, bool):
        raise IntegrityError(f"malformed commit: tz_offset {_short(tz_offset)}")
    return Commit(
        dataset=_dataset(f.get("dataset")),
        tree=_id(f.get("tree"), "commit tree"),
        header=_id(f.get("header"), "commit header"),
        tables=tuple(tables),
        parents=tuple(_id(p, "commit parent") for p in _list(f.get("parents"), "commit parents")),
        author=_text(f.get("author"), "commit author"),
        time=time,
        tz_offset=tz_offset,
        message=_text(f.get("message"), "commit message"),
        media=_id(media, "commit media index") if media is not None else None,
    )


def _dataset(name: Any) -> str:
    from casdb.core.errors import InvalidInput
    from casdb.core.names import check_dataset

    try:
        return check_dataset(name)
    except InvalidInput:
        raise IntegrityError(f"malformed commit: dataset {_short(name)}") from None


def _decode_header(f: dict) -> Header:
    data = f.get("data")
    if not isinstance(data, dict):
        raise IntegrityError(f"malformed header: {_short(data)} is not a mapping")
    return Header(data)


def _decode_partition(f: dict) -> Partition:
    arrow = f.get("arrow")
    if not isinstance(arrow, bytes):
        raise IntegrityError(f"malformed partition: {type(arrow).__name__}, not bytes")
    return Partition(arrow)


_DECODERS = {
    "tree": _decode_tree,
    "header": _decode_header,
    "table": _decode_table,
    "partition": _decode_partition,
    "commit": _decode_commit,
}
