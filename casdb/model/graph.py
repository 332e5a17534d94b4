"""The object graph: what one object refers to.

Every walk over stored objects (fsck, gc, purge, resolving a commit prefix, push and fetch)
follows the edges named here and nowhere else:

    Commit ──tree──> Tree ──children, dir entries──> Tree ...
                          ──file entries──────────> blob (id -> size)
           ──header─> Header
           ──tables, media──> Table ──runs, order──> Partition
           ──parents──> Commit

Example:
    >>> tree = Tree(entries=(TreeEntry("a.wav", FILE, "ab" * 32, 10),))
    >>> references(tree)
    References(objects=[], blobs={'abababababababababababababababababababababababababababababababab': 10})
"""

from __future__ import annotations

from typing import NamedTuple

from casdb.model.objects import DIR, FILE, Commit, Table, Tree, TreeEntry  # noqa: F401 (doctest)

COMMIT = "commit"
TREE = "tree"
HEADER = "header"
TABLE = "table"
PARTITION = "partition"


class References(NamedTuple):
    """The objects one object refers to, as ``(id, kind)``, and the blobs (id -> size)."""

    objects: list[tuple[str, str]]
    blobs: dict[str, int]


def references(obj: object) -> References:
    """What ``obj`` refers to; a header or a partition refers to nothing."""
    blobs: dict[str, int] = {}
    if isinstance(obj, Commit):
        out = [(obj.tree, TREE), (obj.header, HEADER)]
        out += [(tid, TABLE) for _, tid in obj.tables]
        out += [(p, COMMIT) for p in obj.parents]
        if obj.media:
            out.append((obj.media, TABLE))
        return References(out, blobs)
    if isinstance(obj, Tree):
        out = [(c.id, TREE) for c in obj.children]
        for e in obj.entries:
            if e.kind == DIR:
                out.append((e.id, TREE))
            else:
                blobs[e.id] = e.size
        return References(out, blobs)
    if isinstance(obj, Table):
        out = [(pid, PARTITION) for run in obj.runs for pid in run.columns]
        return References(out + [(pid, PARTITION) for pid in obj.order], blobs)
    return References([], blobs)
