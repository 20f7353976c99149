"""Plain-text tables for the terminal: a rate, its CI, n, and every other outcome."""

from __future__ import annotations

import math

import pandas as pd

from therapy_audit.analysis.stats import TOO_FEW_LABEL
from therapy_audit.outcomes import UNUSABLE_OUTCOMES


def _percent(value: float) -> str:
    return (
        "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.0%}"
    )


def readable_rates(table: pd.DataFrame, rate_label: str = "rate") -> pd.DataFrame:
    """Collapse rate and CI into one column and keep only non-zero outcome counts.

    A count column that is zero everywhere is dropped to keep the table narrow;
    ``n`` and ``n_total`` always stay, so what was left out remains visible.
    A rate flagged ``too_few`` (fewer than 10 answers or 5 stimuli) reads
    "too few to read" after its numbers, and the ``too_few`` column goes.
    """
    if table.empty:
        return table
    shown = table.copy()
    too_few = shown["too_few"] if "too_few" in shown else pd.Series(False, index=shown.index)
    shown[rate_label] = [
        f"{_percent(r)} [{_percent(lo)}, {_percent(hi)}]"
        + (f" ({TOO_FEW_LABEL})" if few and not math.isnan(float(r)) else "")
        for r, lo, hi, few in zip(
            shown["rate"], shown["ci_low"], shown["ci_high"], too_few.astype(bool), strict=True
        )
    ]
    drop = ["ci_low", "ci_high", *(["too_few"] if "too_few" in shown else [])] + [
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
