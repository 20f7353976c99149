"""Confusion-matrix figures of a judge with stimulus-clustered bootstrap CIs."""

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from therapy_audit.analysis.confusion import figures_with_ci

RESAMPLES = 200


def test_figures_on_a_known_confusion_matrix():
    # 6 met (5 called met, 1 not), 4 unmet (1 called met, 3 not), 2 abstentions.
    label_met = [True] * 6 + [False] * 4 + [True, False]
    verdict = [1, 1, 1, 1, 1, 0] + [1, 0, 0, 0] + [np.nan, np.nan]
    clusters = [f"s{i}" for i in range(12)]
    out = figures_with_ci(label_met, verdict, clusters, resamples=RESAMPLES)
    assert out["confusion"] == {"tp": 5, "fn": 1, "fp": 1, "tn": 3, "undecided": 2}
    assert out["decided"] == 10 and out["n"] == 12
    assert out["coverage"]["value"] == pytest.approx(10 / 12)
    assert out["accuracy"]["value"] == pytest.approx(0.8)
    assert out["sensitivity"]["value"] == pytest.approx(5 / 6)
    assert out["specificity"]["value"] == pytest.approx(3 / 4)
    assert out["kappa"]["value"] == pytest.approx(
        cohen_kappa_score([1] * 6 + [0] * 4, verdict[:10])
    )
    for name in ("accuracy", "sensitivity", "specificity", "kappa", "coverage"):
        entry = out[name]
        assert entry["ci_low"] <= entry["value"] <= entry["ci_high"]


def test_clustering_keeps_a_stimulus_together():
    # Two stimuli, each wholly right or wholly wrong: resampling stimuli can
    # give 0% or 100% accuracy; resampling items independently almost never would.
    label_met = [True] * 20
    verdict = [1.0] * 10 + [0.0] * 10
    out = figures_with_ci(label_met, verdict, ["a"] * 10 + ["b"] * 10, resamples=RESAMPLES)
    assert (out["accuracy"]["ci_low"], out["accuracy"]["ci_high"]) == (0.0, 1.0)
