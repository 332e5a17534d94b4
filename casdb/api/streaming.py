"""Streaming for training: :func:`stream` a version in batches, fetching media on demand.

Example:
    >>> import tempfile
    >>> from casdb.api.repository import Repository
    >>> from casdb.testing.synth import make_dataset
    >>> repo = Repository.init(tempfile.mkdtemp() + "/r")
    >>> _ = repo.commit(make_dataset(tempfile.mkdtemp(), files=4, duration=0.1), dataset="d",
    ...                 version="1.0.0")
    >>> batches = stream("d", "1.0.0", repo=repo, tables=["emotion"], batch_size=3,
    ...                  shuffle=True, seed=1, cache_root=tempfile.mkdtemp())
    >>> [(len(frame), len(paths)) for frame, paths in batches]
    [(3, 3), (1, 1)]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from casdb.audio.flavour import Flavour
from casdb.checkouts import layout as cache
from casdb.core.config import Config
from casdb.core.names import check_dataset

if TYPE_CHECKING:
    from casdb.checkouts.streaming import Stream
    from casdb.history.repository import BaseRepository as Repository


def stream(
    dataset: str,
    version: str | None = None,
    *,
    repo: Repository | str | Path | None = None,
    tables: str | Sequence[str] | None = None,
    media: str | Sequence[str] | None = None,
    flavour: Flavour | dict | None = None,
    batch_size: int = 16,
    shuffle: bool = False,
    seed: int = 0,
    epoch: int = 0,
    start: int = 0,
    shard: tuple[int, int] = (0, 1),
    audio: str = "paths",
    cache_root: str | Path | None = None,
    cache_budget: int | None = None,
    prefetch: int = 2,
) -> Stream:
    """Stream a version of ``dataset`` in batches of ``batch_size`` rows.

    Each batch is a :class:`casdb.Batch` ``(frame, media)``: the rows of ``tables`` (joined on
    their index when several; None: the media files, index ``file``) as a DataFrame indexed like
    the table, and row by row their media, as local paths (``audio="paths"``, valid until the
    next batch is asked for) or decoded :class:`casdb.Audio` (``audio="arrays"``: float32
    ``(channels, samples)``, the row's segment only, in the ``flavour``); with ``audio="none"``
    the DataFrame alone. Media are fetched on demand, from the local store or a remote, while
    the next ``prefetch`` batches are prepared in the background.

    ``shuffle`` orders rows by a permutation drawn from ``(seed, epoch)``: the same arguments
    give the same order on every machine. ``shard=(index, count)`` keeps every count-th row of
    that order (the shards of an epoch partition its rows exactly); ``start`` resumes at a batch
    index. With ``cache_budget`` (bytes), files fetched from a remote or converted to the
    flavour are deleted once consumed and the stream never holds more than the budget;
    without it, fetched blobs stay in the object cache for the next epoch.
    The arguments are checked here, before the first batch (``casdb.InvalidInput``).
    """
    from casdb.api.search import find
    from casdb.checkouts.materialise import version_name
    from casdb.checkouts.streaming import Stream, check_args
    from casdb.history.repository import BaseRepository
    from casdb.history.snapshot import Snapshot

    check_dataset(dataset)
    check_args(batch_size, shard, audio, prefetch, cache_budget, start)
    flavour = Flavour.of(flavour)
    config = Config.load()
    root = cache.cache_root(cache_root, config)
    source = repo if isinstance(repo, BaseRepository) else find(dataset, repo, root, config)
    source.sync_refs(dataset)
    _, commit_id = version_name(source, dataset, version)
    source.fetch_version(commit_id)
    snap = Snapshot(source.store, dataset, commit_id)
    return Stream(source, snap, root, tables=[tables] if isinstance(tables, str) else tables,
                  media=media, flavour=flavour, batch_size=batch_size, shuffle=shuffle,
                  seed=seed, epoch=epoch, start=start, shard=shard, audio=audio,
                  cache_budget=cache_budget, prefetch=prefetch)
