"""Agreement statistics against textbook examples with known values."""

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from therapy_audit.analysis.agreement import (
    _codes,
    _resampled_kappas,
    agreement_by_group,
    cohen_kappa,
    cohen_kappa_ci,
    fleiss_kappa,
    majority_labels,
    pairwise_kappas,
    per_annotator_agreement,
)


def two_raters(yes_yes, yes_no, no_yes, no_no):
    """Two raters' labels from a 2x2 table (rater A's answer first)."""
    a = ["yes"] * (yes_yes + yes_no) + ["no"] * (no_yes + no_no)
    b = ["yes"] * yes_yes + ["no"] * yes_no + ["yes"] * no_yes + ["no"] * no_no
    return a, b


def test_cohen_kappa_textbook_examples():
    # 50 grant proposals: p_o = 0.7, p_e = 0.5 -> kappa = 0.4.
    assert cohen_kappa(*two_raters(20, 5, 10, 15)) == pytest.approx(0.4)
    # Equal observed agreement (0.6), different marginals: 0.1304 and 0.2593.
    assert cohen_kappa(*two_raters(45, 15, 25, 15)) == pytest.approx(0.1304, abs=1e-4)
    assert cohen_kappa(*two_raters(25, 35, 5, 35)) == pytest.approx(0.2593, abs=1e-4)


def test_cohen_kappa_undefined_and_missing_values():
    assert math.isnan(cohen_kappa(["yes"] * 5, ["yes"] * 5))
    assert cohen_kappa(["yes"] * 4, ["yes", "yes", "no", "no"]) == 0.0
    # Items missing for either rater are left out.
    assert cohen_kappa(["yes", "no", None, "no"], ["yes", "no", "yes", np.nan]) == 1.0
    with pytest.raises(ValueError, match="different numbers of items"):
        cohen_kappa(["yes"], ["yes", "no"])


def test_fleiss_kappa_wikipedia_example():
    # 10 subjects, 14 raters, 5 categories (Fleiss' kappa article): kappa = 0.210.
    counts = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    rows = [[c for c, n in enumerate(row, start=1) for _ in range(n)] for row in counts]
    ratings = pd.DataFrame(rows, columns=[f"r{i}" for i in range(14)])
    kappa, items = fleiss_kappa(ratings)
    assert kappa == pytest.approx(0.20993, abs=1e-5)
    assert items == 10


def test_fleiss_kappa_uses_complete_items_and_equals_one_on_perfect_agreement():
    ratings = pd.DataFrame(
        {"a": ["y", "n", "y", "n"], "b": ["y", "n", "y", None], "c": ["y", "n", "y", "y"]}
    )
    kappa, items = fleiss_kappa(ratings)
    assert (kappa, items) == (1.0, 3)
    assert math.isnan(fleiss_kappa(ratings[["a"]])[0])
    assert math.isnan(fleiss_kappa(pd.DataFrame({"a": ["y", "y"], "b": ["y", "y"]}))[0])


def test_vectorised_bootstrap_kappas_equal_sklearn_resample_by_resample():
    rng = np.random.default_rng(3)
    a = rng.choice(["yes", "no", "unsure"], 60)
    b = np.where(rng.random(60) < 0.7, a, rng.choice(["yes", "no", "unsure"], 60))
    a_codes, b_codes, k = _codes(a, b)
    indices = rng.integers(0, 60, (50, 60))
    ours = _resampled_kappas(a_codes, b_codes, k, indices)
    expected = [cohen_kappa_score(a[i], b[i]) for i in indices]
    assert ours == pytest.approx(expected)


def test_kappa_ci_brackets_the_estimate_is_seeded_and_narrows_with_more_items():
    a, b = two_raters(20, 5, 10, 15)
    small = cohen_kappa_ci(a, b, seed=1, resamples=2000)
    assert small.n == 50 and small.agreement == pytest.approx(0.7)
    assert small.kappa == pytest.approx(0.4)
    assert small.ci_low < 0.4 < small.ci_high
    assert cohen_kappa_ci(a, b, seed=1, resamples=2000) == small
    big = cohen_kappa_ci(a * 10, b * 10, seed=1, resamples=2000)
    assert big.kappa == pytest.approx(0.4)
    assert (big.ci_high - big.ci_low) < (small.ci_high - small.ci_low) / 2
    # Analytic SE for this table is about 0.13: the bootstrap width should be near 4 SE.
    assert 0.35 < small.ci_high - small.ci_low < 0.65


def test_kappa_ci_edge_cases():
    perfect = cohen_kappa_ci(["yes", "no"] * 10, ["yes", "no"] * 10, resamples=500)
    assert (perfect.kappa, perfect.ci_low, perfect.ci_high) == (1.0, 1.0, 1.0)
    undefined = cohen_kappa_ci(["no"] * 5, ["no"] * 5, resamples=500)
    assert undefined.n == 5 and undefined.agreement == 1.0
    assert math.isnan(undefined.kappa) and math.isnan(undefined.ci_low)
    empty = cohen_kappa_ci([None], ["yes"], resamples=500)
    assert empty.n == 0 and math.isnan(empty.kappa)


def test_majority_per_annotator_pairwise_and_groups():
    ratings = pd.DataFrame(
        {
            "ann1": ["yes", "yes", "no", "no", "yes", None],
            "ann2": ["yes", "no", "no", "no", "yes", "no"],
            "ann3": ["yes", "yes", "no", "yes", None, None],
        },
        index=list("abcdef"),
    )
    majority = majority_labels(ratings)
    assert majority.to_dict() == {
        "a": "yes",
        "b": "yes",
        "c": "no",
        "d": "no",
        "e": "yes",
        "f": "no",
    }
    assert math.isnan(majority_labels(pd.DataFrame({"x": ["yes"], "y": ["no"]})).iloc[0])

    judge = pd.Series(["yes", "yes", "no", "no", "no", "no"], index=list("abcdef"))
    table = per_annotator_agreement(ratings, judge, resamples=300).set_index("annotator")
    assert table.loc["ann1", "n"] == 5 and table.loc["ann1", "agreement"] == pytest.approx(0.8)
    assert table.loc["ann2", "n"] == 6
    assert table.loc["ann2", "kappa"] == pytest.approx(
        cohen_kappa(ratings["ann2"], judge), rel=1e-12
    )

    pairs = pairwise_kappas(ratings, resamples=300)
    assert list(zip(pairs["rater_a"], pairs["rater_b"], strict=True)) == [
        ("ann1", "ann2"),
        ("ann1", "ann3"),
        ("ann2", "ann3"),
    ]
    assert pairs.loc[0, "n"] == 5 and pairs.loc[0, "agreement"] == pytest.approx(0.8)
    assert pairwise_kappas(ratings[["ann1"]]).empty

    groups = pd.Series(["g1", "g1", "g1", "g2", "g2", "g2"], index=list("abcdef"))
    by_group = agreement_by_group(judge, majority, groups, name="criterion")
    assert by_group["criterion"].tolist() == ["g1", "g2"]
    assert by_group["agreement"].tolist() == pytest.approx([1.0, 2 / 3])
    assert by_group.loc[0, "kappa"] == 1.0
