import re

import pytest
from click.testing import CliRunner
from inspect_ai.log import read_eval_log

from therapy_audit.commands.main import main
from therapy_audit.execution import model_args_for


def test_run_prints_table_log_path_and_position_warning(tmp_path):
    result = CliRunner().invoke(
        main,
        ["run", "stigma", "--model", "scripted/always-a", "--log-dir", str(tmp_path), "--no-cache"],
    )
    assert result.exit_code == 0, result.output
    assert "(not interpretable)" in result.output  # the summary's status
    assert f"Inspect log (success): {tmp_path}" in result.output
    result = CliRunner().invoke(main, ["results", str(tmp_path)])
    assert "Stigma rate by condition" in result.output
    assert "schizophrenia" in result.output
    assert "answers by option position" in result.output
    assert list(tmp_path.glob("*.eval"))


def test_results_reprints_from_the_log(tmp_path):
    runner = CliRunner()
    runner.invoke(
        main,
        [
            "run",
            "--model",
            "scripted/consistent",
            "--log-dir",
            str(tmp_path),
            "--no-cache",
            "-T",
            "counterbalance=false",
        ],
    )
    result = runner.invoke(main, ["results", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "0% [0%, 39%] (too few to read)" in result.output
    assert "Position bias" not in result.output  # one order only: nothing to compare


def test_bad_task_argument_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "run",
            "--model",
            "scripted/always-a",
            "--log-dir",
            str(tmp_path),
            "--system-prompt",
            "pirate",
        ],
    )
    assert result.exit_code != 0
    assert "system_prompt must be one of" in result.output


def test_openai_models_default_to_chat_completions():
    assert model_args_for("openai/gpt-4o", {}) == {"responses_api": False}
    assert model_args_for("openai/gpt-4o", {"responses_api": True}) == {"responses_api": True}
    assert model_args_for("local/smollm2", {}) == {}


def test_run_conversation_with_client_and_judge(tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "run",
            "conversation",
            "--model",
            "scripted/supportive",
            "--client",
            "scripted/client-numbered",
            "--judge",
            "scripted/judge-no",
            "--log-dir",
            str(tmp_path),
            "--no-cache",
            "-T",
            "personas=control-exam-stress",
            "-T",
            "turns=2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "safe conv." in result.output and "smoke test" not in result.output
    result = CliRunner().invoke(main, ["results", str(tmp_path)])
    assert "Conversations safe throughout" in result.output
    assert "control-exam-stress" in result.output
    assert "smoke test" not in result.output  # a real (scripted) judge decided
    assert "by scripted/judge-no" in result.output


def test_dry_run_sends_nothing_and_prices(tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "run",
            "crisis",
            "--dry-run",
            "--judge",
            "openai/gpt-4o",
            "--price",
            "openai/gpt-4o=2.5,10",
            "--log-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "nothing has been sent" in result.output
    assert "grader" in result.output and "$" in result.output
    assert not list(tmp_path.glob("*.eval"))


def _priced(args):
    result = CliRunner().invoke(
        main,
        ["run", "crisis", "--dry-run", "--judge", "openai/gpt-4o", "--price", "openai/gpt-4o=2,8"]
        + ["--model", "anthropic/claude-sonnet-4-0", "--price", "anthropic/claude-sonnet-4-0=3,15"]
        + args,
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_dry_run_prices_batch_at_half():
    full, batched = _priced([]), _priced(["--batch"])
    total = re.compile(r"known cost \$([\d,.]+)")
    assert float(total.search(batched)[1].replace(",", "")) == pytest.approx(
        float(total.search(full)[1].replace(",", "")) / 2, rel=1e-3
    )
    assert "batch x0.5" in batched and "batch" not in full


def test_batch_settings_reach_inspect_and_drop_the_attempt_timeout(tmp_path):
    result = CliRunner().invoke(
        main,
        ["run", "crisis", "--model", "scripted/supportive", "--judge", "scripted/judge-yes"]
        + ["-T", "judge=model", "--limit", "1", "--batch", "--batch-size", "7"]
        + ["--log-dir", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    assert "scripted has no batch API" in result.output
    [log_file] = tmp_path.glob("*.eval")
    log = read_eval_log(str(log_file), header_only=True)
    assert log.plan.config.batch == 7
    assert log.plan.config.attempt_timeout is None  # the batch's own, not 180 s
    assert log.eval.model_roles["grader"].config.batch == 7


def test_without_batch_the_attempt_timeout_is_ours(tmp_path):
    result = CliRunner().invoke(
        main,
        ["run", "stigma", "--model", "scripted/always-a", "--limit", "1"]
        + ["--log-dir", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    [log_file] = tmp_path.glob("*.eval")
    log = read_eval_log(str(log_file), header_only=True)
    assert log.plan.config.attempt_timeout == 180
    assert log.plan.config.batch is None
