"""Solvers: getting a lettered answer out of any respondent.

Built-in Inspect solvers do most of the work (``system_message``,
``generate``); the one custom solver here exists because the cheapest honest
way to read a multiple-choice answer depends on the provider: one forward
pass with log-probabilities where they exist, a short generation otherwise.
"""

from __future__ import annotations

from typing import Literal

from inspect_ai.solver import Generate, Solver, TaskState, solver

AnswerMode = Literal["auto", "logprobs", "text"]
ANSWER_MODES: tuple[str, ...] = ("auto", "logprobs", "text")
DEFAULT_TOP_LOGPROBS = 20
DEFAULT_TEXT_ANSWER_TOKENS = 64


@solver
def answer_by_letter(
    mode: AnswerMode = "auto", max_tokens: int = DEFAULT_TEXT_ANSWER_TOKENS
) -> Solver:
    """Ask for a lettered answer and record how it was read in ``answer_method``.

    ``logprobs``: one token with its top log-probabilities (the scorer takes
    the most probable option letter). ``text``: a short generation parsed by
    :func:`therapy_audit.answering.letters.parse_letter`. ``auto``: log-probabilities,
    falling back to text when the provider returns none.
    """
    if mode not in ANSWER_MODES:
        raise ValueError(f"answer mode must be one of {ANSWER_MODES}, got {mode!r}")

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        if mode in ("auto", "logprobs"):
            state = await generate(
                state, max_tokens=1, logprobs=True, top_logprobs=DEFAULT_TOP_LOGPROBS
            )
            choice = state.output.choices[0] if state.output.choices else None
            if mode == "logprobs" or (choice is not None and choice.logprobs is not None):
                state.metadata["answer_method"] = "logprobs"
                return state
            if state.messages and state.messages[-1].role == "assistant":
                state.messages.pop()  # the one-token probe is not the answer
        state = await generate(state, max_tokens=max_tokens)
        state.metadata["answer_method"] = "text"
        return state

    return solve
