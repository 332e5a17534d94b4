"""The commit graph: walking history and comparing two commits.

Example:
    >>> Diff(media=[], tables={}, header_changed=False).empty
    True
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from casdb.history import trees
from casdb.model.objects import Commit
from casdb.store.objectstore import ObjectStore
from casdb.tables.rowdiff import TableDiff, diff_tables


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
    rows: TableDiff | None = None
    """Rows added, removed and changed (when asked for, for changed tables)."""


@dataclass
class Diff:
    """What differs from one commit to another."""

    media: list[trees.Change] = field(default_factory=list)
    tables: dict[str, TableChange] = field(default_factory=dict)
    header_changed: bool = False
    header: list[str] = field(default_factory=list)
    """What changed in the header, as dotted keys (``schemes.emotion``, ``license``)."""

    @property
    def files(self) -> list[trees.Change]:
        """The same list as :attr:`media`: every file added, removed or changed (attachments
        too), under the name ``Dataset.files`` and audformat's ``db.files`` use."""
        return self.media

    @property
    def empty(self) -> bool:
        return not self.media and not self.tables and not self.header_changed

    def count(self, kind: str) -> int:
        """Number of media files ``added``, ``removed`` or ``changed``."""
        return sum(1 for c in self.media if c.kind == kind)


def diff(store: ObjectStore, old: Commit | None, new: Commit, rows: bool = False) -> Diff:
    """Media, tables and header changes from ``old`` (None: an empty dataset) to ``new``.

    With ``rows``, changed tables also get their row-level diff.
    """
    result = Diff()
    result.media = list(trees.diff(store, old.tree if old else None, new.tree))
    old_tables = dict(old.tables) if old else {}
    new_tables = dict(new.tables)
    for name in sorted(old_tables.keys() | new_tables.keys()):
        a, b = old_tables.get(name), new_tables.get(name)
        if a == b:
            continue
        kind = "added" if a is None else "removed" if b is None else "changed"
        ta = store.get(a, "table") if a else None
        tb = store.get(b, "table") if b else None
        row_diff = diff_tables(store, ta, tb) if rows and ta and tb else None
        result.tables[name] = TableChange(
            name, kind, ta.rows if ta else None, tb.rows if tb else None, row_diff
        )
    result.header_changed = old is None or old.header != new.header
    if result.header_changed:
        before = store.get(old.header, "header").data if old else {}
        result.header = header_changes(before, store.get(new.header, "header").data)
    return result


def header_changes(old: dict, new: dict, prefix: str = "", depth: int = 2) -> list[str]:
    """Dotted keys that differ between two headers, down to ``depth`` levels.

    Example:
        >>> header_changes({"a": 1, "s": {"x": 1, "y": 2}}, {"a": 1, "s": {"x": 3}, "b": 0})
        ['b (added)', 's.x', 's.y (removed)']
    """
    out = []
    for key in list(old) + [k for k in new if k not in old]:
        name = f"{prefix}{key}"
        if key not in new:
            out.append(f"{name} (removed)")
        elif key not in old:
            out.append(f"{name} (added)")
        elif old[key] != new[key]:
            if depth > 1 and isinstance(old[key], dict) and isinstance(new[key], dict):
                out += header_changes(old[key], new[key], name + ".", depth - 1)
            else:
                out.append(name)
    return sorted(out)
