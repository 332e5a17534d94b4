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

from casdb.errors import InvalidDataset

TABLE_FORMATS = ("parquet", "csv")
TABLE_TYPES = ("filewise", "segmented")
SCHEME_DTYPES = ("bool", "int", "float", "str", "time", "date", "object")
_SECTIONS = ("schemes", "raters", "splits", "media", "attachments", "tables", "misc_tables")


def parse_header(path: Path) -> dict[str, Any]:
    """Read and validate ``db.yaml``; ``InvalidDataset`` with one line naming the problem."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InvalidDataset(f"{path.parent} has no db.yaml: not an audformat database") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidDataset(f"cannot read {path}: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidDataset(f"db.yaml is not valid YAML{where}: {problem}") from exc
    validate(data)
    return data


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
    from casdb.encoding import pack

    try:
        pack(data)
    except ValueError as exc:
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
        out[str(table_id)] = kind
    for table_id, spec in (data.get("misc_tables") or {}).items():
        if not isinstance(spec, dict) or not isinstance(spec.get("levels"), dict) or not spec["levels"]:
            raise InvalidDataset(f"db.yaml: misc table {table_id!r} has no 'levels'")
        if str(table_id) in out:
            raise InvalidDataset(f"db.yaml: table id {table_id!r} is used twice")
        out[str(table_id)] = "misc"
    return out
