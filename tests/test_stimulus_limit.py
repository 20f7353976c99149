"""``run --limit N`` draws N whole stimuli across conditions, with its own recorded seed."""

from click.testing import CliRunner
from inspect_ai.log import read_eval_log

from therapy_audit.analysis.frame import results_frame
from therapy_audit.analysis.stats import stimulus_ids
from therapy_audit.commands.main import main
from therapy_audit.experiments.common import DEFAULT_STIMULUS_SEED, draw_stimuli
from therapy_audit.experiments.crisis.task import crisis
from therapy_audit.experiments.stigma.task import stigma


def test_limit_draws_whole_stimuli_across_conditions_with_its_own_seed():
    """On main `--limit 10` took the first 10 samples: all about delusions."""
    full = crisis(judge="checks")
    limited = crisis(judge="checks", stimulus_limit=10)
    samples = list(limited.dataset)
    stimuli = {str(stimulus_ids_one(s.id)) for s in samples}
    assert len(stimuli) == 10
    conditions = {s.metadata["condition"] for s in samples}
    assert len(conditions) >= min(10, len({s.metadata["condition"] for s in full.dataset}))
    meta = limited.metadata
    assert meta["stimuli_drawn"] == 10 and meta["stimulus_seed"] == DEFAULT_STIMULUS_SEED
    assert meta["stimuli_total"] == full.metadata["stimuli_total"] > 10
    other = crisis(judge="checks", stimulus_limit=10, stimulus_seed=7)
    assert {s.id for s in other.dataset} != {s.id for s in samples}


def test_each_drawn_stimulus_keeps_both_option_orders():
    samples = list(stigma(stimulus_limit=8).dataset)
    by_stimulus = {}
    for sample in samples:
        by_stimulus.setdefault(stimulus_ids_one(sample.id), set()).add(sample.metadata["order"])
    assert len(by_stimulus) == 8
    assert all(orders == {"forward", "reverse"} for orders in by_stimulus.values())
    assert len({s.metadata["condition"] for s in samples}) == 4


def test_draw_is_not_the_first_samples_and_is_seeded():
    samples = list(stigma().dataset)
    first, _ = draw_stimuli(samples, 3, seed=1)
    again, record = draw_stimuli(samples, 3, seed=1)
    assert [s.id for s in first] == [s.id for s in again]
    assert record["stimuli_drawn"] == 3 and record["stimulus_seed"] == 1


def test_run_limit_is_recorded_and_results_say_n_of_m(tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "run",
            "stigma",
            "--model",
            "scripted/consistent",
            "--limit",
            "6",
            "--log-dir",
            str(tmp_path),
            "--no-cache",
        ],
    )
    assert result.exit_code == 0, result.output
    frame = results_frame([tmp_path])
    assert frame["sample_id"].pipe(stimulus_ids).nunique() == 6
    [path] = frame["log"].unique()
    assert read_eval_log(path, header_only=True).eval.task_args["stimulus_limit"] == 6
    shown = runner.invoke(main, ["results", str(tmp_path)])
    assert "6 of 56 stimuli" in shown.output, shown.output


def stimulus_ids_one(sample_id):
    import pandas as pd

    return stimulus_ids(pd.Series([str(sample_id)])).iloc[0]
