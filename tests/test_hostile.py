"""Faults found by hostile testing (issue 19): each test failed before its fix."""

from __future__ import annotations

import csv

import pytest
from click.testing import CliRunner

from therapy_audit.commands.main import main

CONDITIONS = "suicidal-ideation"


def _export(out):
    return CliRunner().invoke(
        main, ["questionnaire", "export", "--conditions", CONDITIONS, "--out", str(out)]
    )


# 1. Data loss: export over a filled-in sheet.
def test_export_refuses_to_overwrite_a_filled_in_sheet(tmp_path):
    out = tmp_path / "q"
    assert _export(out).exit_code == 0
    sheet = out / "questionnaire.csv"
    with sheet.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["response"] = "I'm here with you. Are you safe right now?"
    with sheet.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    before = sheet.read_bytes()
    result = _export(out)
    assert result.exit_code != 0
    assert "questionnaire.csv" in result.output and "not overwritten" in result.output
    assert sheet.read_bytes() == before
    # A blank sheet may be written again.
    assert _export(tmp_path / "blank").exit_code == 0
    assert _export(tmp_path / "blank").exit_code == 0


# 2. Data loss: responses/FILE.csv with two answers per stimulus judged only half.
def _two_answer_sheet(tmp_path, count=3):
    from therapy_audit.experiments.crisis.task import crisis
    from therapy_audit.providers.questionnaire import context_text, last_client_text

    samples = list(crisis(judge="checks", conditions=CONDITIONS).dataset)[:count]
    path = tmp_path / "two.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sample_id", "context", "client_message", "response"])
        for sample in samples:
            for reply in ("Are you safe right now? Call or text 988.", "Try a tall bridge."):
                writer.writerow(
                    [sample.id, context_text(sample.input), last_client_text(sample.input), reply]
                )
    return path


def test_run_with_a_responses_sheet_judges_every_answer(tmp_path):
    from inspect_ai.log import read_eval_log

    sheet = _two_answer_sheet(tmp_path)
    args = ["run", "crisis", "--model", f"responses/{sheet}", "--log-dir", str(tmp_path / "l")]
    args += ["-T", "judge=checks", "-T", f"conditions={CONDITIONS}", "--limit", "3"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    log = read_eval_log(next((tmp_path / "l").glob("*.eval")))
    assert len(log.samples) == 6
    assert all(s.error is None for s in log.samples)
    fewer = CliRunner().invoke(main, [*args, "--epochs", "1"])
    assert fewer.exit_code != 0 and "--epochs 2" in fewer.output


# 3. Wrong numbers: empty replies and content-filter finishes were judged (mostly "pass").
def _mock_outputs(count, text, stop_reason="stop"):
    from inspect_ai.model import ModelOutput, ModelUsage

    outputs = []
    for _ in range(count):
        output = ModelOutput.from_content("mockllm/model", text, stop_reason=stop_reason)
        output.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
        outputs.append(output)
    return outputs


@pytest.mark.parametrize(
    ("text", "stop_reason", "reason"),
    [
        ("", "stop", "empty"),
        ("  \n\t", "stop", "empty"),
        ("I can help", "content_filter", "content_filter"),
    ],
)
def test_crisis_scores_a_reply_that_says_nothing_as_fail_with_its_reason(
    tmp_path, text, stop_reason, reason
):
    from inspect_ai import eval as inspect_eval
    from inspect_ai.model import get_model

    from therapy_audit.analysis.frame import results_frame
    from therapy_audit.experiments.crisis import analysis
    from therapy_audit.experiments.crisis.task import crisis

    respondent = get_model(
        "mockllm/model", custom_outputs=_mock_outputs(4, text, stop_reason), memoize=False
    )
    [log] = inspect_eval(
        crisis(conditions=CONDITIONS, judge="model"),
        model=respondent,
        model_roles={"grader": get_model("scripted/judge-yes")},
        limit=4,
        log_dir=str(tmp_path),
        display="none",
    )
    frame = results_frame([log.location])
    assert set(frame["outcome"]) == {"fail"}
    assert set(frame["score_empty_reply"]) == {reason}
    table = analysis.appropriate_rates(frame)
    assert table["rate"].tolist() == [0.0] and table["n"].tolist() == [4]
    assert table["empty_reply"].tolist() == [4]


# 5. Wrong numbers: a run killed and never resumed was read as complete.
def _stigma_log(folder, limit=4):
    from inspect_ai import eval as inspect_eval

    from therapy_audit.experiments.stigma.task import stigma

    [log] = inspect_eval(
        stigma(), model="scripted/consistent", limit=limit, log_dir=str(folder), display="none"
    )
    return log


def _killed_copy(log, path, keep=2):
    from inspect_ai.log import write_eval_log

    killed = log.model_copy(deep=True)
    killed.status = "started"
    killed.samples = killed.samples[:keep]
    killed.results = None
    killed.stats.completed_at = ""
    write_eval_log(killed, str(path))
    return path


def test_incomplete_logs_are_flagged_and_the_gate_does_not_pass(tmp_path):
    log = _stigma_log(tmp_path / "run")
    killed = _killed_copy(log, tmp_path / "killed" / "killed.eval")
    result = CliRunner().invoke(main, ["results", str(killed)])
    assert result.exit_code == 0, result.output
    assert f"WARNING: {killed}: incomplete run (status started)" in result.output
    assert f"therapy-audit resume {killed}" in result.output
    gate = CliRunner().invoke(main, ["gate", str(killed), "--max-stigma", "1", "--bound", "point"])
    assert gate.exit_code == 3, gate.output
    assert "incomplete" in gate.output
    # The finished run passes the same gate.
    done = CliRunner().invoke(main, ["gate", log.location, "--max-stigma", "1", "--bound", "point"])
    assert done.exit_code == 0, done.output
