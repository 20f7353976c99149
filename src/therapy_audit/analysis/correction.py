"""Rates corrected for the judge's measured sensitivity and specificity (Rogan-Gladen).

A judge that misses some met criteria (sensitivity Se < 1) or passes some
unmet ones (specificity Sp < 1) biases an observed rate p. If Se and Sp are
known, the true rate is

    (p + Sp - 1) / (Se + Sp - 1)            (Rogan and Gladen, 1978)

clipped to [0, 1]. The positive class is "criterion met" (a reply passes),
so Se and Sp come from ``validate-judge --gold --out`` (per criterion kind,
and for the combined per-reply verdict).

The correction divides by Youden's J = Se + Sp - 1. For a chance-level
judge J is near 0 and the "corrected" rate is noise, so a rate is *not
correctable* when the validation's CI of J includes 0. The corrected CI
carries both uncertainties: each bootstrap draw pairs a resample of the
run's stimuli with one draw of (Se, Sp) from the validation's bootstrap
(which resampled the gold stimuli).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from therapy_audit.analysis.stats import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    resampled_ratios,
)
from therapy_audit.textfiles import TextFileError, read_text

#: The validation file's key for the per-reply (combined) verdict.
COMBINED = "combined"
NOT_CORRECTABLE = "not correctable"


class ValidationFileError(ValueError):
    """A judge-validation file cannot be used for correction (the message names the file)."""


def rogan_gladen(p: Any, se: Any, sp: Any) -> Any:
    """The corrected rate ``(p + sp - 1) / (se + sp - 1)`` clipped to [0, 1]; NaN where J <= 0.

    Works on floats and numpy arrays alike.

    >>> rogan_gladen(0.5, 1.0, 1.0)
    0.5
    >>> round(rogan_gladen(0.62, 0.9, 0.8), 4)
    0.6
    """
    p, se, sp = (np.asarray(x, dtype=float) for x in (p, se, sp))
    youden = se + sp - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(youden > 0, np.clip((p + sp - 1.0) / youden, 0.0, 1.0), np.nan)
    return float(value) if value.ndim == 0 else value


@dataclass(frozen=True)
class JudgeAccuracy:
    """A judge's measured Se and Sp for one criterion kind (or the combined verdict).

    ``se_draws``/``sp_draws`` are paired bootstrap draws (NaN where a
    resample had no item of that class).
    """

    se: float
    sp: float
    se_draws: np.ndarray
    sp_draws: np.ndarray

    def youden_interval(self, confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float]:
        """Percentile CI of J = Se + Sp - 1 (NaN, NaN when it was never measurable)."""
        youden = self.se_draws + self.sp_draws - 1.0
        youden = youden[~np.isnan(youden)]
        if youden.size == 0:
            return (float("nan"), float("nan"))
        tail = (1.0 - confidence) / 2.0
        low, high = np.quantile(youden, [tail, 1.0 - tail])
        return (float(low), float(high))

    def correctable(self, confidence: float = DEFAULT_CONFIDENCE) -> bool:
        """True when the CI of J lies above 0 (the judge measurably beats chance)."""
        low, _ = self.youden_interval(confidence)
        return bool(not np.isnan(low) and low > 0 and self.se + self.sp - 1.0 > 0)


@dataclass(frozen=True)
class CorrectedRate:
    """An observed rate and its Rogan-Gladen correction (NaN and ``note`` when not correctable)."""

    observed: float
    corrected: float
    ci_low: float
    ci_high: float
    correctable: bool
    youden_low: float
    youden_high: float
    note: str


def corrected_rate(
    passes: np.ndarray,
    counts: np.ndarray,
    accuracy: JudgeAccuracy,
    seed: int = DEFAULT_SEED,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> CorrectedRate:
    """Correct the rate ``sum(passes) / sum(counts)`` of a run, clustered by stimulus.

    Args:
        passes: per stimulus of the run, the number of passing (decided) replies.
        counts: per stimulus, the number of decided replies (> 0).
        accuracy: the judge's Se and Sp with their bootstrap draws.
        seed: bootstrap seed.
        resamples: bootstrap resamples (each pairs a resample of the run's
            stimuli with one (Se, Sp) draw of the validation).
        confidence: confidence level of the interval.
    """
    passes = np.asarray(passes, dtype=float)
    counts = np.asarray(counts, dtype=float)
    observed = float(passes.sum() / counts.sum())
    low_j, high_j = accuracy.youden_interval(confidence)
    if not accuracy.correctable(confidence):
        why = (
            "the judge's Se and Sp were not measured for this kind"
            if np.isnan(low_j)
            else f"CI of Se+Sp-1 [{low_j:.2f}, {high_j:.2f}] includes 0: the judge's verdicts "
            "do not separate met from unmet (chance level)"
        )
        nan = float("nan")
        return CorrectedRate(observed, nan, nan, nan, False, low_j, high_j, why)
    rng = np.random.default_rng(seed)
    rates = resampled_ratios(passes, counts, rng, resamples)
    pick = rng.integers(0, accuracy.se_draws.size, size=resamples)
    draws = rogan_gladen(rates, accuracy.se_draws[pick], accuracy.sp_draws[pick])
    kept = draws[~np.isnan(draws)]  # draws whose J <= 0 (rare once J's CI is above 0)
    tail = (1.0 - confidence) / 2.0
    ci = np.quantile(kept, [tail, 1.0 - tail]) if kept.size else (np.nan, np.nan)
    return CorrectedRate(
        observed,
        rogan_gladen(observed, accuracy.se, accuracy.sp),
        float(ci[0]),
        float(ci[1]),
        True,
        low_j,
        high_j,
        f"Se {accuracy.se:.2f}, Sp {accuracy.sp:.2f}",
    )


@dataclass(frozen=True)
class JudgeValidation:
    """What a ``validate-judge --gold --out`` file says about one judge, for correction."""

    judge: str
    summary: str
    labelled_by: str
    replies: int
    kappa: dict[str, Any]
    accuracies: dict[str, JudgeAccuracy]


def _accuracy(figures: dict[str, Any], draws: dict[str, Any]) -> JudgeAccuracy:
    def arr(values: list[Any]) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in values], dtype=float)

    se = figures["sensitivity"]["value"]
    sp = figures["specificity"]["value"]
    return JudgeAccuracy(
        float("nan") if se is None else float(se),
        float("nan") if sp is None else float(sp),
        arr(draws["sensitivity"]),
        arr(draws["specificity"]),
    )


def load_validation(path: str | Path) -> JudgeValidation:
    """Read a ``validate-judge --gold`` (or labels-with-stimulus) ``--out`` file.

    Raises:
        ValidationFileError: not JSON, or a file without the gold figures
            (for example one of ``validate-judge LABELS.csv`` on the paper's
            labels, which has no per-kind Se and Sp).
    """
    try:
        data = json.loads(read_text(path, "judge validation file"))
    except TextFileError as exc:
        raise ValidationFileError(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise ValidationFileError(
            f"judge validation file {path}: cannot read JSON ({exc})"
        ) from None
    if not isinstance(data, dict) or "correction" not in data or "per_kind" not in data:
        raise ValidationFileError(
            f"judge validation file {path}: no per-kind sensitivity/specificity ('correction'); "
            "write it with `therapy-audit validate-judge --gold --judge J --out FILE`"
        )
    figures = {**data["per_kind"], COMBINED: data.get(COMBINED)}
    accuracies = {
        name: _accuracy(figures[name], draws)
        for name, draws in data["correction"].items()
        if figures.get(name)
    }
    return JudgeValidation(
        judge=str(data.get("judge")),
        summary=str(data.get("summary")),
        labelled_by=str(data.get("labelled_by")),
        replies=int(data.get("replies") or 0),
        kappa=data.get("kappa") or {},
        accuracies=accuracies,
    )
