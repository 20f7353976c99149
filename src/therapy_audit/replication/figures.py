"""Figures in the paper's layout: rates by condition, one bar per respondent, with CIs.

Bars are the paper's rule with their 95% bootstrap CI; a black dot on each
bar marks the corrected rate (unusable answers left out rather than counted
as failures), so where the two rules differ it shows at a glance. Drawn
with matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

STIGMA_CONDITION_ORDER = ["daily-troubles", "depression", "alcohol-dependence", "schizophrenia"]
CRISIS_CONDITION_ORDER = [
    "suicidal-ideation",
    "delusions",
    "hallucinations",
    "mania",
    "obsessive-compulsive",
]
SYSTEM_PROMPT_TITLES = {"none": "no system prompt", "steel-man": "steel-man system prompt"}


def short_name(respondent: str) -> str:
    """The part after the provider: ``meta-llama/Llama-2-7b-chat-hf`` -> ``Llama-2-7b-chat-hf``."""
    return respondent.rsplit("/", 1)[-1]


def _bars(
    ax: plt.Axes,
    table: pd.DataFrame,
    conditions: Sequence[str],
    series: Sequence[str],
    series_column: str,
) -> None:
    width = 0.8 / max(len(series), 1)
    x = np.arange(len(conditions))
    colours = plt.get_cmap("tab20").colors
    for index, name in enumerate(series):
        rows = table[table[series_column] == name].set_index("condition").reindex(conditions)
        rate = rows["paper_rate"].to_numpy(dtype=float)
        low = rate - rows["paper_ci_low"].to_numpy(dtype=float)
        high = rows["paper_ci_high"].to_numpy(dtype=float) - rate
        offset = x - 0.4 + width * (index + 0.5)
        ax.bar(
            offset,
            np.nan_to_num(rate),
            width,
            yerr=np.nan_to_num(np.vstack([low, high])),
            capsize=2,
            label=name,
            color=colours[index % len(colours)],
        )
        ax.plot(offset, rows["rate"].to_numpy(dtype=float), "k.", markersize=4)
    ax.set_xticks(x, [c.replace("-", "\n") for c in conditions])
    ax.set_ylim(0, 1.05)
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))


def stigma_figure(table: pd.DataFrame, path: str | Path) -> Path:
    """Stigma rate by condition, one bar per model, one panel per system prompt.

    ``table`` is :func:`therapy_audit.replication.headline.stigma_rates` by condition.
    """
    table = table.assign(series=table["respondent"].map(short_name))
    prompts = [p for p in ("none", "steel-man") if p in set(table["system_prompt"])]
    prompts += sorted(set(table["system_prompt"]) - set(prompts))
    conditions = [c for c in STIGMA_CONDITION_ORDER if c in set(table["condition"])]
    series = sorted(set(table["series"]))
    fig, axes = plt.subplots(
        1, len(prompts), figsize=(6.5 * len(prompts), 4.5), sharey=True, squeeze=False
    )
    for ax, prompt in zip(axes[0], prompts, strict=True):
        _bars(ax, table[table["system_prompt"] == prompt], conditions, series, "series")
        ax.set_title(SYSTEM_PROMPT_TITLES.get(prompt, prompt))
    axes[0][0].set_ylabel("stigmatizing answers (headline items)")
    fig.suptitle("Stigma by condition (95% bootstrap CI)")
    return _save(_legend_below(fig, axes[0][0]), path)


def appropriate_figure(table: pd.DataFrame, path: str | Path, title: str | None = None) -> Path:
    """Appropriate-response rate by condition, one bar per respondent (and setting).

    ``table`` is :func:`therapy_audit.replication.headline.appropriate_rates`
    by condition, usually for :func:`paper_comparison_rows`. A respondent
    present under several settings gets one bar per setting.
    """
    settings = table.groupby("respondent")[["system_prompt", "contextualize"]].nunique().max(axis=1)
    several = set(settings[settings > 1].index)

    def label(row: pd.Series) -> str:
        name = short_name(row["respondent"])
        if row["respondent"] in several:
            name += f" ({row['system_prompt']}{', contextualized' if row['contextualize'] else ''})"
        return name

    table = table.assign(series=table.apply(label, axis=1))
    kind_order = {"model": 0, "bot": 1, "human": 2}
    series = (
        table.drop_duplicates("series")
        .assign(order=lambda t: t["respondent_kind"].map(kind_order))
        .sort_values(["order", "series"])["series"]
        .tolist()
    )
    conditions = [c for c in CRISIS_CONDITION_ORDER if c in set(table["condition"])]
    fig, ax = plt.subplots(figsize=(max(8.0, 0.35 * len(series) * len(conditions)), 4.8))
    _bars(ax, table, conditions, series, "series")
    ax.set_ylabel("appropriate responses")
    ax.set_title(title or "Appropriate responses by condition (95% bootstrap CI)")
    return _save(_legend_below(fig, ax), path)


def _legend_below(fig: plt.Figure, ax: plt.Axes) -> plt.Figure:
    handles, labels = ax.get_legend_handles_labels()
    columns = min(len(labels), 6) or 1
    rows = -(-len(labels) // columns)
    fig.legend(
        handles,
        labels,
        loc="lower center",
        ncol=columns,
        fontsize=8,
        title="bars: paper rule with 95% CI; black dot: corrected rate",
        title_fontsize=8,
        frameon=False,
    )
    fig.tight_layout(rect=(0, 0.06 + 0.05 * rows, 1, 1))
    return fig


def _save(fig: plt.Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path
