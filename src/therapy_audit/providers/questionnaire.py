"""Answers collected by hand: the answer sheet, its blank questionnaire, and its checks.

The paper compared models with 16 human therapists and five commercial
therapy bots answered through their web pages. To judge such answers exactly
like a model's, they go into an *answer sheet*, a CSV with one row per answer:

    sample_id, context, client_message, response[, respondent]

``sample_id`` is the crisis task's sample id; ``context`` the turns before the
client's message, one per paragraph (``Client: ...`` / ``Therapist: ...``);
``client_message`` the message to answer; ``response`` the answer. A sample
may have several rows (several people, or several tries): the ``responses``
provider gives the k-th row to epoch k. Criteria are never written into a
questionnaire: the people answering must not know what is being checked.

:func:`export_questionnaire` writes the blank sheet and a printable,
self-contained HTML form of the same stimuli; :func:`read_answer_sheet`
validates a filled sheet (errors name line and column; empty responses are
counted, not guessed). The form numbers its items and shows no sample ids:
ids are descriptive (``.../fastest-pesticide``) and would tell the person
answering what is being tested.
"""

from __future__ import annotations

import csv
import html
import io
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from inspect_ai.dataset import Sample
from inspect_ai.model import ChatMessage

from therapy_audit.textfiles import TextFileError, csv_safe, csv_unsafe, read_text

SHEET_COLUMNS = ("sample_id", "context", "client_message", "response")
OPTIONAL_COLUMNS = ("respondent",)
ROLE_LABELS = {"user": "Client", "assistant": "Therapist"}
CSV_NAME = "questionnaire.csv"
HTML_NAME = "questionnaire.html"


class AnswerSheetError(ValueError):
    """An answer sheet does not fit the format; the message names file, line and column."""


@dataclass(frozen=True)
class Stimulus:
    """One questionnaire item: what the person answering sees (never the criterion)."""

    sample_id: str
    context: str
    client_message: str


@dataclass(frozen=True)
class StoredAnswer:
    """One row of a filled answer sheet."""

    sample_id: str
    context: str
    client_message: str
    response: str
    respondent: str
    line: int


@dataclass
class AnswerSheet:
    """A validated answer sheet, its answers in file order."""

    path: Path
    answers: list[StoredAnswer] = field(default_factory=list)

    @property
    def empty(self) -> list[StoredAnswer]:
        """Rows whose response is blank (each becomes an ``error`` outcome, never a verdict)."""
        return [a for a in self.answers if not a.response.strip()]

    @property
    def sample_ids(self) -> list[str]:
        """Distinct sample ids, in file order (rows without one are matched by text)."""
        return list(dict.fromkeys(a.sample_id for a in self.answers if a.sample_id))

    def answers_per_sample(self) -> Counter[str]:
        """How many rows each sample (by id, else by client message) has."""
        return Counter(a.sample_id or a.client_message for a in self.answers)


def _turn_text(message: ChatMessage) -> str:
    return f"{ROLE_LABELS.get(message.role, message.role.title())}: {message.text.strip()}"


def context_text(messages: Sequence[ChatMessage]) -> str:
    """The turns before the last client message, one paragraph each (system prompt excluded)."""
    last = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
    earlier = [m for m in messages[:last] if m.role in ROLE_LABELS]
    return "\n\n".join(_turn_text(m) for m in earlier)


def last_client_text(messages: Sequence[ChatMessage]) -> str:
    """The last client (user) message's text."""
    return next((m.text for m in reversed(messages) if m.role == "user"), "")


def normalise(text: str) -> str:
    """Whitespace-insensitive form used when answers are matched by text."""
    return " ".join(text.split())


def stimuli_from_samples(samples: Iterable[Sample]) -> list[Stimulus]:
    """Questionnaire items from a task's samples (their input messages only)."""
    items = []
    for sample in samples:
        if isinstance(sample.input, str):
            context, message = "", sample.input
        else:
            context, message = context_text(sample.input), last_client_text(sample.input)
        items.append(Stimulus(str(sample.id), context, message))
    return items


def write_sheet(path: Path, rows: Iterable[dict[str, str]], extra: Sequence[str] = ()) -> None:
    """Write an answer sheet (UTF-8 with BOM so spreadsheets read it as UTF-8)."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*SHEET_COLUMNS, *extra])
        writer.writeheader()
        for row in rows:
            writer.writerow({k: csv_safe(v) for k, v in row.items()})


def render_html(items: Sequence[Stimulus], title: str, instructions: str | None = None) -> str:
    """A printable, self-contained form (inline CSS, no scripts, no external files)."""
    blocks = []
    for number, item in enumerate(items, start=1):
        context = ""
        if item.context:
            turns = "".join(
                f"<p class='turn'>{html.escape(turn)}</p>" for turn in item.context.split("\n\n")
            )
            context = (
                f"<div class='context'><div class='label'>Earlier in the session</div>{turns}</div>"
            )
        blocks.append(
            f"<section class='item'><h2>Item {number}</h2>{context}"
            "<div class='client'><div class='label'>The client says</div>"
            f"<p>{html.escape(item.client_message)}</p></div>"
            "<div class='label'>Your reply, as you would write it to this client</div>"
            "<div class='answer'></div></section>"
        )
    guide = (
        "Imagine you are the therapist in a text-based session. For each item, read what "
        "the client says (and the earlier turns, where given) and write the reply you would "
        "send. Write it as you would to a real client; there are no trick questions. Replies "
        f"go into the <code>response</code> column of <code>{CSV_NAME}</code>: item N is the "
        "N-th row below the header."
    )
    extra = (
        f"<div class='instructions'><div class='label'>Instructions for this session</div>"
        f"<p>{html.escape(instructions)}</p></div>"
        if instructions
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: Georgia, serif; max-width: 46rem; margin: 2rem auto; color: #111;
  line-height: 1.45; }}
h1 {{ font-size: 1.5rem; }} h2 {{ font-size: 1.05rem; margin: 0 0 .5rem; }}
.item {{ border-top: 1px solid #999; padding: 1rem 0; break-inside: avoid; }}
.label {{ font-size: .8rem; text-transform: uppercase; letter-spacing: .05em; color: #555; }}
.context {{ background: #f4f4f4; padding: .5rem .75rem; margin-bottom: .75rem; }}
.turn {{ margin: .3rem 0; white-space: pre-wrap; }}
.client p {{ font-size: 1.05rem; white-space: pre-wrap; }}
.answer {{ border: 1px solid #777; min-height: 9rem; margin-top: .3rem; }}
.instructions {{ border: 1px dashed #777; padding: .5rem .75rem; white-space: pre-wrap; }}
@media print {{ body {{ margin: 0; max-width: none; }} .item {{ page-break-inside: avoid; }} }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{guide}</p>{extra}
<p>{len(items)} items.</p>
{"".join(blocks)}
</body></html>
"""


def refuse_filled_sheet(path: Path) -> None:
    """Raise when ``path`` is a sheet with answers typed in: an export never overwrites them.

    A blank sheet (every ``response`` empty) may be written again; anything
    else that cannot be read as a blank sheet is left alone too.
    """
    if not path.exists():
        return
    try:
        sheet = read_answer_sheet(path)
    except AnswerSheetError:
        filled = True
    else:
        filled = any(a.response.strip() for a in sheet.answers)
    if filled:
        raise ValueError(
            f"{path}: already exists and holds answers; not overwritten. "
            "Export into another --out folder (or move the filled sheet first)"
        )


def export_questionnaire(
    items: Sequence[Stimulus], out_dir: Path, title: str, instructions: str | None = None
) -> tuple[Path, Path]:
    """Write ``questionnaire.csv`` (empty ``response`` column) and ``questionnaire.html``."""
    if not items:
        raise ValueError("no stimuli to export")
    csv_path, html_path = out_dir / CSV_NAME, out_dir / HTML_NAME
    refuse_filled_sheet(csv_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_sheet(
        csv_path,
        (
            {
                "sample_id": i.sample_id,
                "context": i.context,
                "client_message": i.client_message,
                "response": "",
            }
            for i in items
        ),
    )
    html_path.write_text(render_html(items, title, instructions), encoding="utf-8")
    return csv_path, html_path


def read_answer_sheet(path: str | Path) -> AnswerSheet:
    """Read and validate a filled answer sheet.

    Every row needs a ``sample_id`` or a ``client_message`` (rows without an id
    are matched to samples by their text). Empty responses are kept and
    counted (:attr:`AnswerSheet.empty`); they become ``error`` outcomes.

    Raises:
        AnswerSheetError: unreadable file, missing columns, or a row with
            neither id nor message; the message names the line and column.
    """
    path = Path(path)
    try:
        handle = io.StringIO(read_text(path, "answer sheet"), newline="")
    except TextFileError as exc:
        raise AnswerSheetError(str(exc)) from None
    sheet = AnswerSheet(path=path)
    with handle:
        rows = _rows_with_lines(path, handle)
        line, cells = next(rows, (1, []))
        header = [h.strip() for h in cells]
        if not header:
            raise AnswerSheetError(f"{path}: line 1: empty file (expected a header row)")
        _check_header(path, line, header)
        for line, cells in rows:
            if len(cells) > len(header):
                raise AnswerSheetError(
                    f"{path}: line {line}: more cells than the {len(header)} columns "
                    "(an unquoted comma?)"
                )
            values = {k: csv_unsafe(v) for k, v in zip(header, cells, strict=False)}
            if not any(v.strip() for v in values.values()):
                continue
            sample_id = values.get("sample_id", "").strip()
            message = values.get("client_message", "")
            if not sample_id and not message.strip():
                column = "sample_id" if "sample_id" in header else "client_message"
                raise AnswerSheetError(
                    f"{path}: line {line}, column {column}: empty; a row needs a sample id "
                    "or the client message it answers"
                )
            sheet.answers.append(
                StoredAnswer(
                    sample_id=sample_id,
                    context=values.get("context", ""),
                    client_message=message,
                    response=values.get("response", ""),
                    respondent=values.get("respondent", "").strip(),
                    line=line,
                )
            )
    if not sheet.answers:
        raise AnswerSheetError(f"{path}: no answer rows after the header")
    return sheet


def _rows_with_lines(path: Path, handle: io.StringIO) -> Iterator[tuple[int, list[str]]]:
    """Each non-blank CSV record with the line it starts on, as an editor numbers lines.

    ``csv.DictReader`` skips blank lines and a quoted cell may span several
    lines, so neither a row count nor ``line_num`` (the record's *last* line)
    names the line a person must look at; the reader's count before each
    record does.
    """
    reader = csv.reader(handle, strict=True)
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # strict: an unclosed quote would otherwise swallow the rest of the file
            # into one response, silently.
            why = "a quote opened in this row is never closed" if "end of data" in str(exc) else exc
            raise AnswerSheetError(f"{path}: line {start}: {why}") from None
        if cells:
            yield start, cells


def _check_header(path: Path, line: int, header: list[str]) -> None:
    missing = [c for c in ("response",) if c not in header]
    if "sample_id" not in header and "client_message" not in header:
        missing.append("sample_id or client_message")
    if missing:
        raise AnswerSheetError(
            f"{path}: line {line}: missing column(s) {', '.join(missing)}; the header is "
            f"{', '.join(header)} (expected {', '.join(SHEET_COLUMNS)})"
        )
    unknown = [c for c in header if c not in (*SHEET_COLUMNS, *OPTIONAL_COLUMNS) and c]
    if unknown:
        raise AnswerSheetError(
            f"{path}: line {line}: unknown column(s) {', '.join(unknown)}; allowed: "
            f"{', '.join((*SHEET_COLUMNS, *OPTIONAL_COLUMNS))}"
        )
