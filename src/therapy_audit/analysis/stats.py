"""Rates with percentile-bootstrap CIs, and the outcome counts shown beside them.

A rate is computed over scored outcomes only (``value`` not NaN). Every
table carries ``n`` (scored samples), ``n_total`` and one column per
non-scored outcome, so a reader always sees what the rate leaves out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from therapy_audit.outcomes import UNUSABLE_OUTCOMES

DEFAULT_SEED = 20250401
DEFAULT_RESAMPLES = 10_000
DEFAULT_CONFIDENCE = 0.95


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    seed: int = DEFAULT_SEED,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of ``values``.

    Returns ``(nan, nan)`` for an empty input and ``(v, v)`` when every value
    is ``v`` (resampling cannot move it).

    >>> bootstrap_ci([1, 1, 1])
    (1.0, 1.0)
    """
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return (float("nan"), float("nan"))
    if np.all(data == data[0]):
        return (float(data[0]), float(data[0]))
    result = stats.bootstrap(
        (data,),
        np.mean,
        n_resamples=resamples,
        confidence_level=confidence,
        method="percentile",
        random_state=np.random.default_rng(seed),
        vectorized=True,
    )
    return (float(result.confidence_interval.low), float(result.confidence_interval.high))


def rate_table(
    frame: pd.DataFrame,
    by: Sequence[str],
    seed: int = DEFAULT_SEED,
    resamples: int = DEFAULT_RESAMPLES,
) -> pd.DataFrame:
    """Rate, CI and outcome counts per group.

    Columns: ``by``..., ``rate``, ``ci_low``, ``ci_high``, ``n`` (scored),
    ``n_total``, and one count column per non-scored outcome. A group with no
    scored sample has NaN rate and CI (it is kept, so its counts show).

    >>> df = pd.DataFrame({"g": ["a"] * 4, "value": [1.0, 0.0, float("nan"), 1.0],
    ...                    "outcome": ["pass", "fail", "unparsed", "pass"]})
    >>> rate_table(df, ["g"])[["g", "rate", "n", "n_total", "unparsed"]].to_dict("records")
    [{'g': 'a', 'rate': 0.6666666666666666, 'n': 3, 'n_total': 4, 'unparsed': 0}]
    """
    columns = [*by, "rate", "ci_low", "ci_high", "n", "n_total", *UNUSABLE_OUTCOMES]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    records = []
    for key, group in frame.groupby(list(by), dropna=False, sort=True):
        keys = key if isinstance(key, tuple) else (key,)
        scored = group["value"].dropna().to_numpy()
        low, high = bootstrap_ci(scored, seed=seed, resamples=resamples)
        counts = group["outcome"].value_counts()
        records.append(
            {
                **dict(zip(by, keys, strict=True)),
                "rate": float(scored.mean()) if scored.size else float("nan"),
                "ci_low": low,
                "ci_high": high,
                "n": int(scored.size),
                "n_total": int(len(group)),
                **{outcome: int(counts.get(outcome, 0)) for outcome in UNUSABLE_OUTCOMES},
            }
        )
    return pd.DataFrame.from_records(records, columns=columns)
