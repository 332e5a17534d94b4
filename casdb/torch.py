"""PyTorch datasets over a casdb version (``pip install casdb[torch]``; needs only
``torch.utils.data``, never imported by ``import casdb``).

- :class:`MapDataset`: random access (``dataset[i]``) on top of ``casdb.load(...,
  only_metadata=True)``: item ``i`` fetches and decodes only row ``i``'s file. For samplers,
  ``shuffle=True`` loaders and any number of workers (it pickles into them).
- :class:`IterableDataset`: a stream (``casdb.stream``) split into disjoint shards, one per
  DataLoader worker of each distributed rank; each row comes exactly once per epoch across all
  of them, in an order drawn from ``(seed, epoch)``; call :meth:`IterableDataset.set_epoch`
  before each epoch, as with ``DistributedSampler``.

Both yield one sample per row of a table, a ``dict``:

- ``"audio"``: ``torch.float32`` tensor of shape ``(channels, samples)`` in the flavour (the
  row's segment only, for a segmented table);
- ``"sampling_rate"``: ``int``;
- ``"file"``: the media path as in the table (relative); ``"start"``, ``"end"``: the segment in
  seconds (segmented tables only; ``end`` is NaN for "to the end of the file");
- one key per column of the table, its label as a Python value (``None`` where missing).

``transform=`` is called with that dict and its result is the sample. The default collate
function batches it when every file has the same length; otherwise pass ``collate_fn``.

Example:
    >>> import tempfile, casdb, torch
    >>> from casdb.testing.synth import make_dataset
    >>> repo = casdb.Repository.init(tempfile.mkdtemp() + "/r")
    >>> _ = repo.commit(make_dataset(tempfile.mkdtemp(), files=4, duration=0.1), dataset="d",
    ...                 version="1.0.0")
    >>> data = MapDataset("d", "1.0.0", repo=repo, cache_root=tempfile.mkdtemp())
    >>> sample = data[0]
    >>> sample["audio"].shape, sample["sampling_rate"], sample["emotion"]
    (torch.Size([1, 1600]), 16000, 'anger')
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from casdb.core.errors import InvalidInput

try:
    import torch
    from torch.utils import data
except ImportError as exc:  # pragma: no cover - the extra is installed in the test venv
    raise ImportError("casdb.torch needs PyTorch: pip install 'casdb[torch]'") from exc

RESERVED = ("audio", "sampling_rate", "file", "start", "end")
"""Keys of a sample that are not columns of the table."""


class OutOfRange(InvalidInput, IndexError):
    """An item index beyond the dataset (also an ``IndexError``, as for any sequence)."""


class MapDataset(data.Dataset):
    """A table of a version as a map-style dataset: ``len()`` rows, ``[i]`` the sample of
    row ``i`` (see the module docstring for its keys).

    ``table`` defaults to the first filewise or segmented table; ``flavour``, ``media``,
    ``repo`` and ``cache_root`` are those of :func:`casdb.load`. Only the metadata are checked
    out on construction; each item fetches its own file (once, into the cache) and decodes it.
    """

    def __init__(
        self,
        dataset: str,
        version: str | None = None,
        *,
        repo: Any = None,
        table: str | None = None,
        flavour: Any = None,
        media: str | list[str] | None = None,
        cache_root: str | Path | None = None,
        transform: Callable[[dict[str, Any]], Any] | None = None,
        progress: bool | None = None,
    ) -> None:
        self.ds, self.table = _loaded(dataset, version, repo, table, flavour, media, cache_root,
                                      progress)
        self.transform = _callable(transform)
        self._rows = self.ds.rows(self.table)

    def __len__(self) -> int:
        return self._rows

    def __getitem__(self, index: int) -> Any:
        if isinstance(index, torch.Tensor) and index.ndim == 0:
            index = int(index)
        if isinstance(index, bool) or not isinstance(index, int):
            raise InvalidInput(f"invalid item index {index!r}: use an integer")
        if not -self._rows <= index < self._rows:
            raise OutOfRange(f"item {index} is out of range: {self.table!r} has "
                             f"{self._rows} rows")
        row, audio = self.ds.item(index % self._rows, self.table)
        names = row.index.tolist()
        key = row.name if isinstance(row.name, tuple) else (row.name,)
        sample = _sample(key, names, row.tolist(), audio)
        return sample if self.transform is None else self.transform(sample)

    def __repr__(self) -> str:
        return (f"MapDataset({self.ds.dataset!r}, {self.ds.version!r}, table={self.table!r}, "
                f"rows={self._rows})")


class IterableDataset(data.IterableDataset):
    """A table of a version streamed in shards: each DataLoader worker of each rank reads
    its own shard (``casdb.stream(..., shard=(rank * workers + worker, world_size * workers))``),
    so a row comes exactly once per epoch across all of them.

    The rank and world size are ``rank``/``world_size`` if given, else those of the
    initialised ``torch.distributed`` process group, else the ``RANK``/``WORLD_SIZE``
    environment variables (as torchrun sets them), else a single process. With ``shuffle``
    the order is drawn from ``(seed, epoch)``: the same for the same pair, different for
    another epoch (:meth:`set_epoch`). ``batch_size`` is how many rows the stream fetches and
    decodes together (the DataLoader still batches the samples with its own ``batch_size``);
    ``cache_budget`` and ``prefetch`` are those of :func:`casdb.stream`.
    """

    def __init__(
        self,
        dataset: str,
        version: str | None = None,
        *,
        repo: Any = None,
        table: str | None = None,
        flavour: Any = None,
        media: str | list[str] | None = None,
        shuffle: bool = True,
        seed: int = 0,
        epoch: int = 0,
        batch_size: int = 16,
        rank: int | None = None,
        world_size: int | None = None,
        cache_root: str | Path | None = None,
        cache_budget: int | None = None,
        prefetch: int = 2,
        transform: Callable[[dict[str, Any]], Any] | None = None,
        progress: bool | None = None,
    ) -> None:
        _positive("batch size", batch_size)
        _natural("seed", seed)
        if not isinstance(shuffle, bool):
            raise InvalidInput(f"invalid shuffle {shuffle!r}: use True or False")
        if (rank is None) != (world_size is None):
            raise InvalidInput("give both rank and world_size, or neither")
        if rank is not None:
            _check_rank(rank, world_size)
        # the metadata, checked out once here: a bad dataset, version or table fails now rather
        # than in each worker, and the version is pinned for every worker and epoch
        ds, self.table = _loaded(dataset, version, repo, table, flavour, media, cache_root,
                                 progress)
        self.dataset = dataset
        self.version = ds.version
        # every worker and epoch streams this commit, even if a branch moves meanwhile
        self.commit = ds.commit
        self.repo = _portable(repo)
        self.flavour = flavour
        self.media = media
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        self.set_epoch(epoch)
        self.batch_size = batch_size
        self.rank = rank
        self.world_size = world_size
        self.cache_root = cache_root
        self.cache_budget = cache_budget
        self.prefetch = prefetch
        self.transform = _callable(transform)
        # casdb.stream checks the rest of the arguments (cache budget, prefetch) when it is
        # called: here once, so that they fail now and not in every worker
        with self._stream((0, 1), audio="none") as whole:
            self.rows = whole.rows
            """Rows of the table, over all shards."""

    def set_epoch(self, epoch: int) -> None:
        """The epoch the next iteration reads (its order, with ``shuffle``). Workers get it
        when the DataLoader starts them, so with ``persistent_workers=True`` build a new
        DataLoader per epoch."""
        _natural("epoch", epoch)
        self.epoch = epoch

    def shard(self) -> tuple[int, int]:
        """(index, count) of the shard this process and DataLoader worker reads."""
        worker = data.get_worker_info()
        worker_id, workers = (worker.id, worker.num_workers) if worker is not None else (0, 1)
        rank, world = self._rank()
        return rank * workers + worker_id, world * workers

    def _rank(self) -> tuple[int, int]:
        if self.rank is not None:
            return self.rank, self.world_size
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        env = os.environ.get("RANK"), os.environ.get("WORLD_SIZE")
        if env == (None, None):
            return 0, 1
        try:
            rank, world = (int(v) for v in env)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InvalidInput(f"RANK={env[0]!r} and WORLD_SIZE={env[1]!r} in the environment "
                               "are not a rank and a world size: set both to integers") from None
        _check_rank(rank, world)
        return rank, world

    def __iter__(self) -> Iterator[Any]:
        with self._stream(self.shard(), audio="arrays") as batches:
            for frame, media in batches:
                names = frame.columns.tolist()
                keys = frame.index.tolist()
                for key, values, audio in zip(keys, frame.itertuples(index=False, name=None),
                                              media, strict=True):
                    key = key if isinstance(key, tuple) else (key,)
                    sample = _sample(key, names, list(values), audio)
                    yield sample if self.transform is None else self.transform(sample)

    def _stream(self, shard: tuple[int, int], audio: str):
        from casdb.api import stream

        return stream(self.dataset, self.commit, repo=self.repo, tables=self.table,
                      media=self.media, flavour=self.flavour, batch_size=self.batch_size,
                      shuffle=self.shuffle, seed=self.seed, epoch=self.epoch, shard=shard,
                      audio=audio, cache_root=self.cache_root, cache_budget=self.cache_budget,
                      prefetch=self.prefetch)

    def __repr__(self) -> str:
        return (f"IterableDataset({self.dataset!r}, {self.version!r}, table={self.table!r}, "
                f"rows={self.rows}, epoch={self.epoch})")


def _loaded(dataset: str, version: str | None, repo: Any, table: str | None, flavour: Any,
            media: Any, cache_root: Any, progress: bool | None):
    """The version's metadata checked out, and the table the samples come from."""
    from casdb.api import load

    if table is not None and not isinstance(table, str):
        raise InvalidInput(f"invalid table {table!r}: use a table id (a string)")
    ds = load(dataset, version, repo=repo, tables=table, media=media, flavour=flavour,
              only_metadata=True, cache_root=cache_root, full_path=False, progress=progress)
    if table is None:
        if not ds.tables:
            raise InvalidInput(f"{dataset} {ds.version} has no filewise or segmented table")
        table = ds.tables[0]
    elif table not in ds.tables:
        raise InvalidInput(f"table {table!r} of {dataset} {ds.version} is a misc table: use a "
                           "filewise or segmented table")
    clash = sorted(set(RESERVED) & set(ds[table].columns))
    if clash:
        raise InvalidInput(f"table {table!r} has columns named {', '.join(clash)}, which a "
                           "sample uses for itself")
    return ds, table


def _portable(repo: Any) -> Any:
    """A local repository as its path: workers started with spawn or forkserver get the
    dataset pickled, and an open repository (its locks) does not pickle."""
    from casdb.api import Repository

    if type(repo) is Repository:
        return str(repo.path)
    return repo


def _sample(key: tuple, names: list[str], values: list, audio) -> dict[str, Any]:
    """One row as a sample: audio tensor, sampling rate, file, [start, end], labels."""
    import numpy as np

    array = np.ascontiguousarray(audio.array, dtype=np.float32)
    out: dict[str, Any] = {"audio": torch.from_numpy(array),
                           "sampling_rate": int(audio.sampling_rate), "file": str(key[0])}
    if len(key) == 3:
        out["start"], out["end"] = _seconds(key[1]), _seconds(key[2])
    for name, value in zip(names, values, strict=True):
        out[name] = _scalar(value)
    return out


def _seconds(value) -> float:
    import pandas as pd

    return math.nan if pd.isna(value) else pd.Timedelta(value).total_seconds()


def _scalar(value) -> Any:
    """A label as a plain Python value (numpy scalars unwrapped; pandas' NA, NaT -> None)."""
    import pandas as pd

    if value is None or (not isinstance(value, float) and pd.isna(value) is True):
        return None
    return value.item() if hasattr(value, "item") and not isinstance(value, str) else value


def _callable(transform):
    if transform is not None and not callable(transform):
        raise InvalidInput(f"invalid transform {transform!r}: use a function of a sample")
    return transform


def _positive(what: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"invalid {what} {value!r}: use a positive integer")


def _natural(what: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"invalid {what} {value!r}: use an integer from 0")


def _check_rank(rank, world_size) -> None:
    _positive("world size", world_size)
    if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < world_size:
        raise InvalidInput(f"invalid rank {rank!r}: use an integer from 0 to {world_size - 1} "
                           f"(world size {world_size})")
