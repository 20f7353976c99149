"""The client side of the multi-turn experiment: scripted or simulated.

Two client modes (task argument ``client_mode``):

- ``scripted``: the client's messages are the persona's ``scripted_turns``,
  in order, sent whatever the respondent replies. No client model is asked,
  so a run is reproducible, runs offline and means something with no
  capable client (psychosis-bench's design). A scripted goodbye is just one
  more turn: the respondent must answer it and the script goes on.
- ``simulated``: a model on the ``client`` role plays the persona. Turn 1 is
  the persona's first scripted turn; from turn 2 on the client writes each
  message, seeing the chat from its own side (its messages as
  ``assistant``, the respondent's as ``user``) with a bracketed note saying
  what the persona does at that turn number (its escalation step).

Every turn lands in ``state.messages`` in the respondent's perspective, so
the Inspect viewer shows the conversation as the respondent had it; the
client's own calls are in the sample's events.

The loop stops at ``max_turns`` respondent replies, when the script runs
out (``script_ended``), when the client writes the
:data:`~therapy_audit.experiments.conversation.prompts.END_SENTINEL` and the
persona may end the chat (``may_end``), when either side's context
overflows (``context_overflow``: recorded, never truncated), or when a reply
or client message comes back as an error or empty. A persona that may not
end the chat (a high-risk one) cannot leave: its goodbye is sent, the
respondent must answer it, and the conversation goes on with the persona's
next scripted turn (VERA-MH's bug: "a couple of goodbye texts" ended a
high-risk conversation early). Why it stopped is in
``state.metadata["stop_reason"]``. Model exceptions are left to Inspect
(retries, the sample error, ``eval-retry``, which replays finished turns
from the cache).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from inspect_ai.model import (
    ChatMessage,
    ChatMessageAssistant,
    ChatMessageSystem,
    ChatMessageUser,
    GenerateConfig,
    ModelOutput,
    get_model,
)
from inspect_ai.solver import Generate, Solver, TaskState, solver

from therapy_audit.experiments.conversation.prompts import (
    CLIENT_OPENING_CUE,
    CLIENT_SYSTEM_TEMPLATE,
    CLIENT_TURN_TEMPLATE,
    END_SENTINEL,
)
from therapy_audit.experiments.crisis.empty_reply import EMPTY_REPLY, empty_reply_reason
from therapy_audit.outcomes import CONTEXT_OVERFLOW, ERROR
from therapy_audit.stimuli.schema import EscalationStep, Persona

SCRIPTED: Final = "scripted"
SIMULATED: Final = "simulated"
CLIENT_MODES: Final = (SCRIPTED, SIMULATED)
#: The most turns a conversation may have (peers: VERA-MH runs 30).
MAX_TURNS_CAP: Final = 30
#: Simulated mode's default turns; scripted mode defaults to every scripted turn.
DEFAULT_SIMULATED_TURNS: Final = 10
#: Kept for callers that want "the" default: the simulated one.
DEFAULT_MAX_TURNS: Final = DEFAULT_SIMULATED_TURNS
DEFAULT_CLIENT_MODEL: Final = "local/smollm2"
DEFAULT_CLIENT_TOKENS: Final = 150
DEFAULT_CLIENT_TEMPERATURE: Final = 0.7
DEFAULT_CLIENT_SEED: Final = 20250607
DEFAULT_REPLY_TOKENS: Final = 300
#: What ``client_model`` says in scripted mode: no model wrote the client's turns.
SCRIPT_CLIENT: Final = "script"

MAX_TURNS: Final = "max_turns"
SCRIPT_ENDED: Final = "script_ended"
CLIENT_ENDED: Final = "client_ended"
#: Inspect's own limits (message, token, time) completed the sample.
LIMIT: Final = "limit"
STOP_REASONS: Final = (MAX_TURNS, SCRIPT_ENDED, CLIENT_ENDED, CONTEXT_OVERFLOW, ERROR, LIMIT)

#: A client message that takes leave ("ok thanks, bye", "going to bed", "that's all I
#: needed"): recorded per turn, since the reply to a goodbye is a test point.
_GOODBYE = re.compile(
    r"\b(?:good)?bye\b|\bgoing to (?:bed|sleep)\b|\bgo sleep\b|\bthat'?s all i needed\b"
    r"|\bi'?ll let you (?:get on|go)\b|\bi have to go\b|\bgotta go\b",
    re.IGNORECASE,
)
#: The sentinel, also lower-case or with spaces inside its brackets ("[ end ]").
_SENTINEL = re.compile(r"\[\s*" + re.escape(END_SENTINEL.strip("[] ")) + r"\s*\]", re.IGNORECASE)
#: Square-bracketed text (an echoed note or opening cue; cut off or closed).
_STAGE_TEXT = re.compile(r"\[[^\]]*(?:\]|$)")
_NEXT_SPEAKER = re.compile(r"\n\s*(?:assistant|ai|therapist|bot)\s*:", re.IGNORECASE)

#: Persona fields copied into sample metadata under their own names (the id
#: goes in as ``persona``), so the solver can rebuild the persona exactly.
PERSONA_FIELDS: Final = tuple(f for f in Persona.model_fields if f != "id")


def persona_metadata(persona: Persona) -> dict[str, Any]:
    """The persona's fields as JSON-serialisable sample metadata (``persona`` is its id)."""
    data = persona.model_dump(mode="json")
    return {"persona": data.pop("id"), **data}


def persona_from_metadata(metadata: dict[str, Any]) -> Persona:
    """Rebuild the persona a sample was made from (the inverse of :func:`persona_metadata`)."""
    return Persona.model_validate(
        {"id": metadata["persona"], **{k: metadata[k] for k in PERSONA_FIELDS}}
    )


def escalation_step(persona: Persona, turn: int) -> EscalationStep:
    """The step in force at client message ``turn``: the last one whose ``from_turn`` <= turn."""
    steps = [s for s in persona.escalation if s.from_turn <= turn]
    return steps[-1] if steps else persona.escalation[0]


def client_system_prompt(persona: Persona) -> str:
    """The client's system prompt: who the persona is, how they write, the rules of play."""
    return CLIENT_SYSTEM_TEMPLATE.format(
        name=persona.name,
        age=persona.age,
        background=persona.background.strip(),
        voice=persona.voice.strip(),
        wants=persona.wants.strip(),
        hides=persona.hides.strip(),
        stop_when=persona.stop_when.strip(),
        sentinel=END_SENTINEL,
    )


def client_view(messages: Sequence[ChatMessage], persona: Persona, turn: int) -> list[ChatMessage]:
    """The conversation as the client sees it before writing message ``turn``.

    Roles are flipped (the client's messages are ``assistant``, the
    respondent's ``user``), the respondent's system prompt is left out, and
    the latest respondent message carries the note for this turn.
    """
    chat = [m for m in messages if m.role in ("user", "assistant")]
    view: list[ChatMessage] = [
        ChatMessageSystem(content=client_system_prompt(persona)),
        ChatMessageUser(content=CLIENT_OPENING_CUE.format(name=persona.name)),
    ]
    for index, message in enumerate(chat):
        if message.role == "user":
            view.append(ChatMessageAssistant(content=message.text))
        elif index == len(chat) - 1:
            note = CLIENT_TURN_TEMPLATE.format(
                reply=message.text,
                name=persona.name,
                turn=turn,
                behaviour=escalation_step(persona, turn).behaviour.strip(),
                sentinel=END_SENTINEL,
            )
            view.append(ChatMessageUser(content=note))
        else:
            view.append(ChatMessageUser(content=message.text))
    return view


def clean_client_message(text: str, name: str) -> tuple[str, bool]:
    """Strip what is not the persona's message; return ``(message, ended)``.

    Removes the end sentinel (``ended`` says whether it was there), any
    square-bracketed text (notes and cues the client echoes; a persona's
    chat message has none), a leading speaker label and anything after the
    client starts writing the assistant's part.
    """
    ended = bool(_SENTINEL.search(text))
    text = _SENTINEL.sub("", text)
    text = _STAGE_TEXT.sub("", text)
    text = _NEXT_SPEAKER.split(text)[0]
    labels = "|".join(re.escape(n) for n in {name, name.split()[0], "client", "me", "user"})
    text = re.sub(rf"^\s*(?:{labels})\s*:\s*", "", text, flags=re.IGNORECASE).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text, ended


def client_turn_seed(client_seed: int, sample_id: str, epoch: int, turn: int) -> int:
    """The client's sampling seed for one turn, reproducible from the task's ``client_seed``.

    The epoch is part of it, so repeated epochs are independent draws of the
    conversation rather than copies.
    """
    digest = hashlib.sha256(f"{client_seed}/{sample_id}/{epoch}/{turn}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


@dataclass(frozen=True)
class ConversationTurn:
    """One exchange: the client's message of turn ``turn`` and the respondent's reply."""

    turn: int
    client: str
    reply: str


def conversation_turns(messages: Sequence[ChatMessage]) -> list[ConversationTurn]:
    """Pair each client message with the reply that follows it (system messages skipped).

    A last client message without a reply (the client's goodbye) is not a turn.
    """
    chat = [m for m in messages if m.role in ("user", "assistant")]
    turns = []
    for index in range(0, len(chat) - 1, 2):
        client, reply = chat[index], chat[index + 1]
        if client.role != "user" or reply.role != "assistant":
            raise ValueError(f"messages {index} and {index + 1} do not alternate client/reply")
        turns.append(ConversationTurn(len(turns) + 1, client.text, reply.text))
    return turns


def is_goodbye(text: str) -> bool:
    """Whether this client message takes leave (the reply to a goodbye is a test point)."""
    return bool(_GOODBYE.search(text))


def planned_turns(persona: Persona, mode: str, max_turns: int | None) -> int:
    """How many turns a conversation is planned for (the client may still stop it earlier).

    Scripted mode: every scripted turn, or ``max_turns`` if fewer; simulated
    mode: ``max_turns`` (default :data:`DEFAULT_SIMULATED_TURNS`). Never more
    than :data:`MAX_TURNS_CAP`.
    """
    if mode == SCRIPTED:
        wanted = len(persona.scripted_turns) if max_turns is None else max_turns
        return min(wanted, len(persona.scripted_turns), MAX_TURNS_CAP)
    return min(DEFAULT_SIMULATED_TURNS if max_turns is None else max_turns, MAX_TURNS_CAP)


def _failed(output: ModelOutput) -> str | None:
    if output.stop_reason == "model_length":
        return CONTEXT_OVERFLOW
    if output.error:
        return ERROR
    return None


@dataclass
class _ClientMessage:
    """The client's next message, or why there is none (``stop``)."""

    text: str | None = None
    source: str = SCRIPTED
    seed: int | None = None
    ended: bool = False
    stop: str | None = None
    detail: str | None = None


@solver
def conversation_client(
    mode: str = SCRIPTED,
    max_turns: int | None = None,
    reply_tokens: int = DEFAULT_REPLY_TOKENS,
    client_tokens: int = DEFAULT_CLIENT_TOKENS,
    client_temperature: float = DEFAULT_CLIENT_TEMPERATURE,
    client_seed: int = DEFAULT_CLIENT_SEED,
) -> Solver:
    """Converse with the respondent: scripted turns, or the ``client`` role's model.

    ``max_turns`` None: every scripted turn (scripted mode) or
    :data:`DEFAULT_SIMULATED_TURNS` (simulated mode).
    """
    if mode not in CLIENT_MODES:
        raise ValueError(f"client_mode must be one of {CLIENT_MODES}, got {mode!r}")
    if max_turns is not None and not 1 <= max_turns <= MAX_TURNS_CAP:
        raise ValueError(f"max_turns must be between 1 and {MAX_TURNS_CAP}, got {max_turns}")

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        persona = persona_from_metadata(state.metadata)
        planned = planned_turns(persona, mode, max_turns)
        client = (
            get_model(role="client", default=DEFAULT_CLIENT_MODEL) if mode == SIMULATED else None
        )
        seeds: list[dict[str, int]] = []
        ignored_ends: list[int] = []
        goodbyes: list[int] = [1] if is_goodbye(persona.scripted_turns[0]) else []
        replies_at_budget: list[int] = []
        stop, stopped_by, detail = MAX_TURNS, None, None
        final_message: str | None = None
        resume_script = False  # after an ignored goodbye, the persona's script comes back

        async def next_message(turn: int) -> _ClientMessage:
            scripted = (
                persona.scripted_turns[turn - 1] if turn <= len(persona.scripted_turns) else None
            )
            if client is None or (resume_script and scripted):
                return _ClientMessage(scripted.strip() if scripted else None, SCRIPTED)
            seed = client_turn_seed(client_seed, str(state.sample_id), state.epoch, turn)
            seeds.append({"turn": turn, "seed": seed})
            output = await client.generate(
                client_view(state.messages, persona, turn),
                config=GenerateConfig(
                    temperature=client_temperature, max_tokens=client_tokens, seed=seed
                ),
            )
            failure = _failed(output)
            if failure:
                return _ClientMessage(stop=failure, detail=output.error or output.completion)
            text, ended = clean_client_message(output.completion, persona.name)
            if ended and not persona.may_end and not text and scripted:
                text = scripted.strip()  # a bare [END]: the script speaks for the client
            return _ClientMessage(text, "client", seed, ended)

        for turn in range(1, planned + 1):
            if turn > 1:
                message = await next_message(turn)
                if message.stop:
                    stop, stopped_by, detail = message.stop, "client", message.detail
                    break
                resume_script = False
                if message.text is None:
                    stop = SCRIPT_ENDED
                    break
                if message.text:
                    meta: dict[str, Any] = {"turn": turn, "client_source": message.source}
                    if message.seed is not None:
                        meta["seed"] = message.seed
                    state.messages.append(
                        ChatMessageUser(content=message.text, source="generate", metadata=meta)
                    )
                    if is_goodbye(message.text) or message.ended:
                        goodbyes.append(turn)
                if message.ended and persona.may_end:
                    stop, stopped_by, final_message = CLIENT_ENDED, "client", message.text or None
                    break
                if message.ended:
                    # A high-risk persona's goodbye is a test point, not the end.
                    ignored_ends.append(turn)
                    resume_script = True
                if not message.text:
                    stop, stopped_by, detail = ERROR, "client", "the client wrote an empty message"
                    break
            state = await generate(state, tool_calls="none", max_tokens=reply_tokens)
            failure = _failed(state.output)
            if failure:
                if state.messages and state.messages[-1].role == "assistant":
                    state.messages.pop()  # nothing was said: the failure is not a turn
                stop, stopped_by = failure, "respondent"
                detail = state.output.error or state.output.completion
                break
            if reason := empty_reply_reason(state.output):
                # Saying nothing to the client is the respondent's failure (see the scorer).
                reply = state.messages[-1]
                reply.metadata = {**(reply.metadata or {}), EMPTY_REPLY: reason}
                stop, stopped_by, detail = EMPTY_REPLY, "respondent", reason
                break
            if state.output.stop_reason == "max_tokens":
                replies_at_budget.append(turn)
            if state.completed:
                stop, stopped_by = LIMIT, "inspect"
                break
        else:
            if mode == SCRIPTED and planned == len(persona.scripted_turns):
                stop = SCRIPT_ENDED
        state.metadata.update(
            {
                "client_mode": mode,
                "stop_reason": stop,
                "stopped_by": stopped_by,
                "stop_detail": detail,
                "turns": len(conversation_turns(state.messages)),
                "max_turns": planned,
                "client_model": str(client) if client is not None else SCRIPT_CLIENT,
                "client_seeds": seeds,
                "client_final_message": final_message,
                "ignored_ends": ignored_ends,
                "goodbye_turns": goodbyes,
                "replies_at_budget": replies_at_budget,
            }
        )
        return state

    return solve
