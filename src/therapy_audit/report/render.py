"""Report context -> one self-contained HTML file, from the packaged Jinja2 templates.

:func:`render` is pure: the same context gives the same HTML, it reads no
log and draws no figure. Figures arrive as ``data:`` URIs and the style
sheet is inlined, so the file opens anywhere, offline, with no script, font
or image fetched from the network. Long tables are folded into
``<details>`` so a full run (thousands of samples) stays readable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from therapy_audit.analysis.stats import TOO_FEW_LABEL
from therapy_audit.outcomes import UNUSABLE_OUTCOMES
from therapy_audit.report.build import ReportContext
from therapy_audit.report.reader import PAPER_REFERENCES, metric_labels, words

#: Tables with more rows than this are folded into ``<details>``.
FOLD_ROWS = 25
RATE_PARTS = ("rate", "ci_low", "ci_high")
COUNT_LABELS = {
    "unknown": "don't know",
    "unjudged": "unjudged",
    "unparsed": "unparsed",
    "refused": "refused",
    "error": "error",
    "context_overflow": "overflow",
    "cancelled": "cancelled",
}

#: name -> (title, what the table shows), for every table the context may hold.
TABLE_TEXT: dict[str, tuple[str, str]] = {
    "runs": ("Runs", "One row per log: what was run, on which stimuli, and when."),
    "outcomes": (
        "Outcome counts",
        "Every sample ends in exactly one outcome. Rates use the scored outcomes only "
        "(stigmatizing / not stigmatizing; pass / fail); the others are counted here and "
        "beside every rate.",
    ),
    "judges": (
        "Who judged",
        'Verdicts per judge; "of them smoke-test": verdicts of the embedded smoke-test judge.',
    ),
    "who_decided": (
        "Who decided",
        "Every criterion verdict by what decided it: a deterministic check, an LLM judge, or "
        "nobody (unjudged: left out of every rate, never a pass).",
    ),
    "appropriate_corrected": (
        "Rates corrected for the judge's accuracy",
        "Each rate as observed and corrected for the judge's sensitivity and specificity on the "
        "gold set (Rogan-Gladen, clipped to 0-100%; the 95% CI resamples this run's stimuli and "
        "the validation's). Not correctable where the judge does not measurably beat chance.",
    ),
    "judge_check_agreement": (
        "LLM judge vs deterministic check",
        "Where a stimulus has a pattern check and an LLM judge decided, how often they agree.",
    ),
    "position_bias": (
        "Position bias",
        "Each item was asked with the options in scale order and reversed. same_letter near 1 "
        "means the answers follow the options' position, not their content.",
    ),
    "stigma_by_condition": (
        "Stigma rate by condition",
        "Share of stigmatizing answers to the headline items (five social-distance items and "
        "violence toward others), per vignette condition.",
    ),
    "stigma_by_item": ("Stigma rate by item", "Per question and condition."),
    "stigma_by_gender": ("Stigma rate by gender", "Headline items, per condition and gender."),
    "stigma_by_race": ("Stigma rate by race", "Headline items, per condition and race/ethnicity."),
    "stigma_by_education": (
        "Stigma rate by education",
        "Headline items, per condition and education.",
    ),
    "appropriate_overall": ("Appropriate responses overall", "All conditions pooled."),
    "appropriate_by_condition": (
        "Appropriate responses by condition",
        "Share of judged replies that met every criterion of their stimulus.",
    ),
    "appropriate_by_framing": (
        "Appropriate responses by framing",
        "Explicit (the condition is named) or implicit (signalled, e.g. a loss and a request "
        "for means).",
    ),
    "appropriate_by_insert_at": (
        "Appropriate responses by insertion point",
        "Where in a therapy transcript the stimulus was inserted.",
    ),
    "appropriate_by_context": (
        "Appropriate responses by context",
        "Which transcript preceded the stimulus (none: asked on its own).",
    ),
    "appropriate_by_multi_turn": (
        "Appropriate responses by number of client turns",
        "Single message or several client turns before the reply.",
    ),
    "appropriate_worst": ("Worst stimuli", "The stimuli with the lowest appropriate rate."),
    "prompt_comparison_stigma": (
        "System prompt vs none: stigma",
        "Difference = rate with the prompt minus rate without, in percentage points (pp), with "
        "its 95% bootstrap CI. Negative is less stigma.",
    ),
    "prompt_comparison_appropriate": (
        "System prompt vs none: appropriate responses",
        "Difference = rate with the prompt minus rate without, in percentage points (pp), with "
        "its 95% bootstrap CI. Positive is more appropriate.",
    ),
    "conversation_overall": (
        "Conversations overall",
        "Multi-turn runs with a scripted or simulated client.",
    ),
    "conversation_trajectory": (
        "Trajectory metrics",
        "Per respondent and client: first failing turn, share of turns failing (overall and "
        "per criterion kind), drift (slope of failure per turn, 95% CI over personas), "
        "fatigue (last third minus first third, Wilcoxon p over personas), ended safe and, "
        "for controls, inappropriate escalation. 'decided' is decided / applicable turns; "
        "a metric from too few decided turns or personas is not shown.",
    ),
    "conversation_by_persona": ("Conversations by persona", "Per simulated client."),
    "conversation_by_condition": ("Conversations by condition", "Per condition."),
    "conversation_samples": ("Every conversation", "One row per conversation and scorer."),
    "coverage": (
        "Coverage of the 17 features of good therapy",
        "Which features the stimuli test. Features marked not testable cannot be tested by "
        "text stimuli at all.",
    ),
}


@dataclass
class HtmlTable:
    """A table ready for the template: header labels and rows of (text, css class) cells."""

    name: str
    title: str
    caption: str
    header: list[str]
    rows: list[list[tuple[str, str]]]

    @property
    def folded(self) -> bool:
        """Long tables are folded so the page stays scannable."""
        return len(self.rows) > FOLD_ROWS


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def percent(value: Any) -> str:
    """``0.423`` -> ``42%``; a missing value -> an em dash."""
    return "—" if _missing(value) else f"{float(value):.0%}"


def signed_points(value: Any) -> str:
    """A difference of rates in percentage points, with its sign."""
    return "—" if _missing(value) else f"{float(value) * 100:+.0f} pp"


def _plain(value: Any) -> str:
    if _missing(value):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() else f"{value:.3g}"
    return str(value)


def rate_cell(row: pd.Series) -> tuple[str, str]:
    """``42% [30%, 55%]``, or ``no scored answer`` when n = 0 (never a silent zero).

    A rate flagged ``too_few`` reads "too few to read" after its numbers and is
    greyed (class ``invalid``).
    """
    if _missing(row["rate"]):
        return ("no scored answer", "attn")
    text = f"{percent(row['rate'])} [{percent(row['ci_low'])}, {percent(row['ci_high'])}]"
    if bool(row.get("too_few", False)):
        return (f"{text} ({TOO_FEW_LABEL})", "num invalid")
    return (text, "num")


#: Columns whose values are slugs a reader should see in words.
WORD_COLUMNS = ("condition", "kind", "framing", "question", "stimulus", "persona")


def _shown(column: str, value: Any) -> str:
    return words(value) if column in WORD_COLUMNS and not _missing(value) else _plain(value)


def rate_rows(table: pd.DataFrame, label: str) -> tuple[list[str], list[list[tuple[str, str]]]]:
    """Header and rows for a rate table: group columns, rate with CI, n, and every count."""
    groups = list(table.columns[: list(table.columns).index("rate")])
    extra = [c for c in table.columns if c not in (*groups, *RATE_PARTS)]
    counts = [c for c in UNUSABLE_OUTCOMES if c in extra]
    others = [c for c in extra if c not in counts and c not in ("n", "n_total", "too_few")]
    header = [*groups, label, "n", "of", *[COUNT_LABELS[c] for c in counts], *others]
    rows = []
    for _, row in table.iterrows():
        cells = [(_shown(g, row[g]), "") for g in groups]
        cells.append(rate_cell(row))
        cells.append((_plain(row["n"]), "num attn" if row["n"] == 0 else "num"))
        cells.append((_plain(row["n_total"]), "num"))
        cells.extend((_plain(row[c]), "num attn" if row[c] else "num zero") for c in counts)
        cells.extend((_plain(row[c]), "") for c in others)
        rows.append(cells)
    return header, rows


def plain_rows(table: pd.DataFrame) -> tuple[list[str], list[list[tuple[str, str]]]]:
    """Header and rows for any other table, values shown as they are."""
    columns = list(table.columns)
    rows = [
        [(_shown(c, v), "") for c, v in zip(columns, record, strict=True)]
        for record in table.itertuples(index=False)
    ]
    return columns, rows


def comparison_rows(table: pd.DataFrame) -> tuple[list[str], list[list[tuple[str, str]]]]:
    """Header and rows for a system-prompt comparison: both rates, n, difference and CI."""
    header = [
        "respondent",
        "prompt",
        "condition",
        "without (none)",
        "n",
        "with prompt",
        "n",
        "difference [95% CI]",
        "method",
        "p (McNemar, Holm)",
    ]
    rows = []
    for _, row in table.iterrows():
        difference = (
            f"{signed_points(row['difference'])} "
            f"[{signed_points(row['ci_low'])}, {signed_points(row['ci_high'])}]"
        )
        significant = not _missing(row["ci_low"]) and (row["ci_low"] > 0 or row["ci_high"] < 0)
        rows.append(
            [
                (_plain(row["respondent"]), ""),
                (_plain(row["prompt"]), ""),
                (_shown("condition", row["condition"]), ""),
                (percent(row["baseline_rate"]), "num"),
                (_plain(row["baseline_n"]), "num"),
                (percent(row["prompt_rate"]), "num"),
                (_plain(row["prompt_n"]), "num"),
                (difference, "num strong" if significant else "num"),
                (_plain(row.get("method")), ""),
                ("—" if _missing(row.get("p_value")) else f"{row['p_value']:.3g}", "num"),
            ]
        )
    return header, rows


def coverage_rows(table: pd.DataFrame) -> tuple[list[str], list[list[tuple[str, str]]]]:
    """Header and rows for the coverage table, untestable features marked."""
    header = ["#", "feature", "group", "crisis stimuli", "personas", "stigma battery", "status"]
    rows = []
    for _, row in table.iterrows():
        testable = bool(row["testable_in_text"])
        status = "testable in text" if testable else f"not testable: {row['note']}"
        rows.append(
            [
                (_plain(row["id"]), "num"),
                (_plain(row["name"]), ""),
                (_plain(row["group"]), ""),
                (_plain(row["crisis_stimuli"]), "num"),
                (_plain(row["personas"]), "num"),
                ("yes" if row["stigma"] else "", ""),
                (status, "" if testable else "untestable"),
            ]
        )
    return header, rows


def html_table(name: str, table: pd.DataFrame) -> HtmlTable:
    """Format one context table by its kind (rate, comparison, coverage, or plain)."""
    title, caption = TABLE_TEXT.get(name, (name.replace("_", " ").capitalize(), ""))
    if name == "appropriate_corrected":
        from therapy_audit.experiments.crisis.verdict_tables import corrected_text_table

        header, rows = plain_rows(corrected_text_table(table))
    elif name.startswith("prompt_comparison_"):
        header, rows = comparison_rows(table)
    elif name == "coverage":
        header, rows = coverage_rows(table)
    elif "rate" in table.columns and "n_total" in table.columns:
        label = "stigma (95% CI)" if name.startswith("stigma") else "rate (95% CI)"
        if name.startswith("appropriate"):
            label = "appropriate (95% CI)"
        header, rows = rate_rows(table, label)
    else:
        header, rows = plain_rows(table)
    return HtmlTable(name, title, caption, header, rows)


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("therapy_audit.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["percent"] = percent
    env.filters["percent1"] = lambda v: "—" if _missing(v) else f"{float(v):.1%}"
    env.filters["plain"] = _plain
    env.filters["words"] = words
    return env


def _validation_text(validation: dict[str, Any] | None) -> str | None:
    if not validation:
        return None
    if validation.get("gold") and validation.get("summary"):
        return f"{validation['summary']} (from {validation.get('source', 'the validation file')})"
    parts = []
    kappa = validation.get("kappa")
    if isinstance(kappa, int | float) and not math.isnan(kappa):
        text = f"Cohen's kappa {kappa:.2f}"
        low, high = validation.get("ci_low"), validation.get("ci_high")
        if isinstance(low, int | float) and isinstance(high, int | float):
            text += f" (95% CI {low:.2f} to {high:.2f})"
        parts.append(text)
    if validation.get("n") is not None:
        parts.append(f"n = {validation['n']} labelled replies")
    if validation.get("judge"):
        parts.append(f"judge {validation['judge']}")
    fallback = validation.get("summary") or "the file gives no agreement figure"
    body = "; ".join(parts) if parts else str(fallback)
    return f"{body} (from {validation.get('source', 'the validation file')})"


def render(context: ReportContext) -> str:
    """The report as one HTML document (a string), from ``context`` alone."""
    tables = {name: html_table(name, table) for name, table in context.tables.items()}
    tables["runs"] = html_table("runs", context.runs)
    respondents = sorted(
        {f"{r}" for r in context.runs["respondent"].dropna()} if not context.runs.empty else set()
    )
    judges = sorted({j for j in context.runs.get("judge", pd.Series()).dropna()})
    verdict_by = (
        sorted(set(context.tables["judges"]["verdict_by"].dropna()))
        if "judges" in context.tables
        else []
    )
    template = _environment().get_template("report.html.j2")
    return template.render(
        context=context,
        tables=tables,
        respondents=respondents,
        judges=judges,
        verdict_by=verdict_by,
        validation=_validation_text(context.judge_validation),
        versions=sorted(set(context.runs["stimulus_set_version"].dropna().astype(str))),
        task_versions=sorted(
            set(
                context.runs["experiment"].astype(str)
                + " "
                + context.runs["task_version"].astype(str)
            )
        ),
        dates=sorted(set(context.runs["created"].astype(str).str[:10])),
        warnings=context.warnings,
        figures=context.figures,
        worst=context.worst,
        sections=context.sections,
        metric_labels=metric_labels(),
        paper_references=PAPER_REFERENCES,
        reply_options={
            field: sorted({v for r in context.replies for v in _values(r, field)})
            for field in ("respondent", "condition", "kind", "outcome")
        },
        trajectories=(
            None
            if context.trajectories is None
            else html_table("trajectories", context.trajectories)
        ),
    )


def _values(record: dict[str, Any], field: str) -> list[str]:
    """A reply's values for a browser filter (a reply has several criterion kinds)."""
    return list(record["kinds"]) if field == "kind" else [str(record[field])]
