"""The yes/no judge: an LLM answering a stimulus's criterion by letter, or a pattern check.

The judge sees the client's last message, the (cut) reply and the criterion,
never the respondent's name. "Yes" and "No" are shown in an order drawn per
sample from a recorded seed, and read back by letter, so a judge that
prefers "A" cannot push verdicts one way. An unreadable verdict is
``unparsed``, never a silent "no".
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from inspect_ai.model import GenerateConfig, Model

from therapy_audit.answering.choice import Choice, read_choice
from therapy_audit.answering.letters import format_options
from therapy_audit.answering.solver import DEFAULT_TOP_LOGPROBS, lettered_answer_tokens
from therapy_audit.prompts import JUDGE_TEMPLATE

YES_NO = ("Yes", "No")
PATTERN_CHECK = "pattern-check"
#: Bundled models too small to judge anything: their verdicts are a smoke test.
SMOKE_TEST_JUDGES = frozenset({"local/smollm2"})


def option_order(seed: int, sample_id: str, epoch: int, judge_index: int) -> tuple[str, str]:
    """The yes/no order shown to one judge for one sample (reproducible from the seed)."""
    rng = random.Random(f"{seed}/{sample_id}/{epoch}/{judge_index}")
    return YES_NO if rng.random() < 0.5 else YES_NO[::-1]


@dataclass(frozen=True)
class JudgeVerdict:
    """One judge's answer to a criterion: ``"yes"``, ``"no"`` or None (unreadable)."""

    judge: str
    answer: str | None
    order: tuple[str, str]
    choice: Choice
    raw: str


async def ask_judge(
    model: Model,
    client_message: str,
    reply: str,
    criterion: str,
    order: tuple[str, str],
) -> JudgeVerdict:
    """Ask one judge model in one call; log-probabilities when it gives them, text otherwise."""
    prompt = JUDGE_TEMPLATE.format(
        client_message=client_message,
        reply=reply,
        criterion=criterion,
        options=format_options(list(order)),
    )
    # One call serves both readings: log-probabilities when the judge returns
    # them, its text otherwise (a text budget unless it surely returns them).
    output = await model.generate(
        prompt,
        config=GenerateConfig(
            temperature=0,
            max_tokens=lettered_answer_tokens(str(model)),
            logprobs=True,
            top_logprobs=DEFAULT_TOP_LOGPROBS,
        ),
    )
    returned = bool(output.choices) and output.choices[0].logprobs is not None
    method = "logprobs" if returned else "text"
    choice = read_choice(output, list(order), method)
    answer = None
    if choice.letter is not None:
        answer = order["AB".index(choice.letter)].lower()
    return JudgeVerdict(str(model), answer, order, choice, output.completion)


def majority(answers: list[str | None]) -> str | None:
    """The majority label among readable answers; None on a tie or when none is readable."""
    counts = Counter(a for a in answers if a is not None).most_common()
    if not counts or (len(counts) > 1 and counts[0][1] == counts[1][1]):
        return None
    return counts[0][0]


#: ``verdict_by`` when no check proved an answer and no capable judge was available.
NOBODY = "unjudged"


@dataclass(frozen=True)
class Decision:
    """Who answered a criterion and what: the deterministic check, the judge ensemble, or nobody.

    ``answer`` is None when the judges' answer was unreadable (``verdict_by``
    names them) or when nobody capable decided (``verdict_by`` is
    :data:`NOBODY`): the first is ``unparsed``, the second ``unjudged``.
    """

    answer: str | None
    verdict_by: str
    smoke_test: bool
    verdicts: list[JudgeVerdict]

    @property
    def unjudged(self) -> bool:
        """True when nobody capable decided (not the same as an unreadable verdict)."""
        return self.verdict_by == NOBODY


def is_smoke_test(judges: list[Model]) -> bool:
    """True when every judge is a bundled model too small to judge (or there is none)."""
    return all(str(j) in SMOKE_TEST_JUDGES for j in judges)


async def decide(
    judges: list[Model],
    mode: str,
    check_answer: str | None,
    client_message: str,
    reply: str,
    criterion: str,
    seed: int,
    order_key: str,
    epoch: int,
) -> Decision:
    """Answer one criterion for one reply, the same way in every experiment.

    ``checks``: the deterministic check decides; where it abstains, nobody
    does (``unjudged``). ``auto``: with a capable judge, the judge ensemble
    decides (the check, if any, is kept beside it by the caller as a
    cross-check); with only smoke-test judges the check decides where it
    can and otherwise nobody does: a verdict is never guessed. ``model``:
    the judges always decide, smoke-test judges included, their verdicts
    marked as such. Each judge answers with its own seeded yes/no order
    (keyed by ``order_key``); the majority label wins.
    """
    smoke = is_smoke_test(judges)
    if mode == "checks" or (mode == "auto" and smoke):
        if check_answer is not None:
            return Decision(check_answer, PATTERN_CHECK, False, [])
        return Decision(None, NOBODY, False, [])
    verdicts = [
        await ask_judge(
            judge, client_message, reply, criterion, option_order(seed, order_key, epoch, index)
        )
        for index, judge in enumerate(judges)
    ]
    return Decision(
        majority([v.answer for v in verdicts]),
        ",".join(v.judge for v in verdicts),
        smoke,
        verdicts,
    )
