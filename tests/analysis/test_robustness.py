"""Wording robustness on scripted respondents whose sensitivity to wording is known."""

import math

import numpy as np
import pandas as pd
import pytest
from inspect_ai import eval as inspect_eval

from therapy_audit.analysis.compare import experiment_rows
from therapy_audit.analysis.frame import results_frame
from therapy_audit.analysis.robustness import (
    flip_summary,
    has_wordings,
    stimulus_flips,
    wording_rates,
    wording_spread,
)
from therapy_audit.experiments.stigma.task import stigma

OVERALL = ["respondent", "system_prompt"]


def _headline_rows(tmp_path_factory, behaviour, **task_args):
    [log] = inspect_eval(
        stigma(paraphrases=True, **task_args),
        model=f"scripted/{behaviour}",
        log_dir=str(tmp_path_factory.mktemp(behaviour)),
        display="none",
    )
    assert log.status == "success"
    return experiment_rows(results_frame([log.location]), "stigma")


@pytest.fixture(scope="module")
def sensitive(tmp_path_factory):
    """Stigmatizing answers only for wording 1, asked in both option orders."""
    return _headline_rows(tmp_path_factory, "paraphrase-sensitive")


@pytest.fixture(scope="module")
def steady(tmp_path_factory):
    """The same opinion in every wording."""
    return _headline_rows(tmp_path_factory, "consistent", counterbalance=False)


def test_rate_per_wording_shows_the_sensitive_wording(sensitive):
    rates = wording_rates(sensitive)
    assert len(rates) == 4 * 3
    by_wording = rates.groupby("wording")["rate"].agg(["min", "max"])
    assert by_wording.loc[0].tolist() == [0.0, 0.0]
    assert by_wording.loc[1].tolist() == [1.0, 1.0]
    assert by_wording.loc[2].tolist() == [0.0, 0.0]
    # Six headline items, each in two orders: 12 answers per condition and wording.
    assert set(rates["n"]) == {12} and set(rates["ci_method"]) == {"wilson-deff"}
    overall = wording_rates(sensitive, OVERALL)
    assert overall["rate"].tolist() == [0.0, 1.0, 0.0] and overall["n"].tolist() == [48] * 3


def test_spread_across_wordings_is_max_minus_min_and_sd(sensitive):
    spread = wording_spread(sensitive)
    assert len(spread) == 4
    assert spread["wordings"].tolist() == [3] * 4
    assert spread["spread"].tolist() == [1.0] * 4
    assert spread["rate_original"].tolist() == [0.0] * 4
    assert spread["rate_sd"].tolist() == pytest.approx([np.std([0, 1, 0], ddof=1)] * 4)
    overall = wording_spread(sensitive, OVERALL)
    assert overall["spread"].tolist() == [1.0] and overall["rate_mean"].iloc[0] == (
        pytest.approx(1 / 3)
    )


def test_every_stimulus_flips_for_the_sensitive_respondent(sensitive):
    per_stimulus = stimulus_flips(sensitive)
    assert len(per_stimulus) == 4 * 6
    # One unit per option order: forward and reverse each compare three wordings.
    assert set(per_stimulus["units"]) == {2} and set(per_stimulus["flip_share"]) == {1.0}
    summary = flip_summary(sensitive, OVERALL).iloc[0]
    assert summary["stimuli"] == 24 and summary["stimuli_flipping"] == 24
    assert summary["flip_share"] == 1.0 and summary["incomplete"] == 0


def test_a_steady_respondent_has_no_spread_and_no_flips(steady):
    assert wording_spread(steady)["spread"].tolist() == [0.0] * 4
    summary = flip_summary(steady, OVERALL).iloc[0]
    assert summary["units"] == 24 and summary["flipped"] == 0 and summary["flip_share"] == 0.0


def test_unusable_wordings_make_a_unit_incomplete_not_a_flip():
    frame = pd.DataFrame(
        {
            "respondent": "m",
            "system_prompt": "none",
            "condition": "c",
            "sample_id": ["s/a", "s/a/wording-1", "s/a/wording-2", "s/b", "s/b/wording-1"],
            "epoch": 1,
            "wording": [0, 1, 2, 0, 1],
            "value": [1.0, np.nan, np.nan, 0.0, 1.0],
            "outcome": ["pass", "unparsed", "error", "fail", "pass"],
        }
    )
    flips = stimulus_flips(frame).set_index("stimulus_id")
    assert flips.loc["s/a", "units"] == 0 and flips.loc["s/a", "incomplete"] == 1
    assert math.isnan(flips.loc["s/a", "flip_share"])
    assert flips.loc["s/b", "flipped"] == 1 and flips.loc["s/b", "flip_share"] == 1.0
    summary = flip_summary(frame).iloc[0]
    assert summary["units"] == 1 and summary["incomplete"] == 1 and summary["flip_share"] == 1.0
    rates = wording_rates(frame).set_index("wording")
    assert rates.loc[1, "unparsed"] == 1 and rates.loc[2, "n"] == 0


def test_runs_without_paraphrases_give_empty_tables():
    frame = pd.DataFrame(
        {
            "respondent": "m",
            "system_prompt": "none",
            "condition": "c",
            "sample_id": ["s/a"],
            "epoch": 1,
            "wording": [0],
            "value": [1.0],
            "outcome": ["pass"],
        }
    )
    assert not has_wordings(frame)
    assert wording_rates(frame).empty and wording_spread(frame).empty
    assert stimulus_flips(frame).empty and flip_summary(frame).empty


def test_stimuli_without_paraphrases_are_left_out_of_the_wording_tables():
    # s/a has a paraphrase; s/c (crisis-style, some stimuli have none) is asked once.
    frame = pd.DataFrame(
        {
            "respondent": "m",
            "system_prompt": "none",
            "condition": "c",
            "sample_id": ["s/a", "s/a/wording-1", "s/c"],
            "epoch": 1,
            "wording": [0, 1, 0],
            "value": [0.0, 1.0, 1.0],
            "outcome": ["fail", "pass", "pass"],
        }
    )
    rates = wording_rates(frame).set_index("wording")
    assert rates.loc[0, "rate"] == 0.0 and rates.loc[0, "n"] == 1
    flips = stimulus_flips(frame)
    assert flips["stimulus_id"].tolist() == ["s/a"] and flips["incomplete"].tolist() == [0]
