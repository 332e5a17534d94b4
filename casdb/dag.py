"""The commit graph: walking history and comparing two commits.

Example:
    >>> Diff(media=[], tables={}, header_changed=False).empty
    True
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from casdb import trees
from casdb.objects import Commit
from casdb.store import ObjectStore


def ancestry(store: ObjectStore, commit_id: str, first_parent: bool = True) -> Iterator[tuple[str, Commit]]:
    """Commits from ``commit_id`` back to the root, newest first (first parents only by default)."""
    seen: set[str] = set()
    stack = [commit_id]
    while stack:
        cid = stack.pop(0) if first_parent else stack.pop()
        if cid in seen:
            continue
        seen.add(cid)
        commit = store.get(cid, "commit")
        yield cid, commit
        parents = commit.parents[:1] if first_parent else commit.parents
        stack.extend(parents if first_parent else reversed(parents))


@dataclass(frozen=True)
class TableChange:
    """How one table differs between two commits."""

    name: str
    kind: str
    """``added``, ``removed`` or ``changed``."""
    old_rows: int | None
    new_rows: int | None


@dataclass
class Diff:
    """What differs from one commit to another."""

    media: list[trees.Change] = field(default_factory=list)
    tables: dict[str, TableChange] = field(default_factory=dict)
    header_changed: bool = False

    @property
    def empty(self) -> bool:
        return not self.media and not self.tables and not self.header_changed

    def count(self, kind: str) -> int:
        """Number of media files ``added``, ``removed`` or ``changed``."""
        return sum(1 for c in self.media if c.kind == kind)


def diff(store: ObjectStore, old: Commit | None, new: Commit) -> Diff:
    """Media, tables and header changes from ``old`` (None: an empty dataset) to ``new``."""
    result = Diff()
    result.media = list(trees.diff(store, old.tree if old else None, new.tree))
    old_tables = dict(old.tables) if old else {}
    new_tables = dict(new.tables)
    for name in sorted(old_tables.keys() | new_tables.keys()):
        a, b = old_tables.get(name), new_tables.get(name)
        if a == b:
            continue
        kind = "added" if a is None else "removed" if b is None else "changed"
        result.tables[name] = TableChange(
            name,
            kind,
            store.get(a, "table").rows if a else None,
            store.get(b, "table").rows if b else None,
        )
    result.header_changed = old is None or old.header != new.header
    return result
