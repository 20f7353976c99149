"""Read the text files users give us (stimuli, transcripts, sheets, configs, prompts).

Every such file must be UTF-8 (a byte-order mark is allowed). A file in
another encoding, a binary file or a folder is refused with one line that
names the file and the encoding expected, never a ``UnicodeDecodeError``
traceback.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any, Final

EXPECTED_ENCODING: Final = "UTF-8"


class TextFileError(ValueError):
    """A file could not be read as UTF-8 text; the message names the file."""


def read_text(path: str | Path, what: str = "file") -> str:
    """The file's text, decoded as UTF-8 (a leading byte-order mark is dropped).

    Raises:
        TextFileError: missing file, a folder, or bytes that are not UTF-8
            (UTF-16, Latin-1, binary); the message names ``what`` and the file.
    """
    path = Path(path)
    if path.is_dir():
        raise TextFileError(f"{path}: is a folder; the {what} must be a file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TextFileError(f"{path}: cannot read the {what}: {exc.strerror}") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise TextFileError(
            f"{path}: the {what} is UTF-16; expected {EXPECTED_ENCODING} (save it as UTF-8)"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TextFileError(
            f"{path}: the {what} is not {EXPECTED_ENCODING} text (byte 0x{data[exc.start]:02x} "
            f"at offset {exc.start}); expected {EXPECTED_ENCODING} (save it as UTF-8)"
        ) from None
    if "\x00" in text:
        raise TextFileError(
            f"{path}: the {what} is a binary file; expected {EXPECTED_ENCODING} text"
        )
    return text


def allow_large_csv_fields() -> None:
    """Let the csv module read fields of any size (its default stops at 128 KB)."""
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:
            limit //= 10


#: A spreadsheet reads a cell starting with one of these as a formula.
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_safe(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula, prefixed with ``'``.

    Numbers (and text that is a number, like ``-0.5``) are left alone.

    >>> csv_safe("=HYPERLINK(1)"), csv_safe("-0.5"), csv_safe(-2), csv_safe("ok")
    ("'=HYPERLINK(1)", '-0.5', -2, 'ok')
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _is_number(value):
        return "'" + value
    return value


def csv_unsafe(value: str) -> str:
    """Undo :func:`csv_safe` on a cell read back from one of our own sheets."""
    if value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def csv_safe_frame(table: Any) -> Any:
    """A copy of a DataFrame with :func:`csv_safe` applied to every text cell."""
    from pandas.api.types import is_numeric_dtype

    return table.apply(lambda column: column if is_numeric_dtype(column) else column.map(csv_safe))
