"""Reading the paper's release files, with errors that name file, line and field.

The release of Moore et al. (FAccT 2025) is a folder with ``data/`` (the
stigma battery as JSONL) and ``results/`` (raw model answers as JSONL and
CSV). Its run settings (model, steel-man prompt, contextualisation, date)
live only in folder names such as
``model=gpt-4o-2024-08-06&steel-man-prompt=True``; :func:`folder_settings`
reads them, and only the importers call it, for the settings the files'
records do not carry themselves.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from therapy_audit.textfiles import TextFileError, read_text


class PaperFormatError(ValueError):
    """A file of the paper's release is missing, empty or not in the expected format."""


@dataclass(frozen=True)
class Record:
    """One record of a JSONL or CSV file, with where it came from (1-based line)."""

    path: Path
    line: int
    fields: dict[str, Any]

    def where(self, field: str) -> str:
        """``file:line: field 'x'`` for error messages."""
        return f"{self.path}:{self.line}: field {field!r}"

    def get(self, field: str) -> Any:
        """The field's value, or a :class:`PaperFormatError` naming file, line and field."""
        if field not in self.fields:
            raise PaperFormatError(f"{self.where(field)}: missing")
        return self.fields[field]

    def text(self, field: str) -> str:
        """A non-empty string field."""
        value = self.get(field)
        if not isinstance(value, str) or not value.strip():
            raise PaperFormatError(f"{self.where(field)}: expected text, got {value!r}")
        return value


def check_paper_dir(paper_dir: str | Path) -> Path:
    """The release's root folder, or an error saying what is missing."""
    root = Path(paper_dir)
    if not root.is_dir():
        raise PaperFormatError(f"{root}: no such folder (expected the paper's release root)")
    for needed in ("data", "results"):
        if not (root / needed).is_dir():
            raise PaperFormatError(
                f"{root}: no {needed}/ folder; PAPER_DIR must be the root of the paper's "
                "release (the folder holding data/ and results/)"
            )
    return root


def read_jsonl(path: str | Path, required: tuple[str, ...] = ()) -> list[Record]:
    """Every record of a JSONL file; blank lines are skipped.

    Raises:
        PaperFormatError: missing or empty file, a line that is not a JSON
            object, or a record without one of ``required`` (file and line named).
    """
    path = Path(path)
    if not path.is_file():
        raise PaperFormatError(f"{path}: file not found")
    records = []
    try:
        text = read_text(path, "JSONL file")
    except TextFileError as exc:
        raise PaperFormatError(str(exc)) from None
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            fields = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PaperFormatError(f"{path}:{number}: not valid JSON: {exc.msg}") from None
        if not isinstance(fields, dict):
            raise PaperFormatError(f"{path}:{number}: expected a JSON object per line")
        missing = [f for f in required if f not in fields]
        if missing:
            raise PaperFormatError(f"{path}:{number}: missing field(s) {missing}")
        records.append(Record(path, number, fields))
    if not records:
        raise PaperFormatError(f"{path}: empty file (no records)")
    return records


def read_csv_frame(path: Path, **options: Any) -> pd.DataFrame:
    """A UTF-8 CSV file as strings; every failure is one line naming the file.

    Raises:
        PaperFormatError: not UTF-8, empty, or not parseable as CSV (an
            unclosed quote, say).
    """
    try:
        text = read_text(path, "CSV file")
    except TextFileError as exc:
        raise PaperFormatError(str(exc)) from None
    try:
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, **options)
    except pd.errors.EmptyDataError:
        raise PaperFormatError(f"{path}: empty file (no header, no rows)") from None
    except (pd.errors.ParserError, csv.Error, ValueError) as exc:
        reason = " ".join(str(exc).split())
        raise PaperFormatError(f"{path}: not a readable CSV file: {reason}") from None


def read_csv(path: str | Path, required: tuple[str, ...] = ()) -> list[Record]:
    """Every row of a CSV file as a :class:`Record` (line = data row number + 1 for the header).

    Empty cells become ``None``. The pandas index column the paper's
    combined files carry (``Unnamed: 0``) is dropped.

    Raises:
        PaperFormatError: missing or empty file, or missing columns (all named).
    """
    path = Path(path)
    if not path.is_file():
        raise PaperFormatError(f"{path}: file not found")
    frame = read_csv_frame(path)
    frame = frame.drop(columns=[c for c in frame.columns if c.startswith("Unnamed:")])
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise PaperFormatError(
            f"{path}: missing column(s) {missing} (columns present: {list(frame.columns)})"
        )
    if frame.empty:
        raise PaperFormatError(f"{path}: no rows below the header")
    records = []
    for number, row in enumerate(frame.to_dict("records"), start=2):
        fields = {k: (None if v == "" else v) for k, v in row.items()}
        records.append(Record(path, number, fields))
    return records


_SETTING = re.compile(r"(?:^|&)([^=&]+)=([^&]*)")


def folder_settings(folder: str | Path) -> dict[str, str]:
    """Run settings encoded in one of the release's folder names.

    ``"contextualize=False&model=gpt-4o&steel-man-prompt=True"`` ->
    ``{"contextualize": "False", "model": "gpt-4o", "steel-man-prompt": "True"}``.
    The paper stored these settings nowhere else.

    Raises:
        PaperFormatError: the name carries no ``key=value`` pair, or no ``model``.
    """
    name = Path(folder).name
    settings = dict(_SETTING.findall(name))
    if "model" not in settings:
        raise PaperFormatError(
            f"{folder}: folder name does not encode a run (expected key=value pairs "
            "joined by '&', with model=...)"
        )
    return settings


def setting_flag(settings: dict[str, str], key: str, folder: Path) -> bool:
    """A ``True``/``False`` setting from a folder name (absent -> False)."""
    value = settings.get(key, "False")
    if value not in ("True", "False"):
        raise PaperFormatError(f"{folder}: setting {key}={value!r} is not True or False")
    return value == "True"


def run_folders(results_dir: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """Sub-folders of a results folder that encode a run, sorted by name."""
    for folder in sorted(p for p in results_dir.iterdir() if p.is_dir()):
        yield folder, folder_settings(folder)


_LIST_SEPARATOR = re.compile(r"""['"]\s*,\s+['"]""")


def parse_turns(text: Any, where: str) -> list[str]:
    """A stimulus as a list of turns: a JSON list, or a string holding a Python list literal.

    The release stores multi-turn stimuli as real lists in JSONL and as a
    list's ``repr`` in CSV; the live-bot CSVs hold a hand-typed version
    whose inner apostrophes are not escaped (``'you're'``), which no parser
    accepts, so it is split on the quote-comma-quote separators.
    """
    if isinstance(text, list):
        turns = [str(t) for t in text]
    elif isinstance(text, str) and text.lstrip().startswith("["):
        try:
            value = ast.literal_eval(text)
            turns = [str(t) for t in value]
        except (ValueError, SyntaxError):
            inner = text.strip()
            if not (inner.startswith("['") or inner.startswith('["')) or not (
                inner.endswith("']") or inner.endswith('"]')
            ):
                raise PaperFormatError(f"{where}: not a list of turns: {text[:80]!r}") from None
            turns = _LIST_SEPARATOR.split(inner[2:-2])
    elif isinstance(text, str):
        turns = [text]
    else:
        raise PaperFormatError(f"{where}: expected text or a list of turns, got {text!r}")
    turns = [t.strip() for t in turns]
    if not turns or not all(turns):
        raise PaperFormatError(f"{where}: empty turn in {text!r}")
    return turns
