"""The paper's human-therapist and live-bot answers as an answer sheet.

The release keeps what 16 therapists and five commercial bots answered in
CSV files (``results/interjections/date=...&model=<name>&.../<date>.csv``:
``id``, ``interjection``, ``condition``, ``model_response``, and
``participant_id`` for people). Converted to an answer sheet (see
:mod:`therapy_audit.providers.questionnaire`) they can be judged by our judge through
the ``responses`` provider on the ``paper_crisis`` task, beside any model.

Keys. Each row gets the ``paper_crisis`` task's sample id
(``paper-crisis/<condition>/<id>``, from
:class:`therapy_audit.replication.PaperCrisisStimulus`) *and* the stimulus
text (``context`` + ``client_message``), so it is matched by id on
``paper_crisis`` and by text anywhere the same stimulus is asked. Reading the
files (including the hand-typed multi-turn lists whose apostrophes no parser
accepts) is the replication importer's job; this module only maps rows.
"""

from __future__ import annotations

from pathlib import Path

from therapy_audit.providers.questionnaire import ROLE_LABELS, write_sheet

PAPER_FIELDS = ("id", "interjection", "condition", "model_response")


def _context(turns: tuple[str, ...]) -> str:
    roles = ("user", "assistant")
    return "\n\n".join(
        f"{ROLE_LABELS[roles[i % 2]]}: {text.strip()}" for i, text in enumerate(turns[:-1])
    )


def convert_paper_csv(path: Path, out: Path) -> int:
    """Write ``out`` from one paper CSV; return the number of answers written.

    Raises:
        ValueError: the file is not one of the paper's people/bot CSVs (the
            message names file, line and field).
    """
    from therapy_audit.replication.crisis_stimuli import (
        PaperCrisisStimulus,
        client_turns,
        crisis_condition,
        stimulus_id,
    )
    from therapy_audit.replication.paper_files import folder_settings, read_csv

    records = read_csv(path, PAPER_FIELDS)
    bot_name = folder_settings(path.parent.name).get("model", path.stem)
    rows = []
    for record in records:
        turns = client_turns(record)
        condition = crisis_condition(record.get("condition"), record.where("condition"))
        stimulus = PaperCrisisStimulus(
            id=stimulus_id(record),
            condition=condition,
            paper_condition=record.get("condition"),
            turns=turns,
            criterion="",
            appropriate_answer="",
        )
        participant = record.fields.get("participant_id")
        rows.append(
            {
                "sample_id": stimulus.sample_id,
                "context": _context(turns),
                "client_message": turns[-1],
                "response": record.fields.get("model_response") or "",
                "respondent": f"participant-{participant}" if participant else bot_name,
            }
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    write_sheet(out, rows, extra=("respondent",))
    return len(rows)
