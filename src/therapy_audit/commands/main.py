"""The ``therapy-audit`` command: thin wrappers over Inspect and our analysis.

``run`` hands off to :func:`inspect_ai.eval` with the settings an audit
wants by default (cache without expiry, per-attempt timeout, a failed-sample
budget instead of aborting on one error) and prints the results table and
the log path. Options fall back to ``THERAPY_AUDIT_*`` environment
variables; secrets are only ever read from the environment by the providers.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from therapy_audit.commands.options import key_values
from therapy_audit.execution import (
    BATCH_PROVIDERS,
    DEFAULT_ATTEMPT_TIMEOUT,
    DEFAULT_FAIL_ON_ERROR,
    EXPERIMENTS,
    RunRequest,
    RunResult,
    WorkerFailure,
    auto_workers,
    batch_settings,
    build_tasks,
    check_task_args,
    judge_roles_for,
    resume_logs,
    run_in_workers,
    run_samples,
    same_family_judges,
)
from therapy_audit.providers.model_files import DEFAULT_LOCAL_MODEL

DEFAULT_MODEL = f"local/{DEFAULT_LOCAL_MODEL}"
DEFAULT_LOG_DIR = "logs"


@click.group()
@click.version_option(package_name="therapy-audit")
def main() -> None:
    """Audit LLMs and chatbots for clinical safety in mental-health conversations."""


#: Experiments whose ``--limit`` draws whole stimuli across conditions (``stimulus_limit``).
STIMULUS_LIMIT_EXPERIMENTS = ("stigma", "crisis", "all")


@main.command()
@click.argument("experiment", type=click.Choice([*EXPERIMENTS, "all"]), default="stigma")
@click.option(
    "--model",
    envvar="THERAPY_AUDIT_MODEL",
    default=DEFAULT_MODEL,
    show_default=True,
    help="Respondent under test (any Inspect model string).",
)
@click.option(
    "--judge",
    multiple=True,
    envvar="THERAPY_AUDIT_JUDGE",
    help="Judge model for the crisis experiment; repeat for an ensemble (majority label). "
    "Default: deterministic checks, else the embedded model as a smoke test.",
)
@click.option(
    "--client",
    multiple=True,
    envvar="THERAPY_AUDIT_CLIENT",
    help="Model playing a simulated client (conversation): makes the run simulated; repeat "
    "for several clients (pooled, and reported per client). Default: scripted clients.",
)
@click.option(
    "--system-prompt",
    default="none",
    show_default=True,
    help="Therapist system prompt: none, steel-man, or a path to a text file.",
)
@click.option("--full", is_flag=True, help="Run the whole battery (every demographic variant).")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Run N stimuli drawn evenly across conditions, each with all its samples "
    "(stigma, crisis; draw seed: -T stimulus_seed=S). Conversation: at most N personas.",
)
@click.option(
    "--epochs", type=click.IntRange(min=1), default=None, help="Repeat each sample N times."
)
@click.option("--temperature", type=float, default=None, help="Respondent sampling temperature.")
@click.option("--seed", type=int, default=None, help="Respondent sampling seed.")
@click.option(
    "--log-dir",
    envvar="THERAPY_AUDIT_LOG_DIR",
    default=DEFAULT_LOG_DIR,
    show_default=True,
    type=click.Path(file_okay=False),
)
@click.option("--no-cache", is_flag=True, help="Do not reuse or store model responses.")
@click.option(
    "--max-connections",
    type=click.IntRange(min=1),
    default=None,
    help="Concurrent model requests (the total, shared by --workers).",
)
@click.option(
    "--workers",
    default="1",
    show_default=True,
    envvar="THERAPY_AUDIT_WORKERS",
    help="Inspect processes sharing the run (one log each); for fast APIs with many "
    "connections, where one process's CPU is the limit. `auto`: one per 500 samples, at "
    "most one per core, one for the embedded model.",
)
@click.option(
    "--attempt-timeout",
    type=click.IntRange(min=1),
    default=None,
    help=f"Seconds before one model request attempt is abandoned and retried "
    f"[default: {DEFAULT_ATTEMPT_TIMEOUT}; under --batch, none: the batch's own].",
)
@click.option(
    "--batch",
    is_flag=True,
    help="Send requests through the provider's batch API (OpenAI, Anthropic, Google, Grok, "
    "Together: about half the price, answers within hours).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=None,
    help="Requests per batch with --batch (default: Inspect's, 100).",
)
@click.option(
    "--log-buffer",
    type=click.IntRange(min=1),
    default=None,
    help="Finished samples held in memory before they are written to the log; a killed "
    "run loses fewer than this many per log. Default: 1% of the log's samples.",
)
@click.option(
    "--fail-on-error",
    type=click.FloatRange(min=0.0),
    default=DEFAULT_FAIL_ON_ERROR,
    show_default=True,
    help="Share of samples allowed to error before the run fails (errors are recorded).",
)
@click.option("-T", "task_arg", multiple=True, help="Task argument key=value (see the task docs).")
@click.option("-M", "model_arg", multiple=True, help="Model argument key=value.")
@click.option(
    "--dry-run", is_flag=True, help="Print the planned calls, tokens and cost; send nothing."
)
@click.option(
    "--price",
    multiple=True,
    help="Price for --dry-run: MODEL=in_per_mtok,out_per_mtok (US$ per million tokens).",
)
def run(
    experiment: str,
    model: str,
    judge: tuple[str, ...],
    client: tuple[str, ...],
    system_prompt: str,
    full: bool,
    limit: int | None,
    epochs: int | None,
    temperature: float | None,
    seed: int | None,
    log_dir: str,
    no_cache: bool,
    max_connections: int | None,
    workers: str,
    attempt_timeout: int | None,
    batch: bool,
    batch_size: int | None,
    log_buffer: int | None,
    fail_on_error: float,
    task_arg: tuple[str, ...],
    model_arg: tuple[str, ...],
    dry_run: bool,
    price: tuple[str, ...],
) -> None:
    """Run an experiment and print its results table and log path."""
    given = key_values(task_arg, "-T")
    try:
        check_task_args(experiment, given)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="-T") from exc
    task_args = {"system_prompt": system_prompt, **given}
    if full:
        task_args["variants"] = "full"
    if limit is not None and experiment in STIMULUS_LIMIT_EXPERIMENTS:
        # A stratified draw of whole stimuli (recorded in the log), not Inspect's
        # "first N samples", which were all one condition.
        task_args["stimulus_limit"] = limit
        limit = None
    if dry_run:
        from therapy_audit.planning import parse_price, plan, plan_text

        # Judges stay model strings: a plan must not need their API keys.
        roles = dict(zip(judge_roles_for(judge), judge, strict=True))
        try:
            prices = dict(parse_price(p) for p in price)
            tasks = build_tasks(experiment, task_args, list(roles), clients=client)
        except (ValueError, FileNotFoundError) as exc:
            raise click.ClickException(str(exc)) from exc
        frame = plan(tasks, model, roles, prices, limit=limit, epochs=epochs, batch=batch)
        click.echo(plan_text(frame))
        return
    if batch_size is not None and not batch:
        raise click.BadParameter("needs --batch", param_hint="--batch-size")
    batched: bool | int = (batch_size or True) if batch else False
    try:
        epochs = answer_sheet_epochs(model, epochs, fail_on_error)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    eval_settings: dict[str, Any] = {
        **batch_settings(batched, attempt_timeout),
        "fail_on_error": fail_on_error,
    }
    if batched and model.split("/", 1)[0] not in BATCH_PROVIDERS:
        click.echo(
            f"Note: {model.split('/', 1)[0]} has no batch API in Inspect; --batch changes nothing "
            "for it.",
            err=True,
        )
    for name, value in (
        ("temperature", temperature),
        ("seed", seed),
        ("max_connections", max_connections),
        ("log_buffer", log_buffer),
    ):
        if value is not None:
            eval_settings[name] = value
    request = RunRequest(
        experiment=experiment,
        model=model,
        judges=judge,
        clients=client,
        task_args=task_args,
        model_args=key_values(model_arg, "-M"),
        log_dir=log_dir,
        limit=limit,
        epochs=epochs,
        cache=not no_cache,
        eval_settings=eval_settings,
    )
    for same in same_family_judges(judge, model):
        click.echo(
            f"Note: judge {same} is from the respondent's own provider ({model}); "
            "prefer a judge from another family.",
            err=True,
        )
    try:
        count = _workers(workers, request)
        if count > 1:
            click.echo(f"Running on {count} worker processes (progress shows worker 1's share).")
        outcome = run_in_workers(request, count)
    except (ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    except WorkerFailure as failure:
        _echo_logs(failure.results)
        raise click.ClickException(
            f"{failure}. The logs above are kept; resume them with `therapy-audit resume`."
        ) from failure
    click.echo(run_summary([r.location for r in outcome], log_dir))
    _echo_logs(outcome)
    if any(r.status != "success" for r in outcome):
        unfinished = " ".join(r.location for r in outcome if r.status != "success")
        click.echo(f"To finish: therapy-audit resume {unfinished}")
        sys.exit(1)


def _workers(given: str, request: RunRequest) -> int:
    """``--workers``: a positive number, or ``auto`` (see :func:`auto_workers`)."""
    if given == "auto":
        return auto_workers(request.model, run_samples(request))
    if not given.isdigit() or int(given) < 1:
        raise click.BadParameter(
            f"a positive number or 'auto', got {given!r}", param_hint="--workers"
        )
    return int(given)


def answer_sheet_epochs(
    model: str, epochs: int | None, fail_on_error: float = DEFAULT_FAIL_ON_ERROR
) -> int | None:
    """Epochs for a ``responses/FILE.csv`` run: enough for every stored answer to be judged.

    Epoch k judges each sample's k-th answer, so a sheet with up to N answers
    per stimulus needs N epochs; fewer would drop answers silently.

    Raises:
        ValueError: ``epochs`` is given and smaller than the most answers a
            stimulus has; more empty answers than the run's error budget
            (each is an ``error`` outcome); or the sheet cannot be read.
    """
    if not model.startswith("responses/"):
        return epochs
    from therapy_audit.providers.questionnaire import read_answer_sheet
    from therapy_audit.providers.responses_api import resolve_sheet_path

    path = resolve_sheet_path(model.removeprefix("responses/"))
    sheet = read_answer_sheet(path)
    empty = sheet.empty
    budget = fail_on_error if fail_on_error < 1 else fail_on_error / len(sheet.answers)
    if len(empty) / len(sheet.answers) > budget:
        lines = ", ".join(str(a.line) for a in empty[:10])
        raise ValueError(
            f"{path}: {len(empty)} of {len(sheet.answers)} answers are empty (line(s) {lines}"
            f"{', ...' if len(empty) > 10 else ''}), more than the run's error budget "
            f"(--fail-on-error {fail_on_error:g}); fill them in, or use `therapy-audit "
            "questionnaire import`, which counts empty answers as errors"
        )
    most = max(sheet.answers_per_sample().values())
    if epochs is None:
        return most
    if epochs < most:
        raise ValueError(
            f"{path}: a stimulus has {most} answers but --epochs is {epochs}; every answer "
            f"is judged only with --epochs {most} or more"
        )
    return epochs


def run_summary(locations: list[str], log_dir: str) -> str:
    """``run``'s closing summary (at most 15 lines); the tables are in ``results``."""
    from therapy_audit.analysis.frame import missing_shards, results_frame, stimulus_coverage
    from therapy_audit.analysis.headline import summary_lines

    frame = results_frame(locations)
    if frame.empty:
        return "No samples were scored."
    logs = log_dir  # the log path itself is printed once, after the summary
    lines = [f"WARNING: {gap.message}" for gap in missing_shards(frame)][:2]
    lines += [f"NOTE: {line}" for line in stimulus_coverage(frame)][:2]
    lines += summary_lines(
        frame, f"therapy-audit results {logs}   (report: therapy-audit report {logs})"
    )
    return "\n".join(lines[:15])


def _echo_logs(outcome: list[RunResult]) -> None:
    for entry in outcome:
        click.echo(f"Inspect log ({entry.status}): {entry.location}")


@main.command()
@click.argument("logs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--log-dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Where the completed logs go (default: beside each original).",
)
def resume(logs: tuple[str, ...], log_dir: str | None) -> None:
    """Finish interrupted runs: samples already completed are not asked again.

    Give every unfinished log of a run (a run with --workers N has N); they
    are resumed in parallel processes.
    """
    from inspect_ai.log import read_eval_log

    from therapy_audit.analysis.frame import unreadable_reason

    for log in logs:
        try:
            read_eval_log(log, header_only=True)
        except Exception as exc:  # truncated, empty or not a log
            raise click.ClickException(f"{log}: {unreadable_reason(exc)}") from None
    try:
        outcome = resume_logs(list(logs), log_dir)
    except WorkerFailure as failure:
        _echo_logs(failure.results)
        raise click.ClickException(str(failure)) from failure
    locations = [entry.location for entry in outcome]
    click.echo(run_summary(locations, str(Path(locations[0]).parent) if locations else "."))
    _echo_logs(outcome)
    unfinished = [entry.location for entry in outcome if entry.status != "success"]
    if unfinished:
        click.echo(f"To finish: therapy-audit resume {' '.join(unfinished)}")
        sys.exit(1)


def _register_commands() -> None:
    from therapy_audit.commands import COMMANDS

    for command in COMMANDS:
        main.add_command(command)


_register_commands()
