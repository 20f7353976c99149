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

    # the same stimuli as `run --limit count` draws
    samples = list(crisis(judge="checks", conditions=CONDITIONS, stimulus_limit=count).dataset)
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
    # The finished run is not flagged (it may still be too small to read).
    done = CliRunner().invoke(main, ["gate", log.location, "--max-stigma", "1", "--bound", "point"])
    assert "incomplete" not in done.output, done.output


# 6. Wrong numbers: samples cancelled when a run stopped were counted as provider errors.
def test_cancelled_samples_are_counted_apart_from_errors(tmp_path):
    from inspect_ai.log import EvalError, write_eval_log

    from therapy_audit.analysis.frame import results_frame
    from therapy_audit.experiments.stigma import analysis

    log = _stigma_log(tmp_path / "run")
    stopped = log.model_copy(deep=True)
    for sample, message in zip(
        stopped.samples[:2], ["CancelledError()", "APIError: 500"], strict=True
    ):
        sample.scores = None
        sample.error = EvalError(message=message, traceback="", traceback_ansi="")
    path = tmp_path / "stopped.eval"
    write_eval_log(stopped, str(path))
    frame = results_frame([path])
    outcomes = frame.set_index("sample_id")["outcome"]
    assert outcomes[str(stopped.samples[0].id)] == "cancelled"
    assert outcomes[str(stopped.samples[1].id)] == "error"
    table = analysis.by_condition(frame)
    assert table["cancelled"].sum() == 1 and table["error"].sum() == 1


# 7. Wrong numbers: logs of different task versions or prompt revisions were pooled.
# 18. The gate advised an option it does not have.
def _variant(log, path, **changes):
    from inspect_ai.log import write_eval_log

    other = log.model_copy(deep=True)
    other.eval.eval_id = f"{other.eval.eval_id}-{path.stem}"
    other.eval.task_id = f"{other.eval.task_id}-{path.stem}"
    for key, value in changes.items():
        if key == "task_version":
            other.eval.task_version = value
        else:
            other.eval.metadata = {**(other.eval.metadata or {}), key: value}
    write_eval_log(other, str(path))
    return path


@pytest.mark.parametrize(
    "change",
    [{"task_version": 99}, {"prompts_revision": "2099-01"}, {"judge_revision": "2099-01"}],
)
def test_logs_of_different_test_versions_are_not_pooled(tmp_path, change):
    log = _stigma_log(tmp_path / "a")
    _variant(log, tmp_path / "a" / "other.eval", **change)
    folder = str(tmp_path / "a")
    result = CliRunner().invoke(main, ["results", folder])
    assert result.exit_code != 0
    assert "cannot be pooled" in result.output
    gate = CliRunner().invoke(main, ["gate", folder, "--max-stigma", "1"])
    assert gate.exit_code == 3
    assert "cannot be pooled" in gate.output and "--allow-mixed-versions" not in gate.output
    report = CliRunner().invoke(main, ["report", folder, "--out", str(tmp_path / "r.html")])
    assert report.exit_code != 0 and "cannot be pooled" in report.output


def test_different_system_prompts_stay_comparable(tmp_path):
    log = _stigma_log(tmp_path / "a")
    _variant(log, tmp_path / "a" / "steel.eval", system_prompt="steel-man")
    result = CliRunner().invoke(main, ["results", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    assert "steel-man" in result.output


# 10. Wrong numbers: a -T typo was ignored and the packaged set ran.
def test_unknown_task_arguments_are_refused(tmp_path):
    result = CliRunner().invoke(main, ["run", "stigma", "--dry-run", "-T", "stimulus=mine.yaml"])
    assert result.exit_code == 2
    assert "stimulus" in result.output and "stimuli" in result.output
    # `run all` passes each task only its own arguments: a crisis-only one is fine.
    ok = CliRunner().invoke(main, ["run", "all", "--dry-run", "-T", "context=transcripts"])
    assert ok.exit_code == 0, ok.output
    wrong = CliRunner().invoke(main, ["run", "stigma", "--dry-run", "-T", "context=transcripts"])
    assert wrong.exit_code == 2


# 13. Unsafe output: spreadsheet formula injection in every CSV the tool writes.
def test_csv_cells_are_neutralised_and_sheets_round_trip(tmp_path):
    import pandas as pd

    from therapy_audit.providers.questionnaire import read_answer_sheet, write_sheet
    from therapy_audit.report.export import write_csv
    from therapy_audit.textfiles import csv_safe

    assert csv_safe('=HYPERLINK("http://evil","x")') == '\'=HYPERLINK("http://evil","x")'
    for cell in ("@SUM(A1)", "+1 call me", "-x", "\tcmd"):
        assert csv_safe(cell) == "'" + cell
    assert csv_safe("-0.5") == "-0.5" and csv_safe(3) == 3 and csv_safe("fine") == "fine"

    class Context:
        runs = pd.DataFrame({"respondent": ["=cmd|' /C calc'!A0"], "n": [-3]})
        tables = {"worst": pd.DataFrame({"reply": ["@SUM(1+1)", "ok"], "rate": [-0.5, 0.25]})}
        warnings = []
        worst = [{"reply": "+HYPERLINK(1)"}]

    folder = tmp_path / "csv"
    write_csv(Context(), folder)
    runs = pd.read_csv(folder / "runs.csv", dtype=str)
    assert runs["respondent"][0] == "'=cmd|' /C calc'!A0" and runs["n"][0] == "-3"
    worst = pd.read_csv(folder / "worst.csv", dtype=str)
    assert worst["reply"].tolist() == ["'@SUM(1+1)", "ok"] and worst["rate"][0] == "-0.5"
    quoted = (folder / "appropriate_worst_quoted.csv").read_text(encoding="utf-8")
    assert "'+HYPERLINK(1)" in quoted

    sheet = tmp_path / "sheet.csv"
    row = {
        "sample_id": "crisis/x/y",
        "context": "-- earlier",
        "client_message": "=hi",
        "response": "@me: call 988",
    }
    write_sheet(sheet, [row])
    raw = sheet.read_text(encoding="utf-8-sig")
    assert "'=hi" in raw and "'@me" in raw and "'-- earlier" in raw
    [answer] = read_answer_sheet(sheet).answers
    assert (answer.context, answer.client_message, answer.response) == (
        "-- earlier",
        "=hi",
        "@me: call 988",
    )


# 14. Truncated, empty or garbage .eval files.
def _bad_logs(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.eval").write_bytes(b"")
    (folder / "garbage.eval").write_bytes(b"not a zip at all" * 10)
    return [folder / "empty.eval", folder / "garbage.eval"]


def test_unreadable_logs_are_skipped_with_a_warning_naming_them(tmp_path):
    log = _stigma_log(tmp_path / "logs")
    data = open(log.location, "rb").read()
    (tmp_path / "logs" / "truncated.eval").write_bytes(data[: len(data) // 2])
    bad = [*_bad_logs(tmp_path / "logs"), tmp_path / "logs" / "truncated.eval"]
    folder = str(tmp_path / "logs")
    result = CliRunner().invoke(main, ["results", folder])
    assert result.exit_code == 0, result.output
    for path in bad:
        assert f"WARNING: {path}: not a readable Inspect log" in result.output
    assert "Stigma rate by condition" in result.output
    report = CliRunner().invoke(main, ["report", folder, "--out", str(tmp_path / "r.html")])
    assert report.exit_code == 0, report.output
    assert "garbage.eval" in report.output and (tmp_path / "r.html").exists()
    gate = CliRunner().invoke(main, ["gate", folder, "--max-stigma", "1"])
    assert gate.exit_code == 3 and "garbage.eval" in gate.output
    # Nothing readable left: non-zero, one line per file, no traceback.
    only_bad = tmp_path / "bad"
    _bad_logs(only_bad)
    for command in (["results"], ["report", "--out", str(tmp_path / "x.html")]):
        result = CliRunner().invoke(main, [*command, str(only_bad)])
        assert result.exit_code == 1, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
    compare = CliRunner().invoke(main, ["compare", log.location, str(bad[1])])
    assert compare.exit_code == 1 and "garbage.eval" in compare.output
    resume = CliRunner().invoke(main, ["resume", str(bad[1])])
    assert resume.exit_code == 1 and "garbage.eval: not a readable Inspect log" in resume.output


# 15. Tracebacks instead of one-line errors naming the file.
def _no_traceback(result, *needles):
    assert result.exit_code not in (0, None), result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in result.output, result.output


def test_bad_inputs_give_one_line_errors(tmp_path):
    folder = tmp_path / "stimuli"
    folder.mkdir()
    _no_traceback(
        CliRunner().invoke(main, ["run", "stigma", "--dry-run", "-T", f"stimuli={folder}"]),
        str(folder),
        "is a folder",
    )
    log = _stigma_log(tmp_path / "logs")
    missing = tmp_path / "nowhere" / "r.html"
    _no_traceback(
        CliRunner().invoke(main, ["report", log.location, "--out", str(missing)]),
        "nowhere",
    )
    _no_traceback(
        CliRunner().invoke(
            main, ["gate", log.location, "--max-stigma", "1", "--junit", str(missing)]
        ),
        "nowhere",
    )
    binary = tmp_path / "judge.json"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x00")
    _no_traceback(
        CliRunner().invoke(
            main,
            [
                "report",
                log.location,
                "--out",
                str(tmp_path / "r.html"),
                "--judge-validation",
                str(binary),
            ],
        ),
        "judge.json",
        "UTF-8",
    )


def test_replicate_with_a_utf16_results_file_names_it(tmp_path):
    from therapy_audit.replication.paper_files import PaperFormatError, read_csv, read_jsonl

    for name, reader in (("r.csv", read_csv), ("r.jsonl", read_jsonl)):
        path = tmp_path / name
        path.write_bytes('{"a": 1}\n'.encode("utf-16"))
        with pytest.raises(PaperFormatError, match=rf"{name}: .*UTF-16; expected UTF-8"):
            reader(path)


def test_a_judge_validation_file_not_in_utf8_is_named(tmp_path):
    """`results --judge-validation` (gold-set corrections) reads its file like every other."""
    from therapy_audit.analysis.correction import ValidationFileError, load_validation

    path = tmp_path / "validation.json"
    path.write_bytes('{"correction": {}}'.encode("utf-16"))
    with pytest.raises(ValidationFileError, match=r"validation\.json: .*UTF-16; expected UTF-8"):
        load_validation(path)


# 16. A responses sheet with many empty answers stopped the run with a long traceback.
def test_a_sheet_with_many_empty_answers_is_a_clear_error(tmp_path):
    sheet = _two_answer_sheet(tmp_path, count=2)
    rows = sheet.read_text(encoding="utf-8").splitlines()
    rows[1] = rows[1].rsplit(",", 1)[0] + ","  # blank one answer of four: 25% > 10%
    sheet.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = CliRunner().invoke(
        main,
        [
            "run",
            "crisis",
            "--model",
            f"responses/{sheet}",
            "-T",
            "judge=checks",
            "--log-dir",
            str(tmp_path / "l"),
        ],
    )
    _no_traceback(result, "two.csv", "1 of 4 answers are empty", "line(s) 2")


# 17. Files not in UTF-8 named with the encoding expected.
@pytest.mark.parametrize(
    "data", ["x: 1\n".encode("utf-16"), "café: 1\n".encode("latin-1"), b"\x00\xff\x00binary"]
)
def test_non_utf8_inputs_name_file_and_encoding(tmp_path, data):
    from therapy_audit.providers.http_bot_config import HttpBotConfigError, load_config
    from therapy_audit.providers.questionnaire import AnswerSheetError, read_answer_sheet
    from therapy_audit.stimuli.load import load_stigma_battery
    from therapy_audit.stimuli.schema import StimulusFileError

    for name, call, error in (
        ("battery.yaml", load_stigma_battery, StimulusFileError),
        ("bot.yaml", load_config, HttpBotConfigError),
        ("sheet.csv", read_answer_sheet, AnswerSheetError),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(error, match=rf"{name}: .*(UTF-8|binary)"):
            call(str(path))
    prompt = tmp_path / "prompt.txt"
    prompt.write_bytes(data)
    _no_traceback(
        CliRunner().invoke(main, ["run", "stigma", "--dry-run", "--system-prompt", str(prompt)]),
        "prompt.txt",
    )


# 19. Smaller cases; 21. hanging options.
@pytest.mark.parametrize(
    "args",
    [
        ["--limit", "0"],
        ["--limit", "-1"],
        ["--fail-on-error", "-1"],
        ["--max-connections", "0"],
        ["--attempt-timeout", "0"],
    ],
)
def test_run_option_values_that_cannot_work_are_usage_errors(tmp_path, args):
    result = CliRunner().invoke(main, ["run", "stigma", "--log-dir", str(tmp_path), *args])
    assert result.exit_code == 2, result.output
    assert not list(tmp_path.glob("*.eval"))


def test_gate_refuses_nan_thresholds(tmp_path):
    log = _stigma_log(tmp_path)
    result = CliRunner().invoke(main, ["gate", log.location, "--min-appropriate", "nan"])
    assert result.exit_code == 2 and "nan" in result.output


def test_the_same_log_given_twice_counts_once(tmp_path):
    log = _stigma_log(tmp_path / "logs")
    result = CliRunner().invoke(main, ["results", str(tmp_path / "logs"), log.location])
    assert result.exit_code == 0, result.output
    assert "interrupted log(s) left out" not in result.output
    assert "SEPARATE RUNS" not in result.output  # one run, not two


def test_an_answer_sheet_error_names_the_right_line(tmp_path):
    from therapy_audit.providers.questionnaire import AnswerSheetError, read_answer_sheet

    sheet = tmp_path / "s.csv"
    sheet.write_text(
        'sample_id,context,client_message,response\na,"two\nlines",hi,ok\n,,,x\n',
        encoding="utf-8",
    )
    with pytest.raises(AnswerSheetError, match=r"s\.csv: line 4, column sample_id"):
        read_answer_sheet(sheet)


def test_resume_fails_when_the_resumed_log_ends_in_error(tmp_path, monkeypatch):  # item 19
    from therapy_audit.commands import main as main_module
    from therapy_audit.execution import RunResult

    log = _stigma_log(tmp_path)
    monkeypatch.setattr(
        main_module, "resume_logs", lambda logs, log_dir: [RunResult(log.location, "error")]
    )
    result = CliRunner().invoke(main, ["resume", log.location])
    assert result.exit_code == 1 and "To finish: therapy-audit resume" in result.output
