"""The paper's stigma battery (``data/*.jsonl``) as items coded with our stigma codes.

Each of the paper's questions is matched to one of our battery's questions
by a phrase of its text, and each of its answer options gets the stigma code
of our option with the same text: never by position, so an option list in
another order is coded the same. (The paper's own ``code`` field is "the
answer is in the upper half of the scale", which means *not* stigmatizing
for the social-distance items and stigmatizing for violence; it is kept as
``paper_code`` and only used to reproduce the paper's numbers.)

The release's file names are swapped: ``questions.jsonl`` holds the
vignettes and ``vignettes.jsonl`` the questions. Files are recognised by
their fields, not their names; ``prompts.jsonl`` (vignette x question, the
exact prompt text) is what the replication task asks.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from therapy_audit.answering.letters import option_letters
from therapy_audit.replication.paper_files import (
    PaperFormatError,
    Record,
    check_paper_dir,
    read_jsonl,
)
from therapy_audit.stimuli.load import load_stigma_battery
from therapy_audit.stimuli.schema import StigmaBattery, StigmaQuestion

#: A phrase of each paper question (lower case) -> our question id.
QUESTION_PHRASES: dict[str, str] = {
    "work closely with you": "work-closely",
    "live next door": "next-door-neighbour",
    "spend an evening socializing": "socialise-evening",
    "marry into the family": "marry-into-family",
    "as a friend": "make-friends",
    "violent toward other people": "violence-toward-others",
    "violent toward him/herself": "violence-toward-self",
    "experiencing a mental illness": "cause-mental-illness",
    "normal ups and downs": "cause-normal-ups-and-downs",
    "genetic or inherited": "cause-genetic",
    "chemical imbalance": "cause-chemical-imbalance",
    "bad character": "cause-bad-character",
    "god's will": "cause-gods-will",
    "the way he or she was raised": "cause-upbringing",
}

#: The paper's vignette conditions -> our stigma condition ids.
CONDITIONS: dict[str, str] = {
    "daily troubles": "daily-troubles",
    "depression": "depression",
    "alcohol dependence": "alcohol-dependence",
    "schizophrenia": "schizophrenia",
}

#: Version label of the paper's stimuli in logs (reports refuse to pool it with ours).
PAPER_STIMULUS_VERSION = "moore2025-release"
PROMPTS_FILE = "data/prompts.jsonl"
ITEM_FIELDS = ("condition", "gender", "race", "education", "question_only", "options", "prompt")


def slug(text: str) -> str:
    """``"African American"`` -> ``"african-american"``; ``"8th grade"`` -> ``"8th-grade"``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _normal(text: str) -> str:
    return " ".join(text.replace("\u2019", "'").lower().split())


@dataclass(frozen=True)
class PaperStigmaItem:
    """One vignette + question of the paper, with options coded by their text."""

    source: str
    line: int
    condition: str
    paper_condition: str
    gender: str
    race: str
    education: str
    question: str
    kind: str
    headline: bool
    paper_question: str
    prompt: str
    options: list[dict[str, Any]] = field(default_factory=list)

    @property
    def cell(self) -> str:
        """Demographic cell id, e.g. ``man-african-american-8th-grade``."""
        return slug(f"{self.gender}-{self.race}-{self.education}")

    @property
    def sample_id(self) -> str:
        """Stable id: ``paper-stigma/<condition>/<cell>/<question>``."""
        return f"paper-stigma/{self.condition}/{self.cell}/{self.question}"

    def metadata(self) -> dict[str, Any]:
        """Sample metadata in the shape the stigma scorer and analysis read."""
        return {
            "experiment": "stigma",
            "condition": self.condition,
            "paper_condition": self.paper_condition,
            "control": self.condition == "daily-troubles",
            "gender": self.gender,
            "race": self.race,
            "education": self.education,
            "cell": self.cell,
            "question": self.question,
            "kind": self.kind,
            "headline": self.headline,
            "order": "paper",
            "wording": 0,
            "options": self.options,
            "paper_question": self.paper_question,
        }


@cache
def our_battery() -> StigmaBattery:
    """Our packaged battery: the source of question kinds and option codes."""
    battery, _ = load_stigma_battery()
    return battery


def match_question(text: str, where: str, battery: StigmaBattery | None = None) -> StigmaQuestion:
    """Our question matching a paper question's text (exactly one phrase must match)."""
    battery = battery or our_battery()
    normal = _normal(text)
    hits = {qid for phrase, qid in QUESTION_PHRASES.items() if phrase in normal}
    if len(hits) != 1:
        raise PaperFormatError(
            f"{where}: cannot match question {text!r} to one of our stigma questions "
            f"({'several match: ' + str(sorted(hits)) if hits else 'no known phrase'})"
        )
    qid = hits.pop()
    return next(q for q in battery.questions if q.id == qid)


def coded_options(question: StigmaQuestion, options: Any, where: str) -> list[dict[str, Any]]:
    """The paper's options in shown order, each with our code for the option of the same text.

    ``scale_index`` is the position of the matching option in *our* scale,
    so it means the same thing whatever order the paper showed.
    """
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise PaperFormatError(f"{where}: expected a list of option texts, got {options!r}")
    ours = {_normal(o.text): (i, o.code) for i, o in enumerate(question.options)}
    coded = []
    for letter, text in zip(option_letters(len(options)), options, strict=True):
        if _normal(text) not in ours:
            raise PaperFormatError(
                f"{where}: option {text!r} has no counterpart among the options of our "
                f"question {question.id!r} ({[o.text for o in question.options]})"
            )
        index, code = ours[_normal(text)]
        coded.append({"text": text, "code": code, "scale_index": index, "letter": letter})
    return coded


def condition_id(paper_condition: Any, where: str) -> str:
    """Our condition id for a paper condition label."""
    if not isinstance(paper_condition, str) or paper_condition not in CONDITIONS:
        raise PaperFormatError(
            f"{where}: unknown condition {paper_condition!r}; known: {sorted(CONDITIONS)}"
        )
    return CONDITIONS[paper_condition]


def item_from_record(record: Record, battery: StigmaBattery | None = None) -> PaperStigmaItem:
    """A coded item from a prompts.jsonl or stigma results record."""
    question = match_question(record.text("question_only"), record.where("question_only"), battery)
    return PaperStigmaItem(
        source=str(record.path),
        line=record.line,
        condition=condition_id(record.get("condition"), record.where("condition")),
        paper_condition=record.get("condition"),
        gender=record.text("gender"),
        race=record.text("race"),
        education=record.text("education"),
        question=question.id,
        kind=question.kind,
        headline=question.headline,
        paper_question=record.text("question_only"),
        prompt=record.text("prompt"),
        options=coded_options(question, record.get("options"), record.where("options")),
    )


def load_paper_items(paper_dir: str | Path) -> list[PaperStigmaItem]:
    """Every prompt of ``data/prompts.jsonl`` as a coded item, in file order.

    Raises:
        PaperFormatError: a missing field, an unknown condition, a question
            or option with no counterpart in our battery, or duplicate items
            (file, line and field named).
    """
    records = read_jsonl(check_paper_dir(paper_dir) / PROMPTS_FILE, ITEM_FIELDS)
    items = [item_from_record(r) for r in records]
    seen: dict[str, int] = {}
    for item in items:
        if item.sample_id in seen:
            raise PaperFormatError(
                f"{item.source}:{item.line}: duplicate item {item.sample_id} "
                f"(first on line {seen[item.sample_id]})"
            )
        seen[item.sample_id] = item.line
    return items


def load_paper_battery_parts(paper_dir: str | Path) -> dict[str, list[Record]]:
    """The vignettes and the questions files, recognised by content, not by name.

    Returns ``{"vignettes": [...], "questions": [...]}``. Useful to check
    that ``prompts.jsonl`` is their product (see :func:`check_prompts_cover_battery`).
    """
    data = Path(paper_dir) / "data"
    parts: dict[str, list[Record]] = {}
    for name in ("questions.jsonl", "vignettes.jsonl"):
        records = read_jsonl(data / name)
        first = records[0].fields
        kind = "vignettes" if "vignette" in first else "questions" if "options" in first else None
        if kind is None:
            raise PaperFormatError(
                f"{data / name}:1: neither vignettes (field 'vignette') nor questions "
                "(field 'options')"
            )
        if kind in parts:
            raise PaperFormatError(f"{data}: two files hold {kind}")
        parts[kind] = records
    return parts


def check_prompts_cover_battery(paper_dir: str | Path) -> tuple[int, int, int]:
    """Check every vignette x question pair has exactly one prompt; return the three counts.

    Raises:
        PaperFormatError: a pair without a prompt, or a prompt for no pair.
    """
    parts = load_paper_battery_parts(paper_dir)
    vignettes = {r.text("vignette") for r in parts["vignettes"]}
    questions = {r.text("question_only") for r in parts["questions"]}
    prompts = read_jsonl(Path(paper_dir) / PROMPTS_FILE, ("vignette", "question_only"))
    pairs = {(r.fields["vignette"], r.fields["question_only"]) for r in prompts}
    expected = {(v, q) for v in vignettes for q in questions}
    if pairs != expected or len(prompts) != len(expected):
        raise PaperFormatError(
            f"{Path(paper_dir) / PROMPTS_FILE}: {len(prompts)} prompts for "
            f"{len(vignettes)} vignettes x {len(questions)} questions "
            f"({len(expected - pairs)} pairs missing, {len(pairs - expected)} unexpected)"
        )
    return len(vignettes), len(questions), len(prompts)


def prompts_fingerprint(paper_dir: str | Path) -> str:
    """First 16 hex digits of the SHA-256 of ``prompts.jsonl`` (recorded in every log)."""
    return hashlib.sha256((Path(paper_dir) / PROMPTS_FILE).read_bytes()).hexdigest()[:16]
