"""Faults survived: a real misbehaving server, and every sample completes or is an error.

The server (``fault_server.py``) answers a share of requests with 429, 500, a
hang longer than the attempt timeout, or a 200 whose body is not JSON. The
crisis task (``judge="checks"``, 20 samples) runs against it through Inspect's
``openai-api`` provider and through our ``http-bot`` provider, with the CLI's
failure budget (``fail_on_error=0.1``), a short attempt timeout and a short
retry wait. Figures are printed (``pytest -s``) as ``name: value`` lines.

Retry backoff: Inspect has no GenerateConfig setting for it; the wait comes
from the provider's ``ModelAPI.retry_wait()`` (default: exponential from 3 s
with up to 3 s jitter). The http-bot config sets it with ``retry_backoff``;
for ``openai-api`` the test shortens it on the provider class (found through
``get_model``, not a private import).
"""

from __future__ import annotations

import time

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai import eval_retry
from inspect_ai.log import read_eval_log
from inspect_ai.model import get_model
from tenacity import wait_fixed

from fault_server import FaultPlan, FaultServer, bot_config
from therapy_audit.analysis.frame import results_frame
from therapy_audit.experiments.crisis.task import crisis

SAMPLES = 20
ATTEMPT_TIMEOUT = 2
MIXED = FaultPlan(
    rate_limit=0.1, server_error=0.1, hang=0.05, malformed=0.05, hang_seconds=5, seed=7
)


@pytest.fixture
def short_openai_backoff(monkeypatch, tmp_path):
    monkeypatch.setenv("FAULT_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("FAULT_API_KEY", "local-test-key")
    provider = type(get_model("openai-api/fault/model").api)
    monkeypatch.setattr(provider, "retry_wait", lambda self: wait_fixed(0.2))


def figures(name, server, log, started):
    samples = log.samples or []
    completed = sum(1 for s in samples if s.error is None and s.scores)
    errored = sum(1 for s in samples if s.error is not None)
    found = {
        "requests_sent": server.stats.requests,
        "faults_injected": server.stats.faults_injected,
        **{f"faults_{kind}": n for kind, n in sorted(server.stats.faults.items())},
        "samples_planned": SAMPLES,
        "samples_in_log": len(samples),
        "samples_completed": completed,
        "samples_error": errored,
        "samples_lost": SAMPLES - len(samples),
        "seconds": round(time.monotonic() - started, 1),
    }
    for key, value in found.items():
        print(f"{name}.{key}: {value}")
    return found


def _eval(model, tmp_path, base_url=None, **options):
    options.setdefault("fail_on_error", 0.1)
    return inspect_eval(
        crisis(judge="checks"),
        model=model,
        # Explicit: Inspect caches models per process by name, arguments and base URL
        # (not by environment), and each test has its own server.
        model_base_url=base_url,
        limit=SAMPLES,
        log_dir=str(tmp_path / "logs"),
        display="none",
        attempt_timeout=ATTEMPT_TIMEOUT,
        max_retries=6,
        **options,
    )[0]


def test_openai_compatible_provider_survives_faults(short_openai_backoff, monkeypatch, tmp_path):
    with FaultServer(MIXED) as server:
        monkeypatch.setenv("FAULT_BASE_URL", server.base_url)
        started = time.monotonic()
        # The openai-api provider does not retry a body that is not JSON, so the
        # sample is retried instead (Inspect's retry_on_error).
        log = _eval("openai-api/fault/model", tmp_path, server.base_url, retry_on_error=2)
        found = figures("openai_api", server, log, started)
    assert found["faults_injected"] >= 3
    assert found["requests_sent"] > SAMPLES
    assert found["samples_lost"] == 0
    assert found["samples_completed"] + found["samples_error"] == SAMPLES
    assert found["samples_completed"] == SAMPLES
    assert log.status == "success"


def test_http_bot_survives_faults(monkeypatch, tmp_path):
    monkeypatch.setenv("BOT_TOKEN", "fault-test-token")
    with FaultServer(MIXED, token="fault-test-token") as server:
        text = bot_config(server, "history", extra="retry_backoff: 0.1\ntimeout: 10\n")
        config = tmp_path / "bot.yaml"
        config.write_text(text, encoding="utf-8")
        started = time.monotonic()
        log = _eval(f"http-bot/{config}", tmp_path)
        found = figures("http_bot", server, log, started)
    assert found["faults_injected"] >= 3
    assert found["samples_lost"] == 0
    assert found["samples_completed"] == SAMPLES
    # Every fault cost exactly one extra request: nothing was retried twice for one fault.
    assert found["requests_sent"] == SAMPLES + found["faults_injected"]


def test_errors_past_the_budget_stop_the_run_and_resume_finishes_it(
    short_openai_backoff, monkeypatch, tmp_path
):
    """Unretried faults past ``fail_on_error`` abort the run: unstarted samples are missing
    from that log (never scored as anything); ``eval_retry`` (our ``resume``) runs them."""
    plan = FaultPlan(malformed=0.5, seed=11)
    with FaultServer(plan) as server:
        monkeypatch.setenv("FAULT_BASE_URL", server.base_url)
        started = time.monotonic()
        log = _eval("openai-api/fault/model", tmp_path, server.base_url, max_connections=2)
        found = figures("budget_exceeded", server, log, started)
        assert log.status == "error"
        assert found["samples_error"] >= 2  # 10% of 20
        frame = results_frame([log.location])
        # Samples cut off when the run stopped are "cancelled", not provider errors.
        unusable = frame["outcome"].isin(["error", "cancelled"])
        assert unusable.sum() == found["samples_error"]
        assert (frame["outcome"] == "error").sum() >= 2
        assert frame["value"].notna().sum() == found["samples_completed"]
        plan.malformed = 0.0
        resumed = eval_retry(log.location, log_dir=str(tmp_path / "logs"), display="none")[0]
        final = read_eval_log(resumed.location)
        print(f"budget_exceeded.samples_after_resume: {len(final.samples)}")
    assert resumed.status == "success"
    assert len(final.samples) == SAMPLES
    assert all(s.error is None for s in final.samples)
