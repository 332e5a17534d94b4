"""A remote repository: the same objects as a local one, laid out for few requests.

    casdb-remote.json             {"format": 2, "audio_codec": "flac"}: marks the remote and
                                  holds its configuration (format 1, no codec: an older remote)
    packs/<pack id>.pack          many objects and small blobs, concatenated (as stored locally:
                                  objects as zstd frames, blobs as their bytes, audio blobs
                                  coded as FLAC records: :mod:`casdb.remote.audiocodec`)
    packs/<pack id>.idx           the pack's index: (id, kind, offset, length) per entry, kind
                                  ``o`` object, ``b`` blob, ``a`` coded audio blob; written
                                  after the pack, so a pack without an index is ignored
    blobs/ab/cdef...              blobs of 4 MiB and more, one key each (multipart uploads)
    blobs/ab/cdef....flac         the same, coded
    refs/<dataset>/tags/<version>, refs/<dataset>/heads/<branch>

Packs make 100k small files cost a few requests instead of 100k. Indexes are immutable and
cached locally (``<repo>/remotes/<name>/``), so learning what a remote holds costs one listing of
``packs/`` and of ``blobs/`` plus the new indexes. Refs are updated last, by compare-and-swap.

Example:
    >>> import tempfile
    >>> r = Remote.create(tempfile.mkdtemp())
    >>> r.refs("emodb")
    {}
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from casdb.core.errors import IntegrityError, InvalidInput, NotFound
from casdb.core.ids import hash_bytes, is_id
from casdb.model import compression
from casdb.remote.audiocodec import CODECS
from casdb.remote.marker import MARKER
from casdb.store.backends.base import Backend, redact
from casdb.store.backends.registry import open_backend
from casdb.store.objectstore import BLOBS, blob_key
from casdb.store.refs import RefStore

FORMAT = 2
"""Written by remotes that code audio; read: 1 and 2 (a format-1 remote codes nothing). Older
casdb versions refuse a format-2 remote ("unsupported remote format 2") instead of misreading
its coded blobs."""
CODED = ".flac"
PACKS = "packs"
BIG = 4 << 20
"""Blobs of this size and more travel alone (multipart); smaller ones in packs."""
PACK_SIZE = 64 << 20
OBJECT, BLOB, AUDIO = "o", "b", "a"


class Span(NamedTuple):
    """One range read of a pack: ``[start, end)`` holds ``members`` (ids)."""

    pack: str
    start: int
    end: int
    members: list[str]


class Entry(NamedTuple):
    """Where one object or blob is on the remote."""

    pack: str | None
    """The pack holding it, or None for a blob stored alone."""
    offset: int
    length: int
    kind: str


@dataclass
class Remote:
    """A remote repository over a backend."""

    backend: Backend
    url: str
    cache: Path | None = None
    """Where pack indexes are cached (immutable, so never re-read)."""
    audio_codec: str = "none"
    """How pushes store PCM audio blobs: ``flac`` or ``none`` (the remote's own setting)."""

    @classmethod
    def open(cls, url: str, cache: Path | None = None) -> Remote:
        """The remote at ``url``; ``NotFound`` if there is none there."""
        backend = open_backend(url)
        remote = cls(backend, redact(url), cache)
        try:
            data = json.loads(backend.get(MARKER))
        except NotFound:
            raise NotFound(f"no casdb remote at {remote.url} (push to it once, or create it "
                           "with 'casdb remote add')") from None
        except ValueError as exc:
            raise IntegrityError(f"{remote.url}/{MARKER} is damaged") from exc
        if not isinstance(data, dict):
            raise IntegrityError(f"{remote.url}/{MARKER} is damaged")
        if data.get("format") not in (1, FORMAT):
            raise IntegrityError(f"{remote.url}: unsupported remote format {data.get('format')}"
                                 " (a newer casdb wrote it: upgrade casdb)")
        codec = data.get("audio_codec", "none")
        if codec not in CODECS:
            raise IntegrityError(f"{remote.url}: unknown audio codec {str(codec)[:20]!r} in "
                                 f"{MARKER} (a newer casdb wrote it: upgrade casdb)")
        remote.audio_codec = codec
        return remote

    @classmethod
    def create(cls, url: str, cache: Path | None = None, audio_codec: str | None = None
               ) -> Remote:
        """The remote at ``url``, marked as one if it is new (storing audio as
        ``audio_codec``, default ``flac``). Given for an existing remote, ``audio_codec``
        replaces its setting (for later pushes: what is stored stays as it is)."""
        if audio_codec is not None and audio_codec not in CODECS:
            raise InvalidInput(f"unknown audio codec {audio_codec!r} (choose from "
                               f"{', '.join(CODECS)})")
        backend = open_backend(url)
        backend.put(MARKER, _marker(audio_codec or "flac", 1), exclusive=True)
        remote = cls.open(url, cache)
        if audio_codec is not None and remote.audio_codec != audio_codec:
            current = backend.get(MARKER)
            old = json.loads(current).get("format", 1)  # format 2 stays: coded blobs remain
            backend.swap(MARKER, current, _marker(audio_codec, old))
            remote.audio_codec = audio_codec
        return remote

    # -- refs -----------------------------------------------------------------------------------

    @property
    def refstore(self) -> RefStore:
        """The remote's refs, read strictly (:class:`casdb.store.refs.RefStore`)."""
        return RefStore(self.backend, where=self.url)

    def datasets(self) -> list[str]:
        """The datasets with refs on the remote (each name checked: it becomes a folder here)."""
        return self.refstore.datasets()

    def refs(self, dataset: str) -> dict[str, str]:
        """``tags/<v>`` / ``heads/<b>`` -> commit id, every name and value checked."""
        return self.refstore.of(dataset)

    def set_ref(self, dataset: str, ref: str, expected: str | None, new: str) -> None:
        """Compare-and-swap a ref (``Conflict`` if it changed since it was read)."""
        self.refstore.swap(dataset, ref, expected, new)

    # -- what the remote holds ------------------------------------------------------------------

    def index(self) -> dict[str, Entry]:
        """Id -> where it is, for every object and blob on the remote."""
        out: dict[str, Entry] = {}
        for key in self.backend.list(BLOBS + "/"):
            blob = key[len(BLOBS) + 1 :].replace("/", "")
            if is_id(blob):
                out[blob] = Entry(None, 0, -1, BLOB)
            elif blob.endswith(CODED) and is_id(blob[: -len(CODED)]):
                out.setdefault(blob[: -len(CODED)], Entry(None, 0, -1, AUDIO))
        for pack in self._packs():
            for object_id, kind, offset, length in self._pack_index(pack):
                out.setdefault(object_id, Entry(pack, offset, length, kind))
        return out

    def _packs(self) -> list[str]:
        names = [k[len(PACKS) + 1 :] for k in self.backend.list(PACKS + "/")]
        packs = sorted(n[: -len(".idx")] for n in names if n.endswith(".idx"))
        for pack in packs:  # a pack's name becomes a file name in the local index cache
            if not _PACK_RE.match(pack):
                raise IntegrityError(f"{self.url}: unexpected pack index {pack[:100]!r}")
        return packs

    def _pack_index(self, pack: str) -> list[tuple[str, str, int, int]]:
        cached = self.cache / f"{pack}.idx" if self.cache is not None else None
        data = None
        if cached is not None and cached.exists():
            data = cached.read_bytes()
        if data is None or hash_bytes(data)[:16] != pack.split("-")[-1]:
            data = self.backend.get(f"{PACKS}/{pack}.idx")
            if cached is not None:
                from casdb.core.atomic import atomic_write

                cached.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(cached, data, tmp_dir=cached.parent)
        return parse_pack_index(data, f"{self.url}: the index of pack {pack}")

    # -- writing ----------------------------------------------------------------------------------

    def put_pack(self, items: Iterable[tuple[str, str, bytes]]) -> tuple[str, int]:
        """Upload ``(id, kind, stored bytes)`` as one pack and its index; return (name, bytes)."""
        parts, entries, offset = [], [], 0
        for object_id, kind, data in items:
            parts.append(data)
            entries.append((object_id, kind, offset, len(data)))
            offset += len(data)
        return self.put_pack_body(b"".join(parts), entries)

    def put_pack_body(self, body: bytes | bytearray,
                      entries: list[tuple[str, str, int, int]]) -> tuple[str, int]:
        """Upload a pack built already (``entries``: id, kind, offset, length into ``body``)
        and then its index; return (name, bytes). Safe from several threads at once."""
        import msgpack

        index = compression.compress(msgpack.packb(entries))
        name = f"{hash_bytes(body)[:32]}-{hash_bytes(index)[:16]}"
        self.backend.put(f"{PACKS}/{name}.pack", body, exclusive=True)
        self.backend.put(f"{PACKS}/{name}.idx", index, exclusive=True)  # last: the pack counts
        if self.cache is not None:  # the next push need not download what it wrote
            from casdb.core.atomic import atomic_write

            self.cache.mkdir(parents=True, exist_ok=True)
            atomic_write(self.cache / f"{name}.idx", index, tmp_dir=self.cache)
        return name, len(body)

    def put_blob(self, blob: str, path: Path) -> bool:
        return self.backend.put_file(blob_key(blob), path)

    def put_coded_blob(self, blob: str, record: bytes) -> bool:
        """Upload a big blob's coded record (:func:`casdb.remote.audiocodec.encode`)."""
        return self.backend.put(blob_key(blob) + CODED, record, exclusive=True)

    def delete_blob(self, blob: str) -> None:
        """Delete a blob stored alone, as it is and coded."""
        self.backend.delete(blob_key(blob))
        self.backend.delete(blob_key(blob) + CODED)

    # -- purges ---------------------------------------------------------------------------------

    def tombstones(self) -> list:
        """The remote's record of purged blobs (``purged``)."""
        from casdb.store.tombstones import parse_tombstones

        try:
            data = self.backend.get("purged")
        except NotFound:
            return []
        return parse_tombstones(data, f"{self.url}/purged")

    def put_tombstones(self, stones: list) -> None:
        """Replace the remote's tombstones (by compare-and-swap: a concurrent purge retries)."""
        from dataclasses import asdict

        try:
            current = self.backend.get("purged")
        except NotFound:
            current = None
        self.backend.swap("purged", current,
                          json.dumps([asdict(t) for t in stones], indent=1).encode() + b"\n")

    def repack(self, pack: str, drop: set[str]) -> None:
        """Rewrite ``pack`` without the entries ``drop``; the old pack is deleted."""
        entries = self._pack_index(pack)
        keep = [(i, k) for i, k, _, _ in entries if i not in drop]
        if len(keep) != len(entries):
            if keep:
                where = {i: Entry(pack, o, n, k) for i, k, o, n in entries}
                data = dict(self.read(where, [i for i, _ in keep]))
                self.put_pack([(i, k, data[i]) for i, k in keep])
            self.backend.delete(f"{PACKS}/{pack}.idx")  # first: readers stop using it
            self.backend.delete(f"{PACKS}/{pack}.pack")
            if self.cache is not None:
                (self.cache / f"{pack}.idx").unlink(missing_ok=True)

    # -- reading --------------------------------------------------------------------------------

    def read(self, where: dict[str, Entry], ids: list[str]) -> Iterator[tuple[str, bytes]]:
        """The stored bytes of packed ``ids`` (range reads, one request per pack and batch)."""
        by_pack: dict[str, list[str]] = {}
        for i in ids:
            entry = where.get(i)
            if entry is None:
                raise IntegrityError(f"the remote {self.url} lacks object {i}, which a ref "
                                     "there reaches (a damaged remote)")
            if entry.pack is None:
                raise InvalidInput(f"{i} is stored alone: use read_blob")
            by_pack.setdefault(entry.pack, []).append(i)
        for pack, members in by_pack.items():
            members.sort(key=lambda i: where[i].offset)
            ranges = _coalesce([(where[i].offset, where[i].offset + where[i].length) for i in members])
            chunks = self.backend.get_ranges(f"{PACKS}/{pack}.pack", [r[:2] for r in ranges])
            for (start, _, covered), chunk in zip(ranges, chunks, strict=True):
                for n in covered:
                    i = members[n]
                    e = where[i]
                    yield i, chunk[e.offset - start : e.offset - start + e.length]

    def spans(self, where: dict[str, Entry], ids: list[str]) -> list[Span]:
        """The range reads that bring packed ``ids``: close entries of a pack merged into one
        read of at most :data:`SPAN` (or one entry), so that several reads can go at once
        (:meth:`read_span`)."""
        by_pack: dict[str, list[str]] = {}
        for i in ids:
            entry = where.get(i)
            if entry is None or entry.pack is None:
                raise InvalidInput(f"{i} is not in a pack of {self.url}")
            by_pack.setdefault(entry.pack, []).append(i)
        out = []
        for pack, members in by_pack.items():
            members.sort(key=lambda i: where[i].offset)
            spans = [(where[i].offset, where[i].offset + where[i].length) for i in members]
            for start, end, covered in _coalesce(spans, limit=SPAN):
                out.append(Span(pack, start, end, [members[n] for n in covered]))
        return out

    def read_span(self, where: dict[str, Entry], span: Span, sizes: dict[str, int] | None = None
                  ) -> Iterator[tuple[str, bytes]]:
        """The original bytes of the blobs in ``span`` (one request): coded ones decoded and
        verified against their ids (``IntegrityError``), plain ones as stored (the caller
        verifies them). Safe from several threads at once."""
        (chunk,) = self.backend.get_ranges(f"{PACKS}/{span.pack}.pack", [(span.start, span.end)])
        view = memoryview(chunk)
        for i in span.members:
            e = where[i]
            stored = view[e.offset - span.start : e.offset - span.start + e.length]
            if e.kind == AUDIO:
                from casdb.remote.audiocodec import decode

                yield i, decode(bytes(stored), i, (sizes or {}).get(i))
            else:
                yield i, stored

    def read_blob(self, blob: str, path: Path, entry: Entry | None = None,
                  size: int | None = None) -> None:
        """Write the blob stored alone into ``path`` (a new file); a coded one is decoded and
        verified (``IntegrityError``, nothing written), a plain one is the caller's to verify."""
        if entry is not None and entry.kind == AUDIO:
            from casdb.remote.audiocodec import decode

            data = decode(self.backend.get(blob_key(blob) + CODED), blob, size)
            with open(path, "xb") as f:
                f.write(data)
            return
        self.backend.get_file(blob_key(blob), path)

    def read_blobs(self, where: dict[str, Entry], ids: list[str],
                   sizes: dict[str, int] | None = None) -> Iterator[tuple[str, bytes]]:
        """The original bytes of packed blobs ``ids``: coded ones decoded on all cores (ahead
        of the caller, in order of arrival) and verified against their ids; plain ones as
        stored (the caller verifies them, as it always did)."""
        from casdb.remote.audiocodec import decode

        sizes = sizes or {}
        if not any(where[i].kind == AUDIO for i in ids if i in where):
            yield from self.read(where, ids)
            return
        from collections import deque

        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            pending: deque = deque()
            ahead = 0
            for i, stored in self.read(where, ids):
                if where[i].kind == AUDIO:
                    pending.append((i, pool.submit(decode, stored, i, sizes.get(i)), len(stored)))
                else:
                    pending.append((i, stored, len(stored)))
                ahead += len(stored)
                while pending and (ahead > _AHEAD or not isinstance(pending[0][1], Future)
                                   or pending[0][1].done()):
                    i, item, n = pending.popleft()
                    ahead -= n
                    yield i, item.result() if isinstance(item, Future) else item
            for i, item, _ in pending:
                yield i, item.result() if isinstance(item, Future) else item


SPAN = 16 << 20
"""Bytes of one range read of a pack at most, when reads run in parallel. Against SeaweedFS,
smaller reads were slower, not faster: a clone of the 2000-file set took 1.3x as long with
4 MiB reads (16 at once), 2x with 2 MiB and 4x with 1 MiB (benchmarks/README.md)."""

_AHEAD = 64 << 20
"""Bytes decoded ahead of the caller at most."""


def _marker(codec: str, old_format: int) -> bytes:
    """The marker's content: format 1 (readable by every casdb) until audio is coded."""
    if codec == "none" and old_format == 1:
        return json.dumps({"format": 1}).encode() + b"\n"
    return json.dumps({"format": FORMAT, "audio_codec": codec}).encode() + b"\n"


_PACK_RE = re.compile(r"^[0-9a-f]{32}-[0-9a-f]{16}$")


def parse_pack_index(data: bytes, what: str) -> list[tuple[str, str, int, int]]:
    """The entries ``(id, kind, offset, length)`` of a pack index, checked.

    Ids name files in the store, kinds are ``o`` or ``b``, offsets and lengths are
    non-negative integers: anything else raises ``IntegrityError`` naming ``what``.

    Example:
        >>> import msgpack
        >>> entry = ["ab" * 32, OBJECT, 0, 10]
        >>> parse_pack_index(compression.compress(msgpack.packb([entry])), "idx")[0][1:]
        ('o', 0, 10)
    """
    import msgpack

    try:
        entries = msgpack.unpackb(compression.decompress(data), raw=False)
    except IntegrityError as exc:
        raise IntegrityError(f"{what} is damaged ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - msgpack raises many kinds for bad bytes
        raise IntegrityError(f"{what} is damaged ({type(exc).__name__})") from exc
    if not isinstance(entries, list):
        raise IntegrityError(f"{what} is damaged: not a list of entries")
    out = []
    for entry in entries:
        if not isinstance(entry, (list, tuple)) or len(entry) != 4:
            raise IntegrityError(f"{what} is damaged: an entry is not 4 fields")
        object_id, kind, offset, length = entry
        if not isinstance(object_id, str) or not is_id(object_id):
            raise IntegrityError(f"{what} is damaged: {str(object_id)[:80]!r} is not an id")
        if kind not in (OBJECT, BLOB, AUDIO):
            raise IntegrityError(f"{what} is damaged: unknown kind {str(kind)[:20]!r}")
        for n in (offset, length):
            if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n < 1 << 62:
                raise IntegrityError(f"{what} is damaged: {str(n)[:20]!r} is not an offset")
        out.append((object_id, kind, offset, length))
    return out


def _coalesce(spans: list[tuple[int, int]], gap: int = 1 << 16,
              limit: int = 16 << 20) -> list[tuple[int, int, list]]:
    """Merge sorted ``[start, end)`` spans that lie close together into fewer reads."""
    out: list[list] = []
    for n, (start, end) in enumerate(spans):
        if out and start - out[-1][1] <= gap and end - out[-1][0] <= limit:
            out[-1][1] = max(out[-1][1], end)
            out[-1][2].append(n)
        else:
            out.append([start, end, [n]])
    return [(s, e, idx) for s, e, idx in out]
