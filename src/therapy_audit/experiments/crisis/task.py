"""The appropriate-response experiment (Moore et al. 2025, "interjections").

A client message signals a condition (explicitly, or implicitly: a loss plus
a request for means); earlier turns may precede it, and it may be inserted
into a therapy transcript. The respondent replies; the reply is cut at a
character limit (by default long enough not to cut an ordinary reply) and
judged on every criterion of the stimulus (safety, care, escalation). The
appropriate-response rate is the share of decided replies that met every
criterion; each kind's rate and the paper's one-criterion rate are reported
beside it.
"""

from __future__ import annotations

from typing import Any, Literal

from inspect_ai import Epochs, Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessage, ChatMessageAssistant, ChatMessageUser
from inspect_ai.solver import generate, system_message

from therapy_audit.experiments.common import (
    DEFAULT_STIMULUS_SEED,
    draw_stimuli,
    keep_shard,
    task_metadata,
)
from therapy_audit.experiments.crisis.contextualize import contextualize
from therapy_audit.experiments.crisis.scorer import JUDGE_MODES, criteria_judge
from therapy_audit.experiments.crisis.transcripts import Session, insertion_points, load_sessions
from therapy_audit.metrics import scored_mean
from therapy_audit.prompts import JUDGE_REVISION, resolve_system_prompt
from therapy_audit.stimuli.load import load_crisis_stimuli
from therapy_audit.stimuli.schema import CrisisConditionFile, CrisisStimulus

TASK_VERSION = "2.0.0"
#: Long enough that the judge sees a whole ordinary reply (any cut is recorded).
DEFAULT_CHAR_LIMIT = 6000
#: Enough for a complete answer: crisis lines and means counselling come last.
DEFAULT_REPLY_TOKENS = 1000
DEFAULT_JUDGE_SEED = 20250119
CONTEXTS = ("none", "transcripts")


def _message(role: str, content: str) -> ChatMessage:
    return (
        ChatMessageUser(content=content)
        if role == "client"
        else ChatMessageAssistant(content=content)
    )


def stimulus_messages(stimulus: CrisisStimulus, wording: int = 0) -> list[ChatMessage]:
    """The stimulus's turns as chat messages; ``wording`` k > 0 swaps in paraphrase k."""
    turns = [(t.role, t.content) for t in stimulus.turns]
    if wording:
        turns[-1] = ("client", stimulus.paraphrases[wording - 1])
    return [_message(role, text) for role, text in turns]


def stimulus_sample(
    condition: CrisisConditionFile,
    stimulus: CrisisStimulus,
    wording: int = 0,
    session: Session | None = None,
    point: tuple[str, int] | None = None,
) -> Sample:
    """One stimulus (optionally after a transcript's first ``point[1]`` turns) as a Sample."""
    messages = stimulus_messages(stimulus, wording)
    sample_id = f"crisis/{condition.condition}/{stimulus.id}"
    if wording:
        sample_id += f"/wording-{wording}"
    context_turns = 0
    if session is not None and point is not None:
        context = [_message(role, text) for role, text in session.turns[: point[1]]]
        context_turns = len(context)
        messages = context + messages
        sample_id += f"/context/{session.id}/{point[0]}"
    return Sample(
        id=sample_id,
        input=messages,
        metadata={
            "experiment": "crisis",
            "condition": condition.condition,
            "control": condition.control,
            "stimulus": stimulus.id,
            "framing": stimulus.framing,
            "multi_turn": len(stimulus.turns) > 1,
            "criteria": [
                {
                    "id": c.id,
                    "kind": c.kind,
                    "question": c.question,
                    "appropriate_answer": c.appropriate_answer,
                    "paper_rule": c.paper_rule,
                }
                for c in stimulus.criteria
            ],
            "criterion": stimulus.paper_criterion.question,
            "appropriate_answer": stimulus.paper_criterion.appropriate_answer,
            "tags": ",".join(stimulus.tags),
            "country": stimulus.country,
            "rationale": stimulus.rationale,
            "features": list(stimulus.features),
            "has_check": any(c.check is not None for c in stimulus.criteria),
            "wording": wording,
            "context": session.id if session else "none",
            "context_source": session.source if session else None,
            "insert_at": point[0] if point else "none",
            "context_turns": context_turns,
        },
    )


def crisis_samples(
    conditions: list[CrisisConditionFile],
    context: str = "none",
    sessions: list[Session] | None = None,
    insert_at: str = "start,end",
    transcripts_per_stimulus: int = 1,
    paraphrases: bool = False,
    only_checked: bool = False,
) -> list[Sample]:
    """Every sample, in data order.

    With ``context="transcripts"`` each stimulus goes into
    ``transcripts_per_stimulus`` sessions, rotating through them so every
    session is used, at every insertion point of ``insert_at``.
    """
    samples = []
    index = 0
    for condition in conditions:
        for stimulus in condition.stimuli:
            if only_checked and all(c.check is None for c in stimulus.criteria):
                continue
            wordings = range(1 + len(stimulus.paraphrases)) if paraphrases else range(1)
            for wording in wordings:
                if context == "none":
                    samples.append(stimulus_sample(condition, stimulus, wording))
                    continue
                assert sessions
                for k in range(transcripts_per_stimulus):
                    session = sessions[(index + k) % len(sessions)]
                    for point in insertion_points(session, insert_at):
                        samples.append(
                            stimulus_sample(condition, stimulus, wording, session, point)
                        )
            index += 1
    return samples


@task
def crisis(
    system_prompt: str = "none",
    context: Literal["none", "transcripts"] = "none",
    transcripts: str | None = None,
    insert_at: str = "start,end",
    transcripts_per_stimulus: int = 1,
    contextualize_context: bool = False,
    paraphrases: bool = False,
    conditions: str | None = None,
    char_limit: int = DEFAULT_CHAR_LIMIT,
    reply_tokens: int = DEFAULT_REPLY_TOKENS,
    judge: Literal["auto", "model", "checks"] = "auto",
    judges: str = "grader",
    judge_seed: int = DEFAULT_JUDGE_SEED,
    stimuli: str | None = None,
    shard: str | None = None,
    stimulus_limit: int | None = None,
    stimulus_seed: int = DEFAULT_STIMULUS_SEED,
) -> Task:
    """Appropriate responses to clients signalling a mental-health condition.

    Args:
        system_prompt: ``none``, ``steel-man`` or a path to a text file.
        context: ``none`` or ``transcripts`` (insert stimuli into sessions).
        transcripts: ``packaged`` (default), a JSONL file of sessions, or an
            AnnoMI-format CSV.
        insert_at: insertion points: ``start``, ``end``, ``every:N``, comma-separated.
        transcripts_per_stimulus: sessions each stimulus is inserted into.
        contextualize_context: prefix the stimulus with a bridging client line
            written by the ``contextualizer`` model role.
        paraphrases: also ask each stimulus's paraphrased final message.
        conditions: comma-separated condition ids to keep (default: all).
        char_limit: replies are cut to this many characters before judging.
        reply_tokens: the respondent's token budget for a reply.
        judge: ``auto`` (an LLM judge; where only the embedded model is
            available, deterministic checks decide what they can prove and
            the rest is ``unjudged``), ``model`` (always the LLM judge), or
            ``checks`` (only stimuli with a deterministic check, judged by it).
        judges: comma-separated model roles forming the judge ensemble
            (majority label; each judge's label kept).
        judge_seed: seed for the per-sample order of the judge's yes/no options.
        stimuli: a YAML file or folder of crisis stimuli replacing the packaged ones.
        shard: ``i/N``: ask only worker i's share of the samples (set by
            ``therapy-audit run --workers N``).
        stimulus_limit: ask only this many stimuli, drawn evenly across
            conditions, each with all its samples (``run --limit N``).
        stimulus_seed: seed of that draw (recorded; not the respondent's seed).
    """
    if context not in CONTEXTS:
        raise ValueError(f"context must be one of {CONTEXTS}, got {context!r}")
    if judge not in JUDGE_MODES:
        raise ValueError(f"judge must be one of {JUDGE_MODES}, got {judge!r}")
    if char_limit < 1:
        raise ValueError("char_limit must be a positive number of characters")
    prompt_label, prompt_text = resolve_system_prompt(system_prompt)
    loaded, stimulus_set = load_crisis_stimuli(stimuli)
    if conditions:
        wanted = [c.strip() for c in conditions.split(",") if c.strip()]
        unknown = sorted(set(wanted) - {c.condition for c in loaded})
        if unknown:
            raise ValueError(
                f"unknown condition(s) {unknown}; known: {sorted(c.condition for c in loaded)}"
            )
        loaded = [c for c in loaded if c.condition in wanted]
    sessions = load_sessions(transcripts) if context == "transcripts" else None
    samples = crisis_samples(
        loaded,
        context,
        sessions,
        insert_at,
        transcripts_per_stimulus,
        paraphrases,
        only_checked=judge == "checks",
    )
    samples, draw = draw_stimuli(samples, stimulus_limit, stimulus_seed)
    samples = keep_shard(samples, shard)
    solver: list[Any] = []
    if prompt_text:
        solver.append(system_message(prompt_text))
    if contextualize_context and context == "transcripts":
        solver.append(contextualize())
    solver.append(generate(max_tokens=reply_tokens))
    judge_roles = [r.strip() for r in judges.split(",") if r.strip()]
    metadata = task_metadata("crisis", stimulus_set, prompt_label, shard)
    metadata.update(
        {
            "judge_revision": JUDGE_REVISION,
            "judge_seed": judge_seed,
            "char_limit": char_limit,
            "reply_tokens": reply_tokens,
            "judge_mode": judge,
            "judge_roles": judge_roles,
            **draw,
        }
    )
    return Task(
        dataset=MemoryDataset(samples, name="therapy-audit-crisis"),
        solver=solver,
        scorer=criteria_judge(
            judge, judge_roles, char_limit, judge_seed, checks_from=stimuli or "packaged"
        ),
        epochs=Epochs(1, scored_mean()),
        version=TASK_VERSION,
        metadata=metadata,
    )
