"""Clustered bootstrap CIs, per-epoch rates and Holm's adjustment, with known answers."""

import math

import numpy as np
import pandas as pd
import pytest
from inspect_ai import eval as inspect_eval

from therapy_audit.analysis import stats
from therapy_audit.analysis.frame import results_frame
from therapy_audit.analysis.stats import (
    bootstrap_ci,
    cluster_bootstrap_ci,
    epoch_rates,
    epoch_spread,
    holm,
    rate_table,
    resampled_ratios,
    spread_table,
    stimulus_ids,
    wilson_interval,
)
from therapy_audit.experiments.stigma import analysis as stigma_tables
from therapy_audit.experiments.stigma.task import stigma


def _width(ci):
    return ci[1] - ci[0]


def _clustered_frame(clusters, rows_per_cluster, identical, seed=0):
    """Binary outcomes, rate about 1/2; rows within a cluster identical or independent."""
    rng = np.random.default_rng(seed)
    if identical:
        values = np.repeat(rng.integers(0, 2, clusters), rows_per_cluster)
    else:
        values = rng.integers(0, 2, clusters * rows_per_cluster)
    keys = [
        (f"stigma/c/cell/q{i}/{order}", epoch + 1)
        for i in range(clusters)
        for epoch in range(rows_per_cluster // 2)
        for order in ("forward", "reverse")
    ]
    return pd.DataFrame(
        {
            "g": "all",
            "sample_id": [k[0] for k in keys],
            "epoch": [k[1] for k in keys],
            "value": values.astype(float),
            "outcome": np.where(values == 1, "stigmatizing", "not_stigmatizing"),
        }
    )


def test_stimulus_ids_strip_order_wording_and_context():
    ids = pd.Series(
        [
            "stigma/schizophrenia/woman-black-high-school/work-closely/forward",
            "stigma/schizophrenia/woman-black-high-school/work-closely/reverse/wording-2",
            "crisis/suicidal-ideation/bridge-height/wording-1/context/cbt-insomnia/3",
            "crisis/suicidal-ideation/bridge-height",
            "crisis/mania/forwarding-plans",
        ]
    )
    assert stimulus_ids(ids).tolist() == [
        "stigma/schizophrenia/woman-black-high-school/work-closely",
        "stigma/schizophrenia/woman-black-high-school/work-closely",
        "crisis/suicidal-ideation/bridge-height",
        "crisis/suicidal-ideation/bridge-height",
        "crisis/mania/forwarding-plans",
    ]


def test_cluster_ci_is_much_wider_when_rows_within_a_stimulus_are_identical():
    frame = _clustered_frame(clusters=40, rows_per_cluster=10, identical=True)
    iid = bootstrap_ci(frame["value"])
    clustered = cluster_bootstrap_ci(frame["value"], stimulus_ids(frame["sample_id"]))
    # 400 rows carry only 40 independent outcomes: the width grows by about sqrt(10).
    assert _width(clustered) / _width(iid) == pytest.approx(math.sqrt(10), rel=0.2)
    p = frame["value"].mean()
    assert _width(clustered) == pytest.approx(2 * 1.96 * math.sqrt(p * (1 - p) / 40), rel=0.15)


def test_cluster_ci_matches_iid_when_rows_are_independent():
    frame = _clustered_frame(clusters=200, rows_per_cluster=10, identical=False, seed=3)
    iid = bootstrap_ci(frame["value"])
    clustered = cluster_bootstrap_ci(frame["value"], stimulus_ids(frame["sample_id"]))
    assert _width(clustered) / _width(iid) == pytest.approx(1.0, abs=0.12)


def test_two_stage_adds_within_stimulus_noise_again():
    frame = _clustered_frame(clusters=200, rows_per_cluster=10, identical=False, seed=3)
    labels = stimulus_ids(frame["sample_id"])
    one = cluster_bootstrap_ci(frame["value"], labels)
    two = cluster_bootstrap_ci(frame["value"], labels, method="two-stage")
    # Independent rows: two-stage counts the within-stimulus variance twice (about sqrt 2).
    assert _width(two) / _width(one) == pytest.approx(math.sqrt(2), rel=0.15)
    with pytest.raises(ValueError, match="0/1 values"):
        resampled_ratios(
            np.array([0.5]), np.array([2.0]), np.random.default_rng(0), 10, "two-stage"
        )


def test_rate_table_clusters_by_default_when_rows_repeat_and_says_so():
    frame = _clustered_frame(clusters=40, rows_per_cluster=10, identical=True)
    auto = rate_table(frame, ["g"]).iloc[0]
    assert auto["ci_method"] == "wilson-deff" and auto["clusters"] == 40 and auto["n"] == 400
    forced_iid = rate_table(frame, ["g"], cluster=None).iloc[0]
    assert forced_iid["ci_method"] == "wilson" and forced_iid["clusters"] == 400
    boot = rate_table(frame, ["g"], method="cluster").iloc[0]
    assert boot["ci_method"] == "cluster"
    # Identical rows: the effective n is the 40 stimuli, as wide as the cluster bootstrap.
    assert auto["ci_high"] - auto["ci_low"] == pytest.approx(
        boot["ci_high"] - boot["ci_low"], rel=0.2
    )
    assert auto["ci_high"] - auto["ci_low"] > 2.5 * (forced_iid["ci_high"] - forced_iid["ci_low"])
    by_column = rate_table(
        frame.assign(item=stimulus_ids(frame["sample_id"])), ["g"], cluster="item"
    )
    assert by_column.iloc[0][["ci_low", "ci_high"]].tolist() == auto[["ci_low", "ci_high"]].tolist()
    with pytest.raises(ValueError, match="cluster column 'nope'"):
        rate_table(frame, ["g"], cluster="nope")
    with pytest.raises(ValueError, match="method must be one of"):
        rate_table(frame, ["g"], method="jackknife")


def test_rate_table_one_row_per_stimulus_is_the_plain_wilson_interval():
    frame = _clustered_frame(clusters=60, rows_per_cluster=2, identical=False)
    frame = frame[frame["sample_id"].str.endswith("forward")]
    row = rate_table(frame, ["g"]).iloc[0]
    assert row["ci_method"] == "wilson" and row["clusters"] == 60
    assert (row["ci_low"], row["ci_high"]) == wilson_interval(frame["value"].sum(), 60)
    boot = rate_table(frame, ["g"], method="cluster").iloc[0]
    assert boot["ci_method"] == "iid"
    assert (boot["ci_low"], boot["ci_high"]) == bootstrap_ci(frame["value"])


def test_unscored_rows_do_not_enter_the_bootstrap_but_are_counted():
    frame = _clustered_frame(clusters=20, rows_per_cluster=4, identical=True)
    frame.loc[frame.index[:4], ["value", "outcome"]] = [np.nan, "unparsed"]
    row = rate_table(frame, ["g"]).iloc[0]
    assert row["n"] == 76 and row["n_total"] == 80 and row["unparsed"] == 4
    assert row["clusters"] == 19
    empty = rate_table(frame.assign(value=np.nan), ["g"]).iloc[0]
    assert empty["ci_method"] == "none" and math.isnan(empty["ci_low"])


def test_pattern_and_index_resampling_paths_agree(monkeypatch):
    rng = np.random.default_rng(7)
    sums = rng.integers(0, 6, 300).astype(float)
    counts = np.full(300, 5.0)
    fast = resampled_ratios(sums, counts, np.random.default_rng(1), 20_000)
    monkeypatch.setattr(stats, "_PATTERN_SHARE", 0.0)
    slow = resampled_ratios(sums, counts, np.random.default_rng(1), 20_000)
    assert not np.array_equal(fast, slow)  # really two different code paths
    assert np.quantile(fast, [0.025, 0.975]) == pytest.approx(
        np.quantile(slow, [0.025, 0.975]), abs=0.005
    )


def test_clustered_interval_widens_with_between_stimulus_spread_at_scale():
    # (Its speed is measured by benchmarks/bootstrap_speed.py, not asserted here.)
    rng = np.random.default_rng(0)
    clusters = np.repeat(np.arange(5_000), 10)
    values = (rng.random(50_000) < np.repeat(rng.random(5_000), 10)).astype(float)
    clustered = cluster_bootstrap_ci(values, clusters, resamples=10_000)
    iid = bootstrap_ci(values, resamples=10_000)
    # Stimulus rates spread uniformly: the clustered width is about twice the iid width.
    assert _width(clustered) / _width(iid) == pytest.approx(2.0, rel=0.15)


def test_seed_reproduces_and_changes_the_interval():
    frame = _clustered_frame(clusters=30, rows_per_cluster=4, identical=True)
    labels = stimulus_ids(frame["sample_id"])
    first = cluster_bootstrap_ci(frame["value"], labels, seed=1, resamples=300)
    assert first == cluster_bootstrap_ci(frame["value"], labels, seed=1, resamples=300)
    assert first != cluster_bootstrap_ci(frame["value"], labels, seed=2, resamples=300)


def test_epoch_rates_and_their_spread():
    frame = pd.DataFrame(
        {
            "condition": ["x"] * 6 + ["y"] * 2,
            "epoch": [1, 1, 2, 2, 3, 3, 1, 2],
            "value": [1, 1, 1, 0, 0, np.nan, 1, 1],
            "outcome": ["pass", "pass", "pass", "fail", "fail", "refused", "pass", "pass"],
        }
    )
    rates = epoch_rates(frame, ["condition"])
    x = rates[rates["condition"] == "x"].set_index("epoch")
    assert x["rate"].tolist() == [1.0, 0.5, 0.0]
    assert x["n"].tolist() == [2, 2, 1] and x["refused"].tolist() == [0, 0, 1]
    spread = epoch_spread(frame, ["condition"]).set_index("condition")
    assert spread.loc["x", "epochs"] == 3 and spread.loc["x", "spread"] == 1.0
    assert spread.loc["x", "rate_sd"] == pytest.approx(0.5)
    assert spread.loc["y", "spread"] == 0.0
    overall = spread_table(rates, [], "epoch")
    assert overall["levels"].iloc[0] == 5


def test_holm_matches_a_hand_computed_example():
    # Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.04;
    # running maximum -> 0.02, 0.03, 0.06, 0.06, back in the input order.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adjusted = holm([0.5, np.nan, 0.4])
    assert adjusted[0] == pytest.approx(0.8) and math.isnan(adjusted[1])
    assert adjusted[2] == pytest.approx(0.8)
    assert holm([0.9, 0.6]).tolist() == [1.0, 1.0]
    assert holm([]).size == 0


@pytest.fixture(scope="module")
def always_a_two_epochs(tmp_path_factory):
    [log] = inspect_eval(
        stigma(),
        model="scripted/always-a",
        epochs=2,
        log_dir=str(tmp_path_factory.mktemp("epochs")),
        display="none",
    )
    assert log.status == "success"
    return results_frame([log.location])


def test_counterbalanced_epochs_are_clustered_by_the_existing_tables(always_a_two_epochs):
    table = stigma_tables.by_condition(always_a_two_epochs)
    # Each headline item is asked forward and reverse in 2 epochs: 4 rows, one stimulus.
    assert table["n"].tolist() == [24] * 4 and table["clusters"].tolist() == [6] * 4
    assert set(table["ci_method"]) == {"wilson-deff"}
    # Always "A" is stigmatizing forward and not reversed: every stimulus scores exactly 1/2,
    # so a cluster bootstrap printed "50% [50%, 50%]". The effective n is capped at the
    # row count, so the interval is never narrower than for independent answers.
    headline = always_a_two_epochs[always_a_two_epochs["headline"].astype(bool)]
    iid = rate_table(headline, ["condition"], cluster=None)
    assert table["ci_low"].tolist() == iid["ci_low"].tolist()
    assert (table["ci_high"] - table["ci_low"]).min() > 0.3
    boot = rate_table(headline, ["condition"], method="cluster")
    assert boot["ci_low"].tolist() == [0.5] * 4  # the collapse the default no longer has


def test_epoch_rates_on_a_real_log(always_a_two_epochs):
    headline = always_a_two_epochs[always_a_two_epochs["headline"].astype(bool)]
    rates = epoch_rates(headline, ["condition"])
    assert len(rates) == 8 and rates["rate"].tolist() == [0.5] * 8
    assert rates["n"].tolist() == [12] * 8
    assert epoch_spread(headline, ["condition"])["spread"].tolist() == [0.0] * 4


def test_interval_keeps_width_at_tiny_n_and_at_the_extremes():
    """On main five passes out of five printed "100% [100%, 100%]"."""
    frame = pd.DataFrame(
        {
            "g": ["a"] * 5,
            "value": [1.0] * 5,
            "outcome": ["pass"] * 5,
            "sample_id": [f"crisis/delusions/s{i}" for i in range(5)],
        }
    )
    row = rate_table(frame, ["g"]).iloc[0]
    assert row["ci_high"] == 1.0 and row["ci_low"] == pytest.approx(0.5655, abs=1e-3)
    assert bool(row["too_few"]) and row["ci_method"] == "wilson"
    one = rate_table(frame.head(1), ["g"]).iloc[0]
    assert one["ci_low"] < 0.25 and bool(one["too_few"])


def test_clustered_rows_that_all_agree_count_each_stimulus_once():
    """Every stimulus passes in both orders: the effective n is the number of stimuli."""
    frame = _clustered_frame(clusters=12, rows_per_cluster=4, identical=True)
    frame["value"] = 1.0
    row = rate_table(frame, ["g"]).iloc[0]
    assert row["ci_method"] == "wilson-deff" and row["clusters"] == 12
    assert (row["ci_low"], row["ci_high"]) == wilson_interval(12, 12)
    assert not bool(row["too_few"])
    four = rate_table(frame[frame["sample_id"].str.contains(r"/q[0-3]/")], ["g"]).iloc[0]
    assert four["n"] == 16 and four["clusters"] == 4 and bool(four["too_few"])
