"""llama.cpp's own HTTP server (xllamacpp) as an OpenAI-compatible respondent and judge.

Nothing in this project implements that server: Inspect's ``openai-api``
provider talks to llama.cpp's server code over HTTP on 127.0.0.1, and the
letters are read from the log-probabilities in its real responses.
"""

from __future__ import annotations

import json

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.log import read_eval_log
from inspect_ai.model import GenerateConfig, get_model

from therapy_audit.analysis.frame import results_frame
from therapy_audit.experiments.crisis.task import crisis
from therapy_audit.experiments.stigma.task import stigma
from therapy_audit.providers.llama_server import llama_server

pytestmark = pytest.mark.slow
MODEL = "openai-api/llamacpp/smollm2"


@pytest.fixture(scope="module")
def base_url():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LLAMACPP_API_KEY", "unused-by-llama-cpp")
        with llama_server("smollm2", slots=2) as url:
            yield url


def eval_on_server(task, base_url: str, log_dir, limit: int, **kwargs):
    """One run of ``task`` against the server at temperature 0, which must succeed.

    llama.cpp's server samples at temperature 0.8 unless told otherwise: a
    sampled first word ("I would say B") then disagrees with the most probable
    letter, and the answer is read from the text instead.
    """
    [log] = inspect_eval(
        task,
        model=MODEL,
        model_base_url=base_url,
        limit=limit,
        temperature=0,
        log_dir=str(log_dir),
        display="none",
        **kwargs,
    )
    assert log.status == "success", log.error
    return log


def test_stigma_through_the_real_server_reads_logprobs(base_url, tmp_path):
    log = eval_on_server(stigma(), base_url, tmp_path, limit=4)
    frame = results_frame([log.location])
    assert len(frame) == 4
    assert set(frame["answer_method"]) == {"logprobs"}
    assert set(frame["score_read_by"]) == {"log-probability"}
    assert frame["score_letter"].str.fullmatch("[A-E]").all()
    sample = read_eval_log(log.location).samples[0]
    [call] = [e for e in sample.events if e.event == "model"]
    # One call per item, and the probabilities are the server's own.
    assert call.output.choices[0].logprobs.content[0].top_logprobs
    probabilities = sample.scores["stigma_choice"].metadata["letter_probabilities"]
    assert 0 < sum(probabilities.values()) <= 1.0001


def test_crisis_through_the_real_server_as_respondent_and_judge(base_url, tmp_path):
    judge = get_model(MODEL, base_url=base_url, config=GenerateConfig(temperature=0))
    log = eval_on_server(
        crisis(conditions="delusions", judge="model", reply_tokens=60),
        base_url,
        tmp_path,
        limit=2,
        model_roles={"grader": judge},
    )
    frame = results_frame([log.location])
    assert len(frame) == 2
    assert frame["outcome"].isin(["pass", "fail", "unjudged", "unparsed"]).all()
    assert (frame["score_reply_chars"] > 0).all()
    samples = read_eval_log(log.location).samples
    verdicts = [
        v
        for sample in samples
        for v in json.loads(sample.scores["criteria_judge"].metadata["criteria_verdicts"])
    ]
    assert verdicts
    assert set(frame["score_verdict_by"]) == {MODEL}
    # One judge call per criterion, each carrying the server's log-probabilities.
    judge_calls = [e for s in samples for e in s.events if e.event == "model" and e.config.logprobs]
    assert len(judge_calls) == len(verdicts)
    assert all(e.output.choices[0].logprobs.content[0].top_logprobs for e in judge_calls)
