"""The stigma experiment (Moore et al. 2025, after the GSS vignette studies).

A vignette describes a person (control, depression, alcohol dependence,
schizophrenia), varied by gender, race/ethnicity and education; one question
follows (social distance, dangerousness, attribution), answered by letter.
The stigma rate is the share of stigmatizing answers among usable ones,
pooled over the headline items (five social-distance items and violence
toward others), as in the paper.

Beyond the paper: options are asked in the scale's order and reversed
(``counterbalance``), so position bias cannot pass for stigma; question
paraphrases can be asked too (``paraphrases``).
"""

from __future__ import annotations

from typing import Any, Literal

from inspect_ai import Epochs, Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.solver import system_message

from therapy_audit.answering.letters import format_options, option_letters
from therapy_audit.answering.solver import ANSWER_MODES, AnswerMode, answer_by_letter
from therapy_audit.experiments.common import (
    DEFAULT_STIMULUS_SEED,
    draw_stimuli,
    keep_shard,
    task_metadata,
)
from therapy_audit.experiments.stigma.scorer import stigma_choice
from therapy_audit.experiments.stigma.vignettes import (
    Cell,
    cells,
    placeholders,
    render,
    validate_templates,
)
from therapy_audit.metrics import scored_mean
from therapy_audit.prompts import resolve_system_prompt
from therapy_audit.stimuli.load import load_stigma_battery
from therapy_audit.stimuli.schema import StigmaBattery, StigmaCondition, StigmaQuestion

TASK_VERSION = "1.0.0"
VARIANTS = ("quick", "full")
#: The demographic cell used by the quick profile, the same for every
#: condition so that conditions are compared on equal terms.
DEFAULT_QUICK_CELL = "woman-black-high-school"
ORDERS = ("forward", "reverse")


def shown_options(question: StigmaQuestion, order: str) -> list[dict[str, Any]]:
    """Options as displayed: scale order or reversed, with "Do not know" always last."""
    scale = [
        {"text": o.text, "code": o.code, "scale_index": i}
        for i, o in enumerate(question.options)
        if o.code != "unknown"
    ]
    unknown = [
        {"text": o.text, "code": o.code, "scale_index": i}
        for i, o in enumerate(question.options)
        if o.code == "unknown"
    ]
    ordered = (scale[::-1] if order == "reverse" else scale) + unknown
    return [
        dict(o, letter=letter)
        for o, letter in zip(ordered, option_letters(len(ordered)), strict=True)
    ]


def question_sample(
    battery: StigmaBattery,
    condition: StigmaCondition,
    cell: Cell,
    question: StigmaQuestion,
    order: str = "forward",
    wording: int = 0,
) -> Sample:
    """One vignette + question as a Sample with a stable, readable id.

    ``wording`` 0 is the question's main text; 1.. are its paraphrases.
    """
    values = placeholders(battery, cell)
    vignette = render(condition.template, values, f"conditions.{condition.id}")
    texts = [question.text, *question.paraphrases]
    asked = render(texts[wording], values, f"questions.{question.id}")
    options = shown_options(question, order)
    prompt = (
        f"{battery.instructions}\n\n{vignette}\n\n{asked}\n\n"
        f"{format_options([o['text'] for o in options])}"
    )
    sample_id = f"stigma/{condition.id}/{cell.id}/{question.id}/{order}"
    if wording:
        sample_id += f"/wording-{wording}"
    return Sample(
        id=sample_id,
        input=prompt,
        metadata={
            "experiment": "stigma",
            "condition": condition.id,
            "control": condition.control,
            "gender": cell.gender.id,
            "race": cell.race.id,
            "education": cell.education.id,
            "cell": cell.id,
            "question": question.id,
            "kind": question.kind,
            "headline": question.headline,
            "order": order,
            "wording": wording,
            "options": options,
        },
    )


def stigma_samples(
    battery: StigmaBattery,
    variants: str = "quick",
    counterbalance: bool = True,
    paraphrases: bool = False,
    quick_cell: str = DEFAULT_QUICK_CELL,
) -> list[Sample]:
    """Every sample of the battery, vignette-major so a shared prompt prefix is reused."""
    all_cells = cells(battery)
    if variants == "quick":
        chosen = [c for c in all_cells if c.id == quick_cell]
        if not chosen:
            raise ValueError(
                f"quick_cell {quick_cell!r} is not a demographic cell of this battery; "
                f"choose one of {[c.id for c in all_cells]}"
            )
    else:
        chosen = all_cells
    orders = ORDERS if counterbalance else ORDERS[:1]
    samples = []
    for condition in battery.conditions:
        for cell in chosen:
            for question in battery.questions:
                wordings = range(1 + len(question.paraphrases)) if paraphrases else range(1)
                for wording in wordings:
                    for order in orders:
                        samples.append(
                            question_sample(battery, condition, cell, question, order, wording)
                        )
    return samples


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


@task
def stigma(
    system_prompt: str = "none",
    variants: Literal["quick", "full"] = "quick",
    counterbalance: bool = True,
    paraphrases: bool = False,
    answer_mode: AnswerMode = "auto",
    quick_cell: str = DEFAULT_QUICK_CELL,
    stimuli: str | None = None,
    shard: str | None = None,
    stimulus_limit: int | None = None,
    stimulus_seed: int = DEFAULT_STIMULUS_SEED,
) -> Task:
    """Stigma toward people with mental-health conditions, by vignette and condition.

    Args:
        system_prompt: ``none``, ``steel-man`` or a path to a text file.
        variants: ``quick`` (one demographic cell for every condition) or
            ``full`` (every gender x race x education cell).
        counterbalance: ask each item with the options in scale order and
            reversed ("Do not know" stays last).
        paraphrases: also ask each question's paraphrases.
        answer_mode: ``auto`` (log-probabilities where the provider gives
            them, text otherwise), ``logprobs`` or ``text``.
        quick_cell: the demographic cell of the quick profile.
        stimuli: path to a battery YAML file replacing the packaged one.
        shard: ``i/N``: ask only worker i's share of the samples (set by
            ``therapy-audit run --workers N``).
        stimulus_limit: ask only this many item-vignette pairs, drawn evenly
            across conditions, each with all its samples (``run --limit N``).
        stimulus_seed: seed of that draw (recorded; not the respondent's seed).
    """
    _check_choice("variants", variants, VARIANTS)
    _check_choice("answer_mode", answer_mode, ANSWER_MODES)
    prompt_label, prompt_text = resolve_system_prompt(system_prompt)
    battery, stimulus_set = load_stigma_battery(stimuli)
    validate_templates(battery, stimulus_set.source)
    drawn, draw = draw_stimuli(
        stigma_samples(battery, variants, counterbalance, paraphrases, quick_cell),
        stimulus_limit,
        stimulus_seed,
    )
    samples = keep_shard(drawn, shard)
    solver = [answer_by_letter(answer_mode)]
    if prompt_text:
        solver.insert(0, system_message(prompt_text))
    return Task(
        dataset=MemoryDataset(samples, name="therapy-audit-stigma"),
        solver=solver,
        scorer=stigma_choice(),
        epochs=Epochs(1, scored_mean()),
        version=TASK_VERSION,
        metadata={
            **task_metadata("stigma", stimulus_set, prompt_label, shard),
            "answer_mode": answer_mode,
            **draw,
        },
    )
