"""The header (``db.yaml``): parsing and validation.

The header is kept as the plain mapping ``db.yaml`` holds (audformat's layout), checked for the
structure casdb relies on: a mapping with a ``name``; ``tables`` of type ``filewise`` or
``segmented``; ``misc_tables`` with ``levels``; ``schemes`` with known dtypes.

Example:
    >>> table_specs({"name": "x", "tables": {"emotion": {"type": "filewise"}}})
    {'emotion': 'filewise'}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from casdb.core.errors import InvalidDataset

TABLE_FORMATS = ("parquet", "csv")
TABLE_TYPES = ("filewise", "segmented")
SCHEME_DTYPES = ("bool", "int", "float", "str", "time", "date", "object")
_SECTIONS = ("schemes", "raters", "splits", "media", "attachments", "tables", "misc_tables")


MAX_YAML_BYTES = 16 << 20
"""db.yaml larger than this is refused (headers of large corpora are a few hundred KiB)."""
MAX_YAML_NODES = 1_000_000
"""Values db.yaml may hold once its aliases are expanded (a YAML "billion laughs" is refused)."""


def parse_header(path: Path) -> dict[str, Any]:
    """Read and validate ``db.yaml``; ``InvalidDataset`` with one line naming the problem."""
    try:
        with open(path, "rb") as file:
            raw = file.read(MAX_YAML_BYTES + 1)
    except FileNotFoundError as exc:
        raise InvalidDataset(f"{path.parent} has no db.yaml: not an audformat database") from exc
    except OSError as exc:
        raise InvalidDataset(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(raw) > MAX_YAML_BYTES:
        raise InvalidDataset(f"{path} is larger than {MAX_YAML_BYTES >> 20} MiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidDataset(f"cannot read {path}: not UTF-8 ({exc.reason} at byte "
                             f"{exc.start})") from exc
    data = load_yaml(text, "db.yaml")
    validate(data)
    return data


def load_yaml(text: str, what: str) -> Any:
    """The value of YAML ``text`` (safe types only), refusing alias bombs and cycles.

    PyYAML shares the value of an alias instead of copying it, so a 1 KB "billion laughs"
    loads at once, but everything that walks the value afterwards (validation, encoding)
    expands it. The node graph is therefore measured before anything is built: the number of
    values it holds with every alias expanded must stay below ``MAX_YAML_NODES``.

    Example:
        >>> load_yaml("a: &x [1, 2]\\nb: *x", "db.yaml")
        {'a': [1, 2], 'b': [1, 2]}
    """
    import yaml

    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node, what)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidDataset(f"{what} is not valid YAML{where}: {problem}") from exc
    except (RecursionError, MemoryError) as exc:
        raise InvalidDataset(f"{what} is nested too deeply") from exc
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a date like 2020-13-45
        raise InvalidDataset(f"{what} holds a value that cannot be read: {exc}") from exc
    finally:
        loader.dispose()


def _check_expansion(root: Any, what: str) -> None:
    """Count the values under ``root`` with aliases expanded (iteratively: no deep recursion)."""
    import yaml

    sizes: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            sizes[key] = 1
            continue
        if done:
            active.discard(key)
            total = 1 + sum(sizes[id(c)] for c in children)
            if total > MAX_YAML_NODES:
                raise InvalidDataset(f"{what} expands to more than {MAX_YAML_NODES} values "
                                     "(an alias bomb?)")
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in active:
            raise InvalidDataset(f"{what} holds a value that contains itself (a recursive alias)")
        active.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)


def validate(data: Any) -> None:
    """Check the structure of a header mapping."""
    if not isinstance(data, dict):
        raise InvalidDataset("db.yaml must hold a mapping of header fields")
    if not isinstance(data.get("name"), str) or not data["name"]:
        raise InvalidDataset("db.yaml has no 'name'")
    for section in _SECTIONS:
        value = data.get(section)
        if value is not None and not isinstance(value, dict):
            raise InvalidDataset(f"db.yaml: '{section}' must be a mapping")
    for scheme_id, scheme in (data.get("schemes") or {}).items():
        dtype = (scheme or {}).get("dtype") if isinstance(scheme, dict) else None
        if not isinstance(scheme, dict) or dtype not in (*SCHEME_DTYPES, None):
            raise InvalidDataset(f"db.yaml: scheme {scheme_id!r} has unknown dtype {dtype!r}")
    table_specs(data)
    from casdb.model.encoding import pack

    try:
        pack(data)
    except (ValueError, RecursionError) as exc:
        raise InvalidDataset(f"db.yaml holds a value casdb cannot store: {exc}") from exc


def table_specs(data: dict[str, Any]) -> dict[str, str]:
    """Table id -> table type (``filewise``, ``segmented`` or ``misc``), checked."""
    out: dict[str, str] = {}
    for table_id, spec in (data.get("tables") or {}).items():
        kind = spec.get("type") if isinstance(spec, dict) else None
        if kind not in TABLE_TYPES:
            raise InvalidDataset(
                f"db.yaml: table {table_id!r} has unknown type {kind!r} "
                f"(expected {' or '.join(TABLE_TYPES)})"
            )
        out[_table_id(table_id)] = kind
    for table_id, spec in (data.get("misc_tables") or {}).items():
        if not isinstance(spec, dict) or not isinstance(spec.get("levels"), dict) or not spec["levels"]:
            raise InvalidDataset(f"db.yaml: misc table {table_id!r} has no 'levels'")
        if str(table_id) in out:
            raise InvalidDataset(f"db.yaml: table id {table_id!r} is used twice")
        out[_table_id(table_id)] = "misc"
    return out


def _table_id(table_id: Any) -> str:
    """A table id becomes a file name (``db.<id>.parquet``): it must be a safe name."""
    from casdb.core.paths import is_safe_relpath

    text = str(table_id)
    if not is_safe_relpath(text) or "/" in text:
        raise InvalidDataset(f"db.yaml: table id {text[:100]!r} cannot name a file")
    return text


def check_stored(data: Any, what: str) -> dict[str, Any]:
    """Check a header read from the store or a checkout; ``IntegrityError`` naming ``what``.

    The same rules as for a source's db.yaml, and attachment paths are safe relative paths.
    """
    from casdb.core.errors import IntegrityError
    from casdb.core.paths import check_relpath

    try:
        validate(data)
    except InvalidDataset as exc:
        raise IntegrityError(f"{what}: {exc}") from None
    for aid, spec in (data.get("attachments") or {}).items():
        if isinstance(spec, dict) and "path" in spec:
            check_relpath(spec["path"], f"{what}: attachment {str(aid)[:100]!r}")
    return data
