"""History entries for ``log``: each commit with its versions and what it changed.

Example:
    >>> LogEntry("ab" * 32, None, ["1.0.0"], 2, 0, 0).short_id
    'ababababab'
"""

from __future__ import annotations

from dataclasses import dataclass, field

from casdb.core.ids import short
from casdb.history import dag
from casdb.model.objects import Commit
from casdb.store.objectstore import ObjectStore


@dataclass(frozen=True)
class LogEntry:
    """One commit of a history."""

    id: str
    commit: Commit | None
    versions: list[str]
    added: int
    changed: int
    removed: int
    tables: list[str] = field(default_factory=list)
    """Tables added, removed or changed."""
    header_changed: bool = False

    @property
    def short_id(self) -> str:
        return short(self.id)


def log_entries(
    store: ObjectStore, head: str, tags: dict[str, str], limit: int | None = None
) -> list[LogEntry]:
    """Entries from ``head`` back along first parents, newest first."""
    by_commit: dict[str, list[str]] = {}
    for version, cid in tags.items():
        by_commit.setdefault(cid, []).append(version)
    out = []
    for cid, commit in dag.ancestry(store, head):
        if limit is not None and len(out) >= limit:
            break
        parent = store.get(commit.parents[0], "commit") if commit.parents else None
        changes = dag.diff(store, parent, commit)
        out.append(LogEntry(cid, commit, sorted(by_commit.get(cid, [])), changes.count("added"),
                            changes.count("changed"), changes.count("removed"),
                            sorted(changes.tables), changes.header_changed))
    return out
