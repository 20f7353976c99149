"""Plain-text tables for the terminal: a rate, its CI, n, and every other outcome."""

from __future__ import annotations

import math

import pandas as pd

from therapy_audit.outcomes import UNUSABLE_OUTCOMES


def _percent(value: float) -> str:
    return (
        "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.0%}"
    )


def readable_rates(table: pd.DataFrame, rate_label: str = "rate") -> pd.DataFrame:
    """Collapse rate and CI into one column and keep only non-zero outcome counts.

    A count column that is zero everywhere is dropped to keep the table narrow;
    ``n`` and ``n_total`` always stay, so what was left out remains visible.
    """
    if table.empty:
        return table
    shown = table.copy()
    shown[rate_label] = [
        f"{_percent(r)} [{_percent(lo)}, {_percent(hi)}]"
        for r, lo, hi in zip(shown["rate"], shown["ci_low"], shown["ci_high"], strict=True)
    ]
    drop = ["ci_low", "ci_high"] + [
        c for c in UNUSABLE_OUTCOMES if c in shown and not shown[c].any()
    ]
    if rate_label != "rate":
        drop.append("rate")
    return shown.drop(columns=drop)


def to_text(table: pd.DataFrame) -> str:
    """Render a table for the terminal (no index)."""
    if table.empty:
        return "(no rows)"
    return table.to_string(index=False)
