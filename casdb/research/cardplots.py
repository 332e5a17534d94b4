"""The plots of a data card, drawn by matplotlib as inline SVG (no raster images, no scripts):
the page works offline and the plots scale.

Each function returns one ``<svg>`` element as text. matplotlib is imported here only, so
``import casdb`` and ``casdb --help`` never load it. ``Figure`` is used directly (no pyplot): no
global figure state, no GUI backend.

Example:
    >>> svg = bars({"a": 3, "b": 1}, "labels")
    >>> svg.startswith("<svg") and "<path" in svg
    True
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from casdb.research.acoustics import AcousticStats
    from casdb.research.cards import Card, LabelColumn

WIDTH = 5.2
"""Inches; at matplotlib's 72 points per inch a plot is about 375 px wide."""


def _figure(height: float = 2.8, ncols: int = 1, width: float = WIDTH,
            nrows: int = 1) -> tuple[Figure, list]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = list(fig.subplots(nrows, ncols, squeeze=False).flat)
    for ax in axes:
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(labelsize=8)
    return fig, list(axes)


def _svg(fig: Figure) -> str:
    import matplotlib

    buf = io.StringIO()
    # stable ids (the same page twice is the same bytes); text as text (smaller, selectable);
    # set for this save only, not in matplotlib's global settings
    with matplotlib.rc_context({"svg.hashsalt": "casdb-card", "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def bars(counts: dict, title: str, *, xlabel: str = "", horizontal: bool | None = None) -> str:
    """A bar chart of ``label -> count`` (horizontal when there are many labels)."""
    keys = [str(k) for k in counts]
    values = list(counts.values())
    horizontal = len(keys) > 8 if horizontal is None else horizontal
    fig, (ax,) = _figure(height=max(2.4, 0.22 * len(keys) + 0.8) if horizontal else 2.6)
    if horizontal:
        ax.barh(keys[::-1], values[::-1], color="#4c72b0")
        ax.set_xlabel(xlabel or "count", fontsize=8)
    else:
        ax.bar(keys, values, color="#4c72b0")
        ax.set_ylabel(xlabel or "count", fontsize=8)
        if max((len(k) for k in keys), default=0) > 6:
            ax.tick_params(axis="x", labelrotation=30)
    ax.set_title(title, fontsize=9)
    return _svg(fig)


def duration_histogram(series: dict[str, Sequence[float]], title: str = "durations") -> str:
    """Histogram of file durations; several corpora as stacked panels on one duration axis
    (each with its own count axis, so a small corpus is not flattened by a big one)."""
    import numpy as np

    names = list(series)
    fig, axes = _figure(height=1.2 + 1.3 * len(names) if len(names) > 1 else 2.8,
                        nrows=len(names))
    values = [np.asarray(v, dtype=float) for v in series.values() if len(v)]
    edges = np.histogram_bin_edges(np.concatenate(values), bins=40) if values else None
    colours = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"]
    for i, (ax, name) in enumerate(zip(axes, names, strict=True)):
        if len(series[name]):
            ax.hist(series[name], bins=edges, color=colours[i % len(colours)])
        ax.set_ylabel("files", fontsize=8)
        if len(names) > 1:
            ax.set_title(name, fontsize=8, loc="left")
            ax.sharex(axes[0])
    axes[-1].set_xlabel("seconds", fontsize=8)
    fig.suptitle(title, fontsize=9)
    return _svg(fig)


def split_label(col: LabelColumn) -> str:
    """Grouped bars: rows per label in each split table."""
    import numpy as np

    labels = list(col.counts)
    splits = list(col.by_split)
    fig, (ax,) = _figure(height=2.8)
    x = np.arange(len(labels))
    width = 0.8 / max(len(splits), 1)
    for i, split in enumerate(splits):
        ax.bar(x + i * width - 0.4 + width / 2, [col.by_split[split].get(k, 0) for k in labels],
               width, label=split)
    ax.set_xticks(x, labels)
    if max((len(k) for k in labels), default=0) > 6:
        ax.tick_params(axis="x", labelrotation=30)
    ax.legend(fontsize=7)
    ax.set_ylabel("rows", fontsize=8)
    ax.set_title(f"split x {col.column} ({col.table})", fontsize=9)
    return _svg(fig)


def speakers(counts: dict[str, int]) -> str:
    """Items per speaker, most first."""
    keys = list(counts)
    fig, (ax,) = _figure()
    ax.bar(range(len(keys)), list(counts.values()), color="#55a868")
    if len(keys) <= 20:
        ax.set_xticks(range(len(keys)), keys)
        ax.tick_params(axis="x", labelrotation=45)
    else:
        ax.set_xlabel(f"{len(keys)} speakers, most items first", fontsize=8)
    ax.set_ylabel("items", fontsize=8)
    ax.set_title("items per speaker", fontsize=9)
    return _svg(fig)


def media_formats(card: Card) -> str:
    """Files per format and per sampling rate, side by side."""
    m = card.summary.media
    fig, axes = _figure(ncols=2)
    for ax, counter, title in ((axes[0], m.formats, "formats"),
                               (axes[1], m.sampling_rates, "sampling rates (Hz)")):
        keys = sorted(counter, key=str)
        ax.bar([str(k) for k in keys], [counter[k] for k in keys], color="#c44e52")
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("files", fontsize=8)
    return _svg(fig)


def acoustics(stats: dict[str, AcousticStats]) -> str:
    """Box plots of the four acoustic metrics, one box per corpus."""
    titles = {"rms_dbfs": "RMS level (dBFS)", "snr_db": "estimated SNR (dB)",
              "clipping": "clipping ratio", "silence": "silence ratio"}
    names = list(stats)
    fig, axes = _figure(height=2.8, ncols=4, width=max(WIDTH * 2, 2.6 * len(names) + 4))
    for ax, (metric, title) in zip(axes, titles.items(), strict=True):
        data = [stats[n].values[metric] or [0.0] for n in names]
        ax.boxplot(data, tick_labels=names, showfliers=True)
        ax.set_title(title, fontsize=9)
        if max((len(n) for n in names), default=0) > 8 or len(names) > 2:
            ax.tick_params(axis="x", labelrotation=30)
    return _svg(fig)
