"""The stigma task end to end on scripted respondents with known behaviour."""

import pytest
from inspect_ai import eval as inspect_eval

from therapy_audit.analysis.frame import results_frame
from therapy_audit.experiments.stigma import analysis as tables
from therapy_audit.experiments.stigma.task import shown_options, stigma, stigma_samples
from therapy_audit.stimuli.load import load_stigma_battery


def run(tmp_path, behaviour, **task_args):
    [log] = inspect_eval(
        stigma(**task_args), model=f"scripted/{behaviour}", log_dir=str(tmp_path), display="none"
    )
    assert log.status == "success"
    return log, results_frame([log.location])


def test_sample_ids_are_stable_and_readable():
    battery, _ = load_stigma_battery()
    ids = [s.id for s in stigma_samples(battery)]
    assert len(ids) == len(set(ids)) == 4 * 14 * 2
    assert "stigma/schizophrenia/woman-black-high-school/work-closely/reverse" in ids


def test_full_profile_has_every_cell():
    battery, _ = load_stigma_battery()
    samples = stigma_samples(battery, variants="full", counterbalance=False)
    assert len(samples) == 4 * 3 * 4 * 3 * 14


def test_paraphrases_add_wordings():
    battery, _ = load_stigma_battery()
    samples = stigma_samples(battery, counterbalance=False, paraphrases=True)
    assert len(samples) == 4 * sum(1 + len(q.paraphrases) for q in battery.questions)
    assert any(s.id.endswith("/wording-2") for s in samples)


def test_reverse_order_keeps_codes_with_their_options_and_do_not_know_last():
    battery, _ = load_stigma_battery()
    question = battery.questions[0]
    forward, reverse = shown_options(question, "forward"), shown_options(question, "reverse")
    assert [o["letter"] for o in reverse] == list("ABCDE")
    assert reverse[-1]["text"] == forward[-1]["text"] == "Do not know"
    assert reverse[0]["text"] == forward[3]["text"]
    assert {o["text"]: o["code"] for o in forward} == {o["text"]: o["code"] for o in reverse}


def test_invalid_parameters_list_allowed_values():
    with pytest.raises(ValueError, match="variants must be one of"):
        stigma(variants="everything")
    with pytest.raises(ValueError, match="system_prompt must be one of"):
        stigma(system_prompt="pirate")
    with pytest.raises(ValueError, match="quick_cell"):
        stigma(quick_cell="nobody")


def test_always_a_is_flagged_position_driven_and_counterbalanced_rate_is_half(tmp_path):
    log, frame = run(tmp_path, "always-a")
    metrics = log.results.scores[0].metrics
    assert metrics["rate"].value == pytest.approx(0.5)
    by_condition = tables.by_condition(frame)
    assert list(by_condition["rate"]) == pytest.approx([0.5] * 4)
    bias = tables.position_bias(frame)
    assert bias["same_letter"].iloc[0] == 1.0
    assert bool(bias["position_driven"].iloc[0])
    # Without counterbalancing the same respondent looks maximally stigmatizing.
    _, forward_only = run(tmp_path / "fwd", "always-a", counterbalance=False)
    assert list(tables.by_condition(forward_only)["rate"]) == pytest.approx([1.0] * 4)


def test_consistent_respondent_is_not_flagged(tmp_path):
    _, frame = run(tmp_path, "consistent")
    bias = tables.position_bias(frame)
    assert bias["same_letter"].iloc[0] == 0.0
    assert bias["same_option"].iloc[0] == 1.0
    assert not bool(bias["position_driven"].iloc[0])
    assert list(tables.by_condition(frame)["rate"]) == pytest.approx([0.0] * 4)


def test_condition_specific_stigma_is_measured(tmp_path):
    _, frame = run(tmp_path, "stigmatizes-psychosis")
    rates = tables.by_condition(frame).set_index("condition")["rate"]
    assert rates["schizophrenia"] == 1.0
    assert rates["depression"] == rates["daily-troubles"] == 0.0


@pytest.mark.parametrize(
    ("behaviour", "outcome"), [("garbage", "unparsed"), ("refuses", "refused")]
)
def test_unusable_answers_are_counted_not_scored(tmp_path, behaviour, outcome):
    _, frame = run(tmp_path, behaviour)
    assert set(frame["outcome"]) == {outcome}
    table = tables.by_condition(frame)
    assert (table["n"] == 0).all() and table["rate"].isna().all()
    assert (table[outcome] == table["n_total"]).all()


def test_text_answers_are_parsed(tmp_path):
    _, frame = run(tmp_path, "wordy", counterbalance=False)
    assert set(frame["answer_method"]) == {"text"}
    willing = frame[frame["kind"] == "social_distance"]
    assert set(willing["score_option_text"]) == {"Probably willing"}


def test_provider_errors_are_recorded_as_error_outcome(tmp_path):
    [log] = inspect_eval(
        stigma(),
        model="scripted/raises",
        log_dir=str(tmp_path),
        display="none",
        fail_on_error=False,
        limit=3,
    )
    frame = results_frame([log.location])
    assert list(frame["outcome"]) == ["error"] * 3
    assert frame["error"].str.contains("scripted provider failure").all()
