"""The http-bot provider against real local bot servers (stateless and stateful)."""

from __future__ import annotations

import json
import math
import time

import anyio
import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.model import RetryDecision, get_model

from fault_server import FaultPlan, FaultServer, bot_config
from therapy_audit.experiments.crisis.task import crisis
from therapy_audit.providers.http_bot_api import (
    BotMalformedResponse,
    BotStatusError,
    BotTransportError,
    HttpBotAPI,
    RateLimiter,
)
from therapy_audit.providers.http_bot_config import HttpBotConfigError, MissingSecretError

TOKEN = "sk-test-http-bot-0001"


@pytest.fixture
def server():
    with FaultServer(token=TOKEN) as running:
        yield running


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    return TOKEN


def _write(tmp_path, text, name="bot.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _run(config, tmp_path, limit=4, epochs=None, **task_args):
    task_args.setdefault("judge", "checks")
    logs = inspect_eval(
        crisis(**task_args),
        model=f"http-bot/{config}",
        limit=limit,
        epochs=epochs,
        log_dir=str(tmp_path / "logs"),
        display="none",
    )
    return logs[0]


def _model_events(sample):
    return [event for event in sample.events if event.event == "model"]


def test_stateless_bot_gets_whole_history_and_token_never_logged(server, token, tmp_path):
    config = _write(tmp_path, bot_config(server, "history"))
    log = _run(config, tmp_path, limit=30, conditions="delusions,suicidal-ideation")
    assert log.status == "success", log.error
    samples = log.samples
    assert samples and all(s.error is None for s in samples)
    # The server saw the real token, one request per sample, each with the whole history.
    assert server.stats.requests == len(samples)
    assert all(h["Authorization"] == f"Bearer {TOKEN}" for h in server.stats.headers)
    by_message = {b["history"][-1]["content"]: b for b in server.stats.bodies}
    multi = [s for s in samples if len(s.input) > 1]
    assert multi, "expected multi-turn stimuli"
    for sample in multi:
        body = by_message[sample.input[-1].text]
        assert [m["role"] for m in body["history"]] == [m.role for m in sample.input]
        assert body["channel"] == "audit"
    # The raw call is in the transcript with the header template, not the token.
    call = _model_events(samples[0])[0].call
    sent = call.request["requests"][0]
    assert sent["headers"]["Authorization"] == "Bearer ${BOT_TOKEN}"
    assert TOKEN not in json.dumps(call.model_dump())
    # Usage is always set, estimated as characters / 4.
    output = samples[0].output
    chars = sum(len(m.text) for m in samples[0].input)
    assert output.usage.input_tokens == math.ceil(chars / 4)
    assert output.usage.output_tokens == math.ceil(len(output.completion) / 4)
    assert output.metadata["usage_estimated"] == "characters / 4"


def test_stateful_bot_gets_a_fresh_session_per_sample_and_epoch(server, token, tmp_path):
    config = _write(tmp_path, bot_config(server, "latest"))
    log = _run(config, tmp_path, limit=5, epochs=2, conditions="delusions")
    assert log.status == "success", log.error
    samples = log.samples
    assert len(samples) == 10
    sessions = {s.output.metadata["session_id"] for s in samples}
    assert len(sessions) == 10 == server.stats.sessions_created
    for sample in samples:
        session = sample.output.metadata["session_id"]
        client_turns = [m.text for m in sample.input if m.role == "user"]
        # Earlier client turns were replayed into the new session, in order, once each.
        assert server.session_history(session) == client_turns
        assert sample.output.completion.startswith(f"[{session} turn {len(client_turns)}]")
    assert any(len(server.session_history(s)) == 3 for s in sessions)


def test_stateful_bot_without_session_call_uses_a_generated_session_id(server, token, tmp_path):
    text = (
        f"url: {server.url}/bot/chat\nmode: latest\n"
        'headers:\n  Authorization: "Bearer ${BOT_TOKEN}"\n'
        'body:\n  history: [{role: user, content: "{{message}}"}]\n'
        '  conversation: "{{session_id}}"\n'
        "reply_path: $.data.reply.text\n"
    )
    config = _write(tmp_path, text)
    log = _run(config, tmp_path, limit=3)
    assert log.status == "success", log.error
    ids = [body["conversation"] for body in server.stats.bodies]
    assert len(ids) >= 3 and all(len(i) == 32 for i in ids)
    first_per_sample = {s.output.metadata["session_id"] for s in log.samples}
    assert len(first_per_sample) == 3


def test_toml_config_works(server, token, tmp_path):
    text = (
        f'url = "{server.url}/bot/chat"\nreply_path = "$.data.reply.text"\n'
        "body = '{\"history\": {{messages}}}'\n"
        '[headers]\nAuthorization = "Bearer ${BOT_TOKEN}"\n'
    )
    config = _write(tmp_path, text, "bot.toml")
    log = _run(config, tmp_path, limit=2)
    assert log.status == "success", log.error
    assert server.stats.answered == 2


def test_reply_path_that_matches_nothing_is_an_error_and_not_retried(server, token, tmp_path):
    text = bot_config(server, "history").replace("$.data.reply.text", "$.data.answer")
    config = _write(tmp_path, text)
    logs = inspect_eval(
        crisis(judge="checks"),
        model=f"http-bot/{config}",
        limit=2,
        log_dir=str(tmp_path / "logs"),
        display="none",
        fail_on_error=False,
    )
    samples = logs[0].samples
    assert len(samples) == 2
    for sample in samples:
        assert "BotReplyNotFound" in sample.error.message
        assert "found nothing in the response" in sample.error.message
    assert server.stats.requests == 2  # a config error is not retried


def test_client_errors_are_not_retried_and_server_errors_are(tmp_path, monkeypatch):
    monkeypatch.setenv("BOT_TOKEN", "wrong-token")
    with FaultServer(token=TOKEN) as server:
        config = _write(tmp_path, bot_config(server, "history"))
        logs = inspect_eval(
            crisis(judge="checks"),
            model=f"http-bot/{config}",
            limit=2,
            log_dir=str(tmp_path / "logs"),
            display="none",
            fail_on_error=False,
        )
        assert server.stats.requests == 2  # 401: one attempt per sample
        assert all("HTTP 401" in s.error.message for s in logs[0].samples)
    with FaultServer(FaultPlan(server_error=0.5, seed=3)) as server:
        text = bot_config(server, "history", token_var=None, extra="retry_backoff: 0.05\n")
        config = _write(tmp_path, text, "retrying.yaml")
        log = _run(config, tmp_path, limit=6)
        assert log.status == "success"
        assert all(s.error is None for s in log.samples)
        assert server.stats.faults["server_error"] > 0
        assert server.stats.requests == 6 + server.stats.faults["server_error"]


def test_rate_limit_spaces_requests(server, token, tmp_path):
    config = _write(tmp_path, bot_config(server, "history", extra="rate_limit: 5\n"))
    log = _run(config, tmp_path, limit=6)
    assert log.status == "success"
    times = sorted(server.stats.chat_times)
    assert len(times) == 6
    # 6 requests at 5/s: slots 0.2 s apart (1 s in all; unthrottled they arrive within
    # ~0.1 s). Arrival times carry the first connection's set-up, hence the margin.
    assert times[-1] - times[0] >= 0.7


def test_rate_limiter_reserves_slots_across_tasks():
    limiter = RateLimiter(rate=50)
    stamps: list[float] = []

    async def one() -> None:
        await limiter.wait()
        stamps.append(time.monotonic())

    async def many() -> None:
        async with anyio.create_task_group() as group:
            for _ in range(6):
                group.start_soon(one)

    anyio.run(many)
    stamps.sort()
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert min(gaps) >= 0.015  # 20 ms slots, minus timer slack


def test_should_retry_classifies_failures(server, token, tmp_path):
    api = HttpBotAPI(str(_write(tmp_path, bot_config(server, "history"))))
    assert api.should_retry(BotStatusError("x", 429, 2.0)) == RetryDecision.rate_limit(2.0)
    assert api.should_retry(BotStatusError("x", 503)) == RetryDecision.transient()
    assert api.should_retry(BotStatusError("x", 404)) == RetryDecision.no()
    assert api.should_retry(BotStatusError("x", 401)) == RetryDecision.no()
    assert api.should_retry(BotTransportError("timeout")) == RetryDecision.transient()
    wrapped = RuntimeError("wrapped")
    wrapped.__cause__ = BotStatusError("x", 500)
    assert api.should_retry(wrapped) == RetryDecision.transient()
    assert api.should_retry(BotMalformedResponse("x")) == RetryDecision.transient()
    api._malformed_streak = 5
    assert api.should_retry(BotMalformedResponse("x")) == RetryDecision.no()
    assert api.should_retry(ValueError("anything else")) == RetryDecision.no()
    assert api.max_connections() == 4
    assert api.connection_key().endswith("bot.yaml")


def test_config_errors_name_file_and_field(tmp_path, server, token):
    no_reply = _write(tmp_path, f"url: {server.url}/bot/chat\nbody: {{h: '{{{{messages}}}}'}}\n")
    with pytest.raises(HttpBotConfigError, match=r"bot.yaml: reply_path: Field required"):
        get_model(f"http-bot/{no_reply}")
    latest = _write(
        tmp_path,
        "url: http://127.0.0.1:9/x\nmode: latest\nbody: {t: '{{message}}'}\nreply_path: $.r\n",
        "latest.yaml",
    )
    with pytest.raises(HttpBotConfigError, match=r"latest.yaml: .*session_id"):
        get_model(f"http-bot/{latest}")
    typo = _write(
        tmp_path,
        "url: http://127.0.0.1:9/x\nbody: {t: '{{mesages}}'}\nreply_path: $.r\n",
        "typo.yaml",
    )
    with pytest.raises(HttpBotConfigError, match=r"typo.yaml: body: .*unknown placeholder"):
        get_model(f"http-bot/{typo}")
    with pytest.raises(HttpBotConfigError, match=r"nowhere.yaml: cannot read"):
        get_model(f"http-bot/{tmp_path / 'nowhere.yaml'}")


def test_missing_secret_names_the_variable(tmp_path, server, monkeypatch):
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    config = _write(tmp_path, bot_config(server, "history"))
    with pytest.raises(MissingSecretError) as caught:
        get_model(f"http-bot/{config}")
    message = str(caught.value)
    assert "BOT_TOKEN is not set" in message
    assert "headers.Authorization" in message
    assert str(config) in message


# Issue 19, item 20: a URL that cannot be requested is refused when the config loads.
@pytest.mark.parametrize(
    "url", ["not a url", "ftp://bot.example.com/chat", "https://", "/bot/chat", "bot.example.com"]
)
def test_bad_urls_are_refused_at_load(tmp_path, url):
    config = _write(tmp_path, f"url: {url}\nbody: {{h: '{{{{messages}}}}'}}\nreply_path: $.r\n")
    with pytest.raises(HttpBotConfigError, match=r"bot.yaml: url: .*not an http:// or https://"):
        get_model(f"http-bot/{config}")
    session = _write(
        tmp_path,
        "url: https://bot.example.com/s/{{session_id}}\nmode: latest\n"
        "body: {t: '{{message}}'}\nreply_path: $.r\n"
        f"session:\n  url: {url}\n  id_path: $.id\n",
        "session.yaml",
    )
    with pytest.raises(HttpBotConfigError, match=r"session.yaml: session.url: .*not an http"):
        get_model(f"http-bot/{session}")


def test_urls_with_placeholders_and_secrets_load(tmp_path, monkeypatch):
    monkeypatch.setenv("BOT_KEY", "k")
    config = _write(
        tmp_path,
        "url: https://bot.example.com/s/{{session_id}}/m?key=${BOT_KEY}\nmode: latest\n"
        "body: {t: '{{message}}'}\nreply_path: $.r\n"
        "session:\n  url: http://127.0.0.1:9/s\n  id_path: $.id\n",
    )
    assert get_model(f"http-bot/{config}")
