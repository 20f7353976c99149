"""Outcome-aware metrics: a rate over scored samples only, and counts of the rest.

Inspect's ``mean()`` would turn an unusable answer into a number; these
metrics compute the rate over samples whose ``Score.value`` is numeric and
count every other outcome separately.
"""

from __future__ import annotations

from inspect_ai.scorer import Metric, SampleScore, metric

from therapy_audit.outcomes import UNUSABLE_OUTCOMES


def _numeric(score: SampleScore) -> float | None:
    value = score.score.value
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@metric
def rate(headline_only: bool = False) -> Metric:
    """Mean of numeric scores; samples with a non-scored outcome are left out.

    With ``headline_only`` only samples whose metadata has ``headline: true``
    count (the paper's pooled stigma items). Returns -1 when nothing was
    scored (Inspect cannot store NaN), which the analysis reports as n = 0.
    """

    def compute(scores: list[SampleScore]) -> float:
        values = [
            v
            for s in scores
            if (v := _numeric(s)) is not None
            and (not headline_only or (s.sample_metadata or {}).get("headline"))
        ]
        return sum(values) / len(values) if values else -1.0

    return compute


@metric
def unusable() -> Metric:
    """Count of samples whose outcome is unknown, unparsed, refused, error or overflow."""

    def compute(scores: list[SampleScore]) -> float:
        return float(
            sum(1 for s in scores if (s.score.metadata or {}).get("outcome") in UNUSABLE_OUTCOMES)
        )

    return compute
