"""The HTML data card: one self-contained page (inline CSS, inline SVG plots, the audio example
as a ``data:`` URI; no script, no external file, so it works offline and can be mailed).

Several cards are compared side by side: a comparison section first (the figures in one table,
durations overlaid, acoustic statistics as box plots per corpus), then one column per corpus.

Example:
    >>> "<table" in _table([["a", 1]], ["k", "v"])
    True
"""

from __future__ import annotations

import base64
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from casdb.research.cards import Card

CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.6em; margin: 0 0 .3em; } h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1.05em; margin: 1.2em 0 .3em; }
.corpora { display: grid; gap: 2em; align-items: start; }
.corpus { min-width: 0; }
table { border-collapse: collapse; font-size: 12px; margin: .3em 0; }
td, th { border: 1px solid #ddd; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
.preview { overflow-x: auto; max-width: 100%; }
.plot svg { max-width: 100%; height: auto; }
.note { color: #777; font-size: 12px; }
"""


def page(cards: list[Card]) -> str:
    """The whole HTML page for ``cards``."""
    from casdb.research import cardplots

    title = " vs ".join(c.title for c in cards)
    body = [f"<h1>{escape(title)}</h1>",
            "<p class='note'>casdb data card: figures read from the stored version; acoustic "
            "statistics from a seeded sample of its audio files.</p>"]
    with_audio = {c.title: c.acoustics for c in cards if c.acoustics is not None}
    if len(cards) > 1:
        body.append("<section id='comparison'><h2>Comparison</h2>")
        body.append(_comparison_table(cards))
        body.append(_plot(cardplots.duration_histogram(
            {c.title: c.durations for c in cards}, "durations")))
        if with_audio:
            body.append(_plot(cardplots.acoustics(with_audio)))
        body.append("</section>")
    columns = f"grid-template-columns: repeat({len(cards)}, minmax(0, 1fr));"
    body.append(f"<div class='corpora' style='{columns}'>")
    body.extend(_corpus(c, single=len(cards) == 1) for c in cards)
    body.append("</div>")
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{escape(title)} - casdb card</title><style>{CSS}</style></head>"
            f"<body>{''.join(body)}</body></html>\n")


def _plot(svg: str) -> str:
    return f"<div class='plot'>{svg}</div>"


def _table(rows: list[list[Any]], head: list[str] | None = None) -> str:
    out = ["<table>"]
    if head:
        out.append("<tr>" + "".join(f"<th>{escape(str(h))}</th>" for h in head) + "</tr>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _fmt(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def _comparison_table(cards: list[Card]) -> str:
    from casdb.core.units import human_duration

    rows: list[list[Any]] = []
    for c in cards:
        st = c.duration_stats()
        a = c.acoustics
        rows.append([
            c.title, st["count"], human_duration(st["total"]), f"{st['median']:.2f} s",
            len(c.items_per_speaker) if c.speaker_column else "-",
            ", ".join(f"{k} Hz ({n})" for k, n in sorted(c.summary.media.sampling_rates.items())),
            ", ".join(col.name for col in c.labels) or "-",
            _fmt(a.median("rms_dbfs") if a else None), _fmt(a.median("snr_db") if a else None),
            _fmt(a.median("clipping") if a else None, ".4f"),
            _fmt(a.median("silence") if a else None, ".3f"),
            f"{a.files}" + (f" ({a.skipped} skipped)" if a.skipped else "") if a else "-",
        ])
    return _table(rows, ["corpus", "files", "duration", "median", "speakers", "sampling rates",
                         "label columns", "RMS dBFS (median)", "SNR dB (median)",
                         "clipping (median)", "silence (median)", "files measured"])


def _corpus(c: Card, *, single: bool) -> str:
    from casdb.core.ids import short
    from casdb.research import cardplots

    s = c.summary
    st = c.duration_stats()
    out = [f"<section class='corpus'><h2>{escape(c.title)}</h2>",
           f"<p class='note'>commit {escape(short(s.commit_id))}, versions "
           f"{escape(', '.join(s.versions) or 'none')}</p>"]
    if s.fields:
        out.append(_table([[k, ", ".join(map(str, v)) if isinstance(v, list) else v]
                           for k, v in s.fields.items()]))
    out.append("<h3>Durations</h3>")
    out.append(_table([[f"{st['count']}", f"{st['total']:.1f} s", f"{st['min']:.2f} s",
                        f"{st['median']:.2f} s", f"{st['mean']:.2f} s", f"{st['max']:.2f} s"]],
                      ["files", "total", "min", "median", "mean", "max"]))
    out.append(_plot(cardplots.duration_histogram({c.title: c.durations})))
    out.append("<h3>Example</h3>")
    if c.example:
        name, mime, data = c.example
        uri = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        out.append(f"<p class='note'>{escape(name)} (median length)</p>"
                   f"<audio controls preload='metadata' src='{uri}'></audio>")
    else:
        out.append("<p class='note'>no audio file to play (none stored, or all too big)</p>")
    if c.acoustics is not None and single:
        a = c.acoustics
        out.append(f"<h3>Acoustics</h3><p class='note'>{a.files} files measured"
                   + (f", {a.skipped} skipped" if a.skipped else "") + "</p>")
        out.append(_plot(cardplots.acoustics({c.title: a})))
    out.append("<h3>Media</h3>")
    out.append(_plot(cardplots.media_formats(c)))
    out.append("<h3>Labels</h3>")
    if not c.labels:
        out.append("<p class='note'>no column with a labelled scheme</p>")
    for col in c.labels:
        out.append(_plot(cardplots.bars(col.counts, f"{col.name} [{col.scheme}]")))
        if col.by_split:
            out.append(_plot(cardplots.split_label(col)))
            labels = list(col.counts)
            out.append(_table([[split, *(counts.get(k, 0) for k in labels)]
                               for split, counts in col.by_split.items()], ["split", *labels]))
    if c.splits:
        out.append("<h3>Splits</h3>")
        out.append(_table([[k, v] for k, v in c.splits.items()], ["split table", "rows"]))
    out.append("<h3>Speakers</h3>")
    if c.items_per_speaker:
        out.append(f"<p class='note'>{len(c.items_per_speaker)} speakers (column "
                   f"{escape(str(c.speaker_column))})</p>")
        out.append(_plot(cardplots.speakers(c.items_per_speaker)))
    else:
        out.append("<p class='note'>no speaker column</p>")
    if c.schemes:
        from casdb.research.cards import scheme_text

        out.append("<h3>Schemes</h3>")
        out.append(_table([[sid, scheme_text(s, spec or {})] for sid, spec in c.schemes.items()],
                          ["scheme", "definition"]))
    out.append("<h3>Tables</h3>")
    for name, frame in c.previews.items():
        out.append(f"<p><b>{escape(name)}</b> (first {min(len(frame), 5)} rows)</p>")
        out.append(f"<div class='preview'>{frame.to_html(border=0, max_cols=12)}</div>")
    out.append("<h3>History</h3>")
    out.append(_table([[e.short_id, ", ".join(e.versions) or "",
                        e.commit.message.splitlines()[0] if e.commit and e.commit.message else "",
                        f"+{e.added} ~{e.changed} -{e.removed}"] for e in c.history],
                      ["commit", "versions", "message", "media"]))
    out.append("</section>")
    return "".join(out)
