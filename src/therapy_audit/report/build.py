"""Logs -> report context: every table, figure and note the report shows, computed once.

This module reads the logs and calls the analysis functions; it does no
formatting. :func:`therapy_audit.report.render.render` turns the context into
HTML, and :mod:`therapy_audit.report.export` into JSON or CSV, so the three
formats always carry the same numbers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from inspect_ai.log import read_eval_log, read_eval_log_sample
from inspect_ai.model import GenerateConfig

from therapy_audit.analysis import figures
from therapy_audit.analysis.correction import JudgeValidation, ValidationFileError, load_validation
from therapy_audit.analysis.frame import (
    RUN_NOTES,
    UNREADABLE,
    log_paths,
    log_problems,
    missing_shards,
    results_frame,
    separate_runs,
    stimulus_coverage,
)
from therapy_audit.analysis.stats import rate_table
from therapy_audit.experiments.crisis import analysis as crisis_tables
from therapy_audit.experiments.crisis import verdict_tables
from therapy_audit.experiments.stigma import analysis as stigma_tables
from therapy_audit.outcomes import ALL_OUTCOMES, FAIL
from therapy_audit.prompts import SYSTEM_PROMPTS
from therapy_audit.report import reader
from therapy_audit.report.comparison import prompt_comparison
from therapy_audit.report.versions import check_versions, is_mixed, separate_versions
from therapy_audit.stimuli.coverage import coverage_table
from therapy_audit.textfiles import TextFileError, read_text

#: Stigma attributes varied in the vignettes (sample metadata columns).
ATTRIBUTES = ("gender", "race", "education")
#: Worst stimuli shown per respondent, each with one failing reply quoted.
DEFAULT_WORST = 5
#: Characters of a reply quoted in the report (the judge saw at most the task's char_limit).
QUOTE_CHARS = 1500
#: Keys read from a ``therapy-audit validate-judge`` JSON file (all optional).
VALIDATION_KEYS = ("judge", "kappa", "ci_low", "ci_high", "n", "summary")
#: Where ``validate-judge --out`` nests the judge-vs-people figures.
VALIDATION_SECTION = "judge_vs_humans"
#: Crisis breakdowns beyond condition, shown when the column exists in the logs.
CRISIS_BREAKDOWNS = ("framing", "insert_at", "context", "multi_turn")
CONVERSATION = "conversation"
DEFAULT_TITLE = "therapy-audit report"
GROUPING = ["respondent", "system_prompt"]


class ReportInputError(ValueError):
    """The logs or files given cannot make a report (the message says which and why)."""


@dataclass
class ReportWarning:
    """A finding the reader must see before any number: ``kind`` names it for tests and JSON."""

    kind: str
    text: str


@dataclass
class ReportContext:
    """Everything the report shows. ``tables`` hold numbers only (formatting is render's job).

    ``tables`` maps a stable name (``stigma_by_condition``...) to a tidy
    DataFrame; ``figures`` maps a name to a PNG ``data:`` URI; ``worst``
    lists quoted failing replies; ``sections`` says which experiments are
    present.
    """

    title: str
    generated: str
    runs: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, str] = field(default_factory=dict)
    warnings: list[ReportWarning] = field(default_factory=list)
    worst: list[dict[str, Any]] = field(default_factory=list)
    judge_validation: dict[str, Any] | None = None
    system_prompts: dict[str, str | None] = field(default_factory=dict)
    sections: list[str] = field(default_factory=list)
    mixed_versions: bool = False
    #: Short text lines by name (``decided``: who decided the verdicts, per respondent).
    notes: dict[str, list[str]] = field(default_factory=dict)
    #: The headline scorecard, the reply browser, "what to fix" cards and the
    #: conversation trajectories (see ``report/reader.py``).
    scorecard: list[dict[str, Any]] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)
    fixes: list[dict[str, Any]] = field(default_factory=list)
    trajectories: pd.DataFrame | None = None


def load_judge_validation(path: str | Path) -> dict[str, Any]:
    """Read the agreement figures of a ``therapy-audit validate-judge`` JSON file.

    ``kappa``, ``ci_low``, ``ci_high`` and ``n`` are read at the top level,
    or else from the file's ``judge_vs_humans`` object (where
    ``validate-judge --out`` writes them); ``judge`` and ``summary`` are
    read when present. Absent keys are simply left out.

    Raises:
        ReportInputError: the file is not JSON or not a JSON object (the message names the file).
    """
    try:
        data = json.loads(read_text(path, "judge validation file"))
    except TextFileError as exc:
        raise ReportInputError(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise ReportInputError(
            f"judge validation file {path}: cannot read it as JSON ({exc})"
        ) from exc
    if not isinstance(data, dict):
        raise ReportInputError(f"judge validation file {path}: expected a JSON object")
    if "correction" in data and isinstance(data.get("kappa"), dict):
        # A gold-set validation (validate-judge --gold, or labels with a stimulus column).
        kappa = data["kappa"]
        found = {
            "judge": data.get("judge"),
            "kappa": kappa.get("value"),
            "ci_low": kappa.get("ci_low"),
            "ci_high": kappa.get("ci_high"),
            "n": data.get("replies"),
            "summary": data.get("summary"),
            "labelled_by": data.get("labelled_by"),
            "gold": True,
        }
        found = {k: v for k, v in found.items() if v is not None}
        found["source"] = Path(path).name
        return found
    nested = data.get(VALIDATION_SECTION)
    nested = nested if isinstance(nested, dict) else {}
    found = {}
    for key in VALIDATION_KEYS:
        value = data.get(key, nested.get(key))
        if value is not None:
            found[key] = value
    found["source"] = Path(path).name
    return found


def respondent_temperature(config: GenerateConfig | None) -> str:
    """The respondent's sampling temperature as run, or "provider default" when none was set.

    An API model or bot left at its provider's default may sample (llama.cpp's
    server samples at 0.8), so a rerun need not replay its replies; the
    reader must see that before comparing two runs.
    """
    temperature = config.temperature if config is not None else None
    return "provider default" if temperature is None else f"{temperature:g}"


def _runs(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per log, from the log headers: what was run, when, on which stimuli."""
    records = []
    for path, rows in frame.groupby("log", sort=True):
        header = read_eval_log(str(path), header_only=True)
        meta = header.eval.metadata or {}
        first = rows.iloc[0]
        records.append(
            {
                "log": Path(str(path)).name,
                "experiment": first["experiment"],
                "respondent": first["respondent"],
                "system_prompt": first["system_prompt"],
                "judge": first["judge"] if isinstance(first["judge"], str) else None,
                "respondent_temperature": respondent_temperature(header.eval.model_generate_config),
                "task_version": first["task_version"],
                "stimulus_set_version": first["stimulus_set_version"],
                "stimulus_fingerprint": first["stimulus_fingerprint"],
                "prompts_revision": meta.get("prompts_revision"),
                "judge_revision": meta.get("judge_revision"),
                "created": str(header.eval.created),
                "completed": str(header.stats.completed_at) if header.stats else None,
                "status": header.status,
                "rows": int(len(rows)),
            }
        )
    return pd.DataFrame.from_records(records)


def outcome_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Per experiment, respondent and system prompt: rows, and the count of every outcome."""
    keys = ["experiment", *GROUPING]
    counts = frame.groupby([*keys, "outcome"], dropna=False).size().unstack(fill_value=0)
    for outcome in ALL_OUTCOMES:
        if outcome not in counts:
            counts[outcome] = 0
    counts = counts[list(ALL_OUTCOMES)]
    counts.insert(0, "rows", counts.sum(axis=1))
    return counts.reset_index()


def _series(table: pd.DataFrame, flagged: set[tuple[str, str]] | None = None) -> pd.DataFrame:
    """Add a ``series`` label (respondent, plus prompt when prompts differ) for figures."""
    labelled = table.copy()
    several = labelled["system_prompt"].nunique(dropna=False) > 1
    labels = []
    for respondent, prompt in zip(labelled["respondent"], labelled["system_prompt"], strict=True):
        label = f"{respondent} · {prompt}" if several else str(respondent)
        if flagged and (respondent, prompt) in flagged:
            label += " (position-driven)"
        labels.append(label)
    labelled["series"] = labels
    return labelled


def _figure(table: pd.DataFrame, category: str, title: str, ylabel: str, flagged=None) -> str:
    """Bars per ``category`` in words; rates that are not measurements drawn hatched.

    Not a measurement: a position-driven respondent (``flagged``), or a rate
    too few to read.
    """
    shown = _series(table, flagged)
    too_few = shown["too_few"] if "too_few" in shown else pd.Series(False, index=shown.index)
    position = pd.Series(
        [
            (r, p) in (flagged or set())
            for r, p in zip(shown["respondent"], shown["system_prompt"], strict=True)
        ],
        index=shown.index,
    )
    shown = shown.assign(
        invalid=too_few.fillna(False).astype(bool) | position,
        **{category: shown[category].map(reader.words)},
    )
    png = figures.png_bytes(figures.rate_bars(shown, category, "series", title, ylabel))
    return figures.data_uri(png)


def _stigma(context: ReportContext, frame: pd.DataFrame) -> None:
    bias = stigma_tables.position_bias(frame)
    flagged: set[tuple[str, str]] = set()
    if not bias.empty:
        context.tables["position_bias"] = bias
        for _, row in bias[bias["position_driven"]].iterrows():
            flagged.add((row["respondent"], row["system_prompt"]))
            context.warnings.append(
                ReportWarning(
                    "position_bias",
                    f"{row['respondent']} (system prompt: {row['system_prompt']}) chose the same "
                    f"letter in {row['same_letter']:.0%} of items asked in both option orders: "
                    "its answers follow the options' position, not their content. Its stigma "
                    "rates are not interpretable.",
                )
            )
    else:
        context.warnings.append(
            ReportWarning(
                "not_counterbalanced",
                "The stigma items were asked in one option order only, so position bias "
                "could not be checked.",
            )
        )
    by_condition = stigma_tables.by_condition(frame)
    context.tables["stigma_by_condition"] = by_condition
    context.figures["stigma_by_condition"] = _figure(
        by_condition,
        "condition",
        "Stigma rate by condition (headline items, 95% CI)",
        "stigmatizing answers",
        flagged,
    )
    context.tables["stigma_by_item"] = stigma_tables.by_item(frame)
    single = []
    stigma = stigma_tables.stigma_rows(frame)
    for attribute in ATTRIBUTES:
        if attribute not in stigma or not stigma[attribute].notna().any():
            continue
        if stigma[attribute].nunique() > 1:
            context.tables[f"stigma_by_{attribute}"] = stigma_tables.by_attribute(frame, attribute)
        else:
            single.append(f"{attribute} ({stigma[attribute].dropna().iloc[0]})")
    if single:
        # A table with one level compares nothing; say so instead of printing it.
        context.warnings.append(
            ReportWarning(
                "one_demographic_level",
                "These stigma runs have one level of " + ", ".join(single) + " (the quick "
                "profile asks one demographic variant per condition), so no demographic "
                "comparison is possible. Run with --full to compare by gender, race and "
                "education.",
            )
        )


def _quote(frame: pd.DataFrame, row: pd.Series) -> dict[str, Any]:
    """One failing reply of a worst stimulus, read from its log sample, with the verdict."""
    rows = frame[
        (frame["respondent"] == row["respondent"])
        & (frame["system_prompt"] == row["system_prompt"])
        & (frame["stimulus"] == row["stimulus"])
    ]
    failing = rows[rows["outcome"] == FAIL]
    chosen = (failing if not failing.empty else rows).iloc[0]
    sample = read_eval_log_sample(
        str(chosen["log"]),
        id=chosen["sample_id"],
        epoch=int(chosen["epoch"]),
        resolve_attachments=True,
        exclude_fields={"events", "store"},
    )
    client = next((m.text for m in reversed(sample.messages) if m.role == "user"), "")
    reply = sample.output.completion if sample.output else ""
    score = (sample.scores or {}).get(str(chosen["scorer"])) if chosen["scorer"] else None
    return {
        "respondent": row["respondent"],
        "system_prompt": row["system_prompt"],
        "condition": row["condition"],
        "stimulus": row["stimulus"],
        "sample_id": chosen["sample_id"],
        "rate": row["rate"],
        "n": int(row["n"]),
        "criterion": chosen.get("criterion"),
        "appropriate_answer": chosen.get("appropriate_answer"),
        "rationale": chosen.get("rationale"),
        "client_message": client,
        "reply": reply[:QUOTE_CHARS],
        "reply_cut": len(reply) > QUOTE_CHARS,
        "judged_part_only": bool(chosen.get("score_truncated") is True),
        "outcome": chosen["outcome"],
        "verdict": score.explanation if score else None,
        "judge_labels": None
        if pd.isna(chosen.get("score_judge_labels"))
        else chosen.get("score_judge_labels"),
        "verdict_by": chosen.get("score_verdict_by"),
    }


def _crisis(
    context: ReportContext,
    frame: pd.DataFrame,
    worst: int,
    correction: JudgeValidation | None = None,
) -> None:
    rows = crisis_tables.crisis_rows(frame)
    decided = verdict_tables.who_decided(frame)
    if not decided.empty:
        context.tables["who_decided"] = decided
        context.notes["decided"] = verdict_tables.decided_lines(frame)
    if correction is not None:
        context.tables["appropriate_corrected"] = verdict_tables.corrected_rates(frame, correction)
        mismatch = verdict_tables.validation_mismatch(frame, correction)
        if mismatch:
            context.warnings.append(ReportWarning("validation_judge_differs", mismatch))
    by_condition = crisis_tables.appropriate_rates(frame, ["condition"])
    context.tables["appropriate_overall"] = crisis_tables.appropriate_rates(frame)
    context.tables["appropriate_by_condition"] = by_condition
    context.figures["appropriate_by_condition"] = _figure(
        by_condition,
        "condition",
        "Appropriate responses by condition (95% CI)",
        "appropriate replies",
    )
    for column in CRISIS_BREAKDOWNS:
        if column in rows and rows[column].notna().any() and rows[column].nunique() > 1:
            context.tables[f"appropriate_by_{column}"] = crisis_tables.appropriate_rates(
                frame, [column]
            )
    if "appropriate_by_framing" in context.tables:
        table = context.tables["appropriate_by_framing"]
        context.figures["appropriate_by_framing"] = _figure(
            table, "framing", "Appropriate responses by framing (95% CI)", "appropriate replies"
        )
    judges = crisis_tables.judges_used(frame)
    context.tables["judges"] = judges.assign(smoke_test=judges["smoke_test"].astype(int)).rename(
        columns={"smoke_test": "of them smoke-test"}
    )
    agreement = crisis_tables.check_agreement(frame)
    if not agreement.empty:
        context.tables["judge_check_agreement"] = agreement
    smoke = int(judges["smoke_test"].astype(int).sum()) if not judges.empty else 0
    if smoke:
        context.warnings.append(
            ReportWarning(
                "smoke_test_judge",
                f"{smoke} {'verdict comes' if smoke == 1 else 'verdicts come'} from the embedded "
                "model acting as judge. It is too small to judge (near chance): these verdicts "
                "only show that the pipeline runs. Re-run with --judge set to a capable model "
                "validated with therapy-audit validate-judge.",
            )
        )
    quoted = []
    for _, own in rows.groupby(GROUPING, sort=True, dropna=False):
        table = crisis_tables.worst_stimuli(own, n=worst)
        for _, row in table[table["rate"] < 1].iterrows():
            quoted.append(_quote(own, row))
    context.worst = quoted
    worst_table = pd.DataFrame(
        [
            {k: q[k] for k in ("respondent", "system_prompt", "condition", "stimulus")}
            for q in quoted
        ]
    )
    if not worst_table.empty:
        context.tables["appropriate_worst"] = worst_table


def _comparisons(context: ReportContext, frame: pd.DataFrame) -> None:
    headline = stigma_tables.stigma_rows(frame)
    if not headline.empty:
        headline = headline[headline["headline"].fillna(False).astype(bool)]
    for name, rows in (
        ("stigma", headline),
        ("appropriate", crisis_tables.crisis_rows(frame)),
    ):
        if rows.empty:
            continue
        table = prompt_comparison(rows)
        if table.empty:
            continue
        context.tables[f"prompt_comparison_{name}"] = table
        labelled = table.assign(
            label=table["respondent"] + " · " + table["prompt"] + " · " + table["condition"]
        )
        png = figures.png_bytes(
            figures.difference_plot(
                labelled,
                "label",
                f"{name.capitalize()} rate: system prompt minus none (95% CI)",
                "difference in rate (percentage points)",
            )
        )
        context.figures[f"prompt_comparison_{name}"] = figures.data_uri(png)


def _conversation(context: ReportContext, frame: pd.DataFrame) -> None:
    """Multi-turn runs, rendered from whatever columns their logs carry."""
    rows = frame[frame["experiment"] == CONVERSATION]
    context.tables["conversation_overall"] = rate_table(rows, GROUPING)
    for column in ("persona", "condition"):
        if column in rows and rows[column].notna().any():
            context.tables[f"conversation_by_{column}"] = rate_table(rows, [*GROUPING, column])
            break
    extra = [
        c
        for c in rows.columns
        if (c.startswith("score_") or c in ("persona", "condition", "stop_reason", "turns"))
        and rows[c].notna().any()
        and c != "score_outcome"
    ]
    context.tables["conversation_samples"] = rows[
        ["respondent", "system_prompt", "sample_id", "epoch", "outcome", *extra]
    ].reset_index(drop=True)
    from therapy_audit.experiments.conversation import trajectory

    metrics = trajectory.trajectory_metrics(frame)
    if not metrics.empty:
        context.tables["conversation_trajectory"] = trajectory.readable_metrics(metrics)
        context.figures["conversation_by_turn"] = figures.data_uri(
            figures.png_bytes(trajectory.turn_failure_figure(frame))
        )


def build_report(
    paths: Iterable[str | Path],
    judge_validation: str | Path | None = None,
    allow_mixed_versions: bool = False,
    title: str = DEFAULT_TITLE,
    worst: int = DEFAULT_WORST,
    pool: bool = False,
) -> ReportContext:
    """Read the logs under ``paths`` and compute every section of the report.

    Several runs of one respondent and system prompt are shown as separate
    runs unless ``pool``; a warning says which.

    Raises:
        MixedVersionsError: the logs use different stimulus sets and
            ``allow_mixed_versions`` is false (the message names logs and versions).
        ReportInputError: no samples in the logs, or an unreadable judge validation file.
        FileNotFoundError: a path does not exist.
    """
    paths = list(paths)
    found = log_paths(paths)
    if not found:
        raise ReportInputError(f"no Inspect logs found in {', '.join(map(str, paths))}")
    frame = results_frame(paths)
    if frame.empty:
        unreadable = frame.attrs.get(UNREADABLE, {})
        reason = "no readable log among" if len(unreadable) == len(found) else "no samples in"
        raise ReportInputError(f"{reason} {', '.join(Path(p).name for p in found)}")
    if is_mixed(frame) and not allow_mixed_versions:
        check_versions(frame)
    validation = load_judge_validation(judge_validation) if judge_validation else None
    correction = None
    if validation and validation.get("gold"):
        try:
            correction = load_validation(judge_validation)  # type: ignore[arg-type]
        except ValidationFileError as exc:
            raise ReportInputError(str(exc)) from exc
    frame = separate_runs(frame, pool=pool)
    context = context_from_frame(frame, _runs(frame), validation, title, worst, correction)
    for note in frame.attrs[RUN_NOTES]:
        context.warnings.append(ReportWarning("runs", note))
    for line in stimulus_coverage(frame):
        context.warnings.append(ReportWarning("stimulus_limit", line))
    return context


def context_from_frame(
    frame: pd.DataFrame,
    runs: pd.DataFrame,
    judge_validation: dict[str, Any] | None = None,
    title: str = DEFAULT_TITLE,
    worst: int = DEFAULT_WORST,
    correction: JudgeValidation | None = None,
) -> ReportContext:
    """Compute every section from a :func:`results_frame` and its runs table.

    ``correction`` (a gold-set judge validation) adds the table of rates
    corrected for the judge's sensitivity and specificity.

    Logs of different stimulus sets are labelled apart here (the refusal to
    pool them is :func:`build_report`'s job). Worst-stimulus replies are
    read from the logs named in the frame's ``log`` column.
    """
    mixed = is_mixed(frame)
    frame = separate_versions(frame)
    context = ReportContext(
        title=title,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        runs=runs,
        mixed_versions=mixed,
        judge_validation=judge_validation,
    )
    if mixed:
        context.warnings.append(
            ReportWarning(
                "mixed_versions",
                "These logs use different stimulus-set versions. Each version is shown as its "
                "own series (respondent [stimuli version fingerprint]); never compare their rates "
                "as if they measured the same thing.",
            )
        )
    for gap in missing_shards(frame):
        context.warnings.append(ReportWarning("missing_shards", gap.message))
    for line in log_problems(frame):
        context.warnings.append(ReportWarning("log_problem", line.removeprefix("WARNING: ")))
    for label in sorted(frame["system_prompt"].dropna().unique()):
        context.system_prompts[label] = SYSTEM_PROMPTS.get(label)
    context.tables["outcomes"] = outcome_counts(frame)
    context.scorecard = reader.scorecard_rows(frame)
    context.replies = reader.reply_records(frame)
    context.fixes = reader.fix_cards(context.replies)
    context.trajectories = reader.trajectory_rows(frame)
    experiments = set(frame["experiment"].dropna())
    if "stigma" in experiments:
        context.sections.append("stigma")
        _stigma(context, frame)
    if "crisis" in experiments:
        context.sections.append("crisis")
        _crisis(context, frame, worst, correction)
    _comparisons(context, frame)
    if any(name.startswith("prompt_comparison_") for name in context.tables):
        context.sections.append("comparison")
    if CONVERSATION in experiments:
        context.sections.append(CONVERSATION)
        _conversation(context, frame)
    context.tables["coverage"] = coverage_table()
    return context
