"""Streaming a version in batches: rows of its tables with their media, fetched on demand.

:class:`Stream` orders the rows (shuffled by ``(seed, epoch)`` or in table order), keeps those of
one shard, cuts them into batches and yields each with its media as local paths or decoded
arrays. A background thread prepares the next ``prefetch`` batches (fetch, convert, decode, on a
few threads each) while the caller works on the current one. With a ``cache_budget``, the files a
stream fetches from a remote or converts live in a spool folder of the cache and are deleted once
consumed (the batch before the one asked for, or a file as soon as it is decoded); the stream
never holds more than the budget. Without a budget, fetched blobs stay in the object cache (the
next epoch reads them locally) and only converted files are released.

Example:
    >>> import tempfile
    >>> from casdb.api import Repository
    >>> from casdb.testing.synth import make_dataset
    >>> repo = Repository.init(tempfile.mkdtemp() + "/r")
    >>> _ = repo.commit(make_dataset(tempfile.mkdtemp(), files=5, duration=0.1), dataset="d")
    >>> with Stream(repo, repo.snapshot("d"), Path(tempfile.mkdtemp()), tables=["emotion"],
    ...             batch_size=2, audio="arrays") as stream:
    ...     [len(frame) for frame, media in stream], len(stream)
    ([2, 2, 1], 3)
"""

from __future__ import annotations

import math
import os
import queue
import threading
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from casdb.audio.flavour import Flavour
from casdb.checkouts.fetching import Audio, Held, Reader
from casdb.checkouts.layout import STREAMS
from casdb.core.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from casdb.checkouts.source import ObjectSource
    from casdb.history.snapshot import Snapshot

AUDIO = ("paths", "arrays", "none")


class Batch(NamedTuple):
    """Rows of a stream (a DataFrame indexed like the table) and their media, row by row: local
    paths (valid until the next batch is asked for) or :class:`Audio`."""

    frame: pd.DataFrame
    media: list


def table_rows(snap: Snapshot, tables: Sequence[str] | None, media: str | Sequence[str] | None,
               files: Sequence[str], purged: Sequence[str] = ()) -> pd.DataFrame:
    """The rows a stream goes through: the tables (joined on their index when several) or, with
    no tables, the media ``files`` (index ``file``, no columns), narrowed to ``media`` (a
    regular expression or paths), without the rows of ``purged`` files."""
    import re

    import pandas as pd

    from casdb.tables.header import table_specs

    specs = table_specs(snap.header)
    if tables is None:
        frame = pd.DataFrame(index=pd.Index(sorted(files), name="file", dtype="string"))
    else:
        frames = []
        for t in tables:
            if t not in specs:
                import difflib

                close = difflib.get_close_matches(t, list(specs), n=3)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                raise NotFound(f"{snap.dataset} has no table {t!r}{hint}")
            if specs[t] == "misc":
                raise InvalidInput(f"table {t!r} is a misc table: its rows have no media to "
                                   "stream")
            frames.append(snap.table(t))
        levels = {tuple(f.index.names) for f in frames}
        if len(levels) > 1:
            raise InvalidInput(f"tables {', '.join(tables)} have different indices "
                               "(filewise and segmented): stream them one at a time")
        frame = frames[0] if len(frames) == 1 else frames[0].join(frames[1:], how="outer")
        if purged:
            frame = frame[~frame.index.get_level_values("file").isin(list(purged))]
    if media is not None:
        files = frame.index.get_level_values("file")
        if isinstance(media, str):
            pattern = re.compile(media)
            mask = [bool(pattern.search(f)) for f in files]
        else:
            mask = files.isin(set(media))
        frame = frame[mask]
        if not len(frame):
            raise NotFound(f"no media of {snap.dataset} matches {media!r}")
    return frame


def order(rows: int, shuffle: bool, seed: int, epoch: int, shard: tuple[int, int]) -> np.ndarray:
    """Row positions of one shard in stream order: a permutation drawn from ``(seed, epoch)``
    (or table order), every ``count``-th from ``index`` on, so the shards of one epoch
    partition the rows exactly."""
    import numpy as np

    index, count = shard
    positions = np.arange(rows)
    if shuffle:
        positions = np.random.default_rng([seed, epoch]).permutation(rows)
    return positions[index::count]


def check_args(batch_size: int, shard: tuple[int, int], audio: str, prefetch: int,
               cache_budget: int | None, start: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInput(f"batch_size must be a positive integer, not {batch_size!r}")
    try:
        index, count = shard
    except (TypeError, ValueError):
        raise InvalidInput(f"shard must be (index, count), not {shard!r}") from None
    if not (isinstance(index, int) and isinstance(count, int) and 0 <= index < count):
        raise InvalidInput(f"shard {shard!r}: the index must be in 0..count-1")
    if audio not in AUDIO:
        raise InvalidInput(f"audio must be one of {', '.join(AUDIO)}, not {audio!r}")
    if not isinstance(prefetch, int) or prefetch < 0:
        raise InvalidInput(f"prefetch must be 0 or more batches, not {prefetch!r}")
    if cache_budget is not None and (not isinstance(cache_budget, int) or cache_budget < 1):
        raise InvalidInput(f"cache_budget must be a positive number of bytes, not "
                           f"{cache_budget!r}")
    if not isinstance(start, int) or start < 0:
        raise InvalidInput(f"start must be a batch index (0 or more), not {start!r}")


class Stream:
    """Batches of rows with their media (see the module doc). Iterate once; close when done
    (or use it in a ``with`` block): the spool is removed then."""

    def __init__(
        self, source: ObjectSource, snap: Snapshot, root: Path, *,
        tables: Sequence[str] | None = None, media: str | Sequence[str] | None = None,
        flavour: Flavour | None = None, batch_size: int = 16, shuffle: bool = False,
        seed: int = 0, epoch: int = 0, start: int = 0, shard: tuple[int, int] = (0, 1),
        audio: str = "paths", cache_budget: int | None = None, prefetch: int = 2,
    ) -> None:
        check_args(batch_size, shard, audio, prefetch, cache_budget, start)
        spools = Path(root) / STREAMS
        _clean_dead(spools)
        self.reader = Reader(source, snap, flavour or Flavour(),
                             spools / f"{os.getpid()}-{uuid.uuid4().hex[:12]}",
                             keep=cache_budget is None)
        rows = table_rows(snap, tables, media, self.reader.files, self.reader.purged)
        self.frame = rows
        self.audio = audio
        self.batch_size = batch_size
        self.budget = cache_budget
        self.prefetch = prefetch
        self.positions = order(len(rows), shuffle, seed, epoch, shard)
        self.start = start
        index = rows.index
        self._files = list(index.get_level_values("file"))
        segmented = index.nlevels == 3
        self._spans = (list(zip(_seconds(index.get_level_values("start")),
                                _seconds(index.get_level_values("end")), strict=True))
                       if segmented else None)
        for f in dict.fromkeys(self._files):
            self.reader.entry(f)  # every row's file is a media file (not purged)
        if self.budget is not None and audio != "none":
            self._check_budget()
        self._held: Held | None = None
        self._used = 0
        self._peak = 0
        self._cond = threading.Condition()
        self._queue: queue.Queue = queue.Queue(max(1, prefetch))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- sizes --------------------------------------------------------------------------------

    def __len__(self) -> int:
        return math.ceil(len(self.positions) / self.batch_size)

    @property
    def rows(self) -> int:
        """Rows of this shard."""
        return len(self.positions)

    @property
    def peak_bytes(self) -> int:
        """The most spool bytes held at once so far (as budgeted: an upper bound)."""
        return self._peak

    def _batch(self, k: int) -> np.ndarray:
        return self.positions[k * self.batch_size:(k + 1) * self.batch_size]

    def _check_budget(self) -> None:
        """A budget smaller than one file (arrays) or one batch (paths) cannot be kept."""
        need = {f: self.reader.need(f) for f in dict.fromkeys(self._files)}
        if self.audio == "arrays":
            worst = max(need, key=need.get, default=None)
            if worst is not None and need[worst] > self.budget:
                raise InvalidInput(f"cache_budget {self.budget} B is smaller than {worst} needs "
                                   f"({need[worst]} B): raise the budget")
            return
        for k in range(len(self)):
            files = {self._files[i] for i in self._batch(k)}
            total = sum(need[f] for f in files)
            if total > self.budget:
                raise InvalidInput(f"batch {k} needs {total} B of cache, more than cache_budget "
                                   f"{self.budget} B: lower batch_size, raise the budget, or "
                                   "stream audio='arrays' (files are released once decoded)")

    # -- iteration ----------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Any]:
        if self._thread is not None or self._closed:
            raise InvalidInput("a stream is iterated once: make a new one (start= resumes)")
        self._thread = threading.Thread(target=self._produce, daemon=True,
                                        name="casdb-stream")
        self._thread.start()
        try:
            for _ in range(self.start, len(self)):
                self._release_held()  # the batch before is over once the next is asked for
                item = self._queue.get()
                if isinstance(item, BaseException):
                    raise item
                batch, held = item
                self._held = held
                yield batch
        finally:
            self.close()

    def _produce(self) -> None:
        try:
            for k in range(self.start, len(self)):
                if self._stop.is_set():
                    return
                item = self._make(k)
                while not self._stop.is_set():
                    try:
                        self._queue.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                else:
                    self._release(item[1])
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            self._queue.put(exc)

    def _make(self, k: int) -> tuple[Any, Held]:
        positions = self._batch(k)
        frame = self.frame.iloc[positions]
        if self.audio == "none":
            return frame, Held()
        files = [self._files[i] for i in positions]
        if self.audio == "paths":
            unique = list(dict.fromkeys(files))
            held = self._fetch(unique)
            return Batch(frame, [held.local[f] for f in files]), held
        spans = [self._spans[i] for i in positions] if self._spans else [(None, None)] * len(
            files)
        arrays: list[Audio | None] = [None] * len(files)
        for group in self._groups(files):
            held = self._fetch(group)
            try:
                wanted = set(group)
                todo = [n for n, f in enumerate(files) if f in wanted]
                local = held.local
                with ThreadPoolExecutor(min(8, len(todo))) as pool:
                    for n, audio in zip(todo, pool.map(
                            lambda n, local=local: self.reader.decode(local[files[n]], *spans[n]),
                            todo), strict=True):
                        arrays[n] = audio
            finally:
                self._release(held)
        return Batch(frame, arrays), Held()

    def _groups(self, files: list[str]) -> list[list[str]]:
        """The batch's files in groups that fit the budget (one group without a budget)."""
        unique = list(dict.fromkeys(files))
        if self.budget is None:
            return [unique]
        groups, group, size = [], [], 0
        for f in unique:
            need = self.reader.need(f)
            if group and size + need > self.budget:
                groups.append(group)
                group, size = [], 0
            group.append(f)
            size += need
        return [*groups, group] if group else groups

    def _fetch(self, files: list[str]) -> Held:
        """Fetch ``files`` once the budget has room for them (it is released by consumption)."""
        if self.budget is not None:
            need = sum(self.reader.need(f) for f in files)
            with self._cond:
                while self._used + need > self.budget and not self._stop.is_set():
                    self._cond.wait(0.1)
                self._used += need
                self._peak = max(self._peak, self._used)
            try:
                held = self.reader.fetch(files)
            except BaseException:
                with self._cond:
                    self._used -= need
                    self._cond.notify_all()
                raise
            held.bytes = need
            return held
        return self.reader.fetch(files)

    def _release(self, held: Held) -> None:
        need = held.bytes
        self.reader.release(held)
        if self.budget is not None and need:
            with self._cond:
                self._used -= need
                self._cond.notify_all()

    def _release_held(self) -> None:
        if self._held is not None:
            self._release(self._held)
            self._held = None

    def close(self) -> None:
        """Stop prefetching and delete what the stream holds."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._release_held()
        if self._thread is not None:
            while self._thread.is_alive():
                try:
                    item = self._queue.get(timeout=0.1)
                except queue.Empty:
                    continue
                if isinstance(item, tuple):
                    self._release(item[1])
            self._thread.join()
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if isinstance(item, tuple):
                self._release(item[1])
        self.reader.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001, S110 - best effort at interpreter exit
            pass


def _seconds(values) -> list[float | None]:
    import pandas as pd

    return [None if pd.isna(v) else pd.Timedelta(v).total_seconds() for v in values]


def _clean_dead(spools: Path) -> None:
    """Remove the spools of streams whose process is gone (killed before it could clean up)."""
    import shutil

    try:
        names = os.listdir(spools)
    except OSError:
        return
    for name in names:
        pid = name.split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(spools / name, ignore_errors=True)
        except OSError:
            pass
