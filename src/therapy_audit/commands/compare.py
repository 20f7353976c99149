"""``therapy-audit compare LOG_A LOG_B``: paired comparison of two runs on the same stimuli.

A thin wrapper over :func:`therapy_audit.analysis.compare.compare_runs`: it
reads both runs, keeps the rows of one experiment (stigma: the headline
items) and prints the per-group table with Holm-adjusted p-values and a
pooled row.
"""

from __future__ import annotations

import math

import click
import pandas as pd

from therapy_audit.commands.options import bootstrap_options

RATE_NAMES = {"stigma": "stigma rate", "crisis": "appropriate rate"}


def _percent(value: float) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.0%}"


def _signed(value: float) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:+.0%}"


def _p(value: float) -> str:
    if value is None or math.isnan(value):
        return "—"
    return "<1e-300" if value < 1e-300 else f"{value:.3g}"


def readable_comparison(table: pd.DataFrame) -> pd.DataFrame:
    """Percentages for rates, a signed difference with its CI, p-values to 3 digits."""
    if table.empty:
        return table
    shown = table.copy()
    shown["rate_a"] = shown["rate_a"].map(_percent)
    shown["rate_b"] = shown["rate_b"].map(_percent)
    shown["diff"] = [
        f"{_signed(d)} [{_signed(lo)}, {_signed(hi)}]"
        for d, lo, hi in zip(shown["diff"], shown["ci_low"], shown["ci_high"], strict=True)
    ]
    for column in ["p_mcnemar", "p_mcnemar_holm", "p_sign_flip", "p_sign_flip_holm"]:
        shown[column] = shown[column].map(_p)
    shown = shown.drop(columns=["ci_low", "ci_high"])
    quiet = [c for c in ["dropped_unusable", "only_in_a", "only_in_b"] if not shown[c].any()]
    return shown.drop(columns=quiet)


def _describe(rows: pd.DataFrame) -> str:
    parts = []
    for column in ["respondent", "system_prompt", "judge"]:
        values = sorted(map(str, rows[column].dropna().unique())) if column in rows else []
        if values:
            parts.append(f"{column}={','.join(values)}")
    epochs = rows["epoch"].nunique() if "epoch" in rows else 0
    parts.append(f"epochs={epochs}")
    return " ".join(parts)


def _choose_experiment(frames: list[pd.DataFrame], experiment: str | None) -> str:
    present = set().union(*(set(f["experiment"].dropna().unique()) for f in frames))
    if experiment:
        return experiment
    common = [e for e in ("stigma", "crisis") if all((f["experiment"] == e).any() for f in frames)]
    if len(common) == 1:
        return common[0]
    if not common:
        raise click.ClickException(
            f"the two runs share no experiment (found: {sorted(map(str, present))})"
        )
    raise click.ClickException(
        f"both runs hold several experiments {common}: choose one with --experiment"
    )


@click.command()
@click.argument("log_a", type=click.Path(exists=True))
@click.argument("log_b", type=click.Path(exists=True))
@click.option(
    "--by",
    multiple=True,
    default=("condition",),
    show_default=True,
    help="Sample metadata column to compare within (repeatable), e.g. condition, question.",
)
@click.option(
    "--experiment",
    type=click.Choice(["stigma", "crisis"]),
    default=None,
    help="Which experiment to compare (needed only when both runs hold both).",
)
@click.option(
    "--pool",
    is_flag=True,
    help="Count several runs of the same respondent and system prompt together "
    "(default: each run is shown separately).",
)
@bootstrap_options("Bootstrap resamples and random sign flips.")
def compare(
    log_a: str,
    log_b: str,
    by: tuple[str, ...],
    experiment: str | None,
    pool: bool,
    seed: int,
    resamples: int,
) -> None:
    """Compare run B against run A on the same stimuli (matched by sample id and epoch).

    LOG_A and LOG_B are log files or folders, one run each (e.g. no system
    prompt vs steel-man, or model A vs model B).
    """
    from therapy_audit.analysis.compare import compare_runs, experiment_rows
    from therapy_audit.analysis.frame import (
        RUN_NOTES,
        UNREADABLE,
        missing_shards,
        results_frame,
        separate_runs,
    )
    from therapy_audit.analysis.tables import to_text

    frames = [results_frame([log_a]), results_frame([log_b])]
    for path, frame in zip((log_a, log_b), frames, strict=True):
        for unreadable, reason in frame.attrs[UNREADABLE].items():
            raise click.ClickException(f"{unreadable}: {reason}")
        if frame.empty:
            raise click.ClickException(f"no samples in {path}")
    frames = [separate_runs(f, pool=pool) for f in frames]
    for path, frame in zip((log_a, log_b), frames, strict=True):
        for note in frame.attrs[RUN_NOTES]:
            click.echo(f"{path}: {note}")
        for gap in missing_shards(frame):
            raise click.ClickException(f"{path}: {gap.message}")
    chosen = _choose_experiment(frames, experiment)
    rows_a, rows_b = (experiment_rows(f, chosen) for f in frames)
    for path, rows in zip((log_a, log_b), (rows_a, rows_b), strict=True):
        if rows.empty:
            raise click.ClickException(f"no {chosen} samples in {path}")
    try:
        table = compare_runs(rows_a, rows_b, by=list(by), seed=seed, resamples=resamples)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    scope = "headline items" if chosen == "stigma" else "all stimuli"
    click.echo(f"A: {log_a}  ({_describe(rows_a)})")
    click.echo(f"B: {log_b}  ({_describe(rows_b)})")
    click.echo("")
    click.echo(
        f"Paired comparison of the {RATE_NAMES[chosen]} ({chosen}, {scope}); diff = B - A "
        f"with a 95% paired bootstrap CI over stimuli (seed {seed}, {resamples} resamples).\n"
        "a_only / b_only: pairs scored 1 only in A / only in B. p_mcnemar: exact McNemar; "
        "p_sign_flip: permutation flipping whole stimuli; *_holm: Holm-adjusted across the "
        "groups (the pooled row is not adjusted)."
    )
    click.echo(to_text(readable_comparison(table)))
