"""``therapy-audit validate-judge LABELS.csv``: a judge's agreement with people's labels.

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


@click.command("validate-judge")
@click.argument("labels", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--judge",
    default=None,
    help="Judge model (any Inspect model string). Default: the labels stored in the file.",
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
    labels: str,
    judge: str | None,
    file_format: str,
    out: str | None,
    log_dir: str,
    no_cache: bool,
    seed: int,
    resamples: int,
    model_arg: tuple[str, ...],
) -> None:
    """Agreement of a judge with people who labelled the same replies."""
    from therapy_audit.commands.main import key_values
    from therapy_audit.execution import model_args_for
    from therapy_audit.judging.validation import validate_judge as run_validation

    model_args = model_args_for(judge, key_values(model_arg, "-M")) if judge else None
    try:
        report = run_validation(
            labels,
            judge=judge,
            format=file_format,  # type: ignore[arg-type]
            log_dir=log_dir,
            seed=seed,
            resamples=resamples,
            cache=not no_cache,
            model_args=model_args,
        )
    except (ValueError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(report_text(report))
    if out:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        click.echo(f"Wrote {path}")
