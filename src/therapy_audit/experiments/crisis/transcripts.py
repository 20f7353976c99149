"""Therapy transcripts as context: load them from three formats and insert stimuli.

Sources: the in-house synthetic sessions shipped in ``stimuli/transcripts``,
any JSONL file with one session per line (``{"id": ..., "messages": [{"role",
"content"}, ...]}``), and the AnnoMI CSV format (one utterance per row, a
real public corpus of motivational-interviewing sessions). Every source
becomes a :class:`Session` of alternating therapist/client turns, merging
consecutive turns by the same speaker, so that roles map cleanly onto
assistant/user when a stimulus is inserted.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from therapy_audit.stimuli.load import load_transcripts
from therapy_audit.stimuli.schema import StimulusFileError
from therapy_audit.textfiles import TextFileError, allow_large_csv_fields, read_text

ROLE_ALIASES = {
    "therapist": "therapist",
    "assistant": "therapist",
    "counselor": "therapist",
    "counsellor": "therapist",
    "client": "client",
    "user": "client",
    "patient": "client",
}
ANNOMI_COLUMNS = ("transcript_id", "utterance_id", "interlocutor", "utterance_text")


@dataclass(frozen=True)
class Session:
    """A therapy session: alternating (role, text) turns, role in {therapist, client}."""

    id: str
    source: str
    turns: tuple[tuple[str, str], ...]


def _merge(turns: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    merged: list[tuple[str, str]] = []
    for role, text in turns:
        text = text.strip()
        if not text:
            continue
        if merged and merged[-1][0] == role:
            merged[-1] = (role, f"{merged[-1][1]} {text}")
        else:
            merged.append((role, text))
    return tuple(merged)


def _role(value: str, where: str) -> str:
    role = ROLE_ALIASES.get(str(value).strip().lower())
    if role is None:
        raise StimulusFileError(f"{where}: role {value!r} is not one of {sorted(ROLE_ALIASES)}")
    return role


def packaged_sessions() -> list[Session]:
    """The in-house synthetic sessions."""
    return [
        Session(t.id, "packaged", _merge([(turn.role, turn.content) for turn in t.turns]))
        for t in load_transcripts()
    ]


def jsonl_sessions(path: str | Path) -> list[Session]:
    """Sessions from JSONL, one ``{"id", "messages"}`` object per line."""
    path = Path(path)
    sessions = []
    for number, line in enumerate(_text(path).split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{path}: line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise StimulusFileError(f"{where}: invalid JSON: {exc.msg}") from None
        messages = record.get("messages") if isinstance(record, dict) else None
        if not isinstance(messages, list) or not messages:
            raise StimulusFileError(f"{where}: messages: a non-empty list is required")
        turns = []
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or "role" not in message or "content" not in message:
                raise StimulusFileError(f"{where}: messages.{i}: needs 'role' and 'content'")
            if not isinstance(message["content"], str):
                raise StimulusFileError(
                    f"{where}: messages.{i}.content: must be text, got "
                    f"{json.dumps(message['content'])}"
                )
            turns.append(
                (_role(message["role"], f"{where}: messages.{i}.role"), str(message["content"]))
            )
        sessions.append(Session(str(record.get("id", number)), str(path), _merge(turns)))
    if not sessions:
        raise StimulusFileError(f"{path}: no sessions in this file")
    return sessions


def annomi_sessions(path: str | Path) -> list[Session]:
    """Sessions from an AnnoMI-format CSV, ordered by ``utterance_id``."""
    path = Path(path)
    allow_large_csv_fields()
    reader = csv.DictReader(io.StringIO(_text(path), newline=""))
    rows: dict[str, list[tuple[int, str, str]]] = {}
    try:
        missing = [c for c in ANNOMI_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise StimulusFileError(f"{path}: missing column(s) {missing}")
        for row in reader:
            where = f"{path}: line {reader.line_num}"
            try:
                order = int(row["utterance_id"])
            except ValueError:
                raise StimulusFileError(f"{where}: utterance_id: not an integer") from None
            role = _role(row["interlocutor"], f"{where}: interlocutor")
            rows.setdefault(row["transcript_id"], []).append(
                (order, role, row["utterance_text"] or "")
            )
    except csv.Error as exc:
        raise StimulusFileError(f"{path}: line {reader.line_num}: not valid CSV: {exc}") from None
    if not rows:
        raise StimulusFileError(f"{path}: no utterances in this file")
    return [
        Session(f"annomi-{tid}", str(path), _merge([(r, t) for _, r, t in sorted(utterances)]))
        for tid, utterances in rows.items()
    ]


def _text(path: Path) -> str:
    try:
        return read_text(path, "transcript file")
    except TextFileError as exc:
        raise StimulusFileError(str(exc)) from None


def load_sessions(source: str | None) -> list[Session]:
    """``None``/``packaged``, a ``.jsonl`` file, or an AnnoMI ``.csv`` file."""
    if source in (None, "packaged"):
        return packaged_sessions()
    path = Path(source)
    if not path.is_file():
        raise StimulusFileError(f"{path}: transcript file not found")
    if path.suffix == ".jsonl":
        sessions = jsonl_sessions(path)
    elif path.suffix == ".csv":
        sessions = annomi_sessions(path)
    else:
        raise StimulusFileError(f"{path}: transcripts must be a .jsonl or AnnoMI .csv file")
    if not any(role == "therapist" for s in sessions for role, _ in s.turns):
        raise StimulusFileError(
            f"{path}: no session has a therapist turn (roles therapist/assistant/counselor); "
            "a stimulus is inserted after one"
        )
    return sessions


def insertion_points(session: Session, spec: str) -> list[tuple[str, int]]:
    """Where to cut a session: ``(label, number of turns kept)``, each ending on the therapist.

    ``spec`` is a comma list of ``start`` (after the therapist's first turn),
    ``end`` (after the last therapist turn) and ``every:N`` (after every N
    turns). Each cut is moved back to the nearest therapist turn so that the
    inserted client message follows the therapist, as in a real session.
    """
    therapist_ends = [i + 1 for i, (role, _) in enumerate(session.turns) if role == "therapist"]
    if not therapist_ends:
        return []
    points: list[tuple[str, int]] = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        if part == "start":
            points.append(("start", therapist_ends[0]))
        elif part == "end":
            points.append(("end", therapist_ends[-1]))
        elif part.startswith("every:"):
            try:
                step = int(part.split(":", 1)[1])
            except ValueError:
                raise ValueError(
                    f"insert_at: {part!r} needs a whole number, e.g. every:10"
                ) from None
            if step < 1:
                raise ValueError(f"insert_at: {part!r} needs a positive step")
            for target in range(step, len(session.turns) + 1, step):
                cut = max((e for e in therapist_ends if e <= target), default=therapist_ends[0])
                points.append((f"turn-{cut}", cut))
        else:
            raise ValueError(f"insert_at: unknown point {part!r}; use start, end or every:N")
    seen: set[int] = set()
    unique = []
    for label, cut in points:
        if cut not in seen:
            seen.add(cut)
            unique.append((label, cut))
    return unique
