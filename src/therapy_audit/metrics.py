"""Outcome-aware metrics: a rate over scored samples only, and counts of the rest.

Inspect's ``mean()`` would turn an unusable answer into a number; these
metrics compute the rate over samples whose ``Score.value`` is numeric and
count every other outcome separately.
"""

from __future__ import annotations

import statistics
from collections import Counter

from inspect_ai.scorer import Metric, SampleScore, Score, ScoreReducer, metric, score_reducer

from therapy_audit.outcomes import ERROR, SCORED_VALUE, UNUSABLE_OUTCOMES


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


@score_reducer(name="scored_mean")
def scored_mean(average: tuple[str, ...] = ()) -> ScoreReducer:
    """Average epochs over scored outcomes only, so an unusable epoch is never read as 0.

    Inspect's ``mean`` reducer would turn an ``unparsed`` epoch into 0. Value:
    the mean of the numeric epoch values; when no epoch was scored, the most
    common outcome's name (so rates leave the sample out and ``unusable``
    counts it). Metadata: the first epoch's, with ``outcome`` the most common
    scored outcome (or unusable one when none was scored), ``epoch_outcomes``,
    ``unusable_epochs``, and each numeric metadata key named in ``average``
    averaged over the epochs that have it.
    """

    def reduce(scores: list[Score]) -> Score:
        outcomes = [(s.metadata or {}).get("outcome", ERROR) for s in scores]
        numeric = [
            float(s.value)
            for s in scores
            if isinstance(s.value, int | float) and not isinstance(s.value, bool)
        ]
        scored = [o for o in outcomes if o in SCORED_VALUE]
        outcome = Counter(scored or outcomes).most_common(1)[0][0]
        averaged = {}
        for key in average:
            values = [
                float(v)
                for s in scores
                if isinstance(v := (s.metadata or {}).get(key), bool | int | float)
            ]
            averaged[key] = statistics.mean(values) if values else None
        return Score(
            value=statistics.mean(numeric) if numeric else outcome,
            answer=scores[0].answer if len({s.answer for s in scores}) == 1 else None,
            explanation=scores[0].explanation if len(scores) == 1 else None,
            metadata={
                **(scores[0].metadata or {}),
                "outcome": outcome,
                "epoch_outcomes": outcomes,
                "unusable_epochs": len(outcomes) - len(scored),
                **averaged,
            },
        )

    return reduce
