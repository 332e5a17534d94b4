"""Purges across a remote: both sides end with the union of their tombstones and none of the
purged bytes (every push and pull runs this first, so a purge made while a remote was out of
reach reaches it later, both ways).

Example:
    >>> import tempfile
    >>> from casdb.history.repository import BaseRepository
    >>> from casdb.remote.layout import Remote
    >>> repo = BaseRepository.init(tempfile.mkdtemp() + "/r")
    >>> apply_remote(repo, Remote.create(tempfile.mkdtemp() + "/remote"))
    >>> repo.purged()
    []
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from casdb.store.tombstones import save_tombstones, tombstones

if TYPE_CHECKING:
    from casdb.history.repository import BaseRepository
    from casdb.remote.layout import Remote


def apply_remote(repo: BaseRepository, remote: Remote) -> None:
    """Make ``remote`` and ``repo`` hold the union of both sides' tombstones and none of their
    bytes."""
    local = tombstones(repo)
    theirs = remote.tombstones()
    mine = {t.blob for t in local}
    new_here = [t for t in theirs if t.blob not in mine]
    if new_here:  # purged elsewhere: purge here too
        save_tombstones(repo, local + new_here)
        repo.delete_blobs({t.blob for t in new_here})
    merged = local + new_here
    if {t.blob for t in theirs} != {t.blob for t in merged}:
        remote.put_tombstones(merged)
    blobs = {t.blob for t in merged}
    for blob in blobs:
        remote.delete_blob(blob)  # as it is and coded
    where = remote.index()
    packs = {where[b].pack for b in blobs if b in where and where[b].pack}
    for pack in packs:
        remote.repack(pack, drop=blobs)
