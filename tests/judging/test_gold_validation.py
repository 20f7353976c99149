"""validate-judge on the gold replies and on people's labels of our stimuli."""

import csv
import json

import pytest
from click.testing import CliRunner

from therapy_audit.analysis.correction import load_validation
from therapy_audit.commands.main import main
from therapy_audit.judging.gold import checks_as_judge, load_gold
from therapy_audit.judging.gold_validation import (
    PROJECT_LABELS_NOTE,
    items_from_labels,
    judge_message,
    labelled_by,
    stratified_replies,
)
from therapy_audit.judging.validation import LabelFileError, read_simple_labels

RESAMPLES = 200


@pytest.fixture(scope="module")
def gold():
    return load_gold()


def test_labelled_by_never_calls_project_labels_clinical():
    assert labelled_by(["project"]) == PROJECT_LABELS_NOTE
    assert "not a clinical validation" in PROJECT_LABELS_NOTE
    assert labelled_by(["dr-b", "dr-a", "dr-a"]) == "annotators: dr-a, dr-b"


def test_limit_draws_whole_replies_from_every_condition(gold):
    chosen = stratified_replies(gold, 30, seed=5)
    replies = {(i.stimulus, i.reply_id) for i in chosen}
    assert len(replies) == 30
    assert len({i.condition for i in chosen}) == len({i.condition for i in gold}) == 15
    per_reply = {r: sum(1 for i in gold if (i.stimulus, i.reply_id) == r) for r in replies}
    assert len(chosen) == sum(per_reply.values())  # every criterion of each chosen reply
    assert stratified_replies(gold, 30, seed=5) == chosen


def test_conversation_judge_sees_the_clients_messages_so_far(gold):
    persona = next(i for i in gold if i.stimulus.startswith("conversation/"))
    crisis = next(i for i in gold if not i.stimulus.startswith("conversation/"))
    assert judge_message(crisis) == crisis.last_client_message
    shown = judge_message(persona)
    assert shown.endswith(persona.client_messages[-1])
    if len(persona.client_messages) > 1:
        assert persona.client_messages[0] in shown
        assert "The conversation so far" in shown


def invoke(args):
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    return result


def test_checks_on_the_gold_set_report_every_figure(gold, tmp_path):
    out = tmp_path / "checks.json"
    result = invoke(
        ["validate-judge", "--gold", "--judge", "checks", "--resamples", str(RESAMPLES),
         "--out", str(out)]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "HELD-OUT part" in result.output and PROJECT_LABELS_NOTE in result.output
    report = json.loads(out.read_text())
    for key in ("accuracy", "coverage", "sensitivity", "specificity", "kappa"):
        assert {"value", "ci_low", "ci_high"} <= set(report[key])
    assert report["labelled_by"] == PROJECT_LABELS_NOTE and report["judge"] == "checks"
    assert report["n"] == len(gold)
    # The figures are the checks' own verdicts, counted independently here.
    frame = checks_as_judge(gold)
    decided = frame[frame["check"].notna()]
    assert report["coverage"]["value"] == pytest.approx(len(decided) / len(frame))
    assert report["accuracy"]["value"] == pytest.approx(
        (decided["check"] == decided["label"]).mean()
    )
    assert report["held_out"]["n"] == int(frame["held_out"].sum())
    assert report["held_out"]["n"] + report["tuned"]["n"] == len(gold)
    assert set(report["per_kind"]) == set(frame["kind"])
    assert set(report["per_condition"]) == set(frame["condition"])
    assert report["combined"]["n"] == report["replies"]
    assert f"on {report['replies']} gold replies of this stimulus set" in report["summary"]
    # The file is what corrected rates read.
    validation = load_validation(out)
    assert {"safety", "care", "combined"} <= set(validation.accuracies)


def test_a_model_judge_runs_through_inspect_on_a_stratified_subset(gold, tmp_path):
    out = tmp_path / "yes.json"
    result = invoke(
        ["validate-judge", "--gold", "--judge", "scripted/judge-yes", "--limit", "4",
         "--resamples", str(RESAMPLES), "--log-dir", str(tmp_path / "logs"), "--out", str(out)]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert "a subset: 4 of" in report["note"] and report["log"]
    # A judge that always answers "yes" calls a criterion met exactly when its
    # appropriate answer is "yes": the confusion matrix follows from the labels.
    chosen = stratified_replies(gold, 4, seed=report["seed"])
    met = [i.label == i.appropriate_answer for i in chosen]
    called = [i.appropriate_answer == "yes" for i in chosen]
    expected = {
        "tp": sum(m and c for m, c in zip(met, called, strict=True)),
        "fn": sum(m and not c for m, c in zip(met, called, strict=True)),
        "fp": sum(not m and c for m, c in zip(met, called, strict=True)),
        "tn": sum(not m and not c for m, c in zip(met, called, strict=True)),
        "undecided": 0,
    }
    assert report["overall"]["confusion"] == expected
    assert report["coverage"]["value"] == 1.0


LABEL_COLUMNS = [
    "id",
    "stimulus",
    "turn",
    "client_message",
    "reply",
    "criterion",
    "annotator",
    "label",
]


def labels_file(path, gold, annotators=("dr-a", "dr-b"), by_question=False, stimulus=None):
    items = [i for i in gold if i.stimulus.startswith("suicidal-ideation/")][:12]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(LABEL_COLUMNS)
        for n, item in enumerate(items):
            for annotator in annotators:
                writer.writerow(
                    [
                        f"item-{n}",
                        stimulus or f"crisis/{item.stimulus}",
                        "",
                        item.last_client_message,
                        item.reply,
                        item.question if by_question and n % 2 else item.criterion,
                        annotator,
                        item.label,
                    ]
                )
    return path, items


def test_peoples_labels_on_our_stimuli_drop_straight_in(gold, tmp_path):
    path, items = labels_file(tmp_path / "labels.csv", gold, by_question=True)
    out = tmp_path / "people.json"
    result = invoke(
        ["validate-judge", str(path), "--judge", "checks", "--resamples", str(RESAMPLES),
         "--out", str(out)]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["labelled_by"] == "annotators: dr-a, dr-b"
    assert "labelled replies of this stimulus set" in report["summary"]
    assert "annotators: dr-a, dr-b" in report["summary"]
    assert report["n"] == len(items)
    # Same labels as the gold set, so the same verdicts and the same accuracy.
    frame = checks_as_judge(items)
    decided = frame[frame["check"].notna()]
    assert report["overall"]["decided"] == len(decided)


def test_a_labels_file_with_an_unknown_stimulus_names_file_line_and_column(gold, tmp_path):
    path, _ = labels_file(tmp_path / "labels.csv", gold, stimulus="crisis/suicidal-ideation/nope")
    result = CliRunner().invoke(main, ["validate-judge", str(path), "--judge", "checks"])
    assert result.exit_code != 0
    assert "labels.csv:2: column 'stimulus': unknown stimulus" in result.output


def test_gold_and_a_file_are_exclusive(tmp_path):
    result = CliRunner().invoke(main, ["validate-judge"])
    assert result.exit_code == 2 and "either a LABELS file or --gold" in result.output


def persona_labels(path, gold, turn=None):
    items = [i for i in gold if i.stimulus.startswith("conversation/")][:6]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "stimulus", "turn", "reply", "criterion", "annotator", "label"])
        for n, item in enumerate(items):
            shown_turn = turn or len(item.client_messages)
            writer.writerow(
                [f"p{n}", item.stimulus, shown_turn, item.reply, item.criterion, "dr-a", item.label]
            )
    return path, items


def test_persona_labels_need_no_client_message_column(gold, tmp_path):
    path, items = persona_labels(tmp_path / "personas.csv", gold)
    read = items_from_labels(read_simple_labels(path))
    assert [judge_message(i) for i in read] == [judge_message(i) for i in items]
    assert [(i.kind, i.appropriate_answer, i.label) for i in read] == [
        (i.kind, i.appropriate_answer, i.label) for i in items
    ]


def test_a_turn_the_persona_does_not_have_is_named(gold, tmp_path):
    path, _ = persona_labels(tmp_path / "personas.csv", gold, turn=99)
    with pytest.raises(LabelFileError, match=r"personas.csv:2: column 'turn': '99' is not"):
        items_from_labels(read_simple_labels(path))


@pytest.mark.slow
def test_the_embedded_model_as_judge_on_gold_replies(tmp_path):
    """The real bundled model judges a small stratified subset (its figures are near chance)."""
    out = tmp_path / "smollm2.json"
    result = invoke(
        ["validate-judge", "--gold", "--judge", "local/smollm2", "--limit", "3",
         "--resamples", str(RESAMPLES), "--log-dir", str(tmp_path / "logs"), "--out", str(out)]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["judge"] == "local/smollm2" and report["labelled_by"] == PROJECT_LABELS_NOTE
    assert report["overall"]["decided"] + report["overall"]["confusion"]["undecided"] == report["n"]
    assert report["overall"]["decided"] > 0  # it answered by letter
    assert "a subset: 3 of" in result.output


def test_checks_need_our_stimuli(tmp_path):
    path = tmp_path / "paper-like.csv"
    path.write_text("id,client_message,reply,criterion,annotator,label\nr1,hi,hello,Q?,a,yes\n")
    result = CliRunner().invoke(main, ["validate-judge", str(path), "--judge", "checks"])
    assert (
        result.exit_code == 2 and "needs --gold or a labels file with a stimulus" in result.output
    )
