"""``therapy-audit validate-judge [LABELS.csv | --gold]``: a judge's agreement with labels.

``--gold`` measures a judge (``--judge checks``: the deterministic checks;
``--judge MODEL``: an LLM judge) on the packaged gold replies, with
accuracy, coverage, sensitivity, specificity and kappa overall, per kind,
per condition, on the held-out part and per reply. A ``simple`` labels file
with a ``stimulus`` column gets the same figures (people's labels on our
stimuli). The ``--out`` JSON of those runs is what ``report`` and
``results --judge-validation`` use to correct rates.

Without ``--judge`` the judge labels stored in the file are scored (for the
paper's ``classification_validation.csv``, its gpt-4o labels), offline.
With ``--judge MODEL`` that model judges every labelled reply in an Inspect
run (cached, retried and logged by Inspect). The result is stored as JSON
so a report can cite "judge X: kappa Y [CI] vs humans on N items".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from therapy_audit.commands.options import bootstrap_options


def _number(value: Any) -> str:
    return "—" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


def report_text(report: dict[str, Any]) -> str:
    """The validation report for the terminal."""
    main = report["judge_vs_humans"]
    lines = [
        report["summary"],
        f"labels: {report['labels_file']} ({report['format']} format); items with a person's "
        f"label: {report['items']}; judge unreadable: {report['judge_unreadable']}"
        + (
            f"; judge label missing: {report['judge_missing']}"
            if report.get("judge_missing")
            else ""
        ),
        f"judge vs people's majority: n={main['n']}, agreement={_number(main['agreement'])}, "
        f"kappa={_number(main['kappa'])} [{_number(main['ci_low'])}, {_number(main['ci_high'])}], "
        f"split items excluded: {main['ties_excluded']}",
        "judge vs each annotator:",
    ]
    for row in report["per_annotator"]:
        lines.append(
            f"  {row['annotator']}: n={row['n']}, agreement={_number(row['agreement'])}, "
            f"kappa={_number(row['kappa'])} [{_number(row['ci_low'])}, {_number(row['ci_high'])}]"
        )
    if report["human_human"]:
        lines.append("annotator vs annotator:")
        for row in report["human_human"]:
            lines.append(
                f"  {row['rater_a']} / {row['rater_b']}: n={row['n']}, "
                f"agreement={_number(row['agreement'])}, kappa={_number(row['kappa'])} "
                f"[{_number(row['ci_low'])}, {_number(row['ci_high'])}]"
            )
    fleiss = report["fleiss"]
    lines.append(
        f"Fleiss' kappa: people {_number(fleiss['humans']['kappa'])} "
        f"({fleiss['humans']['items']} items rated by all); people + judge "
        f"{_number(fleiss['humans_and_judge']['kappa'])} "
        f"({fleiss['humans_and_judge']['items']} items)"
    )
    lines.append("by criterion (judge vs people's majority):")
    for row in report["per_criterion"]:
        lines.append(
            f"  n={row['n']:>3} agreement={_number(row['agreement'])} "
            f"kappa={_number(row['kappa'])}  {row['criterion']}"
        )
    rates = report.get("appropriate_rate")
    if rates:
        lines.append(
            f"appropriate-response rate on these replies: judge {_number(rates['judge'])} "
            f"(n={rates['judge_n']}), people {_number(rates['humans'])} (n={rates['humans_n']})"
        )
    if report.get("log"):
        lines.append(f"Inspect log: {report['log']}")
    return "\n".join(lines)


def _figure(entry: dict[str, Any] | None) -> str:
    if not entry or entry.get("value") is None:
        return "—"
    if entry.get("ci_low") is None:
        return f"{entry['value']:.2f}"
    return f"{entry['value']:.2f} [{entry['ci_low']:.2f}, {entry['ci_high']:.2f}]"


def _figures_line(name: str, figures: dict[str, Any]) -> str:
    return (
        f"  {name:<28} n={figures['n']:>4} decided={figures['decided']:>4} "
        f"coverage={_figure(figures['coverage'])}  accuracy={_figure(figures['accuracy'])}  "
        f"Se={_figure(figures['sensitivity'])}  Sp={_figure(figures['specificity'])}  "
        f"kappa={_figure(figures['kappa'])}"
    )


def gold_report_text(report: dict[str, Any]) -> str:
    """A gold-set validation (:func:`therapy_audit.judging.gold_validation.gold_report`)."""
    lines = [
        report["summary"],
        f"labels: {report['labelled_by']} ({report['labels']}); positive class: "
        f"{report['positive_class']}; 95% bootstrap CIs over {report['stimuli']} stimuli",
    ]
    if report.get("note"):
        lines.append(f"NOTE: {report['note']}")
    lines.append("per criterion (all):")
    lines.append(_figures_line("all criteria", report["overall"]))
    if report.get("tuned"):
        lines.append(_figures_line("tuning part", report["tuned"]))
    if report.get("held_out"):
        lines.append(_figures_line("HELD-OUT part", report["held_out"]))
    lines.append("per reply (combined verdict: any criterion not met fails):")
    lines.append(_figures_line("all replies", report["combined"]))
    if report.get("held_out"):
        lines.append(_figures_line("HELD-OUT replies", report["held_out"]["combined"]))
    lines.append("per criterion kind:")
    lines.extend(_figures_line(k, f) for k, f in report["per_kind"].items())
    lines.append("per condition:")
    lines.extend(_figures_line(c, f) for c, f in report["per_condition"].items())
    if report.get("log"):
        lines.append(f"Inspect log: {report['log']}")
    return "\n".join(lines)


def _has_stimulus_column(path: str) -> bool:
    import pandas as pd

    try:
        return "stimulus" in pd.read_csv(path, nrows=0).columns
    except (ValueError, OSError):
        return False


@click.command("validate-judge")
@click.argument("labels", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--gold",
    is_flag=True,
    help="Validate on the packaged gold replies (project-written labels) instead of a file.",
)
@click.option(
    "--judge",
    default=None,
    help="Judge model (any Inspect model string), or 'checks' for the deterministic checks. "
    "Default: the labels stored in the file; with --gold or a file with a stimulus column, "
    "checks.",
)
@click.option(
    "--limit",
    type=int,
    default=None,
    help="--gold / stimulus files: only this many replies (all their criteria), drawn "
    "stratified by condition with the bootstrap seed.",
)
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["auto", "paper", "simple"]),
    default="auto",
    show_default=True,
    help="paper: the paper's classification_validation.csv; simple: see docs/judge-validation.md.",
)
@click.option(
    "--out",
    default=None,
    type=click.Path(dir_okay=False),
    help="Write the result as JSON here.",
)
@click.option(
    "--log-dir",
    envvar="THERAPY_AUDIT_LOG_DIR",
    default="logs",
    show_default=True,
    type=click.Path(file_okay=False),
)
@click.option("--no-cache", is_flag=True, help="Do not reuse or store the judge's responses.")
@bootstrap_options("Bootstrap resamples.")
@click.option("-M", "model_arg", multiple=True, help="Judge model argument key=value.")
def validate_judge(
    labels: str | None,
    gold: bool,
    judge: str | None,
    limit: int | None,
    file_format: str,
    out: str | None,
    log_dir: str,
    no_cache: bool,
    seed: int,
    resamples: int,
    model_arg: tuple[str, ...],
) -> None:
    """Agreement of a judge with labels: people's, or the packaged gold replies (--gold)."""
    from therapy_audit.commands.main import key_values
    from therapy_audit.execution import model_args_for
    from therapy_audit.judging.gold_validation import CHECKS

    if gold == bool(labels):
        raise click.UsageError("give either a LABELS file or --gold")
    model_args = (
        model_args_for(judge, key_values(model_arg, "-M")) if judge and judge != CHECKS else None
    )
    # A labels file with a stimulus column (people's labels on our stimuli, e.g.
    # from `annotate`) is judged afresh by --judge on our criteria; without
    # --judge its stored judge labels (`annotate --with-judge`) are compared
    # with the people's, as for any labels file.
    if gold or (judge is not None and _has_stimulus_column(labels or "")):
        report = _gold_validation(
            labels, judge or CHECKS, limit, log_dir, seed, resamples, not no_cache, model_args
        )
        text = gold_report_text(report)
    else:
        if judge == CHECKS:
            raise click.UsageError(
                "--judge checks needs --gold or a labels file with a stimulus column"
            )
        report = _file_validation(
            labels or "", judge, file_format, log_dir, seed, resamples, not no_cache, model_args
        )
        text = report_text(report)
    click.echo(text)
    if out:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        click.echo(f"Wrote {path}")


def _gold_validation(
    labels: str | None,
    judge: str,
    limit: int | None,
    log_dir: str,
    seed: int,
    resamples: int,
    cache: bool,
    model_args: dict[str, Any] | None,
) -> dict[str, Any]:
    from therapy_audit.judging.gold import load_gold
    from therapy_audit.judging.gold_validation import (
        GOLD_LABELS,
        items_from_labels,
        stratified_replies,
        validate_on_items,
    )
    from therapy_audit.judging.validation import read_simple_labels

    try:
        items = load_gold() if labels is None else items_from_labels(read_simple_labels(labels))
        note = None
        if limit is not None:
            total = len({(i.stimulus, i.reply_id) for i in items})
            items = stratified_replies(items, limit, seed)
            chosen = len({(i.stimulus, i.reply_id) for i in items})
            note = (
                f"a subset: {chosen} of {total} replies ({len(items)} criteria), drawn "
                f"stratified by condition (--limit {limit}, seed {seed})"
            )
        return validate_on_items(
            items,
            judge,
            GOLD_LABELS if labels is None else labels,
            log_dir=log_dir,
            seed=seed,
            resamples=resamples,
            cache=cache,
            model_args=model_args,
            note=note,
        )
    except (ValueError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from exc


def _file_validation(
    labels: str,
    judge: str | None,
    file_format: str,
    log_dir: str,
    seed: int,
    resamples: int,
    cache: bool,
    model_args: dict[str, Any] | None,
) -> dict[str, Any]:
    from therapy_audit.judging.validation import validate_judge as run_validation

    try:
        return run_validation(
            labels,
            judge=judge,
            format=file_format,  # type: ignore[arg-type]
            log_dir=log_dir,
            seed=seed,
            resamples=resamples,
            cache=cache,
            model_args=model_args,
        )
    except (ValueError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from exc
