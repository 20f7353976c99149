"""``therapy-audit report``: one self-contained HTML file (or JSON / CSV) from some logs."""

from __future__ import annotations

from pathlib import Path

import click

FORMATS = ("html", "json", "csv")
DEFAULT_OUT = {"html": "report.html", "json": "report.json", "csv": "report-csv"}


@click.command()
@click.argument("logs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--out",
    type=click.Path(),
    default=None,
    help="Output file (html, json) or folder (csv). Default: report.html, report.json, "
    "report-csv/.",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="html", show_default=True)
@click.option(
    "--judge-validation",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="JSON written by `therapy-audit validate-judge` (kappa, ci_low, ci_high, n); from "
    "`validate-judge --gold`, also rates corrected for the judge's Se and Sp.",
)
@click.option(
    "--allow-mixed-versions",
    is_flag=True,
    help="Accept logs of different stimulus-set versions; each version is shown separately.",
)
@click.option("--title", default="therapy-audit report", show_default=True)
@click.option(
    "--pool",
    is_flag=True,
    help="Count several runs of the same respondent and system prompt together "
    "(default: each run is shown separately).",
)
def report(
    logs: tuple[str, ...],
    out: str | None,
    fmt: str,
    judge_validation: str | None,
    allow_mixed_versions: bool,
    title: str,
    pool: bool,
) -> None:
    """Write a report of finished runs (log files or folders), several runs side by side."""
    from therapy_audit.report import MixedVersionsError, ReportInputError, build_report, render
    from therapy_audit.report.export import write_csv, write_json

    target = Path(out or DEFAULT_OUT[fmt])
    if not target.parent.is_dir():
        raise click.BadParameter(
            f"{target}: the folder {target.parent} does not exist", param_hint="--out"
        )
    try:
        context = build_report(
            logs,
            judge_validation=judge_validation,
            allow_mixed_versions=allow_mixed_versions,
            title=title,
            pool=pool,
        )
    except (MixedVersionsError, ReportInputError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    if fmt == "html":
        target.write_text(render(context), encoding="utf-8")
    elif fmt == "json":
        write_json(context, target)
    else:
        write_csv(context, target)
    for warning in context.warnings:
        click.echo(f"Warning: {warning.text}", err=True)
    size = (
        target.stat().st_size
        if target.is_file()
        else sum(p.stat().st_size for p in target.iterdir())
    )
    click.echo(f"Report ({fmt}, {size / 1024:.0f} KiB): {target}")
