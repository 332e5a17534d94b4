"""Moving versions between a repository and a remote: push, fetch (pull, clone, remote loads).

Only what is missing moves. A push walks each ref's commit down through trees, tables and
partitions, stopping at whatever the remote holds already (an object is uploaded only after
everything it refers to, so holding an object means holding all below it), then uploads:

1. big blobs alone (multipart, several at once), and meanwhile small blobs in packs of up to
   64 MiB (two uploading while the next is built);
2. then the objects in packs, children before parents, each pack once everything before it
   is up (the last small blobs share the first of them);
3. the refs, last, by compare-and-swap: version tags only if absent, branches only if they
   still hold what was read (and move forward only). Another pusher in between: ``Conflict``.
   With ``prune``, the remote's branches this repository deleted go too, by compare-and-swap
   (:meth:`casdb.store.refs.RefStore.remove`): only branches seen there at the last push or
   pull (:mod:`casdb.remote.tracking`). Tags are never deleted.

An interrupted push leaves packs and blobs that the next push finds and does not send again,
and no ref pointing at anything incomplete. A fetch walks the other way, level by level, reads
packed objects by ranges (one request per pack and batch), verifies every id, and publishes
before any local ref moves.

Example:
    >>> import tempfile
    >>> from casdb.remote.layout import Remote
    >>> from casdb.api import Repository
    >>> from casdb.testing.synth import make_dataset
    >>> repo = Repository.init(tempfile.mkdtemp() + "/r")
    >>> _ = repo.commit(make_dataset(tempfile.mkdtemp(), files=3, duration=0.1), dataset="d",
    ...                 version="1.0.0")
    >>> remote = Remote.create(tempfile.mkdtemp())
    >>> push(repo, remote).objects > 0, push(repo, remote).objects
    (True, 0)
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from casdb.core.errors import AlreadyExists, Conflict, IntegrityError, NotFound
from casdb.core.progress import Progress
from casdb.history import dag
from casdb.model.graph import COMMIT, TREE, references
from casdb.remote.audiocodec import MAX_CODED
from casdb.remote.coding import prepare_big, prepared
from casdb.remote.layout import AUDIO, BIG, OBJECT, PACK_SIZE, Entry, Remote
from casdb.store import reachability
from casdb.store.refs import RefUpdate

if TYPE_CHECKING:
    from casdb.history.repository import BaseRepository

_TRANSFERS = 8
PACKS_IN_FLIGHT = 2
"""Packs uploading at once during a push (each also goes up in parts, several at once)."""
READS_IN_FLIGHT = 8
"""Range reads of packs at once during a fetch."""


@dataclass
class Result:
    """What a push or fetch moved."""

    objects: int = 0
    blobs: int = 0
    bytes: int = 0
    requests: int = 0
    """Upload or download requests for data (not counting listings and refs)."""
    refs: list[str] = field(default_factory=list)
    """Refs created or moved, as ``dataset ref``."""
    deleted: list[str] = field(default_factory=list)
    """Branches deleted (``prune``), as ``dataset heads/<branch>``."""


# -- push -----------------------------------------------------------------------------------------


def push(repo: BaseRepository, remote: Remote, datasets: list[str] | None = None,
         progress: bool | None = None, *, prune: bool = False) -> Result:
    """Send the versions and branches of ``datasets`` (default: all) that the remote lacks;
    with ``prune``, delete the remote's branches of these datasets that are gone here."""
    from casdb.remote import tracking
    from casdb.remote.purges import apply_remote
    from casdb.store.tombstones import purged_blobs

    apply_remote(repo, remote)  # purges made while the remote was out of reach, both ways
    purged = purged_blobs(repo)
    datasets = datasets or repo.datasets()
    updates = []  # (dataset, ref, expected on the remote, new)
    deletions = []  # (dataset, ref, expected on the remote)
    now = {}
    for dataset in datasets:
        repo.check_known(dataset)
        theirs = remote.refs(dataset)
        now[dataset] = dict(theirs)
        if prune:
            deletions += _pruned_there(repo, remote, dataset, theirs)
        for version, commit in repo.refs.tags(dataset).items():
            ref = f"tags/{version}"
            if theirs.get(ref) not in (None, commit):
                raise AlreadyExists(f"{dataset} {version} is another commit on {remote.url} "
                                    f"({theirs[ref][:10]}); versions are never re-published")
            if theirs.get(ref) is None:
                updates.append((dataset, ref, None, commit))
        for branch, commit in repo.refs.heads(dataset).items():
            ref = f"heads/{branch}"
            current = theirs.get(ref)
            if current == commit:
                continue
            if current is not None and not _descends(repo, commit, current):
                raise Conflict(f"{dataset} {branch} on {remote.url} has commits this repository "
                               f"does not have ({current[:10]}): pull, then push again")
            updates.append((dataset, ref, current, commit))
    result = Result()
    if updates:
        where = remote.index()
        objects, blobs = _missing(repo, [u[3] for u in updates], where)
        blobs = {b: n for b, n in blobs.items() if b not in purged}  # never sent again
        _upload(repo, remote, objects, blobs, result, progress)
    for dataset, ref, expected, new in sorted(updates, key=lambda u: (u[0], u[1][0] != "t")):
        try:
            remote.set_ref(dataset, ref, expected, new)
        except Conflict:
            raise Conflict(f"{dataset} {ref} changed on {remote.url} while pushing: pull, then "
                           "push again") from None
        result.refs.append(f"{dataset} {ref}")
    for dataset, ref, expected in deletions:
        try:
            remote.refstore.remove(dataset, ref, expected)
        except Conflict:
            raise Conflict(f"{dataset} {ref} changed on {remote.url} while pushing: pull, then "
                           "push again") from None
        result.deleted.append(f"{dataset} {ref}")
    for dataset, refs in now.items():  # the remote's branches as they are now, for ``prune``
        refs.update({r: new for d, r, _, new in updates if d == dataset})
        for d, r, _ in deletions:
            if d == dataset:
                refs.pop(r, None)
        tracking.record(remote, dataset, refs, pruned=prune)
    return result


def _pruned_there(repo: BaseRepository, remote: Remote, dataset: str, theirs: dict[str, str]
                  ) -> list[tuple[str, str, str]]:
    """The remote's branches of ``dataset`` to delete: seen there at the last push or pull,
    deleted here since. One that moved there since is ``Conflict`` (work not seen here)."""
    from casdb.remote import tracking

    mine = repo.refs.heads(dataset)
    out = []
    for ref, commit in sorted(tracking.seen(remote, dataset).items()):
        if ref[len("heads/"):] in mine or ref not in theirs:
            continue
        if theirs[ref] != commit:
            raise Conflict(f"{dataset} {ref[6:]} moved on {remote.url} since it was deleted here "
                           f"({commit[:10]} -> {theirs[ref][:10]}): pull, then decide")
        out.append((dataset, ref, commit))
    return out


def _descends(repo: BaseRepository, commit: str, ancestor: str) -> bool:
    if not repo.store.has(ancestor):
        return False
    return any(cid == ancestor for cid, _ in dag.ancestry(repo.store, commit, first_parent=False))


def _missing(repo: BaseRepository, roots: list[str], where: dict[str, Entry]
             ) -> tuple[list[str], dict[str, int]]:
    """Objects (children first) and blobs (id -> size) under ``roots`` the remote lacks."""
    found = reachability.walk(repo.store, [(r, COMMIT) for r in roots], stop=where.__contains__,
                              children_first=True, strict=True)
    return found.order, found.blobs


def _upload(repo: BaseRepository, remote: Remote, objects: list[str], blobs: dict[str, int],
            result: Result, progress: bool | None) -> None:
    """Big blobs (several at once) and packs of small blobs (:data:`PACKS_IN_FLIGHT` at once,
    built while the previous ones go up) overlap; the packs that hold objects go last, one at a
    time, each once everything before it is up, so that the remote never holds an object
    without what it refers to.

    Memory: the packs in flight and the one being built (each at most ``PACK_SIZE`` plus one
    blob under ``BIG``), the blobs read ahead (:data:`casdb.remote.coding.AHEAD`) and the big
    blobs' transfer buffers: about 330 MiB at most with the defaults.
    """
    store = repo.store
    big = [b for b, size in blobs.items() if size >= BIG]
    small = [b for b, size in blobs.items() if size < BIG]
    total = sum(blobs.values()) + len(objects) * 512
    with (Progress("push", total, len(objects) + len(blobs), enabled=progress) as bar,
          ThreadPoolExecutor(_TRANSFERS) as big_pool,
          ThreadPoolExecutor(PACKS_IN_FLIGHT) as pack_pool):
        def send_big(blob: str) -> int:
            path = store.blob_path(blob)
            if remote.audio_codec != "none" and blobs[blob] <= MAX_CODED and _audio_like(path):
                kind, data = prepare_big(path, blob, remote.audio_codec)
                if kind == AUDIO:
                    sent = len(data) if remote.put_coded_blob(blob, data) else 0
                    bar.advance(blobs[blob])
                    return sent
            sent = blobs[blob] if remote.put_blob(blob, path) else 0
            bar.advance(blobs[blob])
            return sent

        bigs = [big_pool.submit(send_big, b) for b in big]  # 1. big blobs, in the background
        in_flight: deque[Future] = deque()

        def sent(future: Future) -> None:
            _, n, count = future.result()
            result.bytes += n
            result.requests += 2
            bar.advance(n, count)

        def send_pack(pack: PackBuilder) -> tuple[str, int, int]:
            name, n = remote.put_pack_body(pack.body, pack.entries)
            return name, n, len(pack.entries)

        def flush(pack: PackBuilder, *, alone: bool = False) -> PackBuilder:
            """Send ``pack`` (``alone``: after everything before it is up); a new builder."""
            if not pack.entries:
                return pack
            if alone:
                drain()
            while len(in_flight) >= PACKS_IN_FLIGHT:
                sent(in_flight.popleft())
            in_flight.append(pack_pool.submit(send_pack, pack))
            if alone:
                drain()
            return PackBuilder()

        def drain() -> None:
            for future in bigs:
                result.bytes += future.result()
            result.blobs += len(bigs)
            result.requests += len(bigs)
            bigs.clear()
            while in_flight:
                sent(in_flight.popleft())

        try:
            # 2. packs of small blobs, while the big blobs go up
            pack = PackBuilder()
            for blob, kind, data in prepared(store, small, remote.audio_codec, blobs):
                pack.add(blob, kind, data)
                result.blobs += 1
                if pack.size >= PACK_SIZE:
                    pack = flush(pack)
            # 3. then objects, children first (the last blobs share their first pack): each
            # pack that holds objects goes after everything before it is up
            for object_id in objects:
                pack.add(object_id, OBJECT, store.read_stored(object_id))
                result.objects += 1
                if pack.size >= PACK_SIZE:
                    pack = flush(pack, alone=True)
            flush(pack, alone=True)
            drain()
        except BaseException:
            for future in [*bigs, *in_flight]:  # nothing new starts; what runs finishes
                future.cancel()
            raise


class PackBuilder:
    """A pack's body and index entries, built as blobs come (each one copied once, into the
    body, so that its own buffer can go)."""

    def __init__(self) -> None:
        self.body = bytearray()
        self.entries: list[tuple[str, str, int, int]] = []

    @property
    def size(self) -> int:
        return len(self.body)

    def add(self, object_id: str, kind: str, data: bytes) -> None:
        self.entries.append((object_id, kind, len(self.body), len(data)))
        self.body += data


def _audio_like(path: Path) -> bool:
    """Whether the file starts as a WAV or AIFF does (read whole only then)."""
    with open(path, "rb") as f:
        head = f.read(12)
    return head[:4] in (b"RIFF", b"FORM") and head[8:12] in (b"WAVE", b"AIFF")


# -- fetch ----------------------------------------------------------------------------------------


def fetch(repo: BaseRepository, remote: Remote, roots: list[str], *, history: bool = True,
          trees: bool = True, blobs: bool = True, where: dict[str, Entry] | None = None,
          progress: bool | None = None) -> Result:
    """Bring the objects under commits ``roots`` that ``repo`` lacks (and their blobs).

    ``history=False`` leaves parents out; ``trees=False`` leaves folder trees (and their blobs)
    out, enough to read headers, tables and media indexes.
    """
    where = remote.index() if where is None else where
    store = repo.store
    result = Result()
    needed_blobs: dict[str, int] = {}
    level = list(dict.fromkeys(roots))
    seen = set(level)
    try:
        while level:
            missing = [i for i in level if not store.has(i)]
            for object_id, stored in remote.read(where, missing):
                store.put_stored(object_id, stored)
                result.objects += 1
                result.bytes += len(stored)
            result.requests += len({where[i].pack for i in missing})
            store.publish()  # kept if interrupted: a rerun fetches only what is still missing
            following = []
            for object_id in level:
                refs = references(store.get(object_id))
                for child, kind in refs.objects:
                    if kind == COMMIT and not history or kind == TREE and not trees:
                        continue
                    if child not in seen:
                        seen.add(child)
                        following.append(child)
                needed_blobs.update(refs.blobs)
            level = following
        if blobs and trees:
            from casdb.store.tombstones import purged_blobs

            purged = purged_blobs(repo)
            needed_blobs = {b: n for b, n in needed_blobs.items() if b not in purged}
            get_blobs(repo, remote, needed_blobs, where=where, progress=progress, result=result)
        store.publish()
    except BaseException:
        store.discard()
        raise
    return result


def get_blobs(repo: BaseRepository, remote: Remote, wanted: dict[str, int], *,
              where: dict[str, Entry] | None = None, progress: bool | None = None,
              result: Result | None = None) -> Result:
    """Bring the blobs ``wanted`` (id -> size) that ``repo`` lacks; staged, not published."""
    where = remote.index() if where is None else where
    result = result or Result()
    store = repo.store
    todo = {b: s for b, s in wanted.items() if not store.has_blob(b)}
    for b in todo:
        if b not in where:
            raise IntegrityError(f"the remote {remote.url} lacks blob {b} (a damaged remote)")
    alone = [b for b in todo if where[b].pack is None]
    packed = [b for b in todo if where[b].pack is not None]
    repo.backend.make_dir(repo.backend.tmp)
    lock = threading.Lock()  # one publish at a time
    with (Progress("fetch", sum(todo.values()), len(todo), enabled=progress) as bar,
          ThreadPoolExecutor(_TRANSFERS) as pool):
        def get_alone(blob: str) -> None:
            tmp = store.stage.temp()
            try:
                remote.read_blob(blob, tmp, where[blob], todo[blob])
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
            store.put_blob_file(blob, tmp)
            bar.advance(todo[blob])
            with lock:
                store.publish()  # each big blob is kept as soon as it is whole

        since = 0

        def stored(blobs: int, n: int) -> None:
            nonlocal since
            bar.advance(n, blobs)
            since += blobs
            if since >= 1024:  # kept if interrupted: a rerun fetches only what is still missing
                with lock:
                    store.publish()
                since = 0

        # big blobs alone and packed ones at the same time
        alones = [pool.submit(get_alone, b) for b in alone]
        try:
            result.requests += read_packed(remote, where, packed, todo, store.put_blob_bytes,
                                           stored)
        except BaseException:
            for future in alones:
                future.cancel()
            raise
        for future in alones:
            future.result()
        with lock:
            store.publish()
        result.requests += len(alone)
    result.blobs += len(todo)
    result.bytes += sum(todo.values())
    return result


def read_packed(remote: Remote, where: dict[str, Entry], ids: list[str], sizes: dict[str, int],
                keep: Callable[[str, bytes], None],
                done: Callable[[int, int], None] | None = None) -> int:
    """Bring the packed blobs ``ids``, :data:`READS_IN_FLIGHT` range reads at once; each read's
    blobs are decoded (coded audio: verified against its id) and passed to ``keep(blob, bytes)``
    on the thread that read them, which must verify plain ones before storing them. ``done(blobs,
    bytes)`` is called on this thread as reads finish. Returns the number of reads.

    Memory: the reads in flight, each at most 16 MiB (and its decoded copy): about 256 MiB at
    most. The first failure stops the reads not yet started and is raised once the running
    ones are over.
    """
    spans = remote.spans(where, ids)

    def read(span) -> tuple[int, int]:
        n = 0
        for blob, data in remote.read_span(where, span, sizes):
            keep(blob, data)
            n += len(data)
        return len(span.members), n

    with ThreadPoolExecutor(READS_IN_FLIGHT) as pool:
        pending: deque[Future] = deque()
        try:
            for span in spans:
                while len(pending) >= 2 * READS_IN_FLIGHT:  # queued ones hold no data
                    count = pending.popleft().result()
                    if done is not None:
                        done(*count)
                pending.append(pool.submit(read, span))
            while pending:
                count = pending.popleft().result()
                if done is not None:
                    done(*count)
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    return len(spans)


def blobs_to_folder(remote: Remote, wanted: dict[str, int], folder: Path,
                    where: dict[str, Entry]) -> dict[str, str]:
    """Fetch the blobs ``wanted`` into files of ``folder``, each verified against its id (a
    stream's spool: the caller deletes them); blobs ``where`` lacks are left out."""
    from casdb.core.ids import hash_bytes, new_hasher

    out: dict[str, str] = {}
    present = [b for b in wanted if b in where]
    packed = [b for b in present if where[b].pack is not None]
    lock = threading.Lock()

    def keep(blob: str, data: bytes) -> None:
        if hash_bytes(data) != blob:
            raise IntegrityError(f"blob {blob} arrived corrupt from {remote.url}: its bytes "
                                 "hash differently")
        name = str(folder / blob)
        with open(name, "wb") as f:
            f.write(data)
        with lock:
            out[blob] = name

    read_packed(remote, where, packed, wanted, keep)

    def get_alone(blob: str) -> None:
        name = folder / blob
        remote.read_blob(blob, name, where[blob], wanted[blob])
        hasher = new_hasher(wanted[blob])
        if name.stat().st_size:
            hasher.update_mmap(str(name))
        if hasher.hexdigest() != blob:
            name.unlink()
            raise IntegrityError(f"blob {blob} arrived corrupt from {remote.url}: its bytes "
                                 "hash differently")
        out[blob] = str(name)

    alone = [b for b in present if where[b].pack is None]
    if alone:
        with ThreadPoolExecutor(min(_TRANSFERS, len(alone))) as pool:
            list(pool.map(get_alone, alone))
    return out


def pull(repo: BaseRepository, remote: Remote, datasets: list[str] | None = None,
         progress: bool | None = None, rebase: bool = False, *, prune: bool = False) -> Result:
    """Fetch the versions and branches of ``datasets`` (default: all on the remote) and move
    the local refs: new tags are added and branches move forward.

    A branch that diverged (commits here and there since the last pull) stays as it is and
    ``Conflict`` is raised after everything else is in place; with ``rebase``, the local
    commits are re-made on top of the remote's head instead (same content, new parent: nothing
    is copied), so that the next push succeeds. Version tags keep pointing at the commits
    they were made on. With ``prune``, local branches deleted on the remote are deleted here
    (by compare-and-swap), but not those whose head the remote lacks: work not pushed yet.
    """
    from casdb.remote import tracking
    from casdb.remote.purges import apply_remote

    apply_remote(repo, remote)  # the remote's purges apply here, and ours there
    datasets = datasets or remote.datasets()
    wanted = {d: remote.refs(d) for d in datasets}
    for d, refs in wanted.items():
        if not refs:
            raise NotFound(f"no dataset {d!r} on {remote.url}")
    roots = sorted({c for refs in wanted.values() for c in refs.values()})
    result = fetch(repo, remote, roots, progress=progress)
    check_tips(repo, roots)
    diverged = []
    for dataset, refs in wanted.items():
        updates = []
        for ref, commit in sorted(refs.items()):
            mine = repo.refs.get(dataset, ref)
            if mine == commit:
                continue
            if ref.startswith("tags/"):
                if mine is not None:
                    raise Conflict(f"{dataset} {ref[5:]} is another commit here ({mine[:10]}) "
                                   f"than on {remote.url} ({commit[:10]})")
            elif mine is not None:
                if _descends(repo, mine, commit):
                    continue  # this repository is ahead
                if not _descends(repo, commit, mine):
                    if not rebase:
                        diverged.append(f"{dataset} {ref[6:]}")
                        continue
                    commit = _rebase(repo, mine, commit)
            updates.append(RefUpdate(ref, mine, commit))
        if updates:
            repo.refs.update(dataset, updates)
            result.refs += [f"{dataset} {u.ref}" for u in updates]
        if prune:
            for ref, commit in sorted(tracking.seen(remote, dataset).items()):
                # seen there, gone there since, and not moved here since (else: new work)
                if ref not in refs and repo.refs.get(dataset, ref) == commit:
                    repo.refs.delete(dataset, ref, commit)
                    result.deleted.append(f"{dataset} {ref}")
        tracking.record(remote, dataset, refs, pruned=prune)
    if diverged:
        raise Conflict(f"{', '.join(diverged)} diverged from {remote.url} (commits here and "
                       "there): 'casdb pull --rebase' puts the local commits on top")
    return result


def _rebase(repo: BaseRepository, mine: str, theirs: str) -> str:
    """Re-make the commits of ``mine`` that ``theirs`` lacks on top of ``theirs``; return the
    new head."""
    import dataclasses

    chain = []
    for cid, commit in dag.ancestry(repo.store, mine, first_parent=True):
        if _descends(repo, theirs, cid):
            break
        chain.append(commit)
    parent = theirs
    for commit in reversed(chain):
        parent = repo.store.put(dataclasses.replace(commit, parents=(parent,)))
    repo.store.publish()
    return parent


def check_tips(repo: BaseRepository, commits: list[str]) -> None:
    """Refuse, before any ref moves here, a fetched version whose header, media index or tables
    name an unsafe path (``IntegrityError``); trees were checked as they were decoded. Older
    versions are checked when they are checked out."""
    from casdb.history.snapshot import Snapshot
    from casdb.tables import mediaindex

    for commit_id in commits:
        snap = Snapshot(repo.store, "", commit_id)
        snap.dataset = snap.commit.dataset
        snap.header  # noqa: B018 - decoding checks it
        if snap.commit.media is not None:
            mediaindex.arrow(repo.store, snap.commit.media)
        for table_id in snap.table_ids:
            snap.arrow(table_id, [])  # the index levels only: the ``file`` level is checked
