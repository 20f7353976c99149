"""The report's numbers as JSON (one object) or CSV (a folder, one file per table).

CSV is a folder rather than one long file because the tables have different
columns (a stigma-by-item table and a coverage table share almost none);
each file is tidy and opens directly in a spreadsheet. Figures are not
exported: they are drawn from these same tables.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from therapy_audit.report.build import ReportContext
from therapy_audit.textfiles import csv_safe_frame

#: File in the CSV folder holding the warnings (one row each).
WARNINGS_CSV = "warnings.csv"
WORST_CSV = "appropriate_worst_quoted.csv"


def _clean(value: Any) -> Any:
    """JSON-safe scalars: NaN and NA -> null, numpy numbers -> Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [_clean(record) for record in table.astype(object).to_dict("records")]


def to_json_data(context: ReportContext) -> dict[str, Any]:
    """Every table of the report, the runs, warnings and quoted worst replies, as one object."""
    return {
        "title": context.title,
        "generated": context.generated,
        "sections": context.sections,
        "mixed_versions": context.mixed_versions,
        "judge_validation": _clean(context.judge_validation),
        "notes": context.notes,
        "system_prompts": context.system_prompts,
        "warnings": [asdict(w) for w in context.warnings],
        "runs": _records(context.runs),
        "tables": {name: _records(table) for name, table in context.tables.items()},
        "worst": [_clean(item) for item in context.worst],
    }


def write_json(context: ReportContext, path: str | Path) -> Path:
    """Write :func:`to_json_data` to ``path`` (UTF-8, indented)."""
    out = Path(path)
    out.write_text(json.dumps(to_json_data(context), indent=2, ensure_ascii=False), "utf-8")
    return out


def write_csv(context: ReportContext, folder: str | Path) -> list[Path]:
    """Write one CSV per table (``<name>.csv``), plus runs, warnings and quoted replies."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    tables = {"runs": context.runs, **context.tables}
    tables[WARNINGS_CSV.removesuffix(".csv")] = pd.DataFrame(
        [asdict(w) for w in context.warnings], columns=["kind", "text"]
    )
    if context.worst:
        tables[WORST_CSV.removesuffix(".csv")] = pd.DataFrame(context.worst)
    for name, table in tables.items():
        path = out / f"{name}.csv"
        csv_safe_frame(table).to_csv(path, index=False)
        written.append(path)
    return written
