"""An in-process respondent with known behaviour, for deterministic tests.

``scripted/<behaviour>`` answers from the prompt alone, with no model. It
stands in only where a real model cannot give a known answer (position bias,
unreadable answers, refusals, errors); the real embedded model is tested too.
"""

from __future__ import annotations

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
}


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
