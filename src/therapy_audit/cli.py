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

from therapy_audit.execution import (
    DEFAULT_ATTEMPT_TIMEOUT,
    DEFAULT_FAIL_ON_ERROR,
    EXPERIMENTS,
    RunRequest,
    RunResult,
    WorkerFailure,
    build_tasks,
    judge_roles_for,
    resume_logs,
    run_in_workers,
    same_family_judges,
)
from therapy_audit.providers.model_files import DEFAULT_LOCAL_MODEL

DEFAULT_MODEL = f"local/{DEFAULT_LOCAL_MODEL}"
DEFAULT_LOG_DIR = "logs"


def key_values(pairs: tuple[str, ...], option: str) -> dict[str, Any]:
    """Parse ``key=value`` pairs (values read as YAML scalars: 1, true, 0.5, text)."""
    import yaml

    parsed: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected key=value, got {pair!r}", param_hint=option)
        parsed[key.replace("-", "_")] = yaml.safe_load(value)
    return parsed


@click.group()
@click.version_option(package_name="therapy-audit")
def main() -> None:
    """Audit LLMs and chatbots for clinical safety in mental-health conversations."""


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
    envvar="THERAPY_AUDIT_CLIENT",
    default=None,
    help="Model playing the simulated client (conversation; default: the embedded model).",
)
@click.option(
    "--system-prompt",
    default="none",
    show_default=True,
    help="Therapist system prompt: none, steel-man, or a path to a text file.",
)
@click.option("--full", is_flag=True, help="Run the whole battery (every demographic variant).")
@click.option("--limit", type=int, default=None, help="Run at most N samples.")
@click.option("--epochs", type=int, default=None, help="Repeat each sample N times.")
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
    type=int,
    default=None,
    help="Concurrent model requests (the total, shared by --workers).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    envvar="THERAPY_AUDIT_WORKERS",
    help="Inspect processes sharing the run (one log each); for fast APIs with many "
    "connections, where one process's CPU is the limit. Not useful for the embedded model.",
)
@click.option(
    "--attempt-timeout",
    type=int,
    default=DEFAULT_ATTEMPT_TIMEOUT,
    show_default=True,
    help="Seconds before one model request attempt is abandoned and retried.",
)
@click.option(
    "--fail-on-error",
    type=float,
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
    client: str | None,
    system_prompt: str,
    full: bool,
    limit: int | None,
    epochs: int | None,
    temperature: float | None,
    seed: int | None,
    log_dir: str,
    no_cache: bool,
    max_connections: int | None,
    workers: int,
    attempt_timeout: int,
    fail_on_error: float,
    task_arg: tuple[str, ...],
    model_arg: tuple[str, ...],
    dry_run: bool,
    price: tuple[str, ...],
) -> None:
    """Run an experiment and print its results table and log path."""
    task_args = {"system_prompt": system_prompt, **key_values(task_arg, "-T")}
    if full:
        task_args["variants"] = "full"
    if dry_run:
        from therapy_audit.planning import parse_price, plan, plan_text

        # Judges stay model strings: a plan must not need their API keys.
        roles = dict(zip(judge_roles_for(judge), judge, strict=True))
        try:
            prices = dict(parse_price(p) for p in price)
            tasks = build_tasks(experiment, task_args, list(roles))
        except (ValueError, FileNotFoundError) as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(plan_text(plan(tasks, model, roles, prices, limit=limit, epochs=epochs)))
        return
    eval_settings: dict[str, Any] = {
        "attempt_timeout": attempt_timeout,
        "fail_on_error": fail_on_error,
    }
    for name, value in (
        ("temperature", temperature),
        ("seed", seed),
        ("max_connections", max_connections),
    ):
        if value is not None:
            eval_settings[name] = value
    request = RunRequest(
        experiment=experiment,
        model=model,
        judges=judge,
        client=client,
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
        if workers > 1:
            click.echo(f"Running on {workers} worker processes (progress shows worker 1's share).")
        outcome = run_in_workers(request, workers)
    except (ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    except WorkerFailure as failure:
        _echo_logs(failure.results)
        raise click.ClickException(
            f"{failure}. The logs above are kept; resume them with `therapy-audit resume`."
        ) from failure
    click.echo(results_text([r.location for r in outcome]))
    _echo_logs(outcome)
    if any(r.status != "success" for r in outcome):
        unfinished = " ".join(r.location for r in outcome if r.status != "success")
        click.echo(f"To finish: therapy-audit resume {unfinished}")
        sys.exit(1)


def _echo_logs(outcome: list[RunResult]) -> None:
    for entry in outcome:
        click.echo(f"Inspect log ({entry.status}): {entry.location}")


@main.command()
@click.argument("logs", nargs=-1, required=True, type=click.Path(exists=True))
def results(logs: tuple[str, ...]) -> None:
    """Print the results tables of finished runs (log files or folders)."""
    click.echo(results_text(list(logs)))


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
    try:
        outcome = resume_logs(list(logs), log_dir)
    except WorkerFailure as failure:
        _echo_logs(failure.results)
        raise click.ClickException(str(failure)) from failure
    click.echo(results_text([entry.location for entry in outcome]))
    _echo_logs(outcome)


def results_text(paths: list[str]) -> str:
    """The terminal report for some logs: one section per experiment present."""
    from therapy_audit.analysis import stigma as stigma_tables
    from therapy_audit.analysis.frame import SUPERSEDED, missing_shards, results_frame
    from therapy_audit.analysis.tables import readable_rates, to_text

    frame = results_frame(paths)
    if frame.empty:
        return "No samples in these logs."
    sections = [f"WARNING: {gap.message}" for gap in missing_shards(frame)]
    replaced = frame.attrs[SUPERSEDED]
    if replaced:
        sections.append(
            f"Note: {len(replaced)} interrupted log(s) left out, replaced by their resumed "
            f"run: {', '.join(Path(p).name for p in replaced)}"
        )
    if (frame["experiment"] == "stigma").any():
        sections.append(
            "Stigma rate by condition (headline items; 95% bootstrap CI over stimuli, "
            "see ci_method; n = usable answers)\n"
            + to_text(readable_rates(stigma_tables.by_condition(frame), "stigma"))
        )
        bias = stigma_tables.position_bias(frame)
        if not bias.empty:
            sections.append(
                "Position bias (options asked in both orders; same_letter near 1 means the "
                "answers follow position, not content)\n" + to_text(bias)
            )
            driven = bias[bias["position_driven"]]
            for _, row in driven.iterrows():
                sections.append(
                    f"WARNING: {row['respondent']} ({row['system_prompt']}) answers by option "
                    "position: its stigma rates are not interpretable."
                )
    if (frame["experiment"] == "crisis").any():
        sections.extend(_crisis_sections(frame))
    if (frame["experiment"] == "conversation").any():
        sections.extend(_conversation_sections(frame))
    sections.extend(_robustness_sections(frame))
    return "\n\n".join(sections)


def _conversation_sections(frame: Any) -> list[str]:
    from therapy_audit.analysis import conversation as conv
    from therapy_audit.analysis.tables import readable_rates, to_text

    sections = [
        "Conversations safe throughout (95% bootstrap CI; n = judged conversations)\n"
        + to_text(readable_rates(conv.safe_rates(frame), "safe")),
        "Conversations whose last turn was safe\n"
        + to_text(readable_rates(conv.ended_safe_rates(frame), "ended_safe")),
        "Per persona\n" + to_text(conv.persona_table(frame)),
    ]
    worst = conv.worst_conversation(frame)
    if worst:
        sections.append(
            f"Worst conversation: {worst.persona} ({worst.respondent}), "
            f"first failure at turn {worst.first_failing_turn}\n{worst.transcript}"
        )
    rows = frame[frame["experiment"] == "conversation"]
    if "score_smoke_test" in rows and rows["score_smoke_test"].fillna(False).astype(bool).any():
        sections.append(
            "WARNING: conversation verdicts come from the embedded model as judge: a smoke "
            "test, not a measurement. Pass --judge with a capable model."
        )
    return sections


def _robustness_sections(frame: Any) -> list[str]:
    """Wording spread (runs with paraphrases) and epoch spread (runs with epochs > 1)."""
    from therapy_audit.analysis import robustness
    from therapy_audit.analysis.compare import experiment_rows
    from therapy_audit.analysis.stats import epoch_spread
    from therapy_audit.analysis.tables import to_text

    sections = []
    for experiment in ("stigma", "crisis"):
        rows = experiment_rows(frame, experiment)
        if rows.empty:
            continue
        if robustness.has_wordings(rows):
            sections.append(
                f"Wording robustness ({experiment}; stimuli asked in several wordings; spread = "
                "max - min of the per-wording rates)\n"
                + to_text(robustness.wording_spread(rows).round(3))
            )
            sections.append(
                f"Outcome flips across wordings ({experiment}; share of askings whose outcome "
                "changes with the wording)\n" + to_text(robustness.flip_summary(rows).round(3))
            )
        if rows["epoch"].nunique() > 1:
            sections.append(
                f"Per-epoch spread ({experiment}; rate of each epoch separately)\n"
                + to_text(epoch_spread(rows, ["respondent", "system_prompt", "condition"]).round(3))
            )
    return sections


def _crisis_sections(frame: Any) -> list[str]:
    from therapy_audit.analysis import crisis as crisis_tables
    from therapy_audit.analysis.tables import readable_rates, to_text

    sections = [
        "Appropriate responses overall (95% bootstrap CI over stimuli, see ci_method; "
        "n = judged replies)\n"
        + to_text(readable_rates(crisis_tables.appropriate_rates(frame), "appropriate")),
        "Appropriate responses by condition\n"
        + to_text(
            readable_rates(crisis_tables.appropriate_rates(frame, ["condition"]), "appropriate")
        ),
        "Appropriate responses by framing\n"
        + to_text(
            readable_rates(crisis_tables.appropriate_rates(frame, ["framing"]), "appropriate")
        ),
    ]
    judges = crisis_tables.judges_used(frame)
    sections.append("Who judged\n" + to_text(judges))
    if not judges.empty and judges["smoke_test"].sum() > 0:
        sections.append(
            f"WARNING: {int(judges['smoke_test'].sum())} verdicts come from the embedded model "
            "as judge. They are a smoke test, not a measurement: pass --judge with a capable "
            "model (validated with `therapy-audit validate-judge`)."
        )
    return sections


def _register_commands() -> None:
    from therapy_audit.commands import COMMANDS

    for command in COMMANDS:
        main.add_command(command)


_register_commands()
