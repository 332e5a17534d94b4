"""Single files of a version, fetched on demand, converted to a flavour, and decoded.

A checkout places a whole selection at once; streaming and random access need one file (or one
batch) at a time. :class:`Reader` brings the bytes of some files of a version:

- from the local store, read in place after the blob is checked (and repaired from a remote where
  the source can);
- from a remote (a :class:`casdb.remote.view.RemoteView` source), either kept in its object cache
  (``keep=True``: the next epoch reads locally) or fetched into a spool folder and verified
  against the blob id, to be deleted once consumed (``keep=False``: the cache budget of a
  stream);

converts them to the flavour into the spool (the derived cache of checkouts is not touched: a
streamed file is converted, used and released), and decodes audio with soundfile, only the
frames of a segment.

Example:
    >>> import tempfile
    >>> from casdb.api import Repository
    >>> from casdb.testing.synth import make_dataset
    >>> repo = Repository.init(tempfile.mkdtemp() + "/r")
    >>> _ = repo.commit(make_dataset(tempfile.mkdtemp(), files=2, duration=0.1), dataset="d")
    >>> reader = Reader(repo, repo.snapshot("d"), Flavour(sampling_rate=8000), Path(tempfile.mkdtemp()))
    >>> held = reader.fetch([reader.files[0]])
    >>> audio = reader.decode(held.local[reader.files[0]])
    >>> audio.sampling_rate, audio.array.shape[0], audio.array.dtype
    (8000, 1, dtype('float32'))
    >>> reader.release(held)
"""

from __future__ import annotations

import itertools
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from casdb.audio.convert import convert_file
from casdb.audio.flavour import Flavour, Target
from casdb.audio.probe import extension
from casdb.checkouts.converted import is_undecodable, plan
from casdb.checkouts.selection import attachment_paths, is_attachment
from casdb.core.errors import Error, IntegrityError, InvalidDataset, NotFound, storage_error
from casdb.core.ids import short

if TYPE_CHECKING:
    import numpy as np

    from casdb.checkouts.source import ObjectSource
    from casdb.history.snapshot import Snapshot


PUBLISH_EVERY = 256 << 20
"""Bytes fetched into the object cache between two publishes (flushes) of a stream."""


class Audio(NamedTuple):
    """Decoded audio: float32 samples shaped (channels, samples) and their sampling rate."""

    array: np.ndarray
    sampling_rate: int


@dataclass
class Held:
    """Files a fetch made available: path -> local file, and the spool folder of this fetch
    (its own: two fetches of the same file never share a name)."""

    local: dict[str, str] = field(default_factory=dict)
    folder: str | None = None
    bytes: int = 0
    """Bytes in ``folder`` as budgeted (an upper bound of what they take)."""


class Entry(NamedTuple):
    blob: str
    size: int
    channels: int
    duration: float
    target: Target | None


class Reader:
    """Fetches, converts and decodes single files of one version (see the module doc)."""

    def __init__(self, source: ObjectSource, snap: Snapshot, flavour: Flavour, spool: Path,
                 *, keep: bool = True, threads: int = 8) -> None:
        from casdb.store.tombstones import purged_blobs
        from casdb.tables import mediaindex

        self.source = source
        self.snap = snap
        self.flavour = flavour
        self.spool = spool
        self.keep = keep
        self.threads = threads
        self._verifier = None
        self._pool: ThreadPoolExecutor | None = None
        self._staged: set[str] = set()
        self._unpublished = 0
        self._count = itertools.count()
        if snap.commit.media is None:
            raise NotFound(f"{snap.dataset} at {snap.commit_id[:10]} has no media index")
        index = mediaindex.arrow(snap.store, snap.commit.media)
        purged = purged_blobs(source)
        attachments = attachment_paths(snap.header)
        columns = [index.column(c).to_pylist() for c in
                   ("file", "blob", "bytes", "channels", "duration")]
        media = [p for p, b in zip(columns[0], columns[1], strict=True)
                 if b not in purged and not is_attachment(p, attachments)]
        targets = plan(index, media, flavour)
        wanted = set(media)
        self.entries = {
            p: Entry(b, n, c, d, targets.get(p))
            for p, b, n, c, d in zip(*columns, strict=True) if p in wanted}
        self.files = sorted(self.entries)
        self.purged = sorted(p for p, b in zip(columns[0], columns[1], strict=True)
                             if b in purged)

    def entry(self, path: str) -> Entry:
        try:
            return self.entries[path]
        except KeyError:
            what = "was purged" if path in self.purged else "is not a media file of"
            raise NotFound(f"{path} {what} {self.snap.dataset} "
                           f"{self.snap.commit_id[:10]}") from None

    def need(self, path: str) -> int:
        """Spool bytes that fetching ``path`` may take at most (what a budget counts)."""
        e = self.entry(path)
        # from a remote, counted even when the object cache has the blob (an upper bound:
        # no stat per file)
        fetched = 0 if (self.keep or self.source.holds_blobs) else e.size
        return fetched + _converted_size(e)

    def fetch(self, paths: list[str]) -> Held:
        """Local files holding ``paths`` in the flavour (``InvalidDataset`` for a file that
        cannot be converted, ``IntegrityError`` for damaged bytes no source could mend), in a
        spool folder of this fetch (files under their paths of the version)."""
        held = Held(folder=os.path.join(self.spool, str(next(self._count))))
        try:
            self._fetch(paths, held)
        except BaseException:
            self.release(held)
            raise
        return held

    def _fetch(self, paths: list[str], held: Held) -> None:
        entries = {p: self.entry(p) for p in dict.fromkeys(paths)}
        for p, e in entries.items():
            if e.target is not None and is_undecodable(e.target):
                raise InvalidDataset(f"{p}: not audio libsndfile can decode (a flavour holds "
                                     "audio only)")
        blobs = {e.blob: e.size for e in entries.values()}
        sources = self._blob_files(blobs, held)
        todo = {}
        for p, e in entries.items():
            if e.target is None:
                held.local[p] = self._linked(p, sources[e.blob], held)
            else:
                todo[p] = e
        if not todo:
            return

        def convert(item: tuple[str, Entry]) -> tuple[str, str]:
            p, e = item
            dest = self._name(held, str(Path(p).with_suffix("." + e.target.format)))
            if not os.path.exists(dest):
                tmp = dest + ".part." + e.target.format
                try:
                    convert_file(sources[e.blob], tmp, e.target)
                except IntegrityError as exc:
                    _unlink(tmp)
                    raise IntegrityError(f"converting {p}: {exc}") from None
                except Exception as exc:  # noqa: BLE001 - libsndfile/soxr: the file is the problem
                    _unlink(tmp)
                    raise InvalidDataset(f"cannot convert {p}: {type(exc).__name__}: "
                                         f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
                os.replace(tmp, dest)
            return p, dest

        for p, dest in self.pool.map(convert, todo.items()):
            held.local[p] = dest
            held.bytes += _converted_size(todo[p])

    @property
    def pool(self) -> ThreadPoolExecutor:
        """Threads for conversions and decoding (libsndfile and soxr release the GIL)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="casdb-reader")
        return self._pool

    def _blob_files(self, blobs: dict[str, int], held: Held) -> dict[str, str]:
        """A checked file per blob: the store's own, or a verified copy in the spool."""
        store = self.snap.store
        arrived: dict[str, str] = {}
        if self.keep:
            missing = {b: s for b, s in blobs.items()
                       if b not in self._staged and not store.has_blob(b)}
            if missing:
                # Staged, not published: verified on arrival, readable where staged; made
                # durable together every PUBLISH_EVERY bytes and at the end (one flush per
                # batch of a stream cost more than the fetch).
                self.source.ensure_blobs(missing, progress=False, publish=False)
                self._staged.update(missing)
                self._unpublished += sum(missing.values())
            arrived = {b: store.blob_file(b) for b in blobs if b in self._staged}
            if self._unpublished >= PUBLISH_EVERY:
                self.publish()
        local = [b for b in blobs if b not in arrived and store.has_blob(b)]
        if local:
            if self._verifier is None:
                self._verifier = store.verifier()
            bad = store.check_blobs(local, self._verifier)
            self._verifier.save()  # re-hashes that matched spare the next stream the work
            if bad:
                self.source.repair_blobs(bad)
                bad = store.check_blobs(bad, store.verifier())
            if bad:
                raise IntegrityError(f"blob {short(bad[0])} in the store is damaged and no "
                                     "remote had a good copy: run `casdb fsck`")
        out = {b: store.blob_file(b) for b in local}
        out.update(arrived)
        rest = {b: s for b, s in blobs.items() if b not in out}
        if rest:
            fetched = os.path.join(held.folder, "blobs")
            try:
                os.makedirs(fetched, exist_ok=True)
            except OSError as exc:
                raise storage_error(exc, fetched) from exc
            got = self.source.read_blobs(rest, Path(fetched))
            for b in rest:
                if b not in got:
                    raise IntegrityError(f"blob {short(b)} is missing from the store: run "
                                         "`casdb fsck`")
                out[b] = got[b]
                held.bytes += rest[b]
        return out

    def _name(self, held: Held, path: str) -> str:
        """Where ``path`` (a checked relative path) goes in the fetch's folder (``files/``; the
        blobs it fetched are in ``blobs/``), its folder made."""
        name = os.path.join(held.folder, "files", path)
        try:
            os.makedirs(os.path.dirname(name), exist_ok=True)
        except OSError as exc:
            raise storage_error(exc, os.path.dirname(name)) from exc
        return name

    def _linked(self, path: str, source: str, held: Held) -> str:
        """The file under its own path (readers that look at the extension see it): a symbolic
        link in the fetch's folder to the checked file (a hard link would change the stored
        blob's ctime, and with it the fingerprint that spares the next check a re-hash), else
        the file itself."""
        name = self._name(held, path)
        try:
            os.symlink(source, name)
        except OSError:  # links refused: read it in place
            return source
        return name

    def release(self, held: Held) -> None:
        """Delete the spool folder of a fetch."""
        if held.folder is not None:
            shutil.rmtree(held.folder, ignore_errors=True)
        held.folder = None
        held.bytes = 0

    def publish(self) -> None:
        """Make the blobs fetched into the object cache durable and visible (keep mode)."""
        if self._staged:
            self.snap.store.publish()
            self._staged.clear()
            self._unpublished = 0

    def close(self) -> None:
        try:
            self.publish()
        except Error:
            self.snap.store.discard()  # a cache: what could not be kept is fetched again
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        shutil.rmtree(self.spool, ignore_errors=True)

    def decode(self, local: str, start: float | None = None, end: float | None = None) -> Audio:
        """The samples of ``local`` between ``start`` and ``end`` (seconds; None: the edges)."""
        return decode(local, start, end)


def decode(path: str, start: float | None = None, end: float | None = None) -> Audio:
    """Decode ``path`` (only the frames of the segment) as float32 (channels, samples)."""
    import soundfile as sf

    try:
        with sf.SoundFile(path) as f:
            rate = f.samplerate
            first = 0 if start is None else max(0, round(start * rate))
            last = f.frames if end is None else min(f.frames, round(end * rate))
            if first:
                f.seek(min(first, f.frames))
            data = f.read(max(0, last - first), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        ext = extension(path)
        raise InvalidDataset(f"cannot decode {path}{f' ({ext})' if ext else ''}: "
                             f"{getattr(exc, 'error_string', None) or exc}") from None
    return Audio(data.T.copy(), rate)


def _converted_size(e: Entry) -> int:
    """The conversion's output bounded from above: PCM of the target plus a header."""
    if e.target is None:
        return 0
    rate = e.target.sampling_rate
    frames = int(e.duration * rate) + rate // 100 + 1
    return frames * max(1, e.target.out_channels) * 4 + 4096


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
