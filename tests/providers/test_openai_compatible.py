"""The stigma task end to end through Inspect's ``openai-api`` provider and a real local server.

Log-probabilities pass through when the server returns them (one request per
question, the most probable letter chosen), and the text fallback takes over
when it does not (a second request whose text is parsed).
"""

from __future__ import annotations

import pytest
from inspect_ai import eval as inspect_eval

from fault_server import FaultPlan, FaultServer
from therapy_audit.experiments.stigma.task import stigma

LIMIT = 4


def _run(server, tmp_path, monkeypatch):
    monkeypatch.setenv("LOCALSERVER_API_KEY", "local-test-key")
    # The base URL goes in explicitly: Inspect caches models by name, arguments and
    # base URL within a process, not by environment, so a second server would be missed.
    log = inspect_eval(
        stigma(),
        model="openai-api/localserver/tiny-model",
        model_base_url=server.base_url,
        limit=LIMIT,
        log_dir=str(tmp_path),
        display="none",
    )[0]
    assert log.status == "success", log.error
    return log


def _choices(log):
    return [sample.scores["stigma_choice"] for sample in log.samples]


@pytest.mark.parametrize("with_logprobs", [True, False])
def test_letters_by_logprobs_or_by_text(with_logprobs, tmp_path, monkeypatch):
    plan = FaultPlan(logprobs=with_logprobs)
    # Text says A (probe) / C (full answer); log-probabilities favour B.
    with FaultServer(plan, reply=lambda messages: "C", letter="A") as server:
        log = _run(server, tmp_path, monkeypatch)
        requests = server.stats.requests
        bodies = list(server.stats.bodies)
    if with_logprobs:
        assert requests == LIMIT
        assert all(score.answer == "B" for score in _choices(log))
        assert all(score.metadata["read_by"] == "log-probability" for score in _choices(log))
        probabilities = _choices(log)[0].metadata["letter_probabilities"]
        assert probabilities["B"] > probabilities["A"] > 0
        assert all(s.metadata["answer_method"] == "logprobs" for s in log.samples)
    else:
        assert requests == 2 * LIMIT  # the probe, then a text answer
        assert all(score.answer == "C" for score in _choices(log))
        assert all(s.metadata["answer_method"] == "text" for s in log.samples)
        probes = [body for body in bodies if body.get("logprobs")]
        assert len(probes) == LIMIT and all(body["max_tokens"] == 1 for body in probes)
    usage = log.stats.model_usage["openai-api/localserver/tiny-model"]
    assert usage.input_tokens > 0
