"""Figures for the report: rates with 95% CIs as grouped bars, differences as a forest plot.

Figures are built on :class:`matplotlib.figure.Figure` with an explicit Agg
canvas, never pyplot, so drawing one neither needs a display nor switches
the backend of a user's own plots. Each figure is
returned as PNG bytes, or as a ``data:`` URI ready to embed in a
self-contained HTML file.
"""

from __future__ import annotations

import base64
import io
import math

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

#: Colour-blind-safe palette (Okabe & Ito), one colour per series.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
)
DEFAULT_DPI = 96
#: Widest figure, in inches; many categories get a wider figure up to this.
MAX_WIDTH = 11.0
#: Bars are labelled with their rate when there are at most this many (else too crowded).
MAX_LABELLED_BARS = 40


def png_bytes(figure: Figure, dpi: int = DEFAULT_DPI) -> bytes:
    """Render ``figure`` to PNG bytes (tight bounding box, white background)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    """A ``data:image/png;base64,...`` URI for an ``<img src>``: no file, no network."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _finite(value: float) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def rate_bars(
    table: pd.DataFrame,
    category: str,
    series: str,
    title: str,
    ylabel: str,
) -> Figure:
    """Grouped bars of ``rate`` per ``category`` (x axis), one bar colour per ``series``.

    Error bars span ``ci_low``..``ci_high``. A group with no scored sample
    (NaN rate) gets no bar but an "n=0" mark, so a missing measurement is
    never drawn as a rate of zero. ``table`` needs the columns ``category``,
    ``series``, ``rate``, ``ci_low``, ``ci_high`` and ``n``; rows are
    expected to be unique per (category, series). A row whose optional
    ``invalid`` column is true is drawn as a hatched outline, not a solid bar.
    """
    categories = list(dict.fromkeys(table[category].astype(str)))
    names = list(dict.fromkeys(table[series].astype(str)))
    width = min(MAX_WIDTH, max(5.0, 1.1 * len(categories) * max(1, len(names)) ** 0.5 + 2))
    figure = Figure(figsize=(width, 3.6))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    slot = 0.8 / max(1, len(names))
    x = np.arange(len(categories))
    label_bars = len(categories) * len(names) <= MAX_LABELLED_BARS
    handles = []
    for index, name in enumerate(names):
        subset = table[table[series].astype(str) == name]
        rows = subset.set_index(subset[category].astype(str))
        positions = x - 0.4 + slot * (index + 0.5)
        colour = PALETTE[index % len(PALETTE)]
        for position, cat in zip(positions, categories, strict=True):
            if cat not in rows.index:
                continue
            row = rows.loc[cat]
            if isinstance(row, pd.DataFrame):
                row = row.iloc[0]
            if not _finite(row["rate"]):
                axes.text(position, 0.02, "n=0", ha="center", va="bottom", fontsize=7, rotation=90)
                continue
            if bool(row.get("invalid", False)):
                # Not a measurement (too few, position-driven, smoke test): an outline
                # with hatching, never a solid bar.
                axes.bar(
                    position,
                    row["rate"],
                    width=slot * 0.92,
                    fill=False,
                    hatch="//",
                    edgecolor=colour,
                    linestyle="--",
                )
            else:
                axes.bar(position, row["rate"], width=slot * 0.92, color=colour)
            low, high = row["ci_low"], row["ci_high"]
            if label_bars:
                top = high if _finite(high) else row["rate"]
                axes.text(
                    position, top + 0.01, f"{row['rate']:.0%}", ha="center", va="bottom", fontsize=7
                )
            if _finite(low) and _finite(high):
                axes.errorbar(
                    position,
                    row["rate"],
                    yerr=[[row["rate"] - low], [high - row["rate"]]],
                    color="#222222",
                    capsize=3,
                    linewidth=1,
                )
        handles.append(Patch(color=colour, label=name))  # shown even if every bar is n=0
    axes.set_xticks(x, categories, rotation=20 if len(categories) > 5 else 0, ha="right")
    if len(categories) <= 5:
        for label in axes.get_xticklabels():
            label.set_horizontalalignment("center")
    axes.set_ylim(0, 1.1)
    axes.set_ylabel(ylabel)
    axes.set_title(title, fontsize=11)
    axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    axes.grid(axis="y", color="#dddddd", linewidth=0.6)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    if handles:
        axes.legend(
            handles=handles, fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0)
        )
    return figure


def difference_plot(table: pd.DataFrame, label: str, title: str, xlabel: str) -> Figure:
    """A forest plot: one row per ``label``, the ``difference`` as a dot, its CI as a line.

    ``table`` needs ``label``, ``difference``, ``ci_low`` and ``ci_high``.
    Rows without a difference (one side had no scored sample) are listed
    with "n=0" instead of a dot.
    """
    labels = table[label].astype(str).tolist()
    figure = Figure(figsize=(7.5, 0.35 * len(labels) + 1.4))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    y = np.arange(len(labels))[::-1]
    for position, (_, row) in zip(y, table.iterrows(), strict=True):
        if not _finite(row["difference"]):
            axes.text(0, position, "n=0", ha="center", va="center", fontsize=7)
            continue
        if _finite(row["ci_low"]) and _finite(row["ci_high"]):
            axes.plot([row["ci_low"], row["ci_high"]], [position, position], color="#444444")
        axes.plot(row["difference"], position, "o", color=PALETTE[0])
    axes.axvline(0, color="#999999", linewidth=0.8, linestyle="--")
    axes.set_yticks(y, labels, fontsize=8)
    axes.set_xlim(-1.05, 1.05)
    axes.xaxis.set_major_formatter(PercentFormatter(1.0))
    axes.set_xlabel(xlabel)
    axes.set_title(title, fontsize=11)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    return figure
