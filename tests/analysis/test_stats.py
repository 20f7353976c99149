import math

import numpy as np
import pandas as pd
import pytest

from therapy_audit.analysis.stats import bootstrap_ci, rate_table


def test_bootstrap_ci_matches_binomial_theory():
    values = np.array([1.0] * 30 + [0.0] * 70)
    low, high = bootstrap_ci(values, seed=1)
    se = math.sqrt(0.3 * 0.7 / 100)
    assert low == pytest.approx(0.3 - 1.96 * se, abs=0.02)
    assert high == pytest.approx(0.3 + 1.96 * se, abs=0.02)


def test_bootstrap_ci_is_reproducible_with_its_seed_and_moves_without_it():
    values = np.random.default_rng(0).integers(0, 2, 40).astype(float)
    assert bootstrap_ci(values, seed=5) == bootstrap_ci(values, seed=5)
    assert bootstrap_ci(values, seed=5, resamples=200) != bootstrap_ci(
        values, seed=6, resamples=200
    )


def test_bootstrap_ci_edge_cases():
    assert all(math.isnan(v) for v in bootstrap_ci([]))
    assert bootstrap_ci([0.0, 0.0]) == (0.0, 0.0)


def test_rate_table_counts_every_outcome_and_rates_only_scored():
    frame = pd.DataFrame(
        {
            "respondent": ["m"] * 7 + ["n"] * 2,
            "value": [1, 0, 1, 1, np.nan, np.nan, np.nan, np.nan, np.nan],
            "outcome": [
                "stigmatizing",
                "not_stigmatizing",
                "stigmatizing",
                "stigmatizing",
                "unknown",
                "unparsed",
                "error",
                "refused",
                "refused",
            ],
        }
    )
    table = rate_table(frame, ["respondent"]).set_index("respondent")
    assert table.loc["m", "rate"] == 0.75
    assert table.loc["m", "n"] == 4 and table.loc["m", "n_total"] == 7
    assert table.loc["m", ["unknown", "unparsed", "error", "refused"]].tolist() == [1, 1, 1, 0]
    assert table.loc["n", "n"] == 0 and math.isnan(table.loc["n", "rate"])
    assert table.loc["n", "refused"] == 2
    assert table.loc["m", "ci_low"] <= 0.75 <= table.loc["m", "ci_high"]
