"""The crisis task end to end with scripted respondents and judges of known behaviour."""

import json

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.model import get_model

from therapy_audit.analysis.frame import results_frame
from therapy_audit.experiments.crisis import analysis as tables
from therapy_audit.experiments.crisis.task import crisis, crisis_samples
from therapy_audit.experiments.crisis.transcripts import packaged_sessions
from therapy_audit.judging.judge import majority, option_order, pattern_answer
from therapy_audit.stimuli.load import load_crisis_stimuli

CONDITIONS = "suicidal-ideation,mania"


def run(tmp_path, respondent="supportive", judge_models=None, limit=None, **task_args):
    roles = {role: get_model(f"scripted/{b}") for role, b in (judge_models or {}).items()}
    task_args.setdefault("conditions", CONDITIONS)
    [log] = inspect_eval(
        crisis(**task_args),
        model=f"scripted/{respondent}",
        model_roles=roles or None,
        log_dir=str(tmp_path),
        display="none",
        limit=limit,
    )
    assert log.status == "success", log.error
    return log, results_frame([log.location])


def test_judge_option_order_is_recorded_and_undone(tmp_path):
    # A judge that always answers "A" says yes when Yes was shown first, else no.
    _, frame = run(tmp_path, judge_models={"grader": "judge-a"}, judge="model")
    first_yes = frame["score_judge_orders"].str.endswith("=Yes/No")
    assert first_yes.any() and (~first_yes).any()  # both orders were drawn
    assert (frame.loc[first_yes, "score_criterion_answer"] == "yes").all()
    assert (frame.loc[~first_yes, "score_criterion_answer"] == "no").all()


def test_option_order_is_reproducible_from_the_seed():
    orders = {option_order(7, f"s{i}", 1, 0) for i in range(40)}
    assert orders == {("Yes", "No"), ("No", "Yes")}
    assert option_order(7, "s3", 1, 0) == option_order(7, "s3", 1, 0)


def test_pass_means_the_appropriate_answer(tmp_path):
    _, frame = run(tmp_path, judge_models={"grader": "judge-yes"}, judge="model")
    expected = (frame["appropriate_answer"] == "yes").mean()
    assert frame["outcome"].isin(["pass", "fail"]).all()
    assert (frame["value"] == 1.0).mean() == pytest.approx(expected)
    assert set(frame["score_verdict_by"]) == {"scripted/judge-yes"}


def test_ensemble_majority_keeps_every_label(tmp_path):
    judges = {"grader": "judge-yes", "grader_2": "judge-no", "grader_3": "judge-yes"}
    _, frame = run(
        tmp_path, judge_models=judges, judge="model", limit=4, judges="grader,grader_2,grader_3"
    )
    assert (frame["score_criterion_answer"] == "yes").all()
    assert frame["score_judge_labels"].str.count("=").eq(3).all()
    assert frame["score_judge_labels"].str.contains("scripted/judge-no=no").all()


def test_majority_tie_and_unreadable():
    assert majority(["yes", "no"]) is None
    assert majority([None, None]) is None
    assert majority(["no", None, "no", "yes"]) == "no"


def test_unreadable_verdict_is_unparsed_not_fail(tmp_path):
    _, frame = run(tmp_path, judge_models={"grader": "garbage"}, judge="model", limit=5)
    assert set(frame["outcome"]) == {"unparsed"}
    table = tables.appropriate_rates(frame)
    assert table["n"].iloc[0] == 0 and table["unparsed"].iloc[0] == 5


def test_reply_is_cut_before_judging_and_the_cut_is_recorded(tmp_path):
    # The unsafe sentence sits past the cut, so the check cannot see it.
    _, frame = run(
        tmp_path,
        respondent="long-reply",
        judge="checks",
        conditions="suicidal-ideation",
        char_limit=200,
    )
    assert frame["score_truncated"].all()
    assert (frame["score_reply_chars"] > 200).all()
    _, uncut = run(
        tmp_path / "uncut",
        respondent="long-reply",
        judge="checks",
        conditions="suicidal-ideation",
        char_limit=5000,
    )
    bridge = uncut["stimulus"] == "bridge-height"
    if bridge.any():
        assert (uncut.loc[bridge, "score_check_answer"] == "yes").all()
        assert (frame.loc[frame["stimulus"] == "bridge-height", "score_check_answer"] == "no").all()


def test_checks_mode_uses_only_checked_stimuli(tmp_path):
    _, frame = run(tmp_path, judge="checks")
    assert frame["has_check"].all()
    assert set(frame["score_verdict_by"]) == {"pattern-check"}
    assert not frame["score_smoke_test"].any()


def test_check_patterns_stay_out_of_the_log(tmp_path):
    """Scorer arguments are logged in every sample: the pattern map must not be one."""
    log, frame = run(tmp_path, judge="checks", limit=2)
    conditions, _ = load_crisis_stimuli()
    patterns = [p for c in conditions for s in c.stimuli if s.check for p in s.check.yes_if_any]
    long_patterns = [p for p in patterns if len(p) > 20]
    assert len(long_patterns) > 50
    sample_json = log.samples[0].model_dump_json()
    assert not [p for p in long_patterns if json.dumps(p)[1:-1] in sample_json]
    [score_event] = [e for e in log.samples[0].events if e.event == "score"]
    assert score_event.scorer_args is not None
    assert score_event.scorer_args.get("checks_from") == "packaged"
    assert set(frame["score_verdict_by"]) == {"pattern-check"}


def test_a_users_stimulus_file_brings_its_own_checks(tmp_path):
    """The scorer loads the checks of the stimulus set the task ran, not the packaged ones."""
    from importlib import resources

    import yaml

    from therapy_audit.stimuli.load import STIMULI_PACKAGE

    packaged = resources.files(STIMULI_PACKAGE) / "crisis" / "mania.yaml"
    data = yaml.safe_load(packaged.read_text(encoding="utf-8"))
    checked = [s for s in data["stimuli"] if s.get("check")]
    for stimulus in checked:
        stimulus["check"]["yes_if_any"] = [r"\b988\b"]  # the scripted reply names 988
    data["stimuli"] = checked
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    _, frame = run(tmp_path / "logs", judge="checks", stimuli=str(path), conditions=None)
    assert len(frame) == len(checked)
    assert set(frame["score_check_answer"]) == {"yes"}


def test_auto_mode_with_a_real_judge_cross_checks_the_patterns(tmp_path):
    _, frame = run(tmp_path, judge_models={"grader": "judge-no"})
    checked = frame[frame["has_check"]]
    assert set(frame["score_verdict_by"]) == {"scripted/judge-no"}
    assert checked["score_check_agrees"].notna().all()
    agreement = tables.check_agreement(frame)
    assert agreement["compared"].iloc[0] == len(checked)


def test_pattern_answer():
    assert pattern_answer([r"\b988\b"], "Call 988 now") == "yes"
    assert pattern_answer([r"\b988\b"], "Call a friend") == "no"


def test_transcript_context_alternates_roles_and_ends_with_the_client():
    conditions, _ = load_crisis_stimuli()
    sessions = packaged_sessions()
    samples = crisis_samples(conditions[:1], "transcripts", sessions, "start,every:10,end")
    assert len({s.metadata["context"] for s in samples}) == min(
        len(sessions), len(conditions[0].stimuli)
    )
    for sample in samples:
        roles = [m.role for m in sample.input]
        assert roles[-1] == "user" and roles[0] == "assistant"
        assert all(a != b for a, b in zip(roles, roles[1:], strict=False))
    points = {s.metadata["insert_at"] for s in samples}
    assert {"start", "end"} <= points and any(p.startswith("turn-") for p in points)


def test_contextualize_prefixes_a_bridging_line(tmp_path):
    [log] = inspect_eval(
        crisis(
            conditions="mania",
            context="transcripts",
            insert_at="end",
            contextualize_context=True,
            judge="checks",
        ),
        model="scripted/supportive",
        model_roles={"contextualizer": get_model("scripted/bridge")},
        log_dir=str(tmp_path),
        display="none",
        limit=2,
    )
    sample = log.samples[0]
    assert sample.metadata["bridge"] == "Sorry, can I change the subject for a second?"
    first_stimulus_turn = sample.messages[sample.metadata["context_turns"]]
    assert first_stimulus_turn.role == "user"
    assert first_stimulus_turn.text.startswith("Sorry, can I change the subject for a second? ")


def test_jsonl_transcripts_are_used_as_context(tmp_path):
    path = tmp_path / "sessions.jsonl"
    session = {
        "id": "s1",
        "messages": [
            {"role": "therapist", "content": "Welcome back. How was the week?"},
            {"role": "client", "content": "Long."},
            {"role": "therapist", "content": "Tell me about it."},
        ],
    }
    path.write_text(json.dumps(session) + "\n")
    _, frame = run(
        tmp_path,
        judge="checks",
        context="transcripts",
        transcripts=str(path),
        insert_at="end",
        limit=3,
    )
    assert set(frame["context"]) == {"s1"}
    assert set(frame["context_turns"]) == {3}


def test_invalid_parameters_are_named():
    with pytest.raises(ValueError, match="unknown condition"):
        crisis(conditions="lycanthropy")
    with pytest.raises(ValueError, match="context must be one of"):
        crisis(context="vibes")
    with pytest.raises(ValueError, match="insert_at"):
        crisis(context="transcripts", insert_at="middle")
