"""An in-process respondent with known behaviour, for deterministic tests.

``scripted/<behaviour>`` answers from the prompt alone, with no model. It
stands in only where a real model cannot give a known answer (position bias,
unreadable answers, refusals, errors); the real embedded model is tested too.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from inspect_ai.model import (
    ChatMessage,
    GenerateConfig,
    ModelAPI,
    ModelOutput,
    ModelUsage,
    modelapi,
)
from inspect_ai.tool import ToolChoice, ToolInfo

Responder = Callable[[str], str]


def _options(prompt: str) -> dict[str, str]:
    return dict(re.findall(r"^([A-J])\. (.+)$", prompt, flags=re.MULTILINE))


def _letter_for(prompt: str, text: str) -> str:
    return next(letter for letter, option in _options(prompt).items() if option == text)


def _client_turn(prompt: str) -> int:
    """The turn number in the simulated client's note ("...'s message 3: ...")."""
    found = re.search(r"message (\d+):", prompt)
    return int(found.group(1)) if found else 0


def _client_line(prompt: str) -> int:
    """N in a scripted client's "client line N" (0 for the persona's opening message)."""
    found = re.search(r"client line (\d+)", prompt)
    return int(found.group(1)) if found else 0


def _judged_reply(prompt: str) -> str:
    """The reply section of a judge prompt."""
    found = re.search(r"Chatbot's reply:\n<<<\n(.*?)\n>>>", prompt, flags=re.DOTALL)
    return found.group(1) if found else ""


BEHAVIOURS: dict[str, Responder] = {
    # Always the first option, whatever it says: pure position bias.
    "always-a": lambda prompt: "A",
    # Always "Probably willing" / "Not very likely": a consistent opinion.
    "consistent": lambda prompt: _letter_for(
        prompt, "Probably willing" if "Probably willing" in prompt else "Not very likely"
    ),
    # Unwilling for schizophrenia vignettes only (mentions cameras), else willing.
    "stigmatizes-psychosis": lambda prompt: _letter_for(
        prompt,
        ("Definitely unwilling" if "cameras" in prompt else "Definitely willing")
        if "willing" in prompt
        else ("Very likely" if "cameras" in prompt else "Not at all likely"),
    ),
    "garbage": lambda prompt: "Well, it depends on many things.",
    "refuses": lambda prompt: "I cannot make judgements about people I have not met.",
    "wordy": lambda prompt: "**The answer is (C).** Probably willing, because people change.",
    # Judges: answer the criterion by the letter of "Yes"/"No" wherever it is shown.
    "judge-yes": lambda prompt: _letter_for(prompt, "Yes"),
    "judge-no": lambda prompt: _letter_for(prompt, "No"),
    "judge-a": lambda prompt: "A",
    # Respondents for the crisis task.
    "supportive": lambda prompt: (
        "That sounds really hard. I'm glad you told me. Are you having thoughts of ending "
        "your life? If you're in the US you can call or text 988 any time."
    ),
    "long-reply": lambda prompt: "I hear you. " * 120 + "The Golden Gate Bridge is 67 m high.",
    # Contextualizer: a fixed bridging line.
    "bridge": lambda prompt: "Sorry, can I change the subject for a second?",
    # Simulated clients (multi-turn task): they read the turn number from the note.
    "client-numbered": lambda prompt: f"client line {_client_turn(prompt)}",
    "client-ends-at-3": lambda prompt: (
        f"client line {_client_turn(prompt)}"
        + (", goodbye [END]" if _client_turn(prompt) >= 3 else "")
    ),
    "client-empty": lambda prompt: "",
    # Respondent that turns unsafe from the client's second message on.
    "unsafe-from-line-2": lambda prompt: (
        "UNSAFE: here is exactly what you asked for."
        if _client_line(prompt) >= 2
        else "SAFE: thank you for telling me, how are you feeling?"
    ),
    # Respondent that turns unsafe from the client's fourth message on (trajectory tests).
    "unsafe-from-line-4": lambda prompt: (
        "UNSAFE: here is exactly what you asked for."
        if _client_line(prompt) >= 4
        else "SAFE: thank you for telling me, how are you feeling?"
    ),
    # Judge: "Yes" when the reply shown to it contains UNSAFE, else "No".
    "judge-flags-unsafe": lambda prompt: _letter_for(
        prompt, "Yes" if "UNSAFE" in _judged_reply(prompt) else "No"
    ),
}


@functools.cache
def _first_paraphrases() -> re.Pattern[str]:
    """Matches any stigma question asked in its first paraphrase (wording 1)."""
    from therapy_audit.stimuli.load import load_stigma_battery

    battery, _ = load_stigma_battery()
    texts = [q.paraphrases[0] for q in battery.questions if q.paraphrases]
    alternatives = [re.sub(r"\\\{\w+\\\}", ".+?", re.escape(t)) for t in texts]
    return re.compile("|".join(f"(?:{a})" for a in alternatives))


def _paraphrase_sensitive(prompt: str) -> str:
    """The most stigmatizing option for wording-1 questions, else the "consistent" answer."""
    willing = "Probably willing" in prompt
    if _first_paraphrases().search(prompt):
        return _letter_for(prompt, "Definitely unwilling" if willing else "Very likely")
    return _letter_for(prompt, "Probably willing" if willing else "Not very likely")


# Answers differently when a stigma question is asked in its first paraphrase.
BEHAVIOURS["paraphrase-sensitive"] = _paraphrase_sensitive


class ScriptedAPI(ModelAPI):
    """Answers with ``BEHAVIOURS[model_name](last user message)``; never logprobs."""

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig = GenerateConfig(),  # noqa: B008 (Inspect's own signature)
        **model_args: Any,
    ) -> None:
        super().__init__(model_name, base_url, api_key, [], config)
        if model_name not in BEHAVIOURS and model_name != "raises":
            raise ValueError(f"unknown scripted behaviour {model_name!r}")
        self.calls = 0

    async def generate(
        self,
        input: list[ChatMessage],
        tools: list[ToolInfo],
        tool_choice: ToolChoice,
        config: GenerateConfig,
    ) -> ModelOutput:
        self.calls += 1
        if self.model_name == "raises":
            raise RuntimeError("scripted provider failure")
        prompt = input[-1].text
        text = BEHAVIOURS[self.model_name](prompt)
        output = ModelOutput.from_content(self.model_name, text)
        output.usage = ModelUsage(
            input_tokens=len(prompt) // 4,
            output_tokens=len(text) // 4,
            total_tokens=(len(prompt) + len(text)) // 4,
        )
        return output


@modelapi(name="scripted")
def scripted() -> type[ModelAPI]:
    return ScriptedAPI
