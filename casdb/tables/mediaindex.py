"""The media index of a commit: one row per file with its blob and audio properties.

    file (index)  blob  bytes  format  sampling_rate  channels  bit_depth  duration (s)

It is stored as a table like any other (runs of column partitions), so two versions that share
most files share most of its partitions. Properties are probed once per blob id: a new commit
takes them from its parent's index and from the repository's probe memory, and probes only
blobs seen for the first time (in parallel). Files that are not audio have sampling rate,
channels, bit depth and duration 0, like audb's dependency table.

Example:
    >>> MEDIA_COLUMNS[:3]
    ('blob', 'bytes', 'format')
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from casdb.audio.probe import MediaInfo, extension, probe_file
from casdb.core.parallel import workers
from casdb.tables.partitions import load_arrow, store_table

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from casdb.store.objectstore import ObjectStore

MEDIA_COLUMNS = ("blob", "bytes", "format", "sampling_rate", "channels", "bit_depth", "duration")
TABLE_NAME = "media"


def known_properties(store: ObjectStore, media_id: str | None) -> dict[str, MediaInfo]:
    """Blob id -> properties from an existing media index."""
    if media_id is None:
        return {}
    table = arrow(store, media_id)
    columns = [table.column(c).to_pylist() for c in MEDIA_COLUMNS]
    return {
        blob: MediaInfo(fmt, sr, ch, bd, dur)
        for blob, _, fmt, sr, ch, bd, dur in zip(*columns, strict=True)
    }


def build(
    store: ObjectStore, files: Mapping[str, tuple[str, int]], known: dict[str, MediaInfo]
) -> tuple[str, dict[str, MediaInfo]]:
    """Store the media index of ``files`` (path -> blob id, size); return its id and new probes.

    ``known`` holds properties probed before; other blobs are probed from the store's bytes.
    """
    import pyarrow as pa

    from casdb.tables.arrays import numbers, strings

    todo: dict[str, str] = {}
    for path, (blob, _) in files.items():
        if blob not in known and blob not in todo:
            todo[blob] = path
    probed: dict[str, MediaInfo] = {}
    if todo:
        items = list(todo.items())
        chunks = [items[i : i + 256] for i in range(0, len(items), 256)]  # few tasks, little memory

        def probe_chunk(chunk: list[tuple[str, str]]) -> list[MediaInfo]:
            return [probe_file(store.blob_file(blob), path) for blob, path in chunk]

        with ThreadPoolExecutor(workers()) as pool:
            for chunk, infos in zip(chunks, pool.map(probe_chunk, chunks), strict=True):
                probed.update(zip((blob for blob, _ in chunk), infos, strict=True))
    props = {**known, **probed}
    paths = sorted(files)
    rows = [props[files[p][0]] for p in paths]
    table = pa.table(  # built from buffers: pa.array of Python values imports pandas
        {
            "file": strings(paths),
            "blob": strings([files[p][0] for p in paths]),
            "bytes": numbers([files[p][1] for p in paths], "int64"),
            # The format of a file that is not audio is its extension, which the bytes don't tell.
            "format": strings([r.format if r.sampling_rate else extension(p)
                               for p, r in zip(paths, rows, strict=True)]),
            "sampling_rate": numbers([r.sampling_rate for r in rows], "int64"),
            "channels": numbers([r.channels for r in rows], "int64"),
            "bit_depth": numbers([r.bit_depth for r in rows], "int64"),
            "duration": numbers([r.duration for r in rows], "float64"),
        }
    )
    return store_table(store, TABLE_NAME, TABLE_NAME, table, ["file"]), probed


def frame(store: ObjectStore, media_id: str) -> pd.DataFrame:
    """The media index as a DataFrame indexed by ``file``."""
    return arrow(store, media_id).to_pandas().set_index("file")


def arrow(store: ObjectStore, media_id: str) -> pa.Table:
    """The media index as an Arrow table, sorted by file; checked (see :func:`check`)."""
    table = load_arrow(store, store.get(media_id, "table"))
    check(table, f"media index {media_id[:10]}")
    return table


_TYPES = {"file": "string", "blob": "string", "bytes": "int64", "format": "string",
          "sampling_rate": "int64", "channels": "int64", "bit_depth": "int64",
          "duration": "double"}


def check(table: pa.Table, what: str) -> None:
    """Refuse a media index that could place a file anywhere but where it belongs.

    Every column is there with its type; every ``file`` is a safe relative path
    (:mod:`casdb.core.paths`), once; every ``blob`` is an id (it names a file in the store);
    sizes and audio properties are not negative. ``IntegrityError`` otherwise. Vectorised.
    """
    import pyarrow.compute as pc

    from casdb.core.errors import IntegrityError
    from casdb.core.paths import check_relpath_array

    for name, kind in _TYPES.items():
        if name not in table.column_names:
            raise IntegrityError(f"{what}: no column {name!r}")
        if str(table.column(name).type) != kind:
            raise IntegrityError(f"{what}: column {name!r} is {table.column(name).type}, "
                                 f"not {kind}")
    files = table.column("file")
    check_relpath_array(files, what)
    if pc.count_distinct(files).as_py() != len(files):
        raise IntegrityError(f"{what}: a file is listed twice")
    blobs = table.column("blob")
    if blobs.null_count or (len(blobs) and not pc.all(
            pc.match_substring_regex(blobs, "^[0-9a-f]{64}$")).as_py()):  # empty: null, not True
        raise IntegrityError(f"{what}: a blob is not an id")
    for name in ("bytes", "sampling_rate", "channels", "bit_depth"):
        column = table.column(name)
        if column.null_count or (len(column) and pc.min(column).as_py() < 0):
            raise IntegrityError(f"{what}: column {name!r} holds a negative or missing value")
