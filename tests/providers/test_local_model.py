"""The real embedded model (SmolLM2 GGUF via xllamacpp), in-process."""

import asyncio

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.model import GenerateConfig, get_model

from therapy_audit.analysis.frame import results_frame
from therapy_audit.experiments.stigma.task import stigma
from therapy_audit.providers.model_files import ModelFileError, resolve_model_file

pytestmark = pytest.mark.slow


def generate(model, prompt, **config):
    return asyncio.run(model.generate(prompt, config=GenerateConfig(**config)))


def test_bundled_weights_are_found_without_importing_the_package():
    path = resolve_model_file("smollm2")
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000


def test_unknown_local_model_says_what_is_allowed(tmp_path):
    with pytest.raises(ModelFileError, match="neither a bundled model"):
        resolve_model_file("gpt-17")
    with pytest.raises(ModelFileError, match="not found"):
        resolve_model_file(str(tmp_path / "missing.gguf"))


def test_deterministic_at_temperature_zero_with_usage_and_prefix_reuse():
    model = get_model("local/smollm2", memoize=False)
    prompt = "Name one colour of the sky on a clear day."
    first = generate(model, prompt, max_tokens=16, temperature=0)
    second = generate(model, prompt, max_tokens=16, temperature=0)
    assert first.completion and first.completion == second.completion
    assert first.usage.output_tokens > 0
    # The second request shares its whole prompt with the first one.
    assert second.usage.input_tokens_cache_read > 0
    assert (
        second.usage.input_tokens < first.usage.input_tokens + first.usage.input_tokens_cache_read
    )


def test_logprobs_are_exposed_for_one_token_answers():
    model = get_model("local/smollm2", memoize=False)
    out = generate(
        model,
        "Answer with A or B only.\nA. yes\nB. no",
        max_tokens=1,
        logprobs=True,
        top_logprobs=10,
    )
    tops = out.choices[0].logprobs.content[0].top_logprobs
    assert len(tops) == 10
    assert tops[0].logprob >= tops[-1].logprob


def test_context_overflow_is_reported_not_generated():
    model = get_model("local/smollm2", n_ctx=256, memoize=False)
    out = generate(model, "word " * 600, max_tokens=5)
    assert out.stop_reason == "model_length"
    assert "exceeds the available context size" in out.completion


def test_a_context_that_fills_up_mid_reply_is_an_overflow_not_a_budget_stop():
    # The prompt fits; the reply would not: llama.cpp stops at the window's end.
    model = get_model("local/smollm2", n_ctx=256, memoize=False)
    out = generate(model, "Write a very long story about a dragon. " * 4, max_tokens=400)
    assert out.stop_reason == "model_length"
    assert out.usage.total_tokens >= 256
    short = generate(model, "Say hello.", max_tokens=5)
    assert short.stop_reason == "max_tokens"  # a reply cut at its own budget stays that


def test_stigma_slice_end_to_end(tmp_path):
    [log] = inspect_eval(
        stigma(), model="local/smollm2", limit=6, log_dir=str(tmp_path), display="none"
    )
    assert log.status == "success"
    frame = results_frame([log.location])
    assert len(frame) == 6
    assert set(frame["answer_method"]) == {"logprobs"}
    assert frame["outcome"].isin(["stigmatizing", "not_stigmatizing", "unknown"]).all()
    assert frame["score_letter"].str.fullmatch("[A-E]").all()


def test_stigma_overflow_is_its_own_outcome(tmp_path):
    [log] = inspect_eval(
        stigma(),
        model="local/smollm2",
        model_args={"n_ctx": 256},
        limit=2,
        log_dir=str(tmp_path),
        display="none",
    )
    frame = results_frame([log.location])
    assert list(frame["outcome"]) == ["context_overflow"] * 2


def test_crisis_embedded_respondent_with_deterministic_judge(tmp_path):
    from therapy_audit.experiments.crisis.task import crisis

    [log] = inspect_eval(
        crisis(conditions="suicidal-ideation", judge="checks", reply_tokens=120),
        model="local/smollm2",
        limit=2,
        log_dir=str(tmp_path),
        display="none",
    )
    assert log.status == "success"
    frame = results_frame([log.location])
    # A reply no check can decide is unjudged (offline nothing guesses a verdict).
    assert frame["outcome"].isin(["pass", "fail", "unjudged"]).all()
    # Offline, checks decide what they prove and the rest is unjudged (never guessed).
    assert set(frame["score_verdict_by"]) <= {"pattern-check", "pattern-check,unjudged", "unjudged"}
    assert "pattern-check" in ",".join(frame["score_verdict_by"])
    assert (frame["score_reply_chars"] > 0).all()


def test_crisis_embedded_model_as_its_own_judge_is_marked_smoke_test(tmp_path):
    from therapy_audit.experiments.crisis.task import crisis

    [log] = inspect_eval(
        crisis(conditions="delusions", judge="model", reply_tokens=60),
        model="local/smollm2",
        limit=2,
        log_dir=str(tmp_path),
        display="none",
    )
    frame = results_frame([log.location])
    assert frame["outcome"].isin(["pass", "fail", "unparsed"]).all()
    assert frame["score_smoke_test"].all()
    assert set(frame["score_verdict_by"]) == {"local/smollm2"}


def test_crisis_context_overflow_is_detected_not_failed(tmp_path):
    from therapy_audit.experiments.crisis.task import crisis

    [log] = inspect_eval(
        crisis(conditions="mania", context="transcripts", insert_at="end", judge="checks"),
        model="local/smollm2",
        model_args={"n_ctx": 256},
        limit=2,
        log_dir=str(tmp_path),
        display="none",
    )
    frame = results_frame([log.location])
    assert list(frame["outcome"]) == ["context_overflow"] * 2
    assert frame["value"].isna().all()


def test_slots_share_the_model_and_each_keeps_the_whole_window():
    """Several requests at once, each with a prompt near one slot's window: none overflows."""
    model = get_model("local/smollm2", n_ctx=512, slots=3, memoize=False)
    assert model.api.max_connections() == 3

    async def together():
        prompt = "Please repeat: " + "calm " * 380  # about 400 tokens: fits 512, not 512 / 3
        return await asyncio.gather(
            *[model.generate(prompt, config=GenerateConfig(max_tokens=4)) for _ in range(3)]
        )

    outputs = asyncio.run(together())
    assert all(o.stop_reason != "model_length" for o in outputs)
    assert all(o.usage.output_tokens > 0 for o in outputs)


def test_one_slot_by_default_whatever_the_threads_so_replies_replay_exactly():
    """Batched decoding changed 3 of 205 crisis replies by a token (benchmarks/slots_local.py)."""
    one = get_model("local/smollm2", n_threads=1, memoize=False)
    two = get_model("local/smollm2", n_threads=2, memoize=False)
    chosen = get_model("local/smollm2", n_threads=2, slots=8, memoize=False)
    assert one.api.max_connections() == two.api.max_connections() == 1
    assert chosen.api.max_connections() == 8
