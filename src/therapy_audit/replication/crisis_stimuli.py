"""The paper's client stimuli ("interjections"), read from its raw results files.

The release has no stimulus file: each results record carries the stimulus
(``interjection``: one message, or a list of alternating client/therapist
turns), its condition, the yes/no criterion (``verification_prompt``) and
the appropriate answer (``verification_correct``). The stimulus id is the
third part of the record's ``key`` (``<transcript>_<condition>_<id>_<message>``)
or the ``id`` column of the live-bot files.

One stimulus was judged with two different criteria in different runs
(``god``: one run used an earlier question with the opposite appropriate
answer). :func:`load_paper_stimuli` keeps, for each id, the version used by
the most result files and lists the others in ``variants``; the results
importer keeps each record's own criterion.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from therapy_audit.replication.paper_files import (
    PaperFormatError,
    Record,
    check_paper_dir,
    parse_turns,
    read_jsonl,
)

#: The paper's crisis conditions -> our crisis condition ids.
CONDITIONS: dict[str, str] = {
    "suicidal ideation": "suicidal-ideation",
    "delusions": "delusions",
    "hallucinations": "hallucinations",
    "mania": "mania",
    "compulsive behavior, obsessive behavior": "obsessive-compulsive",
}
ANSWERS = ("yes", "no")
INTERJECTIONS_DIR = "results/interjections"
RESULT_FIELDS = ("key", "condition", "interjection", "verification_prompt", "verification_correct")


@dataclass(frozen=True)
class PaperCrisisStimulus:
    """A client stimulus as the paper's files give it."""

    id: str
    condition: str
    paper_condition: str
    turns: tuple[str, ...]
    criterion: str
    appropriate_answer: str
    files: int = 0
    variants: tuple[tuple[str, str, int], ...] = field(default=())

    @property
    def sample_id(self) -> str:
        """Stable id: ``paper-crisis/<condition>/<id>``."""
        return f"paper-crisis/{self.condition}/{self.id}"

    @property
    def multi_turn(self) -> bool:
        """True when earlier turns precede the final client message."""
        return len(self.turns) > 1


def crisis_condition(paper_condition: Any, where: str) -> str:
    """Our condition id for a paper crisis condition."""
    if not isinstance(paper_condition, str) or paper_condition not in CONDITIONS:
        raise PaperFormatError(
            f"{where}: unknown condition {paper_condition!r}; known: {sorted(CONDITIONS)}"
        )
    return CONDITIONS[paper_condition]


def criterion_text(record: Record) -> str:
    """The criterion with line breaks and repeated spaces collapsed (files differ in these)."""
    return " ".join(record.text("verification_prompt").split())


def answer_text(record: Record, field_name: str = "verification_correct") -> str:
    """``yes`` or ``no`` from a field, case-insensitively; anything else is an error."""
    value = record.get(field_name)
    normal = value.strip().lower() if isinstance(value, str) else value
    if normal not in ANSWERS:
        raise PaperFormatError(f"{record.where(field_name)}: expected yes or no, got {value!r}")
    return normal


def stimulus_id(record: Record) -> str:
    """The stimulus id from the ``id`` field, or else from the structured ``key``."""
    if record.fields.get("id"):
        return str(record.fields["id"])
    key = record.text("key")
    parts = key.rsplit("_", 2)
    condition = record.fields.get("condition")
    if len(parts) != 3 or not parts[0].endswith(f"_{condition}") or not parts[1]:
        raise PaperFormatError(
            f"{record.where('key')}: expected <transcript>_<condition>_<id>_<message>, got {key!r}"
        )
    return parts[1]


def client_turns(record: Record) -> tuple[str, ...]:
    """The stimulus's turns: alternating client/therapist, ending on the client."""
    turns = parse_turns(record.get("interjection"), record.where("interjection"))
    if len(turns) % 2 == 0:
        raise PaperFormatError(
            f"{record.where('interjection')}: {len(turns)} turns; a stimulus alternates "
            "client/therapist and ends on the client (an odd number)"
        )
    return tuple(turns)


def result_files(paper_dir: str | Path) -> list[Path]:
    """The model runs' JSONL files under ``results/interjections``."""
    root = check_paper_dir(paper_dir) / INTERJECTIONS_DIR
    if not root.is_dir():
        raise PaperFormatError(f"{root}: no such folder")
    files = sorted(root.glob("*/*.jsonl"))
    if not files:
        raise PaperFormatError(f"{root}: no results files (*/*.jsonl)")
    return files


def load_paper_stimuli(paper_dir: str | Path) -> list[PaperCrisisStimulus]:
    """The distinct stimuli of the model runs, in condition then id order.

    Raises:
        PaperFormatError: unreadable files, unknown conditions, malformed keys
            or answers, or one id with two different messages or conditions.
    """
    versions: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
    content: dict[str, tuple[str, str, tuple[str, ...], str]] = {}
    for path in result_files(paper_dir):
        seen_here: set[tuple[str, str, str]] = set()
        for record in read_jsonl(path, RESULT_FIELDS):
            sid = stimulus_id(record)
            condition = crisis_condition(record.get("condition"), record.where("condition"))
            turns = client_turns(record)
            where = f"{path}:{record.line}"
            if sid in content and content[sid][:3] != (condition, record.get("condition"), turns):
                raise PaperFormatError(
                    f"{where}: stimulus {sid!r} has a different condition or message than "
                    f"in {content[sid][3]}"
                )
            content.setdefault(sid, (condition, record.get("condition"), turns, where))
            version = (criterion_text(record), answer_text(record))
            if (sid, *version) not in seen_here:
                seen_here.add((sid, *version))
                versions[sid][version] += 1
    stimuli = []
    for sid, (condition, paper_condition, turns, _) in content.items():
        ranked = sorted(versions[sid].items(), key=lambda kv: (-kv[1], kv[0]))
        (criterion, answer), files = ranked[0]
        stimuli.append(
            PaperCrisisStimulus(
                id=sid,
                condition=condition,
                paper_condition=paper_condition,
                turns=turns,
                criterion=criterion,
                appropriate_answer=answer,
                files=files,
                variants=tuple((c, a, n) for (c, a), n in ranked[1:]),
            )
        )
    return sorted(stimuli, key=lambda s: (s.condition, s.id))
