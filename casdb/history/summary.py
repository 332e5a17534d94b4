"""A data card of one version for ``show``: header fields, tables, schemes, splits, raters and a
media summary, read from the header, the table objects and the media index (no table data).

Example:
    >>> TableInfo("emotion", "filewise", 10, [("emotion", "emotion")]).rows
    10
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from casdb.history import trees

if TYPE_CHECKING:
    from casdb.history.repository import BaseRepository
    from casdb.model.objects import Commit

HEADER_FIELDS = (
    "name", "source", "usage", "author", "description", "languages", "license", "license_url",
    "organization", "expires",
)


@dataclass(frozen=True)
class TableInfo:
    name: str
    type: str
    rows: int
    columns: list[tuple[str, str | None]]
    """(column, scheme id or None)."""
    split: str | None = None
    media: str | None = None


@dataclass
class MediaSummary:
    files: int = 0
    bytes: int = 0
    duration: float = 0.0
    """Seconds of audio."""
    formats: Counter = field(default_factory=Counter)
    sampling_rates: Counter = field(default_factory=Counter)
    channels: Counter = field(default_factory=Counter)
    bit_depths: Counter = field(default_factory=Counter)
    """Bit depth -> files; ``None`` for audio without one (compressed: MP3, Ogg Vorbis, Opus)."""
    purged_files: int = 0
    """Files whose bytes were purged: left out of every figure above."""
    purged_bytes: int = 0


@dataclass
class Summary:
    """One version of a dataset at a glance."""

    dataset: str
    commit_id: str
    commit: Commit
    versions: list[str]
    header: dict[str, Any]
    tables: list[TableInfo] = field(default_factory=list)
    media: MediaSummary = field(default_factory=MediaSummary)

    @property
    def fields(self) -> dict[str, Any]:
        """The descriptive header fields that are set."""
        return {k: self.header[k] for k in HEADER_FIELDS if self.header.get(k) not in (None, "", [])}

    @property
    def meta(self) -> dict[str, Any]:
        return self.header.get("meta") or {}

    def section(self, name: str) -> dict[str, Any]:
        """``schemes``, ``raters``, ``splits``, ``media`` or ``attachments`` of the header."""
        return self.header.get(name) or {}

    def scheme_dtype(self, scheme: dict[str, Any]) -> str:
        """The dtype of a scheme of this version (a misc table's labels give theirs)."""
        from casdb.tables.schema import scheme_dtype

        return scheme_dtype(scheme, self.header)


def summarize(repo: BaseRepository, dataset: str, version: str | None = None) -> Summary:
    """Summarise ``dataset`` at ``version`` (None: the head of ``main``)."""
    cid = repo.resolve(dataset, version)
    commit = repo.get_commit(cid)
    store = repo.store
    versions = sorted(v for v, c in repo.refs.tags(dataset).items() if c == cid)
    out = Summary(dataset, cid, commit, versions, store.get(commit.header, "header").data)
    specs = {**(out.header.get("misc_tables") or {}), **(out.header.get("tables") or {})}
    for name, tid in commit.tables:
        table = store.get(tid, "table")
        spec = specs.get(name) or {}
        schemes = {str(c): (s or {}).get("scheme_id") for c, s in (spec.get("columns") or {}).items()}
        columns = [(c.name, schemes.get(c.name)) for c in table.columns]
        out.tables.append(TableInfo(name, table.type, table.rows, columns,
                                    spec.get("split_id"), spec.get("media_id")))
    out.media = _media(repo, commit)
    return out


def _media(repo: BaseRepository, commit: Commit) -> MediaSummary:
    """The media of ``commit`` as they load now: files whose bytes were purged are left out
    (and counted apart), as a checkout leaves them out."""
    from casdb.store.tombstones import purged_blobs

    m = MediaSummary()
    purged = purged_blobs(repo)
    if commit.media is None:  # no index: count files from the tree
        if not purged:
            for entry in trees.entries(repo.store, commit.tree):
                m.files += entry.count
                m.bytes += entry.size
            return m
        for _, entry in trees.walk(repo.store, commit.tree):
            gone = entry.id in purged
            m.purged_files += gone
            m.purged_bytes += entry.size if gone else 0
            m.files += not gone
            m.bytes += 0 if gone else entry.size
        return m
    from casdb.tables import mediaindex

    table = mediaindex.arrow(repo.store, commit.media)
    if purged:
        import pyarrow as pa
        import pyarrow.compute as pc

        gone = pc.is_in(table.column("blob"), value_set=pa.array(sorted(purged), pa.string()))
        m.purged_files = pc.sum(gone).as_py() or 0
        m.purged_bytes = pc.sum(pc.filter(table.column("bytes"), gone)).as_py() or 0
        table = table.filter(pc.invert(gone))
    m.files = table.num_rows
    m.bytes = sum(table.column("bytes").to_pylist())
    m.duration = sum(table.column("duration").to_pylist())
    audio = [sr > 0 for sr in table.column("sampling_rate").to_pylist()]
    for key, counter in (("format", m.formats), ("sampling_rate", m.sampling_rates),
                         ("channels", m.channels), ("bit_depth", m.bit_depths)):
        values = table.column(key).to_pylist()
        if key == "bit_depth":  # 0 in the index: the format has no bit depth (MP3, Vorbis)
            values = [v or None for v in values]
        counter.update(v for v, a in zip(values, audio, strict=True) if a or key == "format")
    return m
