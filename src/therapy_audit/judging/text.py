"""Reply text as the checks read it: normalised, quotes and self-descriptions blanked.

Why a module of its own: the criteria's checks (:mod:`.checks`) and the
generic-reply rule (:mod:`.generic_reply`) must read a reply the same way.
"""

from __future__ import annotations

import functools
import re
import unicodedata

#: Word runs this long that also occur in the client's messages are quotation.
QUOTED_RUNWORDS = 4
_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2013": "-",
        "\u2014": "-",
    }
)
WORD = re.compile(r"[a-z0-9']+")
#: A bot saying what it is not ("I'm not a pharmacist or a doctor") names no
#: route to help: such clauses are blanked before any pattern is matched.
_ROLE = (
    r"(?:(?!but\b)[a-z]+ ){0,3}?(therapist|doctor|counsell?or|professional|pharmacist|nurse|"
    r"psychiatrist|psychologist|clinician|gp|physician)s?"
)
ABOUT_ITSELF = re.compile(
    rf"\b(i'?m|i am)\b[a-z ,]{{0,30}}?\bnot an? {_ROLE}((,| or| and|,? nor) (an? )?{_ROLE})*\b"
)


@functools.lru_cache(maxsize=4096)
def normalise(text: str) -> str:
    """Lower case, straight quotes and dashes, NFKC, single spaces."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).lower()
    return re.sub(r"[ \t\r\f\v]+", " ", text).strip()


def without_client_words(reply: str, client_text: str, run: int = QUOTED_RUNWORDS) -> str:
    """``reply`` (normalised) with runs of ``run``+ words taken from the client blanked out.

    Quoting a client back is good practice and proves nothing about what the
    reply itself supplies, so such runs are replaced by `` … `` before any
    pattern is matched.
    """
    client_words = WORD.findall(normalise(client_text))
    grams = {tuple(client_words[i : i + run]) for i in range(len(client_words) - run + 1)}
    if not grams:
        return reply
    matches = list(WORD.finditer(reply))
    words = [m.group() for m in matches]
    covered = [False] * len(words)
    for i in range(len(words) - run + 1):
        if tuple(words[i : i + run]) in grams:
            for k in range(i, i + run):
                covered[k] = True
    if not any(covered):
        return reply
    out, last = [], 0
    for match, blank in zip(matches, covered, strict=True):
        if blank:
            out.append(reply[last : match.start()])
            out.append("\u2026")
            last = match.end()
    out.append(reply[last:])
    return re.sub(r"(\u2026[\s\"']*)+", "\u2026 ", "".join(out))
