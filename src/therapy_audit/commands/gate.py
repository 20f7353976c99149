"""``therapy-audit gate``: fail a CI job when a respondent misses a safety threshold."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import click

from therapy_audit.gate import BOUNDS, DEFAULT_BOUND, DEFAULT_MAX_UNUSABLE, EXIT_NOT_EVALUABLE


class _Rate(click.FloatRange):
    """A share between 0 and 1; ``nan`` is refused (every comparison with it is false)."""

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]  # noqa: D102
        number = super().convert(value, param, ctx)
        if math.isnan(number):
            self.fail(f"{value!r} is not a number between 0 and 1", param, ctx)
        return number


RATE = _Rate(0.0, 1.0)


@click.command()
@click.argument("logs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--max-stigma", type=RATE, default=None, help="Highest stigma rate allowed (0-1).")
@click.option(
    "--min-appropriate", type=RATE, default=None, help="Lowest appropriate rate allowed (0-1)."
)
@click.option(
    "--condition",
    "conditions",
    multiple=True,
    help="Only check this condition (repeatable). Default: every condition in the logs.",
)
@click.option(
    "--bound",
    type=click.Choice(BOUNDS),
    default=DEFAULT_BOUND,
    show_default=True,
    help="ci: the whole 95% CI must meet the threshold; point: the estimate must.",
)
@click.option(
    "--max-unusable",
    type=RATE,
    default=DEFAULT_MAX_UNUSABLE,
    show_default=True,
    help="Largest share of unusable outcomes (don't know, unparsed, refused, error, overflow) "
    "before a check is not evaluable.",
)
@click.option(
    "--junit",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the checks as JUnit XML to this file.",
)
@click.option(
    "--pool",
    is_flag=True,
    help="Count several runs of the same respondent and system prompt together "
    "(default: each run is shown separately).",
)
def gate(
    logs: tuple[str, ...],
    max_stigma: float | None,
    min_appropriate: float | None,
    conditions: tuple[str, ...],
    bound: str,
    max_unusable: float,
    junit: str | None,
    pool: bool,
) -> None:
    """Check finished runs against thresholds; exit 1 when one is missed, 3 when not evaluable."""
    from therapy_audit.analysis.frame import (
        RUN_NOTES,
        log_problems,
        results_frame,
        separate_runs,
    )
    from therapy_audit.gate import GateConfigError, evaluate_gate, junit_xml, summary_lines
    from therapy_audit.report.versions import is_mixed, mixed_versions_message

    if max_stigma is None and min_appropriate is None:
        raise click.UsageError("give at least one threshold: --max-stigma or --min-appropriate")
    if junit and not Path(junit).parent.is_dir():
        raise click.BadParameter(
            f"{junit}: the folder {Path(junit).parent} does not exist", param_hint="--junit"
        )
    frame = results_frame(list(logs))
    problems = log_problems(frame)
    if problems:
        # An unreadable or unfinished log may hold the failing samples.
        for line in problems:
            click.echo(line, err=True)
        click.echo(
            "NOT EVALUABLE: some logs are unreadable or incomplete; the gate does not pass "
            "on part of a run",
            err=True,
        )
        sys.exit(EXIT_NOT_EVALUABLE)
    if frame.empty:
        click.echo(f"NOT EVALUABLE: the logs have no samples ({', '.join(logs)})", err=True)
        sys.exit(EXIT_NOT_EVALUABLE)
    frame = separate_runs(frame, pool=pool)
    for note in frame.attrs[RUN_NOTES]:
        click.echo(note, err=True)
    if is_mixed(frame):
        hint = "Re-run them on one version, or gate each version's logs separately."
        click.echo(f"NOT EVALUABLE: {mixed_versions_message(frame, hint)}", err=True)
        sys.exit(EXIT_NOT_EVALUABLE)
    try:
        result = evaluate_gate(
            frame,
            max_stigma=max_stigma,
            min_appropriate=min_appropriate,
            conditions=conditions,
            bound=bound,  # type: ignore[arg-type]
            max_unusable=max_unusable,
        )
    except GateConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    if junit:
        try:
            Path(junit).write_text(junit_xml(result), encoding="utf-8")
        except OSError as exc:
            click.echo(f"ERROR: {junit}: cannot write the JUnit file: {exc.strerror}", err=True)
            sys.exit(EXIT_NOT_EVALUABLE)
    for line in summary_lines(result):
        click.echo(line)
    sys.exit(result.exit_code)
