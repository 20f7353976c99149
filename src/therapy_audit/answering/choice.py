"""Read the option a respondent chose from a model output.

Shared by everything answered by letter (stigma items, the judge's yes/no):
log-probabilities where the provider gives them, else the parsed text.
"""

from __future__ import annotations

from dataclasses import dataclass

from inspect_ai.model import ModelOutput

from therapy_audit.answering.letters import letter_probabilities, parse_letter
from therapy_audit.outcomes import CONTEXT_OVERFLOW, ERROR, REFUSED, UNPARSED


@dataclass(frozen=True)
class Choice:
    """The option a respondent chose, or why none could be read."""

    letter: str | None
    status: str  # "chosen", UNPARSED, REFUSED, CONTEXT_OVERFLOW, ERROR
    how: str
    probabilities: dict[str, float] | None = None


def _first_token_answers(output: ModelOutput, letters: str) -> bool:
    """True when the first token's log-probabilities are the answer.

    A one-token reply is read from its log-probabilities whatever the token.
    A longer reply (one call serving both readings) that opens with a word
    ("The answer is C") is read from its text: the letters among the first
    token's alternatives are not what the model went on to say.
    """
    content = output.choices[0].logprobs.content if output.choices[0].logprobs else []
    if len(content) <= 1:
        return True
    token = content[0].token.strip().lstrip("(*[").rstrip(").:*]")
    return len(token) == 1 and token in letters


def read_choice(output: ModelOutput, options: list[str], method: str | None) -> Choice:
    """Read the chosen letter from ``output`` given the option texts in shown order."""
    if output.error:
        return Choice(None, ERROR, f"provider error: {output.error}")
    if output.stop_reason == "model_length":
        # Inspect providers report "the prompt did not fit" this way.
        return Choice(None, CONTEXT_OVERFLOW, "prompt exceeded the context window")
    letters = "".join(chr(ord("A") + i) for i in range(len(options)))
    if method == "logprobs":
        probs = letter_probabilities(output, letters)
        if probs is not None and probs.letter is not None and _first_token_answers(output, letters):
            return Choice(probs.letter, "chosen", "log-probability", probs.probabilities)
    parsed = parse_letter(output.completion, options)
    if parsed.letter:
        return Choice(parsed.letter, "chosen", parsed.how)
    return Choice(None, REFUSED if parsed.refused else UNPARSED, parsed.how)
