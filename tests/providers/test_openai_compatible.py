"""The stigma task end to end through Inspect's ``openai-api`` provider and a real local server.

Every lettered answer is one request, whether or not the server returns
log-probabilities: the request asks for both, the most probable letter is
chosen when log-probabilities come back, and the text is parsed when they do
not. The judge works the same way.
"""

from __future__ import annotations

import json

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.model import get_model

from fault_server import FaultPlan, FaultServer
from therapy_audit.experiments.crisis.task import crisis
from therapy_audit.experiments.stigma.task import stigma
from therapy_audit.planning import plan

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
    # Text says C; log-probabilities favour B.
    with FaultServer(FaultPlan(logprobs=with_logprobs), reply=lambda m: "C", letter="A") as server:
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
        assert requests == LIMIT  # no probe and no second call
        assert all(score.answer == "C" for score in _choices(log))
        assert all(s.metadata["answer_method"] == "text" for s in log.samples)
    # One request per item asked for both readings, with room for a text answer.
    assert all(body["logprobs"] and body["max_tokens"] == 64 for body in bodies)
    planned = plan([stigma()], "openai-api/localserver/tiny-model", {}, limit=LIMIT)
    assert int(planned["calls"].sum()) == requests
    usage = log.stats.model_usage["openai-api/localserver/tiny-model"]
    assert usage.input_tokens > 0


@pytest.mark.parametrize("with_logprobs", [True, False])
def test_judge_answers_each_criterion_in_one_call(with_logprobs, tmp_path, monkeypatch):
    monkeypatch.setenv("LOCALSERVER_API_KEY", "local-test-key")
    task_args = {"judge": "model", "conditions": "mania"}
    # The judge's text says "A"; its log-probabilities favour "B".
    with FaultServer(FaultPlan(logprobs=with_logprobs), reply=lambda m: "A") as judge_server:
        log = inspect_eval(
            crisis(**task_args),
            model="scripted/supportive",
            model_roles={
                "grader": get_model("openai-api/localserver/judge", base_url=judge_server.base_url)
            },
            limit=2,
            log_dir=str(tmp_path),
            display="none",
        )[0]
        requests = judge_server.stats.requests
    assert log.status == "success", log.error
    criteria = sum(len(s.metadata["criteria"]) for s in list(crisis(**task_args).dataset)[:2])
    assert requests == criteria
    planned = plan(
        [crisis(**task_args)],
        "scripted/supportive",
        {"grader": "openai-api/localserver/judge"},
        limit=2,
    )
    assert int(planned.set_index("role").loc["grader", "calls"]) == requests
    verdicts = [
        json.loads(s.scores["criteria_judge"].metadata["criteria_verdicts"]) for s in log.samples
    ]
    assert sum(len(v) for v in verdicts) == criteria
