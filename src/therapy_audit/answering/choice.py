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
        if probs is not None and probs.letter is not None:
            return Choice(probs.letter, "chosen", "log-probability", probs.probabilities)
    parsed = parse_letter(output.completion, options)
    if parsed.letter:
        return Choice(parsed.letter, "chosen", parsed.how)
    return Choice(None, REFUSED if parsed.refused else UNPARSED, parsed.how)
