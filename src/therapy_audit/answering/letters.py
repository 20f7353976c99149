"""Read a lettered answer from a model: by log-probability, or from its text.

A multiple-choice answer is read two ways. When the provider returns the
top log-probabilities of the first generated token, the most probable
option letter is the answer (one forward pass, no sampling noise). Otherwise
the generated text goes through :func:`parse_letter`, which accepts the many
shapes real models answer in and refuses to guess when an answer is
ambiguous: an ambiguous answer is ``unparsed``, never the first letter seen.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from inspect_ai.model import ModelOutput

LETTERS = "ABCDEFGHIJ"

_MARKUP = re.compile(r"[*_`#>]+")
_REFUSAL = re.compile(
    r"\b(?:I\s*(?:can(?:'|’)?not|can't|cannot|won't|will not"
    r"|am not able|'m not able|am unable|'m unable)"
    r"|as an (?:AI|artificial intelligence|language model)"
    r"|I (?:don't|do not) (?:feel comfortable|think it(?:'s| is) appropriate)"
    r"|not (?:appropriate|able) (?:for me )?to (?:answer|judge|make|provide|speculate))",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ParsedLetter:
    """What was read from an answer: a letter, a refusal, or neither."""

    letter: str | None
    refused: bool = False
    how: str = ""


def option_letters(n: int) -> str:
    """The first ``n`` letters used to label options."""
    if not 1 <= n <= len(LETTERS):
        raise ValueError(f"between 1 and {len(LETTERS)} options are supported, got {n}")
    return LETTERS[:n]


def format_options(options: Sequence[str]) -> str:
    r"""``A. first\\nB. second ...`` as shown to the respondent."""
    return "\n".join(f"{letter}. {text}" for letter, text in zip(LETTERS, options, strict=False))


def _clean(text: str) -> str:
    return _MARKUP.sub("", text).strip()


def _letters_by_option_text(text: str, options: Sequence[str], letters: str) -> set[str]:
    """Letters whose option text appears in ``text``, dropping texts inside a longer match."""
    lowered = text.lower()
    found = {
        i
        for i, option in enumerate(options)
        if re.search(rf"(?<![a-z]){re.escape(option.lower())}(?![a-z])", lowered)
    }
    shadowed = {
        i
        for i in found
        for j in found
        if i != j and options[i].lower() in options[j].lower() and len(options[j]) > len(options[i])
    }
    return {letters[i] for i in found - shadowed}


def _without_echoed_options(text: str, options: Sequence[str], letters: str) -> str:
    """``text`` minus the option list, when two or more of its lines are echoed back.

    A reply that repeats ``A. ...`` to ``E. ...`` before saying anything has
    not chosen ``A``; one such line on its own (``C. Probably willing``) is
    an answer and is kept.
    """
    lines = text.splitlines()
    echoed = [
        index
        for index, line in enumerate(lines)
        if any(
            re.fullmatch(
                rf"\(?{letter}[.):]?\)?\s*{re.escape(option)}\s*[.;,]?",
                line.strip(),
                flags=re.IGNORECASE,
            )
            for letter, option in zip(letters, options, strict=False)
        )
    ]
    if len(echoed) < 2:
        return text
    return "\n".join(line for index, line in enumerate(lines) if index not in echoed).strip()


def parse_letter(text: str, options: Sequence[str]) -> ParsedLetter:
    """Read which option a free-text answer chose.

    Accepts ``C``, ``(C)``, ``**C**``, ``C) Probably willing``, ``C. ...``,
    ``The answer is (D).``, ``Answer: D``, ``I would choose B``, and an
    option's text without its letter. An option list echoed back (two or
    more ``X. option`` lines) is not an answer and is ignored. Returns ``ParsedLetter(None)`` when
    no option, or more than one, can be read; ``refused=True`` when the
    answer declines instead.

    >>> parse_letter("The answer is (D).", ["a", "b", "c", "d"]).letter
    'D'
    >>> parse_letter("A or B", ["x", "y"]).letter is None
    True
    """
    letters = option_letters(len(options))
    clean = _without_echoed_options(_clean(text), options, letters)
    pattern_letter = f"[{letters}]"

    candidates: list[tuple[str, str]] = []
    whole = re.fullmatch(rf"\(?\[?({pattern_letter})\]?\)?[.):]?", clean)
    if whole:
        candidates.append((whole.group(1), "letter"))
    lead = re.match(rf"^\(?({pattern_letter})(?:\)|\.|:|\s*[-–—])(?:\s|$)", clean)
    if lead:
        candidates.append((lead.group(1), "leading letter"))
    stated = re.findall(
        rf"(?:answer|choice|option|choose|chose|select|pick|go with|would say|'d say)"
        rf"(?:\s+(?:is|would be|will be|=))?\s*[:\-]?\s*\(?({pattern_letter})\)?(?![A-Za-z])",
        clean,
        flags=re.IGNORECASE,
    )
    stated_letters = {s.upper() for s in stated if s.upper() in letters}
    if len(stated_letters) == 1:
        candidates.append((stated_letters.pop(), "stated letter"))
    elif len(stated_letters) > 1:
        return ParsedLetter(None, how="several letters stated")

    by_text = _letters_by_option_text(clean, options, letters)
    chosen = {letter for letter, _ in candidates}
    if len(chosen) > 1:
        return ParsedLetter(None, how="conflicting letters")
    if chosen:
        letter = chosen.pop()
        if by_text and letter not in by_text:
            return ParsedLetter(None, how="letter and option text disagree")
        return ParsedLetter(letter, how=candidates[0][1])
    if len(by_text) == 1:
        return ParsedLetter(by_text.pop(), how="option text")
    if _REFUSAL.search(clean):
        return ParsedLetter(None, refused=True, how="refusal")
    return ParsedLetter(None, how="no option found" if not by_text else "several option texts")


@dataclass(frozen=True)
class LetterProbabilities:
    """Probability mass the first generated token put on each option letter."""

    probabilities: dict[str, float]

    @property
    def letter(self) -> str | None:
        """The most probable option letter, or None when no letter was among the top tokens."""
        if not self.probabilities:
            return None
        return max(self.probabilities, key=lambda k: self.probabilities[k])

    @property
    def coverage(self) -> float:
        """Share of the first token's probability that fell on option letters."""
        return sum(self.probabilities.values())


def letter_probabilities(output: ModelOutput, letters: str) -> LetterProbabilities | None:
    """Sum the first token's top log-probabilities by option letter.

    Tokens such as ``"A"``, ``" A"`` and ``"(A"`` all count for A. Returns
    None when the output carries no log-probabilities at all.
    """
    if not output.choices or output.choices[0].logprobs is None:
        return None
    content = output.choices[0].logprobs.content
    if not content or not content[0].top_logprobs:
        return None
    totals: dict[str, float] = {}
    for top in content[0].top_logprobs:
        token = top.token.strip().lstrip("(*[").rstrip(").:*]")
        if len(token) == 1 and token in letters:
            totals[token] = totals.get(token, 0.0) + math.exp(top.logprob)
    return LetterProbabilities(totals)
