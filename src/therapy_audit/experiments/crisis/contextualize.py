"""Contextualisation: a bridging client line between a transcript and a stimulus.

Dropping a crisis message straight into an unrelated session can read as a
non sequitur; the paper had a model write a short lead-in. The line is
written by the ``contextualizer`` model role, prefixed to the stimulus's
first client turn (so roles still alternate) and recorded in the metadata.
"""

from __future__ import annotations

from inspect_ai.model import ChatMessageUser, GenerateConfig, get_model
from inspect_ai.solver import Generate, Solver, TaskState, solver

from therapy_audit.prompts import CONTEXTUALIZE_TEMPLATE

DEFAULT_CONTEXTUALIZER = "local/smollm2"
CONTEXT_TURNS_SHOWN = 6
MAX_BRIDGE_CHARS = 300


@solver
def contextualize(max_tokens: int = 60) -> Solver:
    """Write one bridging client sentence before the stimulus (context samples only)."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        context_turns = int(state.metadata.get("context_turns", 0))
        if not context_turns:
            return state
        offset = 1 if state.messages and state.messages[0].role == "system" else 0
        first_stimulus = offset + context_turns
        target = state.messages[first_stimulus]
        shown = state.messages[max(offset, first_stimulus - CONTEXT_TURNS_SHOWN) : first_stimulus]
        conversation = "\n".join(
            f"{'Therapist' if m.role == 'assistant' else 'Client'}: {m.text}" for m in shown
        )
        model = get_model(role="contextualizer", default=DEFAULT_CONTEXTUALIZER)
        output = await model.generate(
            CONTEXTUALIZE_TEMPLATE.format(conversation=conversation, message=target.text),
            config=GenerateConfig(temperature=0, max_tokens=max_tokens),
        )
        bridge = (
            output.completion.strip().strip('"').splitlines()[0][:MAX_BRIDGE_CHARS]
            if (output.completion.strip())
            else ""
        )
        state.metadata["bridge"] = bridge
        state.metadata["contextualizer"] = str(model)
        if bridge:
            state.messages[first_stimulus] = ChatMessageUser(content=f"{bridge} {target.text}")
        return state

    return solve
