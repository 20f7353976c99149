"""Paired comparison of two runs on the same stimuli (prompt A vs B, model A vs B).

Rows are matched by ``sample_id`` and ``epoch``, so each stimulus is
compared with itself and the stimulus-to-stimulus variation cancels out.
For each group (e.g. condition) the table gives both rates, their
difference ``diff = rate_b - rate_a`` with a paired cluster-bootstrap CI,
McNemar's exact test on the discordant pairs, a sign-flip permutation test
that flips whole stimuli, and both p-values Holm-adjusted across the
groups. A pair where either run's outcome is unusable (unknown, unparsed,
refused, error, context overflow) is dropped and counted; rows present in
one run only are counted too.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import binom, binomtest

from therapy_audit.analysis.stats import (
    CI_IID,
    CI_NONE,
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    holm,
    resampled_ratios,
    stimulus_ids,
)

PAIR_KEYS = ["sample_id", "epoch"]
EXPERIMENTS = ("stigma", "crisis")
#: Label of the row that pools every group.
ALL_LABEL = "(all)"
#: Largest clusters x total |difference| for which the sign-flip test computes
#: the exact permutation distribution (about a second); beyond it, random flips.
EXACT_FLIP_WORK = 500_000_000
COMPARE_COLUMNS = [
    "pairs",
    "rate_a",
    "rate_b",
    "diff",
    "ci_low",
    "ci_high",
    "clusters",
    "ci_method",
    "a_only",
    "b_only",
    "p_mcnemar",
    "p_mcnemar_holm",
    "p_sign_flip",
    "p_sign_flip_holm",
    "dropped_unusable",
    "only_in_a",
    "only_in_b",
]


def experiment_rows(frame: pd.DataFrame, experiment: str) -> pd.DataFrame:
    """The rows a headline rate is computed over.

    Stigma: the headline items (five social-distance items and violence
    toward others), as in the paper. Crisis: every appropriate-response row.
    """
    if experiment not in EXPERIMENTS:
        raise ValueError(f"experiment must be one of {EXPERIMENTS}, got {experiment!r}")
    rows = frame[frame["experiment"] == experiment]
    if experiment == "stigma" and "headline" in rows:
        rows = rows[rows["headline"].fillna(False).astype(bool)]
    return rows


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pair counts.

    ``a_only`` pairs scored 1 in run A and 0 in B, ``b_only`` the reverse.
    Under no difference each discordant pair goes either way with
    probability 1/2, so the p-value is a two-sided binomial test. 1.0 when
    there is no discordant pair. Assumes independent pairs: with repeated
    rows per stimulus prefer :func:`sign_flip_test`.

    >>> mcnemar_exact(10, 0)
    0.001953125
    """
    discordant = a_only + b_only
    if discordant == 0:
        return 1.0
    return float(binomtest(a_only, discordant, 0.5).pvalue)


def _exact_flip_distribution(diffs: np.ndarray) -> np.ndarray | None:
    """P(total = t) for t in -S..S under random signs, for whole-number ``diffs``.

    Clusters with the same |d| are interchangeable: f of them add
    d * (2 * Bin(f, 1/2) - f). The largest such group is laid down directly
    and the others convolved in exactly. None when that would take more than
    :data:`EXACT_FLIP_WORK` operations.
    """
    total = int(np.abs(diffs).sum())
    magnitudes, counts = np.unique(np.abs(diffs).astype(np.int64), return_counts=True)
    order = np.argsort(-counts, kind="stable")
    magnitudes, counts = magnitudes[order], counts[order]
    if (2 * total + 1) * int(counts[1:].sum() + len(counts) - 1) > EXACT_FLIP_WORK:
        return None
    dist = np.zeros(2 * total + 1)
    first, f = int(magnitudes[0]), int(counts[0])
    dist[total + first * (2 * np.arange(f + 1) - f)] = binom.pmf(np.arange(f + 1), f, 0.5)
    for d, f in zip(magnitudes[1:], counts[1:], strict=True):
        weights = binom.pmf(np.arange(f + 1), f, 0.5)
        new = np.zeros_like(dist)
        for j, weight in enumerate(weights):
            shift = int(d * (2 * j - f))
            if shift >= 0:
                new[shift:] += weight * dist[: dist.size - shift]
            else:
                new[:shift] += weight * dist[-shift:]
        dist = new
    return dist


def sign_flip_test(
    cluster_diffs: Sequence[float] | np.ndarray,
    seed: int = DEFAULT_SEED,
    resamples: int = DEFAULT_RESAMPLES,
) -> float:
    """Two-sided paired permutation p-value, flipping the sign of whole clusters.

    ``cluster_diffs`` holds, per stimulus, the sum over its matched pairs of
    (B - A). Under no difference A and B are exchangeable within a stimulus,
    so each stimulus's sum is as likely negated. The statistic is |total
    difference|; the p-value is the probability of a flipped total at least
    as far from zero. It is exact (every sign pattern, by convolution) when
    the differences are whole numbers, as they always are for 0/1 outcomes,
    and the computation is small enough (:data:`EXACT_FLIP_WORK`); otherwise
    ``resamples`` seeded random flips give ``(1 + hits) / (1 + resamples)``.
    1.0 when every difference is zero.

    >>> round(sign_flip_test([-1.0] * 10), 12)  # 2 * 0.5**10
    0.001953125
    """
    diffs = np.asarray(cluster_diffs, dtype=float)
    diffs = diffs[diffs != 0]
    if diffs.size == 0:
        return 1.0
    observed = abs(diffs.sum())
    whole = bool(np.all(diffs == np.round(diffs)))
    dist = _exact_flip_distribution(diffs) if whole else None
    if dist is not None:
        totals = np.abs(np.arange(dist.size) - (dist.size - 1) // 2)
        return float(min(1.0, dist[totals >= round(observed)].sum()))
    # Clusters with equal differences are interchangeable: for each distinct
    # difference d shared by f clusters, the flipped sum is d * (2 * Bin(f, 1/2) - f).
    values, counts = np.unique(diffs, return_counts=True)
    rng = np.random.default_rng(seed)
    kept = rng.binomial(counts, 0.5, size=(resamples, values.size))
    totals = np.abs((2 * kept - counts) @ values)
    hits = int(np.sum(totals >= observed - 1e-9 * max(1.0, observed)))
    return (1 + hits) / (1 + resamples)


def _one_row_each(rows: pd.DataFrame, name: str) -> pd.DataFrame:
    duplicated = rows.duplicated(PAIR_KEYS, keep=False)
    if duplicated.any():
        example = rows.loc[duplicated, PAIR_KEYS].iloc[0].tolist()
        respondents = sorted(map(str, rows["respondent"].dropna().unique()))
        raise ValueError(
            f"run {name} has several rows for one sample and epoch (e.g. {example}); "
            f"compare needs one run per side (respondents found: {respondents}, "
            f"logs: {rows['log'].nunique() if 'log' in rows else 'n/a'})"
        )
    return rows


def matched_pairs(
    frame_a: pd.DataFrame, frame_b: pd.DataFrame, by: Sequence[str] = ()
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Match two runs' rows by sample id and epoch.

    Returns ``(pairs, unmatched)``. ``pairs`` has one row per matched key:
    ``sample_id``, ``epoch``, the ``by`` columns (taken from run A),
    ``stimulus_id``, ``value_a``/``value_b``, ``outcome_a``/``outcome_b``
    and ``usable`` (both scored). ``unmatched`` has the rows found in only one
    run, with the ``by`` columns and ``side`` ("a" or "b").

    Raises:
        ValueError: a run has several rows for one sample and epoch (several
            respondents, prompts or scorers pooled on one side), or a ``by``
            column is missing.
    """
    for name, rows in (("A", frame_a), ("B", frame_b)):
        missing = [c for c in by if c not in rows]
        if missing:
            raise ValueError(
                f"run {name} has no column {missing}; available: {sorted(map(str, rows.columns))}"
            )
        _one_row_each(rows, name)
    keep = [*PAIR_KEYS, *[c for c in by if c not in PAIR_KEYS], "value", "outcome"]
    a = frame_a[keep]
    b = frame_b[[*PAIR_KEYS, "value", "outcome"]]
    merged = a.merge(b, on=PAIR_KEYS, how="outer", suffixes=("_a", "_b"), indicator=True)
    both = merged["_merge"] == "both"
    pairs = merged[both].drop(columns="_merge").copy()
    pairs["stimulus_id"] = stimulus_ids(pairs["sample_id"])
    pairs["usable"] = pairs["value_a"].notna() & pairs["value_b"].notna()
    only_a = merged[merged["_merge"] == "left_only"][[*PAIR_KEYS, *by]].assign(side="a")
    only_b = frame_b.merge(frame_a[PAIR_KEYS], on=PAIR_KEYS, how="left", indicator=True)
    only_b = only_b[only_b["_merge"] == "left_only"][[*PAIR_KEYS, *by]].assign(side="b")
    unmatched = pd.concat([only_a, only_b], ignore_index=True)
    return pairs.reset_index(drop=True), unmatched


def _group_keys(rows: pd.DataFrame, by: Sequence[str]) -> pd.Series:
    """A sortable text key per row for the ``by`` columns (NaN becomes "nan")."""
    text = rows[list(by)].astype(str)
    return text.agg("\x1f".join, axis=1) if len(text) else pd.Series([], dtype=object)


def _compare_group(
    pairs: pd.DataFrame,
    unmatched: pd.DataFrame,
    seed: int,
    resamples: int,
    confidence: float,
) -> dict[str, object]:
    usable = pairs[pairs["usable"]]
    a = usable["value_a"].to_numpy(dtype=float)
    b = usable["value_b"].to_numpy(dtype=float)
    row: dict[str, object] = {
        "pairs": int(len(usable)),
        "rate_a": float(a.mean()) if a.size else float("nan"),
        "rate_b": float(b.mean()) if b.size else float("nan"),
        "diff": float((b - a).mean()) if a.size else float("nan"),
        "ci_low": float("nan"),
        "ci_high": float("nan"),
        "clusters": 0,
        "ci_method": CI_NONE,
        "a_only": int(np.sum((a == 1) & (b == 0))),
        "b_only": int(np.sum((a == 0) & (b == 1))),
        "p_mcnemar": float("nan"),
        "p_sign_flip": float("nan"),
        "dropped_unusable": int((~pairs["usable"]).sum()),
        "only_in_a": int((unmatched["side"] == "a").sum()),
        "only_in_b": int((unmatched["side"] == "b").sum()),
    }
    if not a.size:
        return row
    per_cluster = usable.assign(d=b - a).groupby("stimulus_id", sort=True)["d"].agg(["sum", "size"])
    row["clusters"] = int(len(per_cluster))
    row["ci_method"] = "paired " + (CI_IID if per_cluster["size"].max() == 1 else "cluster")
    if np.all(b - a == (b - a)[0]):
        row["ci_low"] = row["ci_high"] = float((b - a)[0])
    else:
        draws = resampled_ratios(
            per_cluster["sum"].to_numpy(dtype=float),
            per_cluster["size"].to_numpy(dtype=float),
            np.random.default_rng(seed),
            resamples,
        )
        tail = (1.0 - confidence) / 2.0
        low, high = np.quantile(draws, [tail, 1.0 - tail])
        row["ci_low"], row["ci_high"] = float(low), float(high)
    row["p_mcnemar"] = mcnemar_exact(int(row["a_only"]), int(row["b_only"]))
    row["p_sign_flip"] = sign_flip_test(per_cluster["sum"].to_numpy(), seed, resamples)
    return row


def compare_runs(
    frame_a: pd.DataFrame,
    frame_b: pd.DataFrame,
    by: Sequence[str] = ("condition",),
    seed: int = DEFAULT_SEED,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> pd.DataFrame:
    """Paired comparison of run B against run A, per ``by`` group and pooled.

    Both frames should hold one run each, already restricted to the rows to
    compare (see :func:`experiment_rows`). Columns: ``by``..., ``pairs``
    (usable matched pairs), ``rate_a``, ``rate_b``, ``diff`` (B - A),
    ``ci_low``/``ci_high`` (paired percentile bootstrap resampling matched
    stimuli), ``clusters``, ``ci_method``, ``a_only``/``b_only`` (discordant
    pairs scored 1 only in A / only in B), ``p_mcnemar`` (exact McNemar),
    ``p_sign_flip`` (stimulus-level sign-flip permutation), their Holm
    adjustments across the ``by`` groups (``*_holm``; the pooled row is not
    part of the family and gets its raw p-value), ``dropped_unusable`` and
    ``only_in_a``/``only_in_b``. The last row pools every group, with
    :data:`ALL_LABEL` in the ``by`` columns.

    Example:
        >>> a, b = results_frame(["a.eval"]), results_frame(["b.eval"])  # doctest: +SKIP
        >>> a, b = experiment_rows(a, "stigma"), experiment_rows(b, "stigma")  # doctest: +SKIP
        >>> compare_runs(a, b, by=["condition"])  # doctest: +SKIP
    """
    pairs, unmatched = matched_pairs(frame_a, frame_b, by)
    records = []
    if by:
        pairs_key, unmatched_key = _group_keys(pairs, by), _group_keys(unmatched, by)
        labels = pd.concat([pairs[list(by)], unmatched[list(by)]], ignore_index=True)
        labels.index = pd.concat([pairs_key, unmatched_key], ignore_index=True)
        labels = labels[~labels.index.duplicated()]
        for key in sorted(labels.index):
            row = _compare_group(
                pairs[pairs_key == key],
                unmatched[unmatched_key == key],
                seed,
                resamples,
                confidence,
            )
            records.append({**labels.loc[key].to_dict(), **row})
    table = pd.DataFrame.from_records(records, columns=[*by, *COMPARE_COLUMNS])
    table["p_mcnemar_holm"] = holm(table["p_mcnemar"].to_numpy(dtype=float))
    table["p_sign_flip_holm"] = holm(table["p_sign_flip"].to_numpy(dtype=float))
    pooled = _compare_group(pairs, unmatched, seed, resamples, confidence)
    pooled["p_mcnemar_holm"] = pooled["p_mcnemar"]
    pooled["p_sign_flip_holm"] = pooled["p_sign_flip"]
    overall = pd.DataFrame.from_records(
        [{**{c: ALL_LABEL for c in by}, **pooled}], columns=[*by, *COMPARE_COLUMNS]
    )
    if table.empty:
        return overall
    return pd.concat([table, overall], ignore_index=True)
