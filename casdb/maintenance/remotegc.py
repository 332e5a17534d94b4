"""Garbage collection of a remote: delete the packs entries and blobs no remote ref reaches.

Mark walks the remote's own refs and objects (read from its packs by ranges, level by level, as
a fetch does), so it needs no local copy. Sweep deletes big blobs no ref reaches, rewrites packs
that hold unreachable entries (dropping them) and deletes packs that hold nothing reachable. A
push in progress uploads blobs and packs before it moves refs, so files modified within the grace
period are spared.

Example:
    >>> import tempfile
    >>> from casdb.remote.layout import Remote
    >>> collect_remote(Remote.create(tempfile.mkdtemp()), grace=0).blobs
    0
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from casdb.model import compression, encoding
from casdb.model.graph import references
from casdb.remote.layout import AUDIO, CODED, OBJECT, PACKS, Remote
from casdb.store.objectstore import blob_key


@dataclass
class RemoteGcReport:
    blobs: int = 0
    """Big blobs deleted."""
    entries: int = 0
    """Pack entries (objects and small blobs) dropped."""
    packs_rewritten: int = 0
    packs_deleted: int = 0
    kept_young: int = 0
    dry_run: bool = False


def collect_remote(remote: Remote, *, grace: float = 3600.0, dry_run: bool = False
                   ) -> RemoteGcReport:
    report = RemoteGcReport(dry_run=dry_run)
    cutoff = time.time() - grace
    where = remote.index()
    marked: set[str] = set()
    level = sorted({c for d in remote.datasets() for c in remote.refs(d).values()})
    while level:
        marked.update(level)
        following: list[str] = []
        stored = dict(remote.read(where, [i for i in level if where.get(i) and where[i].kind == OBJECT]))
        for object_id in level:
            if object_id not in stored:
                continue
            refs = references(encoding.decode(compression.decompress(stored[object_id])))
            following += [child for child, _ in refs.objects if child not in marked]
            marked.update(refs.blobs)
        level = sorted(set(following) - marked)
    by_pack: dict[str, list[str]] = {}
    for object_id, entry in where.items():
        if object_id in marked:
            continue
        if entry.pack is None:
            key = blob_key(object_id) + (CODED if entry.kind == AUDIO else "")
            if remote.backend.modified(key) > cutoff:
                report.kept_young += 1
                continue
            report.blobs += 1
            if not dry_run:
                remote.backend.delete(key)
        else:
            by_pack.setdefault(entry.pack, []).append(object_id)
    for pack, dead in by_pack.items():
        if remote.backend.modified(f"{PACKS}/{pack}.idx") > cutoff:
            report.kept_young += len(dead)
            continue
        total = sum(1 for e in where.values() if e.pack == pack)
        report.entries += len(dead)
        if len(dead) == total:
            report.packs_deleted += 1
        else:
            report.packs_rewritten += 1
        if not dry_run:
            remote.repack(pack, drop=set(dead))
    return report
