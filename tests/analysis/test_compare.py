"""Paired comparisons: exact tests with known p-values, Holm, and the ``compare`` command."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from inspect_ai import eval as inspect_eval
from inspect_ai.model import get_model

from therapy_audit.analysis.compare import (
    ALL_LABEL,
    compare_runs,
    experiment_rows,
    matched_pairs,
    mcnemar_exact,
    sign_flip_test,
)
from therapy_audit.analysis.frame import results_frame
from therapy_audit.commands.main import main
from therapy_audit.experiments.crisis.task import crisis
from therapy_audit.experiments.stigma.task import stigma

EXACT = 2 * 0.5**10  # 10 discordant pairs, all one way: 0.001953125


def _run(ids, values, condition="c", epochs=None):
    values = np.asarray(values, dtype=float)
    outcome = np.where(np.isnan(values), "unparsed", np.where(values == 1, "pass", "fail"))
    return pd.DataFrame(
        {
            "respondent": "m",
            "log": "x.eval",
            "sample_id": ids,
            "epoch": epochs if epochs is not None else [1] * len(ids),
            "condition": condition,
            "value": values,
            "outcome": outcome,
        }
    )


def test_mcnemar_exact_on_ten_discordant_pairs_all_one_way():
    assert mcnemar_exact(10, 0) == pytest.approx(EXACT, rel=1e-12)
    assert mcnemar_exact(0, 10) == pytest.approx(EXACT, rel=1e-12)
    assert mcnemar_exact(5, 5) == 1.0
    assert mcnemar_exact(0, 0) == 1.0


def test_sign_flip_is_exact_and_matches_brute_force_enumeration():
    assert sign_flip_test([-1] * 10) == pytest.approx(EXACT, rel=1e-12)
    assert sign_flip_test([0, 0]) == 1.0
    rng = np.random.default_rng(11)
    signs = np.array(list(itertools.product((1, -1), repeat=12)))
    for _ in range(5):
        diffs = rng.integers(-3, 5, 12)
        brute = np.mean(np.abs(signs @ diffs) >= abs(diffs.sum()))
        assert sign_flip_test(diffs) == pytest.approx(brute, rel=1e-9)


def test_sign_flip_falls_back_to_seeded_random_flips_for_fractional_differences():
    diffs = np.array([-1.0] * 9 + [1.0] * 2 + [-2.0] * 3)
    exact = sign_flip_test(diffs)
    sampled = sign_flip_test(diffs + 1e-7, seed=4, resamples=40_000)
    assert sampled == sign_flip_test(diffs + 1e-7, seed=4, resamples=40_000)
    assert sampled == pytest.approx(exact, abs=0.004)


def test_ten_discordant_pairs_give_the_exact_mcnemar_p_and_a_full_difference():
    ids = [f"crisis/c/s{i}" for i in range(10)]
    table = compare_runs(_run(ids, [1] * 10), _run(ids, [0] * 10))
    row = table[table["condition"] == "c"].iloc[0]
    assert row["pairs"] == 10 and row["a_only"] == 10 and row["b_only"] == 0
    assert row["diff"] == -1.0 and (row["ci_low"], row["ci_high"]) == (-1.0, -1.0)
    assert row["p_mcnemar"] == pytest.approx(EXACT, rel=1e-12)
    assert row["p_sign_flip"] == pytest.approx(EXACT, rel=1e-12)
    assert table.iloc[-1]["condition"] == ALL_LABEL


def test_holm_adjusts_across_conditions_and_not_the_pooled_row():
    ids_x = [f"crisis/x/s{i}" for i in range(10)]
    ids_y = [f"crisis/y/s{i}" for i in range(8)]
    run_a = pd.concat([_run(ids_x, [1] * 10, "x"), _run(ids_y, [1] * 6 + [0, 1], "y")])
    run_b = pd.concat([_run(ids_x, [0] * 10, "x"), _run(ids_y, [0] * 6 + [0, 1], "y")])
    table = compare_runs(run_a, run_b).set_index("condition")
    p_y = 2 * 0.5**6
    assert table.loc["y", "p_mcnemar"] == pytest.approx(p_y)
    # Holm with m = 2: the smaller p doubles, the larger stays (running maximum).
    assert table.loc["x", "p_mcnemar_holm"] == pytest.approx(2 * EXACT)
    assert table.loc["y", "p_mcnemar_holm"] == pytest.approx(p_y)
    pooled = table.loc[ALL_LABEL]
    assert pooled["a_only"] == 16 and pooled["p_mcnemar"] == pytest.approx(2 * 0.5**16)
    assert pooled["p_mcnemar_holm"] == pooled["p_mcnemar"]


def test_unusable_outcomes_drop_the_pair_and_unmatched_rows_are_counted():
    run_a = _run(["s/1", "s/2", "s/3", "s/4"], [1, np.nan, 1, 0])
    run_b = _run(["s/1", "s/2", "s/3", "s/5"], [0, 1, np.nan, 0])
    row = compare_runs(run_a, run_b).iloc[0]
    assert row["pairs"] == 1 and row["dropped_unusable"] == 2
    assert row["only_in_a"] == 1 and row["only_in_b"] == 1
    pairs, unmatched = matched_pairs(run_a, run_b, ["condition"])
    assert pairs["usable"].tolist() == [True, False, False]
    assert sorted(unmatched["sample_id"]) == ["s/4", "s/5"]


def test_paired_ci_resamples_stimuli_when_orders_and_epochs_repeat():
    rng = np.random.default_rng(5)
    stimuli = 30
    base = rng.integers(0, 2, stimuli)
    shift = rng.random(stimuli) < 0.4
    ids, epochs, a, b = [], [], [], []
    for i in range(stimuli):
        for epoch in (1, 2):
            for order in ("forward", "reverse"):
                ids.append(f"stigma/c/cell/q{i}/{order}")
                epochs.append(epoch)
                a.append(base[i])
                b.append(1 - base[i] if shift[i] else base[i])
    table = compare_runs(_run(ids, a, epochs=epochs), _run(ids, b, epochs=epochs), by=[])
    row = table.iloc[0]
    assert row["ci_method"] == "paired cluster" and row["clusters"] == stimuli
    assert row["pairs"] == 4 * stimuli
    d = (np.array(b) - np.array(a)).reshape(stimuli, 4)[:, 0]
    se = d.std() / math.sqrt(stimuli)
    assert row["ci_high"] - row["ci_low"] == pytest.approx(2 * 1.96 * se, rel=0.2)
    # McNemar treats the 4 copies as independent pairs; flipping stimuli does not.
    assert row["p_mcnemar"] < row["p_sign_flip"]


def test_one_run_per_side_is_required():
    run = _run(["s/1", "s/1"], [1, 0])
    with pytest.raises(ValueError, match="several rows for one sample and epoch"):
        compare_runs(run, _run(["s/1"], [1]))
    with pytest.raises(ValueError, match="no column"):
        compare_runs(_run(["s/1"], [1]), _run(["s/1"], [1]), by=["question"])


@pytest.fixture(scope="module")
def stigma_logs(tmp_path_factory):
    """Always-A (stigmatizing when options are in scale order) vs a consistent respondent."""
    locations = {}
    for behaviour in ("always-a", "consistent"):
        [log] = inspect_eval(
            stigma(counterbalance=False),
            model=f"scripted/{behaviour}",
            log_dir=str(tmp_path_factory.mktemp(behaviour)),
            display="none",
        )
        assert log.status == "success"
        locations[behaviour] = log.location
    return locations


def test_compare_command_prints_the_paired_table(stigma_logs):
    result = CliRunner().invoke(
        main, ["compare", stigma_logs["always-a"], stigma_logs["consistent"]]
    )
    assert result.exit_code == 0, result.output
    assert "respondent=scripted/always-a" in result.output
    assert "respondent=scripted/consistent" in result.output
    lines = {line.split()[0]: line.split() for line in result.output.splitlines() if line}
    # Six headline items per condition, all stigmatizing for A and none for B:
    # exact McNemar p = 2 * 0.5**6, Holm over four conditions = 4 * that.
    schizophrenia = lines["schizophrenia"]
    assert schizophrenia[1:4] == ["6", "100%", "0%"]
    assert "-100%" in schizophrenia[4]
    assert "0.0312" in schizophrenia and "0.125" in schizophrenia
    pooled = lines[ALL_LABEL]
    assert pooled[1] == "24" and "1.19e-07" in pooled


def test_compare_command_reads_by_and_reports_bad_columns(stigma_logs):
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["compare", stigma_logs["consistent"], stigma_logs["consistent"], "--by", "question"],
    )
    assert result.exit_code == 0, result.output
    assert "make-friends" in result.output and "+0%" in result.output
    bad = runner.invoke(
        main, ["compare", stigma_logs["always-a"], stigma_logs["consistent"], "--by", "nope"]
    )
    assert bad.exit_code != 0 and "no column ['nope']" in bad.output
    wrong = runner.invoke(
        main,
        ["compare", stigma_logs["always-a"], stigma_logs["consistent"], "--experiment", "crisis"],
    )
    assert wrong.exit_code != 0 and "no crisis samples in" in wrong.output


def test_experiment_rows_keeps_stigma_headline_items_only():
    frame = pd.DataFrame(
        {
            "experiment": ["stigma", "stigma", "crisis"],
            "headline": [True, False, None],
        }
    )
    assert len(experiment_rows(frame, "stigma")) == 1
    assert len(experiment_rows(frame, "crisis")) == 1
    with pytest.raises(ValueError, match="experiment must be one of"):
        experiment_rows(frame, "conversation")


def test_compare_command_on_crisis_runs_judged_yes_and_no(tmp_path):
    """Two judges that always disagree give different verdicts on the same stimuli."""
    locations = []
    for judge in ("judge-yes", "judge-no"):
        [log] = inspect_eval(
            crisis(conditions="suicidal-ideation,mania", judge="model", paraphrases=True),
            model="scripted/supportive",
            model_roles={"grader": get_model(f"scripted/{judge}")},
            log_dir=str(tmp_path / judge),
            display="none",
        )
        assert log.status == "success"
        locations.append(log.location)
    rows_a, rows_b = (experiment_rows(results_frame([p]), "crisis") for p in locations)
    table = compare_runs(rows_a, rows_b).set_index("condition")
    for condition in ("mania", "suicidal-ideation"):
        row = table.loc[condition]
        # Each reply is judged on several criteria (some appropriate "yes", some "no"):
        # a judge answering "yes" to all and one answering "no" to all never both pass it.
        assert row["pairs"] > 0
        assert row["rate_a"] + row["rate_b"] <= 1.0
        assert row["a_only"] + row["b_only"] == round(
            (row["rate_a"] + row["rate_b"]) * row["pairs"]
        )
        # Paraphrases repeat stimuli: the CI and the sign-flip test resample stimuli.
        assert row["ci_method"] == "paired cluster" and row["clusters"] < row["pairs"]
    result = CliRunner().invoke(main, ["compare", *locations])
    assert result.exit_code == 0, result.output
    assert "appropriate rate (crisis, all stimuli)" in result.output
    assert "judge=scripted/judge-no" in result.output
