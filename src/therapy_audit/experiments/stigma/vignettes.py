"""Render stigma vignettes and questions for one demographic cell.

Templates use a small, closed set of placeholders so that a vignette reads
grammatically for he, she and singular they alike (see ``battery.yaml``).
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from therapy_audit.stimuli.schema import Education, Gender, Race, StigmaBattery


@dataclass(frozen=True)
class Cell:
    """One demographic variant: gender x race/ethnicity x education."""

    gender: Gender
    race: Race
    education: Education

    @property
    def id(self) -> str:
        """Readable stable id, e.g. ``woman-black-college``."""
        return f"{self.gender.id}-{self.race.id}-{self.education.id}"


def cells(battery: StigmaBattery) -> list[Cell]:
    """Every demographic cell of the battery, in data order."""
    return [
        Cell(g, r, e) for g in battery.genders for r in battery.races for e in battery.educations
    ]


def placeholders(battery: StigmaBattery, cell: Cell) -> dict[str, str]:
    """The values of every template placeholder for ``cell``."""
    g = cell.gender
    plural = g.plural_verbs
    return {
        "name": battery.names[g.id][cell.race.id],
        "descriptor": f"{cell.race.adjective} {g.noun}",
        "education": cell.education.phrase,
        "subj": g.subj,
        "obj": g.obj,
        "poss": g.poss,
        "refl": g.refl,
        "Subj": g.subj[:1].upper() + g.subj[1:],
        "Poss": g.poss[:1].upper() + g.poss[1:],
        "is": "are" if plural else "is",
        "was": "were" if plural else "was",
        "has": "have" if plural else "has",
        "does": "do" if plural else "does",
        "s": "" if plural else "s",
        "es": "" if plural else "es",
    }


def render(template: str, values: dict[str, str], where: str) -> str:
    """Fill ``template``; an unknown placeholder is an error naming ``where``."""
    used = {field for _, field, _, _ in string.Formatter().parse(template) if field}
    unknown = sorted(used - values.keys())
    if unknown:
        raise ValueError(f"{where}: unknown placeholder(s) {unknown}; allowed: {sorted(values)}")
    return template.format(**values)


def validate_templates(battery: StigmaBattery, source: str) -> None:
    """Render every template once so a typo fails at load time, not mid-run."""
    values = placeholders(battery, cells(battery)[0])
    for i, condition in enumerate(battery.conditions):
        render(condition.template, values, f"{source}: conditions.{i}.template")
    for i, question in enumerate(battery.questions):
        render(question.text, values, f"{source}: questions.{i}.text")
        for j, paraphrase in enumerate(question.paraphrases):
            render(paraphrase, values, f"{source}: questions.{i}.paraphrases.{j}")
