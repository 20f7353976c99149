"""Agreement between raters: Cohen's kappa with a bootstrap CI, Fleiss' kappa, breakdowns.

Used to validate a judge against people who labelled the same replies.
Point estimates come from well-kept libraries (scikit-learn's
``cohen_kappa_score``, statsmodels' ``fleiss_kappa``). The bootstrap
recomputes Cohen's (unweighted) kappa, ``(p_o - p_e) / (1 - p_e)``, for all
resamples at once with numpy, because 10,000 calls to scikit-learn take
about 7 s per interval; a test checks the two agree resample by resample.

Ratings are given "wide": a DataFrame indexed by item with one column per
rater and labels as values (NaN where a rater did not label the item).
Kappa is undefined (NaN) when chance agreement is 1, i.e. both raters used
one and the same label throughout.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from therapy_audit.analysis.stats import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, DEFAULT_SEED

#: Resamples computed per numpy batch (bounds memory: batch x items integers).
BATCH = 1000


@dataclass(frozen=True)
class KappaEstimate:
    """Cohen's kappa between two raters on ``n`` items, with its bootstrap CI.

    ``agreement`` is the raw share of items labelled alike. ``resamples_used``
    counts the bootstrap resamples where kappa was defined (a resample in
    which both raters used a single label has none).
    """

    n: int
    agreement: float
    kappa: float
    ci_low: float
    ci_high: float
    resamples_used: int

    def as_dict(self) -> dict[str, Any]:
        """Plain fields, for tables and JSON."""
        return asdict(self)


def _paired(a: Sequence[Any], b: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    left = pd.Series(list(a), dtype=object)
    right = pd.Series(list(b), dtype=object)
    if len(left) != len(right):
        raise ValueError(f"raters labelled different numbers of items: {len(left)} vs {len(right)}")
    keep = left.notna().to_numpy() & right.notna().to_numpy()
    return left[keep].to_numpy(), right[keep].to_numpy()


def cohen_kappa(a: Sequence[Any], b: Sequence[Any]) -> float:
    """Cohen's kappa of two raters (items missing for either are left out); NaN if undefined.

    >>> cohen_kappa(["yes", "yes", "no", "no"], ["yes", "no", "no", "no"])
    0.5
    """
    from sklearn.metrics import cohen_kappa_score

    left, right = _paired(a, b)
    if left.size == 0 or (len(set(left)) == 1 and set(left) == set(right)):
        return float("nan")
    labels = sorted(set(left) | set(right), key=str)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return float(cohen_kappa_score(left, right, labels=labels))


def _codes(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    labels = sorted(set(left) | set(right), key=str)
    index = {label: i for i, label in enumerate(labels)}
    return (
        np.array([index[x] for x in left], dtype=np.int64),
        np.array([index[x] for x in right], dtype=np.int64),
        len(labels),
    )


def _resampled_kappas(a: np.ndarray, b: np.ndarray, k: int, indices: np.ndarray) -> np.ndarray:
    """Unweighted Cohen's kappa of ``a`` vs ``b`` for each row of resampled ``indices``."""
    left, right = a[indices], b[indices]
    observed = (left == right).mean(axis=1)
    expected = np.zeros(len(indices))
    for category in range(k):
        expected += (left == category).mean(axis=1) * (right == category).mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappas = (observed - expected) / (1.0 - expected)
    kappas[np.isclose(expected, 1.0)] = np.nan
    return kappas


def cohen_kappa_ci(
    a: Sequence[Any],
    b: Sequence[Any],
    seed: int = DEFAULT_SEED,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> KappaEstimate:
    """Cohen's kappa with a percentile-bootstrap CI over items (paired resampling).

    Items missing for either rater are left out. With no item the estimate
    and CI are NaN; when kappa is undefined so is its CI.

    >>> e = cohen_kappa_ci(["yes"] * 20 + ["no"] * 20, ["yes"] * 20 + ["no"] * 20, resamples=200)
    >>> (e.kappa, e.ci_low, e.ci_high, e.n)
    (1.0, 1.0, 1.0, 40)
    """
    left, right = _paired(a, b)
    n = int(left.size)
    if n == 0:
        return KappaEstimate(0, float("nan"), float("nan"), float("nan"), float("nan"), 0)
    agreement = float(np.mean(left == right))
    kappa = cohen_kappa(left, right)
    if np.isnan(kappa):
        return KappaEstimate(n, agreement, kappa, float("nan"), float("nan"), 0)
    a_codes, b_codes, k = _codes(left, right)
    rng = np.random.default_rng(seed)
    values = []
    for start in range(0, resamples, BATCH):
        size = min(BATCH, resamples - start)
        values.append(_resampled_kappas(a_codes, b_codes, k, rng.integers(0, n, (size, n))))
    kappas = np.concatenate(values)
    kappas = kappas[~np.isnan(kappas)]
    if kappas.size == 0:
        return KappaEstimate(n, agreement, kappa, float("nan"), float("nan"), 0)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(kappas, [tail, 100 - tail])
    return KappaEstimate(n, agreement, kappa, float(low), float(high), int(kappas.size))


def fleiss_kappa(ratings: pd.DataFrame) -> tuple[float, int]:
    """Fleiss' kappa over items rated by every rater (columns); returns ``(kappa, items)``.

    Items missing any rating are left out, since Fleiss' kappa needs the same
    number of raters per item. NaN with fewer than two raters, no complete
    item, or a single label used throughout.

    >>> table = pd.DataFrame({"r1": ["y", "n", "y"], "r2": ["y", "n", "n"], "r3": ["y", "n", "y"]})
    >>> round(fleiss_kappa(table)[0], 3)
    0.55
    """
    from statsmodels.stats.inter_rater import aggregate_raters
    from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss

    complete = ratings.dropna()
    if ratings.shape[1] < 2 or complete.empty:
        return float("nan"), int(len(complete))
    labels = sorted(set(complete.to_numpy().ravel()), key=str)
    if len(labels) < 2:
        return float("nan"), int(len(complete))
    index = {label: i for i, label in enumerate(labels)}
    codes = complete.apply(lambda column: column.map(index)).to_numpy(dtype=int)
    table, _ = aggregate_raters(codes, n_cat=len(labels))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return float(statsmodels_fleiss(table, method="fleiss")), int(len(complete))


def majority_labels(ratings: pd.DataFrame) -> pd.Series:
    """Per item, the label most raters gave; NaN on a tie or when nobody labelled the item."""

    def one(row: pd.Series) -> Any:
        counts = row.dropna().value_counts()
        if counts.empty or (len(counts) > 1 and counts.iloc[0] == counts.iloc[1]):
            return np.nan
        return counts.index[0]

    return ratings.apply(one, axis=1)


def per_annotator_agreement(
    ratings: pd.DataFrame,
    reference: pd.Series,
    seed: int = DEFAULT_SEED,
    resamples: int = DEFAULT_RESAMPLES,
) -> pd.DataFrame:
    """Each rater against a reference (e.g. the judge), on the items both labelled.

    Columns: annotator, n, agreement, kappa, ci_low, ci_high, resamples_used.
    """
    records = []
    for annotator in ratings.columns:
        estimate = cohen_kappa_ci(
            ratings[annotator], reference.reindex(ratings.index), seed=seed, resamples=resamples
        )
        records.append({"annotator": annotator, **estimate.as_dict()})
    return pd.DataFrame.from_records(
        records,
        columns=["annotator", "n", "agreement", "kappa", "ci_low", "ci_high", "resamples_used"],
    )


def pairwise_kappas(
    ratings: pd.DataFrame,
    seed: int = DEFAULT_SEED,
    resamples: int = DEFAULT_RESAMPLES,
) -> pd.DataFrame:
    """Cohen's kappa for every pair of raters, on the items both labelled.

    Columns: rater_a, rater_b, n, agreement, kappa, ci_low, ci_high,
    resamples_used. Empty with fewer than two raters.
    """
    records = []
    columns = list(ratings.columns)
    for i, first in enumerate(columns):
        for second in columns[i + 1 :]:
            estimate = cohen_kappa_ci(
                ratings[first], ratings[second], seed=seed, resamples=resamples
            )
            records.append({"rater_a": first, "rater_b": second, **estimate.as_dict()})
    return pd.DataFrame.from_records(
        records,
        columns=[
            "rater_a",
            "rater_b",
            "n",
            "agreement",
            "kappa",
            "ci_low",
            "ci_high",
            "resamples_used",
        ],
    )


def agreement_by_group(
    first: pd.Series, second: pd.Series, groups: pd.Series, name: str = "group"
) -> pd.DataFrame:
    """Agreement share and Cohen's kappa of two label series within each group (no CI).

    All three series share an item index. Columns: ``name``, n, agreement,
    kappa (NaN where undefined, e.g. one label throughout a group).
    """
    frame = pd.DataFrame({"a": first, "b": second, "g": groups}).dropna(subset=["a", "b"])
    records = [
        {
            name: group,
            "n": int(len(rows)),
            "agreement": float((rows["a"] == rows["b"]).mean()),
            "kappa": cohen_kappa(rows["a"], rows["b"]),
        }
        for group, rows in frame.groupby("g", sort=True)
    ]
    return pd.DataFrame.from_records(records, columns=[name, "n", "agreement", "kappa"])
