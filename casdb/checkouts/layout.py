"""The checkout cache: where checked-out versions live, and what each folder holds.

This module owns the layout; every other module takes its names from here.

    <cache>/<dataset>/<version>/<flavour-id>/     an audformat folder: db.yaml, tables, media
        .casdb/state.json                         what is in place (written last)
        .casdb/header                             the version's full header (casdb encoding)
        .casdb/media.parquet                      the version's media index (file -> blob, ...)
        .casdb/files.json                         what each file of the folder holds (JSON)
        .casdb/lock                               taken while the folder is being written
    <cache>/.derived/<flavour-id>/ab/cdef...      converted files (casdb.checkouts.converted)
    <cache>/.derived.db                           their hashes, recorded at conversion
    <cache>/.placed.db                            stat fingerprints of placed files (warm loads)
    <cache>/.remotes/<key>/                       object caches of remotes (casdb.remote.view)

The cache root is ``cache_root=``, else ``$CASDB_CACHE``, else ``cache_root`` of the config file
(:mod:`casdb.core.config`), else ``$XDG_CACHE_HOME/casdb``, else ``~/.cache/casdb``. A version is named by its tag, or ``commit-<id>`` when it has none. The
flavour id of the original media is ``original``.

``state.json`` is replaced atomically after everything it lists is in place, so a folder never
claims more than it holds: an interrupted checkout leaves the previous state (or none) and is
resumed by the next one.

Example:
    >>> import tempfile
    >>> root = cache_root(tempfile.mkdtemp())
    >>> folder(root, "emodb", "1.0.0").relative_to(root).as_posix()
    'emodb/1.0.0/original'
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from casdb.core.atomic import atomic_write
from casdb.core.config import Config
from casdb.core.errors import IntegrityError, InvalidInput
from casdb.core.ids import hash_bytes
from casdb.core.names import check_dataset

ENV = "CASDB_CACHE"
ORIGINAL = "original"
META = ".casdb"
STATE = "state.json"
FORMAT = 1
DERIVED = ".derived"
DERIVED_DB = ".derived.db"
"""Hashes of converted files, recorded at conversion (:mod:`casdb.store.fingerprints`); beside
``.derived/`` rather than in it, which holds only converted files."""
PLACED_DB = ".placed.db"
REMOTES = ".remotes"
STREAMS = ".streams"
"""The spools of running streams (one folder per stream, removed when it ends)."""


def remote_cache(root: Path, key: str) -> Path:
    """The object cache of one remote (``key``: a hash of its URL) under the cache ``root``."""
    return root / REMOTES / key


def cache_root(root: str | Path | None = None, config: Config | None = None) -> Path:
    """The cache root: the argument, ``$CASDB_CACHE``, the config file's ``cache_root``
    (``config``, else the file is read), or the user's cache folder."""
    if root is None:
        root = os.environ.get(ENV) or None
    if root is None:
        root = (config if config is not None else Config.load()).cache_root
    if root is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
        root = os.path.join(base, "casdb")
    return Path(root).expanduser().absolute()


def folder(root: Path, dataset: str, version: str, flavour: str = ORIGINAL) -> Path:
    """The cache folder of one version in one flavour."""
    check_dataset(dataset)
    if not version or "/" in version or version in (".", "..") or version.startswith("."):
        raise InvalidInput(f"invalid version {version!r}")
    return root / dataset / version / flavour


@dataclass
class State:
    """What a checked-out folder holds."""

    dataset: str
    version: str
    commit: str
    flavour: str = ORIGINAL
    tables: dict[str, str] = field(default_factory=dict)
    """Table id -> ``all`` (every row) or ``media`` (only the rows of :attr:`rows`)."""
    media: list[str] | None = field(default_factory=list)
    """Media files in place, sorted; None: every media file of the version."""
    rows: list[str] = field(default_factory=list)
    """Files whose rows the ``media`` tables hold (a superset of :attr:`media`)."""
    requests: list[str] = field(default_factory=list)
    """Keys of the requests this folder has served (:meth:`Request.key`)."""
    files: dict[str, str] = field(default_factory=dict)
    """Metadata file (db.yaml, tables) -> blake3 of what was written, for ``cache verify``."""
    complete: bool = False
    """Every table with every row, and every media file."""
    link: dict[str, int] = field(default_factory=dict)
    """How media were placed: method -> number of files."""
    conversion: dict = field(default_factory=dict)
    """The flavour's settings (:meth:`casdb.audio.flavour.Flavour.as_dict`); empty for the original."""

    def covers(self, request_key: str) -> bool:
        return self.complete or request_key in self.requests

    def to_json(self) -> bytes:
        return json.dumps({"format": FORMAT, **asdict(self)}, indent=1).encode() + b"\n"


def read_state(path: Path) -> State | None:
    """The state of a checked-out folder; None when absent (the folder is then (re)built).

    A state that is there but damaged or unsafe (a path that leaves the folder, a field of the
    wrong type) raises ``IntegrityError`` naming the file: casdb writes it atomically, so only
    damage or tampering gets here, and nothing in such a folder is trusted or deleted by path.
    """
    file = path / META / STATE
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IntegrityError(f"cannot read {file}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(raw)
    except ValueError as exc:  # also UnicodeDecodeError
        raise IntegrityError(f"{file} is damaged (not JSON): remove {path}") from exc
    return _checked_state(data, file)


_STATE_TYPES = {
    "dataset": str, "version": str, "commit": str, "flavour": str, "tables": dict,
    "media": (list, type(None)), "rows": list, "requests": list, "files": dict,
    "complete": bool, "link": dict, "conversion": dict,
}


def _checked_state(data: object, file: Path) -> State | None:
    from casdb.core.ids import is_id
    from casdb.core.paths import check_name, check_relpaths

    what = str(file)
    if not isinstance(data, dict):
        raise IntegrityError(f"{what} is damaged: not a mapping")
    if data.get("format") != FORMAT:
        return None  # written by another casdb: rebuilt
    unknown = sorted(set(data) - set(_STATE_TYPES) - {"format"})
    if unknown:
        raise IntegrityError(f"{what} is damaged: unknown field {unknown[0][:60]!r}")
    for key, kind in _STATE_TYPES.items():
        if key in data and not isinstance(data[key], kind):
            raise IntegrityError(f"{what} is damaged: {key!r} is a {type(data[key]).__name__}")
    for key in ("dataset", "version", "commit"):
        if key not in data:
            raise IntegrityError(f"{what} is damaged: no {key!r}")
    try:
        check_dataset(data["dataset"])
    except InvalidInput:
        raise IntegrityError(f"{what}: invalid dataset {data['dataset'][:60]!r}") from None
    check_name(data["version"], f"{what}: version")
    check_name(data.get("flavour", ORIGINAL), f"{what}: flavour")
    if not is_id(data["commit"]):
        raise IntegrityError(f"{what}: commit {data['commit'][:80]!r} is not an id")
    for table, scope in data.get("tables", {}).items():
        check_name(table, f"{what}: table")
        if scope not in ("all", "media"):
            raise IntegrityError(f"{what}: table {table!r} has scope {str(scope)[:20]!r}")
    if data.get("media") is not None:
        check_relpaths(data["media"], f"{what}: media")
    check_relpaths(data.get("rows", []), f"{what}: rows")
    for name, digest in data.get("files", {}).items():
        check_name(name, f"{what}: files")
        if not isinstance(digest, str):
            raise IntegrityError(f"{what}: files: {name!r} has no digest")
    if not all(isinstance(r, str) for r in data.get("requests", [])):
        raise IntegrityError(f"{what} is damaged: a request is not text")
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in data.get("link", {}).values()):
        raise IntegrityError(f"{what} is damaged: 'link' counts are not integers")
    data = dict(data)
    del data["format"]
    return State(**data)


def read_media(path: Path, columns: list[str] | None = None):
    """The media index kept in a checked-out folder (``.casdb/media.parquet``), checked.

    ``file`` and ``local`` (where a flavour put the file) are safe relative paths, ``blob`` ids.
    A damaged file raises ``IntegrityError`` naming it and ``casdb cache verify``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from casdb.core.paths import check_relpath_array

    file = path / META / MEDIA
    try:
        table = pq.read_table(file, columns=columns)
        table.validate(full=True)  # parquet does not check that strings are UTF-8
    except FileNotFoundError as exc:
        raise IntegrityError(f"{file} is missing: remove {path}") from exc
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise IntegrityError(f"{file} is damaged ({str(exc)[:120]}): run 'casdb cache verify' "
                             f"or remove {path}") from exc
    for name in ("file", "local"):
        if name in table.column_names:
            check_relpath_array(table.column(name), str(file))
    if "blob" in table.column_names:
        blobs = table.column("blob")
        if not (pa.types.is_string(blobs.type) and not blobs.null_count and pc.all(
                pc.match_substring_regex(blobs, "^[0-9a-f]{64}$")).as_py() is not False):
            raise IntegrityError(f"{file}: a blob is not an id")
    return table


MEDIA = "media.parquet"
"""The version's media index in a folder (every column, as the commit recorded it)."""
FILES = "files.json"
"""The folder's files as placed: ``file``, ``local``, ``blob``, ``bytes``, ``converted``, one
JSON list per column. The commands that only look at a folder (a switch, a warm load, purge)
read it with the standard library: pyarrow's import alone costs more than their whole work.
Folders written before it existed are read through ``media.parquet``."""
FILE_COLUMNS = ("file", "local", "blob", "bytes", "converted")


def write_files(meta: Path, columns: dict[str, list]) -> None:
    """Write :data:`FILES` into a folder's ``.casdb`` (before its state)."""
    out = {c: columns[c] for c in FILE_COLUMNS}
    atomic_write(meta / FILES, json.dumps({"format": 1, **out}, separators=(",", ":")).encode(),
                 tmp_dir=meta)


def read_files(path: Path) -> dict[str, list]:
    """The files of a checked-out folder (:data:`FILES`), checked, as column -> list.

    ``file`` and ``local`` are safe relative paths, ``local`` the file's own path (or, for a
    converted file, the same path with another extension), ``blob`` ids, ``bytes`` counts and
    ``converted`` booleans, all of one length. A damaged file raises ``IntegrityError``
    naming it and ``casdb cache verify``.
    """
    file = path / META / FILES
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        if not (path / META / MEDIA).exists():
            raise IntegrityError(f"{file} is missing: remove {path}") from None
        return _old_files(path)  # a folder from before files.json
    except OSError as exc:
        raise IntegrityError(f"cannot read {file} ({exc.strerror or exc}): run 'casdb cache "
                             "verify' or remove the folder") from exc
    digest = hash_bytes(raw)
    if digest in _READ:
        return _READ[digest]
    try:
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("format") != 1:
            raise ValueError("not a file list of format 1")
        out = _checked_files({c: data[c] for c in FILE_COLUMNS}, file)
    except (ValueError, KeyError, RecursionError, MemoryError) as exc:  # also UnicodeDecodeError
        raise IntegrityError(f"{file} is damaged ({str(exc)[:120]}): run 'casdb cache verify' "
                             f"or remove {path}") from exc
    _READ[digest] = out
    while len(_READ) > 8:  # a long-running process keeps only the last few
        del _READ[next(iter(_READ))]
    return out


_READ: dict[str, dict[str, list]] = {}
"""File lists checked in this process, by the blake3 of their bytes (callers only read them):
a switch reads its folder's list for the selection, the in-place check and the placed files;
the bytes are read and hashed each time (3 ms for 100k files), parsed and checked once."""


def _old_files(path: Path) -> dict[str, list]:
    """:func:`read_files` of a folder written before files.json: its media index."""
    file = path / META / MEDIA
    table = read_media(path)
    names = table.column_names
    if "file" not in names or "blob" not in names:
        raise IntegrityError(f"{file} is damaged (no 'file' or 'blob' column): run 'casdb cache "
                             f"verify' or remove {path}")
    out = {c: table.column(c).to_pylist() for c in names if c in FILE_COLUMNS}
    out.setdefault("local", out["file"])
    out.setdefault("converted", [False] * len(out["file"]))
    out.setdefault("bytes", [0] * len(out["file"]))
    try:
        return _checked_files(out, file)
    except (ValueError, KeyError) as exc:
        raise IntegrityError(f"{file} is damaged ({str(exc)[:120]}): run 'casdb cache verify' "
                             f"or remove {path}") from exc


def _checked_files(out: dict[str, list], file: Path) -> dict[str, list]:
    """The columns of a file list, checked (``ValueError`` saying what is wrong)."""
    from casdb.core.paths import check_relpaths

    if not all(isinstance(v, list) for v in out.values()):
        raise ValueError("a column is not a list")
    if len({len(v) for v in out.values()}) != 1:
        raise ValueError("columns of different lengths")
    # Type checks by map() and set(): one pass in C per column (100k files).
    blobs = out["blob"]
    joined = "".join(blobs) if set(map(type, blobs)) <= {str} else None
    if not (joined is not None and set(map(len, blobs)) <= {64} and joined.isascii()
            and not joined.encode().translate(None, b"0123456789abcdef")):
        raise ValueError("a blob is not an id")
    sizes = out["bytes"]
    if not (set(map(type, sizes)) <= {int} and (not sizes or min(sizes) >= 0)):
        raise ValueError("a size is not a count")
    if not set(map(type, out["converted"])) <= {bool}:
        raise ValueError("'converted' is not true or false")
    check_relpaths(out["file"], str(file))
    if out["local"] != out["file"]:
        check_relpaths(out["local"], str(file))
    # Each file at its own path: entries swapped between files would hand out one file's
    # bytes under another's name while every file still matched the blob listed for it.
    if out["local"] != out["file"]:  # one comparison in C where nothing was converted
        for name, local, conv in zip(out["file"], out["local"], out["converted"], strict=True):
            if local != name and not (conv and os.path.splitext(local)[0]
                                      == os.path.splitext(name)[0]):
                raise ValueError(f"{name!r} is listed at another path, {local!r}")
    return out


def write_state(path: Path, state: State) -> None:
    """Replace the state atomically (the last step of a checkout)."""
    atomic_write(path / META / STATE, state.to_json(), tmp_dir=path / META)


@dataclass(frozen=True)
class Entry:
    """A folder in the cache."""

    path: Path
    state: State | None
    used: float
    """When the folder was last loaded (seconds since the epoch)."""


def entries(root: Path, dataset: str | None = None) -> Iterator[Entry]:
    """Every checked-out folder under ``root`` (of one dataset, if given), sorted by path."""
    if not root.is_dir():
        return
    for ds in sorted(root.iterdir()) if dataset is None else [root / dataset]:
        if not ds.is_dir() or ds.name.startswith("."):
            continue
        for version in sorted(ds.iterdir()):
            if not version.is_dir():
                continue
            for flavour in sorted(version.iterdir()):
                if flavour.is_dir() and (flavour / META).is_dir():
                    yield Entry(flavour, read_state(flavour), last_used(flavour))


def last_used(path: Path) -> float:
    try:
        return os.stat(path / META / "used").st_mtime
    except OSError:
        try:
            return os.stat(path / META).st_mtime
        except OSError:
            return 0.0


def touch_used(path: Path) -> None:
    """Record a load (for least-recently-used eviction); best effort on a read-only cache."""
    try:
        (path / META / "used").touch()
    except OSError:
        pass
