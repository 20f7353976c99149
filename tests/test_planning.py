"""Plan before spending: call counts per role match a real run; costs follow the prices."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from inspect_ai import eval as inspect_eval

from therapy_audit.experiments.crisis.task import crisis
from therapy_audit.experiments.stigma.task import stigma
from therapy_audit.planning import parse_price, plan, plan_text


def _row(frame, role):
    rows = frame[frame["role"] == role]
    assert len(rows) == 1, frame
    return rows.iloc[0]


def test_planned_calls_match_a_real_run(tmp_path):
    task_args = {"judge": "model", "judges": "grader,grader_2", "conditions": "mania"}
    roles = {"grader": "scripted/judge-yes", "grader_2": "scripted/judge-no"}
    frame = plan([crisis(**task_args)], "scripted/supportive", roles, limit=4, epochs=2)
    log = inspect_eval(
        crisis(**task_args),
        model="scripted/supportive",
        model_roles=roles,
        limit=4,
        epochs=2,
        log_dir=str(tmp_path),
        display="none",
    )[0]
    made = Counter(
        event.model for sample in log.samples for event in sample.events if event.event == "model"
    )
    assert _row(frame, "respondent")["calls"] == made["scripted/supportive"] == 8
    # Scripted judges give no log-probabilities: still one call per verdict,
    # for every criterion of every reply (several criteria per stimulus).
    criteria = sum(len(s.metadata["criteria"]) for s in list(crisis(**task_args).dataset)[:4])
    assert criteria > 4
    assert _row(frame, "grader")["calls"] == made["scripted/judge-yes"] == 2 * criteria
    assert _row(frame, "grader_2")["calls"] == made["scripted/judge-no"] == 2 * criteria


def test_checks_need_no_judge_calls_and_free_respondents_cost_nothing():
    frame = plan([crisis(judge="checks")], "responses/answers.csv", {})
    assert list(frame["role"]) == ["respondent"]
    assert _row(frame, "respondent")["calls"] == len(crisis(judge="checks").dataset)
    assert _row(frame, "respondent")["cost_usd"] == 0.0


def test_every_provider_answers_letters_in_one_call():
    items = len(stigma().dataset)
    openai = plan([stigma()], "openai/gpt-4o", {}, prices={"openai/gpt-4o": (2.5, 10.0)})
    claude = plan([stigma()], "anthropic/claude-sonnet-4-0", {})
    assert _row(openai, "respondent")["calls"] == items
    assert _row(claude, "respondent")["calls"] == items
    # Without sure log-probabilities the one call has a short text budget.
    assert _row(claude, "respondent")["output_tokens"] == 64 * items
    text = plan([stigma(answer_mode="text")], "openai/gpt-4o", {})
    assert _row(text, "respondent")["output_tokens"] == 64 * items
    row = _row(openai, "respondent")
    assert row["output_tokens"] == items  # one-token probes
    assert row["cost_usd"] == pytest.approx((row["input_tokens"] * 2.5 + items * 10.0) / 1e6)
    assert row["price_source"] == "given"


def test_input_tokens_are_characters_over_four():
    task = crisis(judge="checks", conditions="mania")
    frame = plan([task], "openai/gpt-4o", {}, limit=3)
    chars = sum(sum(len(m.text) for m in s.input) for s in list(task.dataset)[:3])
    assert _row(frame, "respondent")["input_tokens"] == math.ceil(chars / 4)
    assert _row(frame, "respondent")["output_tokens"] == 3 * 1000  # the crisis reply budget


def test_unknown_prices_stay_unknown_and_the_text_says_so():
    frame = plan([crisis(judge="model")], "together/some/model", {"grader": "openai/unlisted"})
    assert frame["cost_usd"].isna().all()
    text = plan_text(frame)
    assert "nothing has been sent" in text
    assert "No price known for openai/unlisted, together/some/model" in text
    assert "--price MODEL=in_per_mtok,out_per_mtok" in text


def test_parse_price():
    assert parse_price("openai/gpt-4o=2.5,10") == ("openai/gpt-4o", (2.5, 10.0))
    assert parse_price("openai-api/a=b/m=1,2") == ("openai-api/a=b/m", (1.0, 2.0))
    for bad in ("openai/gpt-4o", "openai/gpt-4o=2.5", "m=x,1", "m=-1,2"):
        with pytest.raises(ValueError, match="MODEL=in_per_mtok|negative"):
            parse_price(bad)


def test_builtin_prices_for_common_models_and_price_overrides():
    """On main a dry run of openai/gpt-4o had no price unless --price was given."""
    from therapy_audit.planning import BUILTIN_PRICES_DATE, price_for

    listed = price_for("openai/gpt-4o", None)
    assert (listed.input, listed.output) == (2.5, 10.0)
    assert BUILTIN_PRICES_DATE in listed.source
    given = price_for("openai/gpt-4o", {"openai/gpt-4o": (1.0, 2.0)})
    assert (given.input, given.output, given.source) == (1.0, 2.0, "given")


def test_dry_run_warns_of_embedded_fallback_and_missing_package():
    """On main the conversation's client role silently stayed the embedded model."""
    import importlib.util

    from click.testing import CliRunner

    from therapy_audit.commands.main import main

    result = CliRunner().invoke(
        main,
        ["run", "conversation", "--model", "anthropic/claude-sonnet-4-0", "--dry-run"]
        + ["-T", "client_mode=simulated"],
    )
    assert result.exit_code == 0, result.output
    assert "WARNING: the client role falls back to the embedded model" in result.output
    # Scripted mode (the default) has no client role: nothing falls back.
    scripted = CliRunner().invoke(
        main, ["run", "conversation", "--model", "anthropic/claude-sonnet-4-0", "--dry-run"]
    )
    assert "client role falls back" not in scripted.output
    assert "built-in list price" in result.output
    if importlib.util.find_spec("anthropic") is None:
        assert "needs the Python package 'anthropic'" in result.output
    free = CliRunner().invoke(main, ["run", "conversation", "--dry-run"])
    assert "falls back to the embedded model" not in free.output
