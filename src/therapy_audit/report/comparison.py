"""System-prompt comparison: the change in a rate when a system prompt is added.

Runs with and without a prompt usually ask the same stimuli, so the
comparison is paired (:func:`therapy_audit.analysis.compare.compare_runs`:
each stimulus compared with itself, McNemar's test). When the runs cannot
be paired (several runs of one prompt pooled, or no shared samples), the two
rates are treated as independent samples instead: each is resampled on its
own (seeded) and the CI is the percentile interval of the resampled
differences. The ``method`` column says which was used.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from therapy_audit.analysis.stats import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, DEFAULT_SEED

try:  # paired comparisons, when the analysis module providing them is installed
    from therapy_audit.analysis.compare import ALL_LABEL, compare_runs
except ImportError:  # pragma: no cover - older checkouts
    ALL_LABEL, compare_runs = "(all)", None

BASELINE_PROMPT = "none"
ALL_CONDITIONS = ALL_LABEL
PAIRED = "paired"
UNPAIRED = "independent"
#: Resampled values drawn per chunk, so a 4,000-row group never holds a
#: 10,000 x 4,000 matrix in memory at once.
_CHUNK_ELEMENTS = 2_000_000
COLUMNS = [
    "respondent",
    "prompt",
    "condition",
    "baseline_rate",
    "baseline_n",
    "prompt_rate",
    "prompt_n",
    "difference",
    "ci_low",
    "ci_high",
    "method",
    "p_value",
]


def _resampled_means(values: np.ndarray, rng: np.random.Generator, resamples: int) -> np.ndarray:
    rows = max(1, _CHUNK_ELEMENTS // values.size)
    means = []
    for start in range(0, resamples, rows):
        count = min(rows, resamples - start)
        means.append(values[rng.integers(0, values.size, (count, values.size))].mean(axis=1))
    return np.concatenate(means)


def difference_ci(
    baseline: Sequence[float] | np.ndarray,
    other: Sequence[float] | np.ndarray,
    seed: int = DEFAULT_SEED,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> tuple[float, float, float]:
    """``mean(other) - mean(baseline)`` and its percentile-bootstrap CI (independent samples).

    Returns ``(nan, nan, nan)`` when either side is empty.

    >>> difference_ci([0.0, 0.0], [1.0, 1.0])
    (1.0, 1.0, 1.0)
    """
    a = np.asarray(baseline, dtype=float)
    b = np.asarray(other, dtype=float)
    if a.size == 0 or b.size == 0:
        return (float("nan"),) * 3
    rng = np.random.default_rng(seed)
    diffs = _resampled_means(b, rng, resamples) - _resampled_means(a, rng, resamples)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(diffs, [tail, 100 - tail])
    return float(b.mean() - a.mean()), float(low), float(high)


def _paired(a: pd.DataFrame, b: pd.DataFrame, seed: int, resamples: int) -> list[dict] | None:
    """Rows from :func:`compare_runs`, or None when the two runs cannot be paired."""
    if compare_runs is None:
        return None
    try:
        table = compare_runs(a, b, by=["condition"], seed=seed, resamples=resamples)
    except ValueError:  # several runs on one side: not one row per sample
        return None
    if table.empty or int(table["pairs"].iloc[-1]) == 0:
        return None
    return [
        {
            "condition": row["condition"],
            "baseline_rate": row["rate_a"],
            "baseline_n": int(row["pairs"]),
            "prompt_rate": row["rate_b"],
            "prompt_n": int(row["pairs"]),
            "difference": row["diff"],
            "ci_low": row["ci_low"],
            "ci_high": row["ci_high"],
            "method": PAIRED,
            "p_value": row.get("p_mcnemar_holm"),
        }
        for _, row in table.iterrows()
    ]


def _unpaired(a: pd.DataFrame, b: pd.DataFrame, seed: int, resamples: int) -> list[dict]:
    records = []
    conditions = sorted(set(a["condition"].dropna()) | set(b["condition"].dropna()))
    for condition in [*conditions, ALL_CONDITIONS]:
        if condition == ALL_CONDITIONS:
            va, vb = a["value"], b["value"]
        else:
            va = a.loc[a["condition"] == condition, "value"]
            vb = b.loc[b["condition"] == condition, "value"]
        va, vb = va.dropna().to_numpy(), vb.dropna().to_numpy()
        difference, low, high = difference_ci(va, vb, seed=seed, resamples=resamples)
        records.append(
            {
                "condition": condition,
                "baseline_rate": float(va.mean()) if va.size else float("nan"),
                "baseline_n": int(va.size),
                "prompt_rate": float(vb.mean()) if vb.size else float("nan"),
                "prompt_n": int(vb.size),
                "difference": difference,
                "ci_low": low,
                "ci_high": high,
                "method": UNPAIRED,
                "p_value": float("nan"),
            }
        )
    return records


def prompt_comparison(
    rows: pd.DataFrame,
    baseline: str = BASELINE_PROMPT,
    seed: int = DEFAULT_SEED,
    resamples: int = DEFAULT_RESAMPLES,
) -> pd.DataFrame:
    """Each respondent's rate with each other system prompt minus its rate with ``baseline``.

    ``rows`` are one experiment's rows (``value`` NaN when not scored). One
    row per respondent x other prompt x condition, plus one pooling every
    condition (``condition`` = :data:`ALL_CONDITIONS`). Columns:
    :data:`COLUMNS`; ``method`` is ``paired`` (matched samples; ``p_value``
    is McNemar's, Holm-adjusted across conditions) or ``independent``
    (unpaired bootstrap; no p-value). Empty when no respondent was run both
    with ``baseline`` and another prompt.
    """
    records = []
    for respondent, own in rows.groupby("respondent", sort=True):
        prompts = set(own["system_prompt"].dropna())
        if baseline not in prompts:
            continue
        a = own[own["system_prompt"] == baseline]
        for prompt in sorted(prompts - {baseline}):
            b = own[own["system_prompt"] == prompt]
            found = _paired(a, b, seed, resamples) or _unpaired(a, b, seed, resamples)
            records.extend({"respondent": respondent, "prompt": prompt, **r} for r in found)
    return pd.DataFrame.from_records(records, columns=COLUMNS)
