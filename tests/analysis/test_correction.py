"""Rogan-Gladen corrected rates: the formula, chance-level and perfect judges, the CI."""

import json

import numpy as np
import pytest

from therapy_audit.analysis.correction import (
    JudgeAccuracy,
    ValidationFileError,
    corrected_rate,
    load_validation,
    rogan_gladen,
)
from therapy_audit.analysis.stats import cluster_bootstrap_ci

RESAMPLES = 2000


def fixed(se: float, sp: float, draws: int = 500) -> JudgeAccuracy:
    """A judge whose Se and Sp are known exactly (every bootstrap draw the same)."""
    return JudgeAccuracy(se, sp, np.full(draws, se), np.full(draws, sp))


def run(passes_per_stimulus: list[int], replies: int = 2) -> tuple[np.ndarray, np.ndarray]:
    passes = np.array(passes_per_stimulus, dtype=float)
    return passes, np.full(passes.size, float(replies))


def test_formula_known_values():
    assert rogan_gladen(0.62, 0.9, 0.8) == pytest.approx(0.6)
    # A judge that passes 20% of unmet criteria: an observed 20% is really 0%.
    assert rogan_gladen(0.2, 1.0, 0.8) == pytest.approx(0.0)
    assert rogan_gladen(0.1, 1.0, 0.8) == 0.0  # clipped, not negative
    assert rogan_gladen(0.99, 0.9, 1.0) == 1.0  # clipped, not above 1
    assert np.isnan(rogan_gladen(0.5, 0.5, 0.5))  # J = 0: undefined
    assert rogan_gladen(np.array([0.2, 0.6]), 1.0, 0.8) == pytest.approx([0.0, 0.5])


def test_perfect_judge_is_the_identity():
    passes, counts = run([2, 1, 0, 2, 1, 1, 0, 2, 2, 1])
    result = corrected_rate(passes, counts, fixed(1.0, 1.0), seed=7, resamples=RESAMPLES)
    assert result.correctable
    assert result.corrected == pytest.approx(result.observed) == pytest.approx(12 / 20)
    # With no validation uncertainty the CI is the run's own clustered bootstrap CI.
    values = np.concatenate([[1.0] * int(p) + [0.0] * int(2 - p) for p in passes])
    clusters = np.repeat(np.arange(passes.size), 2)
    assert (result.ci_low, result.ci_high) == pytest.approx(
        cluster_bootstrap_ci(values, clusters, seed=7, resamples=RESAMPLES)
    )


def test_chance_level_judge_is_not_correctable():
    rng = np.random.default_rng(1)
    # Se and Sp measured on 40 items each around 0.5: J's CI straddles 0.
    chance = JudgeAccuracy(
        0.52, 0.49, rng.binomial(40, 0.52, 1000) / 40, rng.binomial(40, 0.49, 1000) / 40
    )
    low, high = chance.youden_interval()
    assert low < 0 < high
    passes, counts = run([1, 2, 0, 1])
    result = corrected_rate(passes, counts, chance, resamples=RESAMPLES)
    assert not result.correctable
    assert np.isnan(result.corrected) and np.isnan(result.ci_low)
    assert result.observed == pytest.approx(0.5)
    assert "includes 0" in result.note


def test_unmeasured_sensitivity_is_not_correctable():
    unmeasured = JudgeAccuracy(float("nan"), 1.0, np.full(100, np.nan), np.ones(100))
    result = corrected_rate(*run([1, 1]), unmeasured, resamples=200)
    assert not result.correctable and "not measured" in result.note


def test_validation_uncertainty_widens_the_interval():
    passes, counts = run([2, 1, 1, 2, 0, 1, 2, 1, 1, 2] * 3)
    exact = corrected_rate(passes, counts, fixed(0.9, 0.85), seed=3, resamples=RESAMPLES)
    rng = np.random.default_rng(2)
    uncertain = JudgeAccuracy(
        0.9, 0.85, rng.binomial(30, 0.9, 2000) / 30, rng.binomial(30, 0.85, 2000) / 30
    )
    loose = corrected_rate(passes, counts, uncertain, seed=3, resamples=RESAMPLES)
    assert loose.corrected == pytest.approx(exact.corrected)
    assert loose.ci_high - loose.ci_low > exact.ci_high - exact.ci_low
    assert loose.ci_low <= loose.corrected <= loose.ci_high


def test_load_validation_rejects_a_file_without_se_and_sp(tmp_path):
    path = tmp_path / "paper.json"
    path.write_text(json.dumps({"judge": "gpt-4o", "judge_vs_humans": {"kappa": 0.9}}))
    with pytest.raises(ValidationFileError, match=r"paper\.json: no per-kind sensitivity"):
        load_validation(path)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValidationFileError, match="bad.json: cannot read JSON"):
        load_validation(bad)
