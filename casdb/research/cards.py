"""Data cards: what a researcher reads before loading a corpus (``casdb card``).

A :class:`Card` gathers, for one version of a dataset, read from the store only (no checkout):
duration statistics from the media index, label distributions and counts per split x label from
the tables, speakers, formats and sampling rates, the schemes, 5-row table previews and the
version's history. :meth:`Cards.text` renders cards for the terminal,
:func:`casdb.research.cardpage.page` as one self-contained page with plots.

Which columns are "labels": every column of a filewise or segmented table whose scheme has labels
(a list, a mapping or a misc table), except the speaker column, which has its own section.
The speaker column is a column named ``speaker`` or whose scheme is ``speaker``. Split tables are
the tables with a ``split_id``; a split table's label is its own column when it has it, else the
label of its files in the first table holding that column.

Example:
    >>> duration_stats([1.0, 2.0, 4.0])["median"]
    2.0
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from casdb.core.errors import InvalidInput
from casdb.core.names import check_dataset

if TYPE_CHECKING:
    import pandas as pd

    from casdb.history.log import LogEntry
    from casdb.history.repository import BaseRepository
    from casdb.history.summary import Summary
    from casdb.research.acoustics import AcousticStats

PREVIEW_ROWS = 5
HISTORY_LIMIT = 20


@dataclass
class LabelColumn:
    """One labelled column: its table, scheme and counts of each label."""

    table: str
    column: str
    scheme: str
    counts: dict[str, int]
    by_split: dict[str, dict[str, int]] = field(default_factory=dict)
    """split table -> label -> rows (empty when the dataset has no split tables)."""

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"


@dataclass
class Card:
    """The data card of one version of a dataset."""

    dataset: str
    version: str | None
    summary: Summary
    durations: list[float]
    labels: list[LabelColumn]
    splits: dict[str, int]
    """split table -> rows."""
    speaker_column: str | None
    items_per_speaker: dict[str, int]
    previews: dict[str, pd.DataFrame]
    history: list[LogEntry]
    example: tuple[str, str, bytes] | None = None
    """(file, format, verified bytes) of the median-length file, for the HTML player."""
    acoustics: AcousticStats | None = None

    @property
    def title(self) -> str:
        return f"{self.dataset}@{self.version}" if self.version else self.dataset

    @property
    def schemes(self) -> dict[str, Any]:
        return self.summary.section("schemes")

    def duration_stats(self) -> dict[str, float]:
        return duration_stats(self.durations)


@dataclass
class Cards:
    """One or more cards; several are compared side by side."""

    cards: list[Card]

    def text(self) -> str:
        """The cards for the terminal."""
        return "\n\n".join(card_text(c) for c in self.cards)


def parse_ref(ref: str) -> tuple[str, str | None]:
    """``emodb@1.0.0`` -> ``("emodb", "1.0.0")``; a bare name: the head of ``main``."""
    name, _, version = ref.partition("@")
    if not name:
        raise InvalidInput(f"card: {ref!r} names no dataset (NAME@VERSION)")
    check_dataset(name)
    return name, version or None


def duration_stats(durations: list[float]) -> dict[str, float]:
    """count, total, min, median, mean and max of ``durations`` (seconds)."""
    import numpy as np

    if not durations:
        return {"count": 0, "total": 0.0, "min": 0.0, "median": 0.0, "mean": 0.0, "max": 0.0}
    a = np.asarray(durations, dtype=float)
    return {"count": int(a.size), "total": float(a.sum()), "min": float(a.min()),
            "median": float(np.median(a)), "mean": float(a.mean()), "max": float(a.max())}


def make_card(repo: BaseRepository, ref: str, *, audio: bool = False, sample: int = 200,
              seed: int = 0) -> Card:
    """The card of ``ref`` (``NAME@VERSION``); with ``audio``, also the example file and the
    acoustic statistics of up to ``sample`` files (seeded)."""
    from casdb.history.summary import summarize

    dataset, version = parse_ref(ref)
    summary = summarize(repo, dataset, version)
    snap = repo.snapshot(dataset, summary.commit_id)
    media = _media(snap)
    if media is not None:
        from casdb.store.tombstones import purged_blobs

        gone = purged_blobs(repo)  # as casdb show: purged files load no more, so they are left out
        if gone:
            media = media[~media["blob"].isin(gone)]
    durations = [float(d) for d in media["duration"]] if media is not None else []
    frames = {t.name: snap.table(t.name) for t in summary.tables if t.type != "misc"}
    split_tables = [t.name for t in summary.tables if t.split]
    content = [t for t in summary.tables if t.type != "misc" and not t.split]
    speaker = _speaker_column(summary, content)
    labels = _label_columns(summary, content, frames, split_tables)
    items = _items_per_speaker(content, frames, speaker)
    previews = {t.name: snap.table(t.name).head(PREVIEW_ROWS) if t.type == "misc"
                else frames[t.name].head(PREVIEW_ROWS) for t in summary.tables}
    history = repo.history(dataset, summary.commit_id, HISTORY_LIMIT)
    card = Card(dataset, version, summary, durations, labels,
                {s: len(frames[s]) for s in split_tables}, speaker, items, previews, history)
    if audio and media is not None and len(media):
        from casdb.research.acoustics import example_file, measure, needed_blobs

        repo.ensure_blobs(needed_blobs(media, sample, seed))  # a remote's: fetched, verified
        card.example = example_file(repo.store, media)
        card.acoustics = measure(repo.store, media, sample=sample, seed=seed)
    return card


def _media(snap) -> pd.DataFrame | None:
    from casdb.core.errors import NotFound

    try:
        return snap.media()
    except NotFound:  # a commit without a media index: no durations to show
        return None


def _speaker_column(summary: Summary, content) -> str | None:
    for t in content:
        for column, scheme in t.columns:
            if column == "speaker" or scheme == "speaker":
                return column
    return None


def _labelled(summary: Summary, scheme: str | None) -> bool:
    spec = summary.section("schemes").get(scheme) if scheme else None
    return isinstance(spec, dict) and bool(spec.get("labels"))


def _label_columns(summary: Summary, content, frames, split_tables) -> list[LabelColumn]:
    out = []
    for t in content:
        for column, scheme in t.columns:
            if column == "speaker" or scheme == "speaker" or not _labelled(summary, scheme):
                continue
            values = frames[t.name][column]
            counts = _count(values)
            by_split = {s: _split_counts(frames[s], frames[t.name], column) for s in split_tables}
            out.append(LabelColumn(t.name, column, str(scheme), counts,
                                   {s: c for s, c in by_split.items() if c}))
    return out


def _count(values) -> dict[str, int]:
    counter = Counter(str(v) for v in values.dropna())
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def _split_counts(split: pd.DataFrame, source: pd.DataFrame, column: str) -> dict[str, int]:
    """Rows of a split table per label: its own column, else its files' labels in ``source``."""
    if column in split.columns:
        return _count(split[column])
    if "file" not in split.index.names or "file" not in source.index.names:
        return {}
    files = split.index.get_level_values("file")
    by_file = source[column].groupby(level="file", observed=True).first()
    return _count(by_file.reindex(files))


def _items_per_speaker(content, frames, speaker: str | None) -> dict[str, int]:
    if speaker is None:
        return {}
    for t in content:
        if speaker in frames[t.name].columns:
            return _count(frames[t.name][speaker])
    return {}


# -- the terminal card ---------------------------------------------------------------------------

def card_text(card: Card) -> str:
    """One card as terminal text."""
    from casdb.core.ids import short
    from casdb.core.units import human_duration, human_size

    s = card.summary
    m = s.media
    lines = [f"{card.title}  (commit {short(s.commit_id)})"]
    if s.fields.get("description"):
        lines.append(f"  {' '.join(str(s.fields['description']).split())}")
    st = card.duration_stats()
    lines += ["durations", f"  {st['count']} files, {human_duration(st['total'])} total; "
              f"min {st['min']:.2f} s, median {st['median']:.2f} s, mean {st['mean']:.2f} s, "
              f"max {st['max']:.2f} s"]
    lines += ["media", f"  {m.files} files, {human_size(m.bytes)}"]
    for title, counter in (("formats", m.formats), ("sampling rates", m.sampling_rates),
                           ("channels", m.channels)):
        if counter:
            lines.append(f"  {title + ':':<16}" + ", ".join(
                f"{k} ({n})" for k, n in sorted(counter.items(), key=lambda kv: str(kv[0]))))
    if card.labels:
        lines.append("labels")
        for col in card.labels:
            lines.append(f"  {col.name} [{col.scheme}]: "
                         + ", ".join(f"{k} {n}" for k, n in col.counts.items()))
            if col.by_split:
                lines.extend("    " + row for row in _split_grid(col))
    if card.splits:
        lines.append("splits")
        lines.extend(f"  {name}: {n} rows" for name, n in card.splits.items())
    if card.speaker_column:
        counts = list(card.items_per_speaker.values())
        if counts:
            st = duration_stats(counts)
            lines += ["speakers", f"  {len(counts)} speakers; items per speaker min {int(st['min'])}, "
                      f"median {st['median']:g}, mean {st['mean']:.1f}, max {int(st['max'])}"]
    if card.schemes:
        lines.append("schemes")
        for sid, spec in card.schemes.items():
            lines.append(f"  {sid}: {scheme_text(s, spec or {})}")
    for name, frame in card.previews.items():
        lines.append(f"table {name} (first {min(len(frame), PREVIEW_ROWS)} rows)")
        text = frame.to_string(max_colwidth=30) if len(frame.columns) or len(frame) else "(empty)"
        lines.extend("  " + row for row in text.splitlines())
    return "\n".join(lines)


def _split_grid(col: LabelColumn) -> list[str]:
    labels = list(col.counts)
    width = max(len(s) for s in col.by_split)
    head = " " * width + "  " + "  ".join(f"{label:>8}" for label in labels)
    rows = [f"{split:<{width}}  " + "  ".join(f"{counts.get(label, 0):>8}" for label in labels)
            for split, counts in col.by_split.items()]
    return [head, *rows]


def scheme_text(summary: Summary, spec: dict[str, Any]) -> str:
    bits = [summary.scheme_dtype(spec)]
    labels = spec.get("labels")
    if isinstance(labels, str):
        bits.append(f"labels from table {labels}")
    elif labels:
        shown = list(labels)[:8]
        bits.append("labels " + ", ".join(map(str, shown))
                    + (f", ... ({len(labels)})" if len(labels) > 8 else ""))
    if spec.get("minimum") is not None or spec.get("maximum") is not None:
        bits.append(f"range [{spec.get('minimum', '')}, {spec.get('maximum', '')}]")
    return "; ".join(bits)
