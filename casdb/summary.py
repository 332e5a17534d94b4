"""A summary of one version for ``show``: header fields, tables and media, without loading data.

Example:
    >>> TableInfo("emotion", "filewise", 10, ["emotion"]).rows
    10
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from casdb import trees

if TYPE_CHECKING:
    from casdb.objects import Commit
    from casdb.repo import Repository

HEADER_FIELDS = (
    "name", "source", "usage", "author", "description", "languages", "license", "license_url",
    "organization", "expires",
)


@dataclass(frozen=True)
class TableInfo:
    name: str
    type: str
    rows: int
    columns: list[str]


@dataclass
class Summary:
    """One version of a dataset at a glance."""

    dataset: str
    commit_id: str
    commit: Commit
    versions: list[str]
    header: dict[str, Any]
    tables: list[TableInfo] = field(default_factory=list)
    media_files: int = 0
    media_bytes: int = 0

    @property
    def fields(self) -> dict[str, Any]:
        """The descriptive header fields that are set."""
        return {k: self.header[k] for k in HEADER_FIELDS if self.header.get(k) not in (None, "", [])}


def summarize(repo: Repository, dataset: str, version: str | None = None) -> Summary:
    """Summarise ``dataset`` at ``version`` (None: the head of ``main``)."""
    cid = repo.resolve(dataset, version)
    commit = repo.get_commit(cid)
    store = repo.store
    versions = sorted(v for v, c in repo.refs.tags(dataset).items() if c == cid)
    out = Summary(dataset, cid, commit, versions, store.get(commit.header, "header").data)
    for name, tid in commit.tables:
        table = store.get(tid, "table")
        out.tables.append(TableInfo(name, table.type, table.rows, [c.name for c in table.columns]))
    for entry in trees.entries(store, commit.tree):
        out.media_files += entry.count
        out.media_bytes += entry.size
    return out
