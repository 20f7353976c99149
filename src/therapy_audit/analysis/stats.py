"""Rates with confidence intervals that stay honest at every n and respect clustering.

A rate is computed over scored outcomes only (``value`` not NaN). Every
table carries ``n`` (scored samples), ``n_total`` and one column per
non-scored outcome, so a reader always sees what the rate leaves out.

By default :func:`rate_table` gives a **Wilson score interval**, whose
coverage is close to nominal at small n and at 0% or 100% (a percentile
bootstrap over identical values has zero width there). Rows of one run are
often not independent: the same stimulus is asked in both option orders, in
several wordings and over several epochs. For such rows the Wilson interval
uses the *effective* n (n divided by the design effect estimated from the
stimuli, the clusters); when every stimulus agrees (rate 0 or 1, no variance
to estimate from) the effective n is the number of stimuli, so the interval
never collapses. A rate with fewer than :data:`MIN_ANSWERS` answers or
:data:`MIN_CLUSTERS` stimuli is flagged ``too_few`` ("too few to read").
The cluster bootstrap stays available (``method="cluster"``/``"two-stage"``).
See ``docs/statistics.md``.

All resampling is vectorised: clusters with the same (sum, count) are
interchangeable, so a resample is a multinomial draw of how many times each
distinct pattern was picked. For 0/1 outcomes there are few patterns, and
10,000 resamples of 50,000 rows take well under a second.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Final, Literal

import numpy as np
import pandas as pd

from therapy_audit.outcomes import UNUSABLE_OUTCOMES

DEFAULT_SEED = 20250401
DEFAULT_RESAMPLES = 10_000
DEFAULT_CONFIDENCE = 0.95
#: Score metadata column of replies that said nothing (counted in rate tables).
EMPTY_REPLY_COLUMN: Final = "score_empty_reply"

#: ``rate_table(cluster=AUTO_CLUSTER)``: cluster rows by their stimulus, derived
#: from ``sample_id`` with :func:`stimulus_ids`.
AUTO_CLUSTER: Final = "auto"
#: Resampling designs: ``cluster`` draws stimuli with replacement and keeps
#: their rows; ``two-stage`` also redraws rows within each drawn stimulus.
ResampleMethod = Literal["cluster", "two-stage"]
RESAMPLE_METHODS: Final = ("cluster", "two-stage")
#: Interval methods of :func:`rate_table`: ``wilson`` (default; design-effect
#: adjusted for clustered rows) or one of the bootstrap designs.
CIMethod = Literal["wilson", "cluster", "two-stage"]
CI_METHODS: Final = ("wilson", "cluster", "two-stage")
DEFAULT_CI_METHOD: CIMethod = "wilson"
#: ``ci_method`` labels written into tables.
CI_IID: Final = "iid"
CI_NONE: Final = "none"
CI_WILSON: Final = "wilson"
CI_WILSON_DEFF: Final = "wilson-deff"
#: Below either count a rate is "too few to read" (``too_few``) and the gate
#: never passes on it.
MIN_ANSWERS: Final = 10
MIN_CLUSTERS: Final = 5
TOO_FEW_LABEL: Final = "too few to read"

#: Sample-id parts that vary *within* one stimulus: option order, paraphrase
#: number, and the transcript a crisis stimulus was inserted into.
_WITHIN_STIMULUS = r"/(?:forward|reverse)(?=/|$)|/wording-\d+(?=/|$)|/context/.*$"
#: Pattern counts above which resampling draws cluster indices instead of
#: multinomial pattern counts (faster when nearly every cluster is unique).
_PATTERN_SHARE = 0.125
#: Resampled statistics computed per chunk on the index path (bounds memory).
_CHUNK_ELEMENTS = 4_000_000


def stimulus_ids(sample_ids: pd.Series) -> pd.Series:
    """The stimulus (cluster) each sample id belongs to.

    Removes ``/forward`` and ``/reverse``, ``/wording-k`` and a trailing
    ``/context/...``: for stigma this leaves the item-vignette pair
    (``stigma/<condition>/<cell>/<question>``), for crisis the stimulus
    (``crisis/<condition>/<stimulus>``).

    >>> stimulus_ids(pd.Series(["stigma/depression/w/work-closely/reverse/wording-2"])).tolist()
    ['stigma/depression/w/work-closely']
    """
    return sample_ids.astype("string").str.replace(_WITHIN_STIMULUS, "", regex=True)


def wording_free_ids(sample_ids: pd.Series) -> pd.Series:
    """Sample ids with only the ``/wording-k`` part removed (order and context kept)."""
    return sample_ids.astype("string").str.replace(r"/wording-\d+(?=/|$)", "", regex=True)


def resampled_ratios(
    numerators: np.ndarray,
    denominators: np.ndarray,
    rng: np.random.Generator,
    resamples: int = DEFAULT_RESAMPLES,
    method: ResampleMethod = "cluster",
) -> np.ndarray:
    """Bootstrap distribution of ``sum(numerators) / sum(denominators)`` over clusters.

    Each resample draws as many clusters as there are, with replacement. With
    ``method="cluster"`` a drawn cluster brings its own numerator and
    denominator. With ``method="two-stage"`` its rows are redrawn too: the
    numerator becomes Binomial(denominator, numerator / denominator), which
    is exact for 0/1 values only (so it requires integer numerators).

    Args:
        numerators: per cluster, the sum of the values (for a paired
            difference, the sum of B - A).
        denominators: per cluster, the number of rows (> 0).
        rng: the seeded generator to draw from.
        resamples: how many resamples.
        method: ``cluster`` or ``two-stage``.

    Returns:
        An array of ``resamples`` resampled ratios.
    """
    if method not in RESAMPLE_METHODS:
        raise ValueError(f"method must be one of {RESAMPLE_METHODS}, got {method!r}")
    num = np.asarray(numerators, dtype=float)
    den = np.asarray(denominators, dtype=float)
    if num.shape != den.shape or num.ndim != 1 or num.size == 0:
        raise ValueError("numerators and denominators must be equal-length, non-empty 1-D")
    if np.any(den <= 0):
        raise ValueError("every cluster needs at least one row (denominator > 0)")
    if method == "two-stage" and not np.all((num == np.round(num)) & (num >= 0) & (num <= den)):
        raise ValueError("two-stage resampling needs 0/1 values (integer sums within 0..rows)")
    clusters = num.size
    patterns, freq = np.unique(np.column_stack([num, den]), axis=0, return_counts=True)
    if len(patterns) <= max(2, _PATTERN_SHARE * clusters):
        picked = rng.multinomial(clusters, freq / clusters, size=resamples)
        totals = picked @ patterns[:, 1]
        if method == "cluster":
            sums = picked @ patterns[:, 0]
        else:
            share = patterns[:, 0] / patterns[:, 1]
            sums = rng.binomial(picked * patterns[:, 1].astype(np.int64), share).sum(axis=1)
        return sums / totals
    out = np.empty(resamples)
    chunk = max(1, _CHUNK_ELEMENTS // clusters)
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        idx = rng.integers(0, clusters, size=(stop - start, clusters))
        if method == "cluster":
            sums = num[idx].sum(axis=1)
        else:
            sums = rng.binomial(den[idx].astype(np.int64), num[idx] / den[idx]).sum(axis=1)
        out[start:stop] = sums / den[idx].sum(axis=1)
    return out


def _percentile_interval(draws: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(draws, [tail, 1.0 - tail])
    return (float(low), float(high))


def cluster_bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    clusters: Sequence[object] | np.ndarray | pd.Series,
    seed: int = DEFAULT_SEED,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    method: ResampleMethod = "cluster",
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of ``values``, resampling whole clusters.

    The statistic is the pooled mean (sum over drawn rows / number of drawn
    rows), the same quantity as the point estimate. ``(nan, nan)`` for no
    values; ``(v, v)`` when every value is ``v``.

    >>> cluster_bootstrap_ci([1, 1, 0, 0], ["a", "a", "b", "b"], resamples=1000)
    (0.0, 1.0)
    """
    data = np.asarray(values, dtype=float)
    labels = pd.Series(np.asarray(clusters, dtype=object))
    if data.size != len(labels):
        raise ValueError(f"{data.size} values but {len(labels)} cluster labels")
    if data.size == 0:
        return (float("nan"), float("nan"))
    if np.all(data == data[0]):
        return (float(data[0]), float(data[0]))
    codes, _ = pd.factorize(labels, use_na_sentinel=True)
    missing = codes < 0
    codes[missing] = codes.max() + 1 + np.arange(missing.sum())  # unlabelled rows: own cluster
    sums = np.bincount(codes, weights=data)
    counts = np.bincount(codes).astype(float)
    keep = counts > 0
    draws = resampled_ratios(
        sums[keep], counts[keep], np.random.default_rng(seed), resamples, method
    )
    return _percentile_interval(draws, confidence)


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    seed: int = DEFAULT_SEED,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of ``values``, rows resampled independently.

    The cluster bootstrap with every value its own cluster. Returns
    ``(nan, nan)`` for an empty input and ``(v, v)`` when every value is
    ``v`` (resampling cannot move it).

    >>> bootstrap_ci([1, 1, 1])
    (1.0, 1.0)
    """
    data = np.asarray(values, dtype=float)
    return cluster_bootstrap_ci(data, np.arange(data.size), seed, resamples, confidence)


def wilson_interval(
    successes: float, n: float, confidence: float = DEFAULT_CONFIDENCE
) -> tuple[float, float]:
    """Wilson score interval for ``successes`` out of ``n`` (``n`` may be an effective n).

    Unlike a bootstrap or the Wald interval it keeps width at 0% and 100%
    and has close to nominal coverage at small n (Brown, Cai & DasGupta
    2001). ``(nan, nan)`` for ``n <= 0``.

    >>> [round(v, 3) for v in wilson_interval(5, 5)]
    [0.566, 1.0]
    """
    if n <= 0:
        return (float("nan"), float("nan"))
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # The interval always holds p; min/max only guard float rounding at 0 and 1.
    return (max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half)))


def effective_n(values: np.ndarray, labels: pd.Series) -> tuple[float, int]:
    """Effective sample size of clustered 0/1 (or 0..1) rows, and the number of clusters.

    ``n / deff``, where the design effect ``deff`` is the ratio of the
    cluster-robust variance of the pooled mean (the ratio estimator's
    between-cluster variance) to the variance of n independent rows. It is
    clipped to ``[clusters, n]``: never more information than independent
    rows, never less than one row per stimulus. When the rate is 0 or 1 or
    there is a single cluster, there is no variance to estimate it from and
    the conservative ``clusters`` is used (every stimulus counts once).
    """
    codes, _ = pd.factorize(pd.Series(labels.to_numpy(dtype=object)), use_na_sentinel=True)
    missing = codes < 0
    if missing.any():
        codes[missing] = codes.max() + 1 + np.arange(missing.sum())
    sums = np.bincount(codes, weights=values)
    counts = np.bincount(codes).astype(float)
    keep = counts > 0
    sums, counts = sums[keep], counts[keep]
    n, k = float(values.size), int(counts.size)
    p = float(values.mean())
    if k < 2 or p <= 0.0 or p >= 1.0:
        return float(k), k
    robust = k / (k - 1) * float(np.sum((sums - p * counts) ** 2)) / (n * n)
    iid = p * (1 - p) / n
    deff = robust / iid
    n_eff = n / deff if deff > 0 else n
    return float(min(n, max(k, n_eff))), k


def _cluster_labels(frame: pd.DataFrame, cluster: str | None) -> pd.Series | None:
    if cluster is None:
        return None
    if cluster == AUTO_CLUSTER:
        if "sample_id" not in frame:
            return None
        return stimulus_ids(frame["sample_id"])
    if cluster not in frame:
        raise ValueError(f"cluster column {cluster!r} is not in the frame")
    return frame[cluster]


def _group_ci(
    scored: np.ndarray,
    labels: pd.Series | None,
    seed: int,
    resamples: int,
    method: CIMethod,
    confidence: float,
) -> tuple[float, float, int, str]:
    if scored.size == 0:
        return (float("nan"), float("nan"), 0, CI_NONE)
    if method == CI_WILSON:
        if labels is None:
            low, high = wilson_interval(float(scored.sum()), scored.size, confidence)
            return (low, high, int(scored.size), CI_WILSON)
        n_eff, clusters = effective_n(scored, labels)
        if n_eff >= scored.size and clusters == scored.size:
            low, high = wilson_interval(float(scored.sum()), scored.size, confidence)
            return (low, high, clusters, CI_WILSON)
        low, high = wilson_interval(float(scored.mean()) * n_eff, n_eff, confidence)
        return (low, high, clusters, CI_WILSON_DEFF)
    if labels is None:
        return (*bootstrap_ci(scored, seed, resamples, confidence), int(scored.size), CI_IID)
    per_cluster = labels.value_counts(dropna=False)
    clusters = int(len(per_cluster)) + max(0, int(labels.isna().sum()) - 1)
    if labels.notna().all() and per_cluster.max() == 1:
        return (*bootstrap_ci(scored, seed, resamples, confidence), clusters, CI_IID)
    low, high = cluster_bootstrap_ci(
        scored,
        labels,
        seed,
        resamples,
        confidence,
        method,  # type: ignore[arg-type]
    )
    return (low, high, clusters, method)


def rate_table(
    frame: pd.DataFrame,
    by: Sequence[str],
    seed: int = DEFAULT_SEED,
    resamples: int = DEFAULT_RESAMPLES,
    cluster: str | None = AUTO_CLUSTER,
    method: CIMethod = DEFAULT_CI_METHOD,
    confidence: float = DEFAULT_CONFIDENCE,
) -> pd.DataFrame:
    """Rate, CI and outcome counts per group.

    Columns: ``by``..., ``rate``, ``ci_low``, ``ci_high``, ``n`` (scored),
    ``n_total``, one count column per non-scored outcome, ``empty_reply`` (where
    the frame has ``score_empty_reply``: ``fail`` rows that were empty or
    content-filtered replies), ``clusters`` (the
    number of independent units: stimuli), ``ci_method`` and ``too_few``.
    ``ci_method`` is ``wilson`` (Wilson interval; no stimulus has more than
    one scored row), ``wilson-deff`` (Wilson with the design-effect-adjusted
    effective n, see :func:`effective_n`), with a bootstrap ``method``
    ``iid``, ``cluster`` or ``two-stage`` (see :func:`resampled_ratios`), or
    ``none`` for a group with no scored sample, whose rate and CI are NaN
    (it is kept, so its counts show). ``too_few`` is true when ``n`` <
    :data:`MIN_ANSWERS` or ``clusters`` < :data:`MIN_CLUSTERS`: the rate is
    shown as "too few to read" and the gate never passes on it.

    Args:
        frame: a results frame (``value``, ``outcome`` and the ``by`` columns).
        by: grouping columns.
        seed: bootstrap seed (each group starts from it; bootstrap methods only).
        resamples: bootstrap resamples (bootstrap methods only).
        cluster: ``"auto"`` (default) clusters by stimulus, derived from
            ``sample_id`` by :func:`stimulus_ids`; a column name clusters by
            that column; ``None`` resamples rows independently.
        method: ``wilson`` (default), or the bootstrap ``cluster`` or ``two-stage``.
        confidence: confidence level of the interval.

    >>> df = pd.DataFrame({"g": ["a"] * 4, "value": [1.0, 0.0, float("nan"), 1.0],
    ...                    "outcome": ["pass", "fail", "unparsed", "pass"]})
    >>> rate_table(df, ["g"])[["g", "rate", "n", "n_total", "unparsed"]].to_dict("records")
    [{'g': 'a', 'rate': 0.6666666666666666, 'n': 3, 'n_total': 4, 'unparsed': 1}]
    """
    if method not in CI_METHODS:
        raise ValueError(f"method must be one of {CI_METHODS}, got {method!r}")
    columns = [
        *by,
        "rate",
        "ci_low",
        "ci_high",
        "n",
        "n_total",
        *UNUSABLE_OUTCOMES,
        "clusters",
        "ci_method",
        "too_few",
    ]
    empty_replies = EMPTY_REPLY_COLUMN in frame
    if empty_replies:
        columns.insert(columns.index("clusters"), "empty_reply")
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame = frame.reset_index(drop=True)  # group indices below are positions
    labels_all = _cluster_labels(frame, cluster)
    records = []
    for key, group in frame.groupby(list(by), dropna=False, sort=True):
        keys = key if isinstance(key, tuple) else (key,)
        mask = group["value"].notna()
        scored = group.loc[mask, "value"].to_numpy(dtype=float)
        labels = None if labels_all is None else labels_all.loc[group.index[mask]]
        low, high, clusters, ci_method = _group_ci(
            scored, labels, seed, resamples, method, confidence
        )
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
                **(
                    {"empty_reply": int(group[EMPTY_REPLY_COLUMN].notna().sum())}
                    if empty_replies
                    else {}
                ),
                "clusters": clusters,
                "ci_method": ci_method,
                "too_few": bool(scored.size < MIN_ANSWERS or clusters < MIN_CLUSTERS),
            }
        )
    return pd.DataFrame.from_records(records, columns=columns)


def spread_table(rates: pd.DataFrame, by: Sequence[str], over: str) -> pd.DataFrame:
    """How much a rate moves across the levels of ``over`` (epochs, wordings, ...).

    ``rates`` has one row per ``by`` group and ``over`` level with a ``rate``
    column (levels with no scored row, rate NaN, are left out). Columns:
    ``by``..., ``levels`` (how many levels had a rate), ``rate_mean``,
    ``rate_min``, ``rate_max``, ``spread`` (max - min) and ``rate_sd``
    (sample SD, ddof=1; NaN with fewer than two levels).

    >>> r = pd.DataFrame({"g": ["a", "a", "a"], "epoch": [1, 2, 3], "rate": [0.0, 1.0, 0.5]})
    >>> spread_table(r, ["g"], "epoch")[["levels", "spread", "rate_sd"]].to_dict("records")
    [{'levels': 3, 'spread': 1.0, 'rate_sd': 0.5}]
    """
    columns = [*by, "levels", "rate_mean", "rate_min", "rate_max", "spread", "rate_sd"]
    rated = rates.dropna(subset=["rate"])
    if rated.empty:
        return pd.DataFrame(columns=columns)
    if not by:
        rated = rated.assign(_all=0)
    keys = list(by) or ["_all"]
    table = (
        rated.groupby(keys, dropna=False, sort=True)["rate"]
        .agg(
            levels="size",
            rate_mean="mean",
            rate_min="min",
            rate_max="max",
            rate_sd=lambda r: r.std(ddof=1),
        )
        .reset_index()
    )
    table["spread"] = table["rate_max"] - table["rate_min"]
    return table.drop(columns=[c for c in ["_all"] if c in table])[columns]


def epoch_rates(frame: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """The rate of each epoch separately: one row per ``by`` group and epoch.

    With ``--epochs N`` at temperature > 0 each epoch is a replicate of the
    whole run; how far the per-epoch rates differ shows how much of the
    result is sampling noise. Columns: ``by``..., ``epoch``, ``rate``, ``n``,
    ``n_total`` and one count column per non-scored outcome (no CI: see
    :func:`epoch_spread` for their spread, and :func:`rate_table` for the
    pooled rate with a CI over stimuli and epochs).
    """
    keys = [*by, "epoch"]
    columns = [*keys, "rate", "n", "n_total", *UNUSABLE_OUTCOMES]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    grouped = frame.groupby(keys, dropna=False, sort=True)
    table = grouped["value"].agg(rate="mean", n="count", n_total="size")
    outcomes = (
        frame.groupby(keys, dropna=False, sort=True)["outcome"]
        .value_counts()
        .unstack(fill_value=0)
        .reindex(columns=list(UNUSABLE_OUTCOMES), fill_value=0)
    )
    table = table.join(outcomes).reset_index()
    for column in ["n", "n_total", *UNUSABLE_OUTCOMES]:
        table[column] = table[column].fillna(0).astype(int)
    return table[columns]


def epoch_spread(frame: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Spread of the per-epoch rates per ``by`` group (see :func:`spread_table`).

    Columns: ``by``..., ``epochs``, ``rate_mean``, ``rate_min``, ``rate_max``,
    ``spread``, ``rate_sd``.
    """
    table = spread_table(epoch_rates(frame, by), by, "epoch")
    return table.rename(columns={"levels": "epochs"})


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control).

    Sort the m p-values ascending; the i-th smallest (i from 1) is
    multiplied by ``m - i + 1``, running maxima are taken so the order is
    kept, and values are capped at 1. NaN p-values stay NaN and do not count
    in m. Matches ``statsmodels.stats.multitest.multipletests(method="holm")``
    (statsmodels is not a dependency).

    >>> holm([0.01, 0.04, 0.03, 0.005]).round(6).tolist()
    [0.03, 0.06, 0.06, 0.02]
    """
    p = np.asarray(pvalues, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    present = ~np.isnan(p)
    q = p[present]
    m = q.size
    if m == 0:
        return adjusted
    order = np.argsort(q, kind="stable")
    stepped = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * q[order]))
    result = np.empty(m)
    result[order] = stepped
    adjusted[present] = result
    return adjusted
