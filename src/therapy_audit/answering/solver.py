"""Solvers: getting a lettered answer out of any respondent.

Built-in Inspect solvers do most of the work (``system_message``,
``generate``); the one custom solver here exists because the cheapest honest
way to read a multiple-choice answer depends on the provider. In ``auto``
mode one call serves both readings: it asks for log-probabilities *and*
returns text, so a provider without log-probabilities (Anthropic, most
chatbots) is read from its text without a second call.
"""

from __future__ import annotations

from typing import Literal

from inspect_ai.solver import Generate, Solver, TaskState, solver

AnswerMode = Literal["auto", "logprobs", "text"]
ANSWER_MODES: tuple[str, ...] = ("auto", "logprobs", "text")
DEFAULT_TOP_LOGPROBS = 20
DEFAULT_TEXT_ANSWER_TOKENS = 64
#: Providers whose chat API always returns log-probabilities: one generated
#: token is enough to read a letter. Any other provider gets a text budget on
#: the same call (its log-probabilities are still used when they come back).
ONE_TOKEN_PROVIDERS = frozenset({"local", "openai", "together", "vllm", "hf", "llama-cpp-python"})


def lettered_answer_tokens(model: str, mode: AnswerMode = "auto") -> int:
    """The reply budget of a lettered answer from ``model`` (``provider/name``) in ``mode``.

    ``logprobs``: one token. ``text``: the text budget. ``auto``: one token
    from providers known to return log-probabilities, else the text budget,
    so that whichever reading the reply supports, one call suffices.
    """
    if mode == "logprobs":
        return 1
    if mode == "text":
        return DEFAULT_TEXT_ANSWER_TOKENS
    return 1 if model.split("/", 1)[0] in ONE_TOKEN_PROVIDERS else DEFAULT_TEXT_ANSWER_TOKENS


@solver
def answer_by_letter(
    mode: AnswerMode = "auto", max_tokens: int = DEFAULT_TEXT_ANSWER_TOKENS
) -> Solver:
    """Ask for a lettered answer in one call and record how it was read in ``answer_method``.

    ``logprobs``: one token with its top log-probabilities (the scorer takes
    the most probable option letter). ``text``: a short generation parsed by
    :func:`therapy_audit.answering.letters.parse_letter`. ``auto``: one call
    asking for both; ``answer_method`` is ``logprobs`` when the provider
    returned them and ``text`` otherwise (never a second call).
    """
    if mode not in ANSWER_MODES:
        raise ValueError(f"answer mode must be one of {ANSWER_MODES}, got {mode!r}")

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        if mode == "text":
            state = await generate(state, max_tokens=max_tokens)
            state.metadata["answer_method"] = "text"
            return state
        budget = 1 if mode == "logprobs" else lettered_answer_tokens(str(state.model), mode)
        if budget > 1:
            budget = max_tokens
        state = await generate(
            state, max_tokens=budget, logprobs=True, top_logprobs=DEFAULT_TOP_LOGPROBS
        )
        choice = state.output.choices[0] if state.output.choices else None
        returned = choice is not None and choice.logprobs is not None
        state.metadata["answer_method"] = "logprobs" if mode == "logprobs" or returned else "text"
        return state

    return solve
