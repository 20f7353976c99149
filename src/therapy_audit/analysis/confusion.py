"""Agreement of a yes/no judge with reference labels, as a confusion matrix with clustered CIs.

Accuracy, sensitivity, specificity, Cohen's kappa and coverage (the share
of items the judge decided: an abstention is neither right nor wrong), each
with a percentile-bootstrap CI that resamples clusters (stimuli) whole. All
resamples are computed at once: a resample is a multinomial draw of how
many times each cluster is picked, times the clusters' confusion counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from therapy_audit.analysis.stats import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, DEFAULT_SEED

METRICS = ("accuracy", "sensitivity", "specificity", "kappa")


def _counts(label_met: np.ndarray, verdict_met: np.ndarray) -> np.ndarray:
    """Per row one-hot of tp, fn, fp, tn, undecided (verdict NaN)."""
    undecided = np.isnan(verdict_met)
    decided_met = ~undecided & (verdict_met == 1)
    decided_not = ~undecided & (verdict_met == 0)
    return np.column_stack(
        [
            label_met & decided_met,
            label_met & decided_not,
            ~label_met & decided_met,
            ~label_met & decided_not,
            undecided,
        ]
    ).astype(float)


def _figures(c: np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy, Se, Sp, kappa, coverage from counts (..., 5): tp, fn, fp, tn, undecided."""
    tp, fn, fp, tn, und = (c[..., i] for i in range(5))
    decided = tp + fn + fp + tn
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = (tp + tn) / decided
        chance = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / decided**2
        kappa = np.where(np.isclose(chance, 1.0), np.nan, (observed - chance) / (1.0 - chance))
        return {
            "accuracy": observed,
            "sensitivity": tp / (tp + fn),
            "specificity": tn / (tn + fp),
            "kappa": kappa,
            "coverage": decided / (decided + und),
        }


def _interval(draws: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    kept = draws[~np.isnan(draws)]
    if kept.size == 0:
        return (None, None)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(kept, [tail, 1.0 - tail])
    return (float(low), float(high))


def _value(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def figures_with_ci(
    label_met: Sequence[bool],
    verdict_met: Sequence[float],
    clusters: Sequence[str],
    seed: int = DEFAULT_SEED,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    keep_draws: int = 0,
) -> dict[str, Any]:
    """Accuracy, sensitivity, specificity, kappa and coverage, each with a clustered bootstrap CI.

    Args:
        label_met: per item, True when the label says the criterion is met.
        verdict_met: per item, 1.0 / 0.0 for the judge's met / not met, NaN
            where it abstained.
        clusters: per item, its stimulus (resampled as a whole).
        seed: bootstrap seed.
        resamples: bootstrap resamples.
        confidence: confidence level of the intervals.
        keep_draws: also return this many paired bootstrap draws of
            sensitivity and specificity (``draws``), for corrected rates.
    """
    met = np.asarray(label_met, dtype=bool)
    verdict = np.asarray(verdict_met, dtype=float)
    rows = _counts(met, verdict)
    codes, _ = pd.factorize(pd.Series(list(clusters), dtype=object))
    per_cluster = np.zeros((codes.max() + 1 if codes.size else 0, 5))
    np.add.at(per_cluster, codes, rows)
    total = per_cluster.sum(axis=0)
    point = _figures(total)
    out: dict[str, Any] = {
        "n": int(met.size),
        "decided": int(total[:4].sum()),
        "stimuli": int(per_cluster.shape[0]),
        "confusion": dict(zip(("tp", "fn", "fp", "tn", "undecided"), map(int, total), strict=True)),
    }
    draws: dict[str, np.ndarray] = {}
    if per_cluster.shape[0]:
        rng = np.random.default_rng(seed)
        k = per_cluster.shape[0]
        picked = rng.multinomial(k, np.full(k, 1.0 / k), size=resamples)
        draws = _figures(picked @ per_cluster)
    for name in (*METRICS, "coverage"):
        low, high = _interval(draws[name], confidence) if draws else (None, None)
        out[name] = {"value": _value(float(point[name])), "ci_low": low, "ci_high": high}
    if keep_draws and draws:
        out["draws"] = {
            "sensitivity": [
                None if np.isnan(v) else round(float(v), 4)
                for v in draws["sensitivity"][:keep_draws]
            ],
            "specificity": [
                None if np.isnan(v) else round(float(v), 4)
                for v in draws["specificity"][:keep_draws]
            ],
        }
    return out
