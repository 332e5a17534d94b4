"""Hugging Face adapters (``pip install casdb[hf]``): a version as a ``datasets.Dataset`` whose
``audio`` column points at the files of the casdb cache (nothing is copied), and a table with its
media paths as a ``pyarrow.RecordBatchReader``.

Both check out the table's media through :func:`casdb.load` (in the flavour asked for) and point
at the files of that checkout: they stay valid as long as the cached version is not evicted.
Neither is imported by ``import casdb``; ``datasets`` is imported on first use.

Example:
    >>> import tempfile, casdb
    >>> from casdb.testing.synth import make_dataset
    >>> repo = casdb.Repository.init(tempfile.mkdtemp() + "/r")
    >>> _ = repo.commit(make_dataset(tempfile.mkdtemp(), files=3, duration=0.1), dataset="d",
    ...                 version="1.0.0")
    >>> cache = tempfile.mkdtemp()
    >>> hfds = to_dataset("d", "1.0.0", repo=repo, cache_root=cache)
    >>> hfds.column_names
    ['audio', 'file', 'emotion', 'confidence', 'speaker']
    >>> reader = record_batches("d", "1.0.0", repo=repo, cache_root=cache, batch_size=2)
    >>> [len(b) for b in reader]
    [2, 1]
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from casdb.core.errors import InvalidInput

if TYPE_CHECKING:
    import datasets
    import pandas as pd
    import pyarrow as pa


def to_dataset(
    dataset: str,
    version: str | None = None,
    *,
    table: str | None = None,
    repo: Any = None,
    flavour: Any = None,
    media: str | list[str] | None = None,
    cache_root: str | Path | None = None,
    audio_column: str = "audio",
    progress: bool | None = None,
) -> datasets.Dataset:
    """A table of a version as a ``datasets.Dataset`` with an ``Audio`` column.

    One row per row of ``table`` (default: the first filewise or segmented table): the column
    ``audio_column`` (a ``datasets.Audio`` feature at the flavour's sampling rate, or the
    files' own rate if the flavour sets none) holds the path of the cached file, ``file`` the
    path as in the table, ``start`` and ``end`` (segmented tables) the segment in seconds, then
    the table's columns. The audio points at the whole file: a segment is ``start``/``end``.

    Decoding the ``Audio`` column needs ``torchcodec`` and FFmpeg (``datasets`` 4 and later);
    ``dataset.cast_column("audio", datasets.Audio(decode=False))`` gives the paths without them,
    and :mod:`casdb.torch` or :func:`casdb.stream` give decoded arrays.
    """
    datasets = _datasets()

    import pyarrow as pa
    from datasets.table import InMemoryTable

    frame, _ = _frame(dataset, version, table, repo, flavour, media, cache_root, progress,
                      extra=audio_column)
    paths = pa.array(frame.pop(audio_column).tolist(), pa.string())
    labels = pa.Table.from_pandas(frame, preserve_index=False)
    # the storage of an Audio feature that references files: {bytes: null, path}. Built here
    # rather than through Dataset.from_dict, whose encode_example imports torchcodec even for a
    # path (and prints a progress bar for each cast).
    audio = pa.StructArray.from_arrays([pa.nulls(len(paths), pa.binary()), paths],
                                       names=["bytes", "path"])
    arrow = labels.add_column(0, audio_column, audio).replace_schema_metadata(None)
    features = datasets.Features({
        audio_column: datasets.Audio(sampling_rate=_rate(flavour)),
        **datasets.Features.from_arrow_schema(labels.schema),
    })
    return datasets.Dataset(InMemoryTable(arrow.cast(features.arrow_schema)),
                            info=datasets.DatasetInfo(features=features))


def record_batches(
    dataset: str,
    version: str | None = None,
    *,
    table: str | None = None,
    repo: Any = None,
    flavour: Any = None,
    media: str | list[str] | None = None,
    cache_root: str | Path | None = None,
    batch_size: int = 1024,
    path_column: str = "path",
    progress: bool | None = None,
) -> pa.RecordBatchReader:
    """A table of a version as a ``pyarrow.RecordBatchReader`` of ``batch_size`` rows.

    Columns: ``path_column`` (the local path of the cached media file), ``file`` (the path as
    in the table), ``start``/``end`` (segmented tables, in seconds), then the table's columns.
    The table is read when this is called; the record batches are converted as they are read.
    """
    import pyarrow as pa

    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInput(f"invalid batch size {batch_size!r}: use a positive integer")
    frame, _ = _frame(dataset, version, table, repo, flavour, media, cache_root, progress,
                      extra=path_column)
    schema = pa.Schema.from_pandas(frame.iloc[:0], preserve_index=False)

    def batches() -> Iterator[pa.RecordBatch]:
        for at in range(0, len(frame), batch_size):
            part = frame.iloc[at:at + batch_size]
            yield pa.RecordBatch.from_pandas(part, schema=schema, preserve_index=False)

    return pa.RecordBatchReader.from_batches(schema, batches())


def _datasets():
    try:
        import datasets
    except ImportError as exc:
        raise InvalidInput("casdb.hf needs the datasets package: pip install 'casdb[hf]'") \
            from exc
    return datasets


def _rate(flavour: Any) -> int | None:
    from casdb.api import Flavour

    return Flavour.of(flavour).sampling_rate


def _frame(
    dataset: str, version: str | None, table: str | None, repo: Any, flavour: Any,
    media: str | list[str] | None, cache_root: str | Path | None, progress: bool | None,
    extra: str,
) -> tuple[pd.DataFrame, Any]:
    """The table as a flat frame: ``extra`` (cached path), ``file``, [``start``, ``end``],
    labels. The version's media of the table are checked out (a load of that table)."""
    from casdb.api import load

    if not isinstance(extra, str) or not extra:
        raise InvalidInput(f"invalid column name {extra!r}: use a non-empty string")
    if table is not None and not isinstance(table, str):
        raise InvalidInput(f"invalid table {table!r}: use a table id (a string)")
    ds = load(dataset, version, repo=repo, flavour=flavour, tables=table, media=media,
              cache_root=cache_root, full_path=False, progress=progress)
    if table is None:
        if not ds.tables:
            raise InvalidInput(f"{dataset} {ds.version} has no filewise or segmented table")
        table = ds.tables[0]
    elif table not in ds.tables:  # a misc table has no media
        raise InvalidInput(f"table {table!r} of {dataset} {ds.version} is a misc table: "
                           "use a filewise or segmented table")
    df = ds[table].get()
    clash = [c for c in (extra, "file", "start", "end") if c in df.columns]
    if extra in ("file", "start", "end") or clash:
        raise InvalidInput(f"column {extra!r} clashes with the index or columns of table "
                           f"{table!r}: pass another name")
    flat = df.reset_index()
    for level in ("start", "end"):
        if level in flat.columns:  # seconds: a float every consumer reads
            flat[level] = flat[level].dt.total_seconds()
    local = [os.path.join(ds.root, f) for f in flat["file"]]
    flat.insert(0, extra, local)
    return flat, ds
