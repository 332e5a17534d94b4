"""Reachability: everything a set of commits reaches in an object store, in one walk.

fsck verifies it, gc keeps it, push sends what a remote lacks of it, purge and resolving a
commit prefix list its commits. The edges come from :func:`casdb.model.graph.references`.

Example:
    >>> import tempfile
    >>> from casdb.store.backends.local import LocalBackend
    >>> from casdb.store.objectstore import ObjectStore
    >>> from casdb.model.objects import Header
    >>> store = ObjectStore(LocalBackend(tempfile.mkdtemp()))
    >>> hid = store.put(Header({"name": "x"}))
    >>> _ = store.publish()
    >>> found = walk(store, [(hid, "header")])
    >>> found.intact, found.problems
    (1, [])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from casdb.core.errors import IntegrityError, NotFound
from casdb.core.ids import from_raw, to_raw
from casdb.model.graph import COMMIT, references

if TYPE_CHECKING:
    from casdb.store.objectstore import ObjectStore
    from casdb.store.refs import RefStore


@dataclass
class Reachable:
    """What a walk reached."""

    objects: set[bytes] = field(default_factory=set)
    """Raw ids (32 bytes: half the memory of hex for a million objects) of every object
    reached, intact or not."""
    blobs: dict[str, int] = field(default_factory=dict)
    """Blob id -> size, of every file the trees reached name (stored or not)."""
    commits: list[str] = field(default_factory=list)
    """Commit ids reached, in the order met."""
    order: list[str] = field(default_factory=list)
    """With ``children_first``: the objects read, each after everything it refers to."""
    problems: list[str] = field(default_factory=list)
    """One line per damaged ref, missing or corrupt object (with ``strict``, the first one is
    raised instead)."""
    intact: int = 0
    """Objects read and verified."""

    def has(self, object_id: str) -> bool:
        """Whether the walk reached ``object_id``."""
        return to_raw(object_id) in self.objects

    def object_ids(self) -> list[str]:
        return sorted(from_raw(raw) for raw in self.objects)


def walk(
    store: ObjectStore,
    roots: Iterable[tuple[str, str]],
    *,
    commits_only: bool = False,
    stop: Callable[[str], bool] | None = None,
    children_first: bool = False,
    strict: bool = False,
) -> Reachable:
    """Walk from ``roots`` (``(id, kind)`` pairs) through the objects of ``store``.

    ``commits_only`` follows parents only (history, not content); ``stop(id)`` True leaves an
    object and what is under it out (what a remote holds already); ``strict`` raises the first
    missing or corrupt object instead of listing it in ``problems``.
    """
    found = Reachable()
    seen = found.objects
    stack: list[tuple[str, str, bool]] = [(i, kind, False) for i, kind in roots]
    stack.reverse()  # the first root is walked first
    while stack:
        object_id, kind, expanded = stack.pop()
        if expanded:
            found.order.append(object_id)
            continue
        raw = to_raw(object_id)
        if raw in seen or stop is not None and stop(object_id):
            continue
        seen.add(raw)
        try:
            obj = store.get(object_id, kind)
        except (NotFound, IntegrityError) as exc:
            if strict:
                raise
            found.problems.append(f"{kind}: {exc}")
            continue
        found.intact += 1
        if kind == COMMIT:
            found.commits.append(object_id)
        if children_first:
            stack.append((object_id, kind, True))
        refs = references(obj)
        if commits_only:
            stack.extend((i, k, False) for i, k in reversed(refs.objects) if k == COMMIT)
            continue
        stack.extend((i, k, False) for i, k in reversed(refs.objects))
        for blob, size in refs.blobs.items():
            if stop is None or not stop(blob):
                found.blobs[blob] = size
        store.drop_decoded(256)  # each object is read once: keep few decoded in memory
    return found


def from_refs(store: ObjectStore, refs: RefStore, *, commits_only: bool = False) -> Reachable:
    """Everything every ref of every dataset reaches; damaged refs are problems."""
    found, damaged = refs.scan()
    out = walk(store, [(cid, COMMIT) for _, _, cid in found], commits_only=commits_only)
    out.problems[:0] = [str(exc) for exc in damaged]
    return out
