"""A loaded dataset: a checked-out folder seen through one load request.

:func:`casdb.load` returns a :class:`Dataset`. Everything it gives comes from the folder (db.yaml,
the table files and ``.casdb/``), not from the repository, so a cached version loads offline.

- ``ds.root``: the folder; ``ds.files``: the media files of the request (full paths by default);
- header fields as attributes: ``ds.name``, ``ds.description``, ``ds.schemes``, ``ds.splits``, ...;
- ``ds.tables`` and ``ds.misc_tables``: table ids; ``ds["emotion"].get()`` a DataFrame with
  audformat's index (``file``; ``file``/``start``/``end``; a misc table's own levels) and dtypes;
  ``ds["files"].get(map={"speaker": ["age", "gender"]})`` maps labels through schemes, as
  audformat's ``Table.get(map=...)`` does.

Example:
    >>> import tempfile, casdb
    >>> from casdb.testing.synth import make_dataset
    >>> repo = casdb.Repository.init(tempfile.mkdtemp() + "/r")
    >>> _ = repo.commit(make_dataset(tempfile.mkdtemp(), files=3, duration=0.1), dataset="d",
    ...                 version="1.0.0")
    >>> ds = casdb.load("d", repo=repo, cache_root=tempfile.mkdtemp())
    >>> ds.version, len(ds.files), ds.tables
    ('1.0.0', 3, ['emotion', 'segments'])
    >>> ds["emotion"].get().index.name
    'file'
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from casdb.checkouts import layout as cache
from casdb.checkouts.selection import Request, Selection, attachment_paths, is_attachment, select
from casdb.core.errors import IntegrityError, InvalidInput, NotFound
from casdb.model import encoding
from casdb.tables.header import table_specs
from casdb.tables.schema import layout

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd

    from casdb.audio.flavour import Flavour
    from casdb.checkouts.fetching import Audio, Reader
    from casdb.checkouts.source import ObjectSource

HEADER_FIELDS = (
    "source", "usage", "languages", "description", "author", "organization", "license",
    "license_url", "expires", "meta", "schemes", "raters", "splits", "media", "attachments",
)


class Dataset:
    """A version of a dataset as checked out in ``root``, narrowed to ``request``."""

    def __init__(
        self, root: str | Path, request: Request | None = None, *, full_path: bool = True,
        removed_media: bool = False, flavour: Flavour | None = None,
        origin: Callable[[], ObjectSource] | None = None,
    ) -> None:
        self.root = Path(root)
        state = cache.read_state(self.root)
        if state is None:
            raise NotFound(f"{self.root} is not a complete casdb checkout")
        self.state = state
        self.request = request or Request()
        self.full_path = full_path
        self.removed_media = removed_media
        """Keep the rows of purged files (their files are gone either way)."""
        self._frames: dict[str, pd.DataFrame] = {}
        self.flavour = flavour
        """The flavour the folder holds (what random access converts a missing file to)."""
        self.origin = origin
        """Opens the repository the version came from (a picklable callable), for files that
        are not in the folder; None: the folder alone."""
        self._reader: Reader | None = None

    # -- identity and header ------------------------------------------------------------------

    @property
    def dataset(self) -> str:
        return self.state.dataset

    @property
    def version(self) -> str:
        return self.state.version

    @property
    def commit(self) -> str:
        return self.state.commit

    @cached_property
    def full_header(self) -> dict[str, Any]:
        """The version's whole header (all tables, whatever was checked out)."""
        from casdb.tables.header import check_stored

        file = self.root / cache.META / "header"
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise IntegrityError(f"cannot read {file} ({exc.strerror or exc}): run "
                                 "'casdb cache verify' or remove the folder") from exc
        try:
            return check_stored(encoding.decode(data, "header").data, str(file))
        except IntegrityError as exc:
            raise IntegrityError(f"{file}: {exc}: run 'casdb cache verify'") from None

    @cached_property
    def header(self) -> dict[str, Any]:
        """The header of what this dataset presents (only its tables)."""
        keep = set(self.selection.tables)
        out = dict(self.full_header)
        for section in ("tables", "misc_tables"):
            if section in out:
                out[section] = {k: v for k, v in (out[section] or {}).items() if k in keep}
        return out

    @property
    def name(self) -> str:
        return self.full_header["name"]

    def __getattr__(self, key: str) -> Any:
        if key in HEADER_FIELDS:
            return self.header.get(key)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {key!r}")

    # -- selection ----------------------------------------------------------------------------

    @cached_property
    def _media_index(self) -> list[str]:
        return list(self._local)

    @cached_property
    def _local(self) -> dict[str, str]:
        """Media path -> path in the folder (a flavour may change the extension)."""
        table = cache.read_files(self.root)
        return dict(zip(table["file"], table["local"], strict=True))

    @cached_property
    def selection(self) -> Selection:
        attachments = attachment_paths(self.full_header)
        media = [p for p in self._media_index if not is_attachment(p, attachments)]
        return select(self.full_header, media, self._file_column, self.request, self.dataset)

    def _file_column(self, table: str) -> list[str]:
        files = self._parquet(table, ["file"]).column("file")
        original = {v: k for k, v in self._local.items()}
        return [original.get(f, f) for f in files.unique().to_pylist()]

    def _parquet(self, table: str, columns: list[str] | None = None):
        """A table file of the folder, read; ``IntegrityError`` naming a damaged file.

        The ``file`` level of a filewise or segmented table must hold safe relative paths: they
        are joined to the folder's path in the frames users get.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        from casdb.core.paths import check_relpath_array

        path = self._table_path(table)
        try:
            out = pq.read_table(path, columns=columns)
            out.validate(full=True)  # parquet does not check that strings are UTF-8
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise IntegrityError(f"{path} is damaged ({str(exc)[:120]}): run "
                                 "'casdb cache verify'") from exc
        if table_specs(self.full_header).get(table) != "misc":
            if "file" not in out.column_names:
                raise IntegrityError(f"{path} has no 'file' column: run 'casdb cache verify'")
            check_relpath_array(out.column("file"), str(path))
        return out

    def _table_path(self, table: str) -> Path:
        path = self.root / f"db.{table}.parquet"
        if not path.exists():
            raise NotFound(f"table {table!r} is not checked out in {self.root}")
        return path

    @cached_property
    def purged(self) -> list[str]:
        """Files of this version whose bytes were purged (not in the folder)."""
        import json

        from casdb.core.paths import check_relpaths

        file = self.root / cache.META / "purged.json"
        try:
            data = json.loads(file.read_bytes())
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise IntegrityError(f"{file} is damaged: run 'casdb cache verify'") from exc
        return check_relpaths(data, str(file))

    @property
    def tables(self) -> list[str]:
        """Filewise and segmented tables."""
        specs = table_specs(self.full_header)
        return [t for t in self.selection.tables if specs[t] != "misc"]

    @property
    def misc_tables(self) -> list[str]:
        specs = table_specs(self.full_header)
        return [t for t in self.selection.tables if specs[t] == "misc"]

    @cached_property
    def files(self) -> list[str]:
        """Media files of this dataset, sorted (full paths unless ``full_path=False``).

        With ``only_metadata`` these are the files the tables name; they are not on disk.
        """
        files = self.selection.media
        if files is None:
            attachments = attachment_paths(self.full_header)
            files = [p for p in self._media_index if not is_attachment(p, attachments)]
        files = sorted(self._local[f] for f in files)
        if not self.full_path:
            return files
        return [os.path.join(self.root, f) for f in files]

    # -- tables -------------------------------------------------------------------------------

    def __getitem__(self, table_id: str) -> TableView:
        if table_id not in self.selection.tables:
            import difflib

            close = difflib.get_close_matches(table_id, self.selection.tables, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise NotFound(f"{self.dataset} {self.version} has no table {table_id!r}{hint}")
        return TableView(self, table_id)

    def __contains__(self, table_id: object) -> bool:
        return table_id in self.selection.tables

    def frame(self, table_id: str) -> pd.DataFrame:
        """A table as a DataFrame (cached; :meth:`TableView.get` returns a copy)."""
        if table_id not in self._frames:
            self._frames[table_id] = self._read(table_id)
        return self._frames[table_id]

    def _read(self, table_id: str) -> pd.DataFrame:
        import pyarrow as pa

        from casdb.tables.frames import to_frame

        lay = layout(self.full_header, table_id)
        label_sets = {}
        for spec in lay.columns.values():
            if spec.labels_table and spec.labels_table not in label_sets:
                misc = self._parquet(spec.labels_table)
                if misc.num_columns == 0:
                    raise IntegrityError(f"{self._table_path(spec.labels_table)} has no "
                                         "columns: run 'casdb cache verify'")
                label_sets[spec.labels_table] = misc.column(0).to_pylist()
        try:
            df = to_frame(self._parquet(table_id), lay, label_sets)
        except (pa.ArrowException, KeyError, ValueError, TypeError, IndexError) as exc:
            raise IntegrityError(f"{self._table_path(table_id)} does not match db.yaml "
                                 f"({type(exc).__name__}: {str(exc)[:100]}): run "
                                 "'casdb cache verify'") from exc
        if lay.kind == "misc":
            return df
        sel = self.selection
        if self.purged and not self.removed_media:
            df = df[~df.index.get_level_values("file").isin(set(self.purged))]
        if sel.filtered:
            keep = {self._local[f] for f in sel.media or ()}
            df = df[df.index.get_level_values("file").isin(keep)]
        if self.full_path:
            df = _expand_paths(df, str(self.root) + os.sep)
        return df

    # -- random access ------------------------------------------------------------------------

    def _row_table(self, table: str | None) -> str:
        if table is None:
            if not self.tables:
                raise NotFound(f"{self.dataset} {self.version} has no filewise or segmented "
                               "table in this request")
            return self.tables[0]
        if table in self.misc_tables:
            raise InvalidInput(f"table {table!r} is a misc table: its rows have no media")
        self[table]  # noqa: B018 (NotFound naming close matches)
        return table

    def rows(self, table: str | None = None) -> int:
        """Rows of ``table`` (default: the first filewise or segmented table)."""
        return len(self.frame(self._row_table(table)))

    def item(self, i: int, table: str | None = None) -> tuple[pd.Series, Audio]:
        """Row ``i`` of ``table`` (default: the first filewise or segmented table) and its
        audio (:meth:`audio`: the row's segment, in the flavour)."""
        frame = self.frame(self._row_table(table))
        if isinstance(i, bool) or not isinstance(i, int) or not -len(frame) <= i < len(frame):
            raise InvalidInput(f"item {i!r} is out of range: the table has {len(frame)} rows")
        row = frame.iloc[i]
        key = row.name if isinstance(row.name, tuple) else (row.name,)
        start = end = None
        if len(key) == 3:
            import pandas as pd

            start = None if pd.isna(key[1]) else pd.Timedelta(key[1]).total_seconds()
            end = None if pd.isna(key[2]) else pd.Timedelta(key[2]).total_seconds()
        return row, self.audio(key[0], start, end)

    def audio(self, file: str, start: float | None = None, end: float | None = None) -> Audio:
        """The audio of ``file`` (a media path of the version, or its path in the folder)
        between ``start`` and ``end`` seconds, decoded in the folder's flavour: read from the
        folder where it is there, else fetched alone from the repository the version came from
        (and converted), reading only that file."""
        from casdb.checkouts.fetching import decode

        path = self._original(file)
        local = self.root / self._local[path]
        if local.is_file():
            return decode(str(local), start, end)
        if path in self.purged:
            raise NotFound(f"{path}: its bytes were purged from {self.dataset}")
        reader = self._open_reader()
        held = reader.fetch([path])
        reader.publish()  # a fetched blob is kept in the object cache for the next time
        try:
            return reader.decode(held.local[path], start, end)
        finally:
            reader.release(held)

    def _original(self, file: str) -> str:
        """The media path of ``file``: a path of the version, or one in this folder."""
        text = str(file)
        prefix = str(self.root) + os.sep
        if text.startswith(prefix):
            text = text[len(prefix):]
        if text in self._local:
            return text
        original = {v: k for k, v in self._local.items()}
        if text in original:
            return original[text]
        if text in self.purged:
            raise NotFound(f"{text}: its bytes were purged from {self.dataset}")
        raise NotFound(f"{file} is not a media file of {self.dataset} {self.version}")

    def _open_reader(self) -> Reader:
        """A reader of this version from the repository it came from (once per process)."""
        if self._reader is None:
            from casdb.checkouts.fetching import Reader
            from casdb.history.snapshot import Snapshot

            if self.origin is None:
                raise NotFound(f"{self.root} does not hold the file and this Dataset has no "
                               "repository to fetch it from (open it with casdb.load)")
            source = self.origin()
            source.sync_refs(self.dataset)
            source.fetch_version(self.commit)
            from casdb.audio.flavour import Flavour

            spool = self.root / cache.META / "tmp" / f"random-{os.getpid()}"
            self._reader = Reader(source, Snapshot(source.store, self.dataset, self.commit),
                                  self.flavour or Flavour(), spool)
        return self._reader

    def __getstate__(self) -> dict:
        """Pickles without what is opened (a reader, its repository): a worker process opens
        its own on first use."""
        state = dict(self.__dict__)
        state["_reader"] = None
        return state

    def to_audformat(self):
        """The folder loaded by audformat (``audformat.Database.load``; needs audformat)."""
        try:
            import audformat
        except ImportError as exc:
            raise InvalidInput("to_audformat needs the audformat package") from exc
        return audformat.Database.load(str(self.root))

    def __repr__(self) -> str:
        return f"Dataset({self.dataset!r}, version={self.version!r}, root={str(self.root)!r})"


class TableView:
    """One table of a :class:`Dataset`."""

    def __init__(self, dataset: Dataset, table_id: str) -> None:
        self.dataset = dataset
        self.id = table_id
        self.layout = layout(dataset.full_header, table_id)

    @property
    def type(self) -> str:
        return self.layout.kind

    @property
    def columns(self) -> list[str]:
        return list(self.layout.columns)

    @property
    def df(self) -> pd.DataFrame:
        return self.dataset.frame(self.id)

    @property
    def files(self) -> pd.Index:
        """The ``file`` values of the table's index."""
        return self.df.index.get_level_values("file")

    def get(self, index: pd.Index | None = None, *, map: dict | None = None) -> pd.DataFrame:
        """The table (a copy), optionally at ``index``, with labels mapped through schemes.

        ``map={"speaker": ["age", "gender"]}`` replaces the speaker column by the age and gender
        of each speaker (from the scheme's label dictionary or its misc table); list the column
        itself to keep it, as in audformat.
        """
        df = self.df if index is None else self.df.loc[index]
        df = df.copy()
        for column, targets in (map or {}).items():
            targets = [targets] if isinstance(targets, str) else list(targets)
            for target in targets:
                if target != column or len(targets) == 1:
                    df[target] = self._mapped(df[column], column, target)
            if column not in targets:
                df = df.drop(columns=column)
        return df

    def _mapped(self, values: pd.Series, column: str, field: str) -> pd.Series:

        spec = self.layout.columns.get(column)
        if spec is None:
            raise NotFound(f"table {self.id!r} has no column {column!r}")
        if spec.scheme_id is None:
            raise InvalidInput(f"column {column!r} of {self.id!r} has no scheme to map through")
        labels = (self.dataset.full_header.get("schemes") or {})[spec.scheme_id].get("labels")
        dtype = None
        if isinstance(labels, str):
            misc = self.dataset.frame(labels)
            if field not in misc.columns:
                raise InvalidInput(f"cannot map {column!r} to {field!r}: table {labels!r} has "
                                   f"columns {', '.join(misc.columns)}")
            mapping = misc[field].to_dict()
            if layout(self.dataset.full_header, labels).columns[field].scheme_id is not None:
                dtype = misc[field].dtype
        elif isinstance(labels, dict) and any(labels.values()):
            fields = sorted({k for v in labels.values() if isinstance(v, dict) for k in v})
            if fields and field not in fields:
                raise InvalidInput(f"cannot map {column!r} to {field!r}: expected one of "
                                   f"{', '.join(fields)}")
            mapping = {k: (v.get(field, float("nan")) if isinstance(v, dict) else v)
                       for k, v in labels.items()}
        else:
            raise InvalidInput(f"scheme {spec.scheme_id!r} provides no mapping for its labels")
        out = values.map(mapping)
        out.name = field
        if dtype is None:
            dtype = _inferred_dtype(list(out.values))
        return out.astype(dtype)


def _inferred_dtype(values: list) -> str:
    """The pandas dtype audformat gives mapped values (its infer -> audformat -> pandas route)."""
    import pandas as pd

    kind = pd.api.types.infer_dtype(values)
    return {
        "boolean": "boolean", "bool": "boolean", "datetime": "datetime64[ns]",
        "datetime64": "datetime64[ns]", "integer": "Int64", "floating": "float",
        "mixed-integer-float": "float", "string": "string", "timedelta": "timedelta64[ns]",
        "timedelta64": "timedelta64[ns]",
    }.get(kind, "object")


def _expand_paths(df: pd.DataFrame, prefix: str) -> pd.DataFrame:
    import pandas as pd

    index = df.index
    if isinstance(index, pd.MultiIndex):
        level = index.names.index("file")
        expanded = index.set_levels(prefix + index.levels[level].astype("string"), level=level)
        return df.set_axis(expanded, axis=0)
    expanded = pd.Index(prefix + index.astype("string"), name=index.name)
    return df.set_axis(expanded, axis=0)
