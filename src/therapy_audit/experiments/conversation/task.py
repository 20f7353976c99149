"""The multi-turn experiment: a scripted or simulated client, judged on every reply.

Single replies miss the failure that matters most: a respondent safe at
turn one that colludes by turn eight. Each persona (``stimuli/personas/``)
is played either from its fixed script (``client_mode=scripted``, the
default: reproducible, offline, no client model) or by a model on the
``client`` role (``client_mode=simulated``), which opens with the persona's
first scripted message, discloses slowly along the persona's escalation path
by turn number, and leaves when a real person would (if the persona may
leave). The respondent (the task's model) replies each turn. Every persona
criterion is judged on every reply; a conversation is safe when no judged
turn failed, and the first failing turn says how long the respondent held.
"""

from __future__ import annotations

from typing import Any, Literal

from inspect_ai import Epochs, Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.solver import system_message

from therapy_audit.experiments.common import keep_shard, task_metadata
from therapy_audit.experiments.conversation.client import (
    CLIENT_MODES,
    DEFAULT_CLIENT_SEED,
    DEFAULT_CLIENT_TEMPERATURE,
    DEFAULT_CLIENT_TOKENS,
    DEFAULT_REPLY_TOKENS,
    MAX_TURNS_CAP,
    SCRIPTED,
    conversation_client,
    persona_metadata,
)
from therapy_audit.experiments.conversation.prompts import CLIENT_REVISION, END_SENTINEL
from therapy_audit.experiments.conversation.scorer import (
    DEFAULT_CHAR_LIMIT,
    DEFAULT_JUDGE_CONTEXT_CHARS,
    conversation_judge,
)
from therapy_audit.experiments.crisis.scorer import JUDGE_MODES
from therapy_audit.metrics import scored_mean
from therapy_audit.prompts import JUDGE_REVISION, resolve_system_prompt
from therapy_audit.stimuli.load import load_personas
from therapy_audit.stimuli.schema import Persona

TASK_VERSION = "2.0.0"
DEFAULT_JUDGE_SEED = 20250119


def persona_sample(persona: Persona) -> Sample:
    """One persona as a Sample: the opening message as input, every field in metadata."""
    return Sample(
        id=f"conversation/{persona.id}",
        input=persona.opening_message.strip(),
        metadata={
            "experiment": "conversation",
            **persona_metadata(persona),  # includes the persona's own ``control``
            "has_check": any(c.check is not None for c in persona.criteria),
        },
    )


def select_personas(loaded: list[Persona], personas: str | None) -> list[Persona]:
    """Keep the comma-separated persona ids asked for (all when None), in data order."""
    if not personas:
        return loaded
    wanted = [p.strip() for p in personas.split(",") if p.strip()]
    known = [p.id for p in loaded]
    unknown = sorted(set(wanted) - set(known))
    if unknown or not wanted:
        raise ValueError(f"unknown persona(s) {unknown or wanted}; known: {sorted(known)}")
    return [p for p in loaded if p.id in wanted]


@task
def conversation(
    system_prompt: str = "none",
    client_mode: Literal["scripted", "simulated"] = SCRIPTED,
    turns: int | None = None,
    personas: str | None = None,
    stimuli: str | None = None,
    judge: Literal["auto", "model", "checks"] = "auto",
    judges: str = "grader",
    judge_seed: int = DEFAULT_JUDGE_SEED,
    judge_history: bool = True,
    client_seed: int = DEFAULT_CLIENT_SEED,
    client_temperature: float = DEFAULT_CLIENT_TEMPERATURE,
    client_tokens: int = DEFAULT_CLIENT_TOKENS,
    reply_tokens: int = DEFAULT_REPLY_TOKENS,
    char_limit: int = DEFAULT_CHAR_LIMIT,
    judge_context_chars: int = DEFAULT_JUDGE_CONTEXT_CHARS,
    shard: str | None = None,
) -> Task:
    """Multi-turn conversations with a scripted or simulated client, every reply judged.

    The respondent is the task's model; in simulated mode the client is the
    ``client`` model role (default: the embedded ``local/smollm2``); judges
    are the roles in ``judges`` (default ``grader``).

    Args:
        system_prompt: ``none``, ``steel-man`` or a path to a text file.
        client_mode: ``scripted`` (the persona's scripted turns, whatever the
            replies; no client model) or ``simulated`` (the ``client`` role
            plays the persona).
        turns: the most respondent replies per conversation, 1 to 30.
            Default: every scripted turn (scripted) or 10 (simulated); a
            simulated client whose persona may leave can end earlier.
        personas: comma-separated persona ids to run (default: all).
        stimuli: a persona YAML file or folder replacing the packaged personas.
        judge: ``auto`` (LLM judge; where only the embedded model judges, a
            criterion's deterministic check decides where it has one),
            ``model`` (always the LLM judge), or ``checks`` (only criteria with
            a deterministic check, judged by it; personas without one are left out).
        judges: comma-separated model roles forming the judge ensemble.
        judge_seed: seed for the per-turn, per-criterion order of yes/no options.
        judge_history: show the judge the conversation so far (both sides, oldest
            turns left out first beyond ``judge_context_chars``), not only the
            message the reply answers; criteria ask about hints "so far".
        client_seed: seed from which each client turn's sampling seed is derived
            (with the sample id, epoch and turn; every seed is in the metadata).
        client_temperature: the client's sampling temperature.
        client_tokens: the client's token budget per message.
        reply_tokens: the respondent's token budget per reply.
        char_limit: replies are cut to this many characters before judging.
        judge_context_chars: the most characters of earlier conversation the
            judge is shown per turn; older turns are left out first, and how
            many were left out is recorded per turn.
        shard: ``i/N``: ask only worker i's share of the personas (set by
            ``therapy-audit run --workers N``).
    """
    if judge not in JUDGE_MODES:
        raise ValueError(f"judge must be one of {JUDGE_MODES}, got {judge!r}")
    if client_mode not in CLIENT_MODES:
        raise ValueError(f"client_mode must be one of {CLIENT_MODES}, got {client_mode!r}")
    if turns is not None and (
        isinstance(turns, bool) or not isinstance(turns, int) or not 1 <= turns <= MAX_TURNS_CAP
    ):
        raise ValueError(f"turns must be a whole number from 1 to {MAX_TURNS_CAP}, got {turns!r}")
    if judge_context_chars < 0:
        raise ValueError("judge_context_chars cannot be negative")
    if char_limit < 1:
        raise ValueError("char_limit must be a positive number of characters")
    if client_tokens < 1 or reply_tokens < 1:
        raise ValueError("client_tokens and reply_tokens must be positive")
    if not 0 <= client_temperature <= 2:
        raise ValueError(f"client_temperature must be between 0 and 2, got {client_temperature}")
    judge_roles = [r.strip() for r in judges.split(",") if r.strip()]
    if not judge_roles:
        raise ValueError("judges must name at least one model role, e.g. 'grader'")
    prompt_label, prompt_text = resolve_system_prompt(system_prompt)
    loaded, stimulus_set = load_personas(stimuli)
    chosen = select_personas(loaded, personas)
    if judge == "checks":
        chosen = [p for p in chosen if any(c.check is not None for c in p.criteria)]
        if not chosen:
            raise ValueError(
                "judge='checks' needs personas with at least one criterion that has a "
                "deterministic check; none of the chosen personas has one"
            )
    solver: list[Any] = []
    if prompt_text:
        solver.append(system_message(prompt_text))
    solver.append(
        conversation_client(
            client_mode, turns, reply_tokens, client_tokens, client_temperature, client_seed
        )
    )
    metadata = task_metadata("conversation", stimulus_set, prompt_label, shard)
    metadata.update(
        {
            "judge_revision": JUDGE_REVISION,
            "client_revision": CLIENT_REVISION,
            "end_sentinel": END_SENTINEL,
            "judge_seed": judge_seed,
            "judge_mode": judge,
            "judge_roles": judge_roles,
            "judge_history": judge_history,
            "client_seed": client_seed,
            "client_temperature": client_temperature,
            "client_mode": client_mode,
            "max_turns": turns,
            "reply_tokens": reply_tokens,
            "client_tokens": client_tokens,
            "char_limit": char_limit,
            "judge_context_chars": judge_context_chars,
        }
    )
    return Task(
        dataset=MemoryDataset(
            keep_shard([persona_sample(p) for p in chosen], shard),
            name="therapy-audit-conversation",
        ),
        solver=solver,
        scorer=conversation_judge(
            judge, judge_roles, char_limit, judge_seed, judge_history, judge_context_chars
        ),
        epochs=Epochs(1, scored_mean(average=("ended_safe",))),
        version=TASK_VERSION,
        metadata=metadata,
    )
