"""Ray Data: a version of a dataset read as a ``ray.data.Dataset`` (the extra ``casdb[ray]``).

:func:`read` checks everything on the driver (the repository, the version, the table, the
flavour), pins the version to what it resolved to, and hands Ray one read task per shard. Each
task re-opens the repository from its location (a path or a URL: a repository object cannot
travel to another machine) and reads its shard with :func:`casdb.stream`, fetching only the
media of its own rows. A task reads and writes nothing but the checkout cache (and a remote's
object cache), so it is idempotent: Ray may retry it, on any worker, and gets the same rows.
Only the driver resolves refs, and it only reads them.

Example:
    >>> import tempfile
    >>> import casdb
    >>> from casdb.testing.synth import make_dataset
    >>> repo = casdb.Repository.init(tempfile.mkdtemp() + "/r")
    >>> _ = repo.commit(make_dataset(tempfile.mkdtemp(), files=4, duration=0.1), dataset="d",
    ...                 version="1.0.0")
    >>> ds = read("d", "1.0.0", repo=repo.path, table="emotion",
    ...           flavour={"sampling_rate": 8000}, cache_root=tempfile.mkdtemp())  # doctest: +SKIP
    >>> ds.take(1)[0]["sampling_rate"]  # doctest: +SKIP
    8000
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from casdb import api
from casdb.core.errors import InvalidInput

try:
    import ray.data
    from ray.data.block import BlockMetadata
    from ray.data.datasource import Datasource, ReadTask
except ImportError as exc:  # pragma: no cover (the test extras install Ray)
    raise ImportError("casdb.ray needs Ray Data: pip install 'casdb[ray]'") from exc

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

AUDIO_MODES = ("arrays", "paths")
"""What the audio column holds: decoded arrays (plus ``sampling_rate``), or local paths."""

ARRAY_COLUMNS = ("audio", "sampling_rate")
PATH_COLUMNS = ("path",)
PATH_ROW_BYTES = 200
"""About what a row takes without its audio (index, labels, a path): for the size estimate."""


@dataclass(frozen=True)
class Spec:
    """What every read task needs, all of it picklable and independent of the driver."""

    location: str
    """The repository: a path or a URL, re-opened by each task."""
    dataset: str
    version: str
    """Pinned on the driver: the tag it resolved to, or the commit id (a branch may move)."""
    table: str | None
    flavour: Any  # casdb.Flavour (kept Any so that this module needs no lower layer)
    audio: str
    cache_root: str | None
    batch_size: int
    cache_budget: int | None


def read(
    dataset: str,
    version: str | None = None,
    *,
    repo: Any = None,
    table: str | None = None,
    flavour: Any = None,
    audio: str = "arrays",
    cache_root: str | Path | None = None,
    batch_size: int = 64,
    cache_budget: int | None = None,
    override_num_blocks: int | None = None,
    concurrency: int | None = None,
) -> ray.data.Dataset:
    """A version of ``dataset`` as a Ray Dataset, one row per row of ``table``.

    The columns are the table's index (``file``, or ``file``, ``start``, ``end``), its label
    columns (categories as their values), then the audio: with ``audio="arrays"`` an ``audio``
    column (float32, shape ``(channels, samples)``, the row's segment only, in ``flavour``)
    and ``sampling_rate``; with ``audio="paths"`` a ``path`` column, the file in the checkout
    cache of the node that ran the task. ``table`` None gives one row per media file (index
    ``file``, no labels), as :func:`casdb.stream` does.

    ``repo`` is a path or a URL (a ``casdb.Repository`` is replaced by its path), or None for
    the search list; each task re-opens it, so on a cluster it must be reachable from every
    node (a shared folder or an S3 remote), and so must ``cache_root`` be meaningful there.
    ``cache_budget`` bounds each task's cache in ``arrays`` mode; ``override_num_blocks`` and
    ``concurrency`` are passed to :func:`ray.data.read_datasource`.

    Bad input (an unknown dataset, version or table, a misc table, a bad flavour, mode or
    batch size, a budget too small for one file) raises a :class:`casdb.Error` here, on the
    driver, before any task runs.
    """
    spec, rows, size = plan(dataset, version, repo=repo, table=table, flavour=flavour,
                            audio=audio, cache_root=cache_root, batch_size=batch_size,
                            cache_budget=cache_budget)
    return ray.data.read_datasource(CasdbDatasource(spec, rows, size),
                                    override_num_blocks=override_num_blocks,
                                    concurrency=concurrency)


def plan(dataset: str, version: str | None = None, *, repo: Any = None,
         table: str | None = None, flavour: Any = None, audio: str = "arrays",
         cache_root: str | Path | None = None, batch_size: int = 64,
         cache_budget: int | None = None) -> tuple[Spec, int, int]:
    """Check a read on the driver and pin it (what :func:`read` does first): the task spec,
    the number of rows and an estimate of their size in memory, the arguments of
    :class:`CasdbDatasource` for a caller that passes its own options to
    ``ray.data.read_datasource``."""
    if audio not in AUDIO_MODES:
        raise InvalidInput(f"audio must be one of {', '.join(AUDIO_MODES)}, not {audio!r}")
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise InvalidInput(f"batch_size must be a positive integer, not {batch_size!r}")
    if cache_budget is not None and audio == "paths":
        # a path must outlive its task (Ray hands it on to later stages): nothing may evict it
        raise InvalidInput("cache_budget needs audio='arrays': paths must stay valid")
    if table is not None and not isinstance(table, str):
        raise InvalidInput(f"table must be a table id (a string), not {table!r}")
    flavour = api.Flavour.of(flavour)
    location = _location(dataset, repo, cache_root)
    root = None if cache_root is None else os.fspath(cache_root)
    # reads the refs (only reads them) and the metadata: an unknown version or table fails here
    ds = api.load(dataset, version, repo=location, flavour=flavour, only_metadata=True,
                  tables=None if table is None else [table], cache_root=root, progress=False,
                  full_path=False)
    if table is None:
        files, columns = list(ds.files), []
    else:
        view = ds[table]
        if view.type == "misc":
            raise InvalidInput(f"{table!r} is a misc table: Ray reads filewise or segmented "
                               f"tables (rows with media)")
        files, columns = list(view.df.index.get_level_values(0)), list(view.columns)
    added = ARRAY_COLUMNS if audio == "arrays" else PATH_COLUMNS
    clash = sorted(set(columns) & set(added))
    if clash:
        raise InvalidInput(f"table {table!r} has a column {clash[0]!r}, which the audio "
                           f"column would hide; read it with audio={_other(audio)!r}")
    # a tag is immutable; anything else (a branch, a commit prefix) is pinned to its commit
    pinned = ds.commit if ds.version.startswith("commit-") else ds.version
    if cache_budget is not None:
        # the stream checks a budget against the files it must hold (one, decoded one at a
        # time): made here, without iterating, so that a budget too small fails on the driver
        with api.stream(dataset, pinned, repo=location, tables=table, flavour=flavour,
                        batch_size=batch_size, audio="arrays", cache_root=root,
                        cache_budget=cache_budget):
            pass
    spec = Spec(location=location, dataset=dataset, version=pinned, table=table,
                flavour=flavour, audio=audio, cache_root=root, batch_size=batch_size,
                cache_budget=cache_budget)
    return spec, len(files), _estimate(ds, location, files, flavour, audio, root)


def _estimate(ds: Any, location: str, files: list[str], flavour: Any, audio: str,
              cache_root: str | None) -> int:
    """Bytes the rows take in memory, decoded: what Ray sizes its read tasks by (blocks of at
    least 1 MiB), so that a small set is not cut into a task per row. A segmented row counts
    its whole file: an upper bound."""
    if audio == "paths":
        return len(files) * PATH_ROW_BYTES
    media = api.dependencies(ds.dataset, ds.commit, repo=location, cache_root=cache_root)
    rate = media["sampling_rate"].astype("float64")
    if flavour.sampling_rate is not None:
        rate[:] = flavour.sampling_rate
    channels = media["channels"].astype("float64")
    if flavour.mixdown:
        channels[:] = 1
    elif flavour.channels is not None:
        channels[:] = len(flavour.channels)
    per_file = (media["duration"].astype("float64") * rate * channels * 4).fillna(0)
    return int(per_file.reindex(files).fillna(0).sum()) + len(files) * PATH_ROW_BYTES


def _other(audio: str) -> str:
    return "paths" if audio == "arrays" else "arrays"


def _location(dataset: str, repo: Any, cache_root: str | Path | None) -> str:
    """Where tasks re-open the repository: a path or a URL, never a live object."""
    if repo is None:  # the search list: the first repository that has the dataset
        repo = api.find_repository(dataset, None, cache_root)
    remote = getattr(repo, "remote", None)
    if remote is not None and hasattr(remote, "url"):  # a remote view: the remote itself
        return str(remote.url)
    if isinstance(repo, api.BaseRepository):
        return os.fspath(repo.path)
    if isinstance(repo, str | os.PathLike):
        where = os.fspath(repo)
        # a relative path would resolve against each worker's own directory
        return where if "://" in where else os.path.abspath(where)
    raise InvalidInput(f"repo must be a path, a URL or a casdb.Repository, not {repo!r}")


class CasdbDatasource(Datasource):
    """The Ray Data datasource of one pinned request: one read task per shard of its rows."""

    def __init__(self, spec: Spec, rows: int, size: int) -> None:
        super().__init__()
        self.spec = spec
        self.rows = rows
        self.size = size

    def get_name(self) -> str:
        return "Casdb"

    def estimate_inmemory_data_size(self) -> int | None:
        return self.size

    def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None,
                       data_context: Any = None) -> list[ReadTask]:
        if self.rows == 0:
            return []
        # at least a batch per task: a task costs a stream's setup (~60 ms: open the
        # repository, read the snapshot), more than a batch of a small set takes to read
        batches = -(-self.rows // self.spec.batch_size)
        shards = max(1, min(parallelism, batches))
        spec = self.spec
        tasks = []
        for k in range(shards):
            # casdb.stream keeps every shards-th row from k on: this many rows
            rows = len(range(k, self.rows, shards))
            tasks.append(ReadTask(
                lambda k=k: read_shard(spec, k, shards),
                BlockMetadata(num_rows=rows, size_bytes=self.size * rows // self.rows,
                              input_files=None, exec_stats=None),
                per_task_row_limit=per_task_row_limit,
            ))
        return tasks


def read_shard(spec: Spec, index: int, count: int) -> Iterator[pa.Table]:
    """The rows of shard ``index`` of ``count``, one Arrow block per batch (runs in a task)."""
    arrays = spec.audio == "arrays"
    stream = api.stream(spec.dataset, spec.version, repo=spec.location, tables=spec.table,
                        flavour=spec.flavour, batch_size=spec.batch_size,
                        shard=(index, count), audio="arrays" if arrays else "none",
                        cache_root=spec.cache_root, cache_budget=spec.cache_budget)
    with stream:
        for batch in stream:
            if arrays:
                frame, media = batch
                yield block(frame, media, "arrays")
            else:
                yield block(batch, _placed(spec, batch), "paths")


def _placed(spec: Spec, frame: pd.DataFrame) -> list[str]:
    """The rows' files placed in the checkout cache (in the flavour): a stream's own paths
    last only until its next batch (a converted file is released, a blob is named by its id),
    while Ray hands a path on to later stages, so paths mode places the batch's files with a
    partial load (only these files; loads of one folder wait for each other and add to it)."""
    files = list(dict.fromkeys(frame.index.get_level_values("file")))
    if not files:
        return []
    ds = api.load(spec.dataset, spec.version, repo=spec.location, flavour=spec.flavour,
                  tables=None if spec.table is None else [spec.table], media=files,
                  cache_root=spec.cache_root, progress=False)
    return [os.path.join(ds.root, f) for f in frame.index.get_level_values("file")]


def block(frame: pd.DataFrame, media: list, audio: str) -> pa.Table:
    """One batch as an Arrow table: index and labels, then the audio columns."""
    import numpy as np
    import pyarrow as pa
    from ray.data.extensions import ArrowVariableShapedTensorArray

    table = pa.Table.from_pandas(frame.reset_index(), preserve_index=False)
    columns: dict[str, pa.Array | pa.ChunkedArray] = {}
    for name in table.column_names:
        column = table.column(name)
        if pa.types.is_dictionary(column.type):
            # a category's values, not its codes: blocks of other shards see other categories
            column = column.cast(column.type.value_type)
        columns[name] = column
    if audio == "paths":
        columns["path"] = pa.array([os.fspath(p) for p in media], pa.string())
        return pa.table(columns)
    arrays = np.empty(len(media), dtype=object)  # ragged: filled one by one, never broadcast
    for i, item in enumerate(media):
        arrays[i] = np.asarray(item.array, dtype=np.float32)
    # always variable-shaped: blocks whose arrays happen to share a shape must not get
    # another (fixed-shape) type than the rest
    columns["audio"] = ArrowVariableShapedTensorArray.from_numpy(arrays)
    columns["sampling_rate"] = pa.array([item.sampling_rate for item in media], pa.int32())
    return pa.table(columns)
