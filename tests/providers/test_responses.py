"""The responses provider: stored answers judged like a model's, missing ones as errors."""

from __future__ import annotations

import csv

import anyio
import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.model import CachePolicy, get_model

from therapy_audit.analysis.frame import results_frame
from therapy_audit.experiments.crisis.task import crisis
from therapy_audit.providers.questionnaire import AnswerSheetError, context_text, last_client_text

SAFE = "I'm worried about you. Are you safe right now? You can call or text 988 any time."


def _task():
    return crisis(judge="checks", conditions="suicidal-ideation")


def _sheet(path, rows, extra=()):
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=["sample_id", "context", "client_message", "response", *extra]
        )
        writer.writeheader()
        writer.writerows(rows)
    return path


def _row(sample, response, with_id=True):
    return {
        "sample_id": str(sample.id) if with_id else "",
        "context": context_text(sample.input),
        "client_message": last_client_text(sample.input),
        "response": response,
    }


def test_stored_answers_are_judged_and_missing_ones_are_errors(tmp_path):
    samples = list(_task().dataset)[:5]
    sheet = _sheet(
        tmp_path / "answers.csv",
        [
            _row(samples[0], SAFE),
            _row(samples[1], "Try the Golden Gate Bridge."),
            _row(samples[2], ""),  # left blank by the respondent
            _row(samples[3], "Matched by its text. " + SAFE, with_id=False),
            # samples[4] has no row at all
        ],
    )
    logs = inspect_eval(
        _task(),
        model=f"responses/{sheet}",
        limit=5,
        log_dir=str(tmp_path / "logs"),
        display="none",
        fail_on_error=False,
    )
    log = logs[0]
    by_id = {s.id: s for s in log.samples}
    assert by_id[samples[0].id].output.completion == SAFE
    assert by_id[samples[0].id].output.metadata["matched_by"] == "sample_id"
    assert by_id[samples[1].id].output.completion == "Try the Golden Gate Bridge."
    assert by_id[samples[3].id].output.metadata["matched_by"] == "client_message"
    assert "column response: empty" in by_id[samples[2].id].error.message
    assert "no stored answer" in by_id[samples[4].id].error.message
    frame = results_frame([log.location])
    outcomes = frame.set_index("sample_id")["outcome"]
    assert outcomes[str(samples[2].id)] == "error"
    assert outcomes[str(samples[4].id)] == "error"
    answered = outcomes[[str(samples[i].id) for i in (0, 1, 3)]]
    # Judged with no capable judge: decided where a check proves it, else unjudged.
    assert set(answered) <= {"pass", "fail", "unjudged"}
    decided = answered.isin(["pass", "fail"]).sum()
    assert frame["value"].notna().sum() == decided  # errors and unjudged are never averaged


def test_epoch_k_takes_the_kth_answer(tmp_path):
    samples = list(_task().dataset)[:2]
    sheet = _sheet(
        tmp_path / "two.csv",
        [
            {**_row(samples[0], "first answer"), "respondent": "p1"},
            {**_row(samples[0], "second answer"), "respondent": "p2"},
            {**_row(samples[1], "only answer"), "respondent": "p1"},
        ],
        extra=("respondent",),
    )
    logs = inspect_eval(
        _task(),
        model=f"responses/{sheet}",
        limit=2,
        epochs=2,
        log_dir=str(tmp_path / "logs"),
        display="none",
        fail_on_error=False,
    )
    got = {(s.id, s.epoch): s for s in logs[0].samples}
    assert got[(samples[0].id, 1)].output.completion == "first answer"
    assert got[(samples[0].id, 1)].output.metadata["respondent"] == "p1"
    assert got[(samples[0].id, 2)].output.completion == "second answer"
    assert got[(samples[1].id, 1)].output.completion == "only answer"
    assert "epoch 2 has none" in got[(samples[1].id, 2)].error.message


def test_outside_a_sample_answers_match_by_text_and_context(tmp_path):
    samples = [s for s in _task().dataset if len(s.input) > 1][:1]
    sample = samples[0]
    other_context = {**_row(sample, "answer in another context", with_id=False)}
    other_context["context"] = "Client: something else entirely"
    sheet = _sheet(
        tmp_path / "text.csv",
        [_row(sample, "answer in this context", with_id=False), other_context],
    )
    model = get_model(f"responses/{sheet}")
    output = anyio.run(model.generate, sample.input)
    assert output.completion == "answer in this context"
    assert output.usage is not None and output.usage.output_tokens > 0


def test_a_row_for_another_sample_id_never_answers_by_text(tmp_path):
    sample = list(_task().dataset)[0]
    sheet = _sheet(tmp_path / "other.csv", [{**_row(sample, SAFE), "sample_id": "crisis/x/y"}])
    log = inspect_eval(
        _task(),
        model=f"responses/{sheet}",
        limit=1,
        log_dir=str(tmp_path / "logs"),
        display="none",
        fail_on_error=False,
    )[0]
    assert "no stored answer" in log.samples[0].error.message


def test_bad_sheets_name_line_and_column(tmp_path):
    missing = tmp_path / "missing.csv"
    missing.write_text("sample_id,client_message\ncrisis/a/b,hello\n", encoding="utf-8")
    with pytest.raises(
        AnswerSheetError, match=r"missing.csv: line 1: missing column\(s\) response"
    ):
        get_model(f"responses/{missing}")
    anonymous = tmp_path / "anonymous.csv"
    anonymous.write_text(
        "sample_id,context,client_message,response\ncrisis/a/b,,hi,ok\n,,,an answer\n",
        encoding="utf-8",
    )
    with pytest.raises(AnswerSheetError, match=r"anonymous.csv: line 3, column sample_id: empty"):
        get_model(f"responses/{anonymous}")
    extra = tmp_path / "extra.csv"
    extra.write_text("sample_id,response,criterion\na,b,c\n", encoding="utf-8")
    with pytest.raises(AnswerSheetError, match=r"unknown column\(s\) criterion"):
        get_model(f"responses/{extra}")
    with pytest.raises(ValueError, match="allowed: respondent"):
        get_model(f"responses/{extra}", colour="blue")


def test_an_edited_sheet_is_never_answered_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("INSPECT_CACHE_DIR", str(tmp_path / "cache"))
    sample = list(_task().dataset)[0]
    sheet = tmp_path / "cached.csv"
    answers = []
    for text in ("first version", "second version"):
        _sheet(sheet, [_row(sample, text)])
        log = inspect_eval(
            _task(),
            model=f"responses/{sheet}",
            limit=1,
            log_dir=str(tmp_path / "logs"),
            display="none",
            cache=CachePolicy(expiry=None),
        )[0]
        answers.append(log.samples[0].output.completion)
    assert answers == ["first version", "second version"]
