"""``therapy-audit questionnaire``: answers from people (or a bot's web page) judged like a model's.

    therapy-audit questionnaire export [--conditions ...] [--context ...] [--system-prompt ...]
                                       --out DIR
    therapy-audit questionnaire import FILLED.csv --respondent NAME [--judge J ...]
    therapy-audit questionnaire import-paper PAPER.csv --out answers.csv

``export`` writes the crisis stimuli as a blank answer sheet and a printable
form (never the criteria). ``import`` validates a filled sheet and runs the
crisis task with ``--model responses/FILLED.csv``, so each answer meets the
same judge as a model's reply; empty or missing answers are ``error``
outcomes, counted beside every rate. ``import-paper`` converts one of the
paper's human-therapist or live-bot CSVs into an answer sheet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from therapy_audit.providers.questionnaire import AnswerSheetError, read_answer_sheet

MAX_LINES_LISTED = 10


def _crisis_task(
    conditions: str | None,
    context: str,
    system_prompt: str,
    paper_dir: str | None = None,
    **judging: Any,
) -> Any:
    if paper_dir:
        from therapy_audit.replication.tasks import paper_crisis

        return paper_crisis(paper_dir=paper_dir, system_prompt=system_prompt, **judging)
    from therapy_audit.experiments.crisis.task import crisis

    return crisis(system_prompt=system_prompt, context=context, conditions=conditions, **judging)


def _stimulus_options(function: Any) -> Any:
    for option in reversed(
        [
            click.option("--conditions", default=None, help="Comma-separated condition ids."),
            click.option(
                "--context",
                type=click.Choice(["none", "transcripts"]),
                default="none",
                show_default=True,
                help="Ask stimuli on their own or inside therapy transcripts.",
            ),
            click.option(
                "--system-prompt",
                default="none",
                show_default=True,
                help="none, steel-man or a text file (shown to respondents as instructions).",
            ),
            click.option(
                "--paper-dir",
                type=click.Path(exists=True, file_okay=False),
                default=None,
                help="Use the paper's own stimuli (task paper_crisis) from its release folder.",
            ),
        ]
    ):
        function = option(function)
    return function


@click.group(name="questionnaire")
def questionnaire() -> None:
    """Collect answers by hand (people, bots' web pages) and judge them like a model's."""


@questionnaire.command(name="export")
@_stimulus_options
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--title", default="Responding to clients: a questionnaire", show_default=True)
def export(
    conditions: str | None,
    context: str,
    system_prompt: str,
    paper_dir: str | None,
    out: str,
    title: str,
) -> None:
    """Write the stimuli as a blank answer sheet (CSV) and a printable HTML form."""
    from therapy_audit.prompts import resolve_system_prompt
    from therapy_audit.providers.questionnaire import export_questionnaire, stimuli_from_samples

    try:
        task = _crisis_task(conditions, context, system_prompt, paper_dir)
        _, instructions = resolve_system_prompt(system_prompt)
        items = stimuli_from_samples(task.dataset)
        csv_path, html_path = export_questionnaire(items, Path(out), title, instructions)
    except (ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{len(items)} stimuli (criteria not included)")
    click.echo(f"Answer sheet: {csv_path}")
    click.echo(f"Printable form: {html_path}")


def _selected_samples(sheet: Any, dataset: Any, known: set[str]) -> tuple[list[str], int]:
    """Ids of the task's samples the sheet answers, and how many rows the task leaves out.

    ``known`` holds every sample id of the same stimuli under any judge mode:
    an id outside it is an error (another stimulus set, or a typo); an id in
    it that the task does not judge (``--judge-mode checks`` keeps only
    stimuli with a deterministic check) is skipped and counted.
    """
    from therapy_audit.providers.questionnaire import last_client_text, normalise

    ids = {str(s.id) for s in dataset}
    unknown = [a for a in sheet.answers if a.sample_id and a.sample_id not in known]
    if unknown:
        lines = ", ".join(str(a.line) for a in unknown[:MAX_LINES_LISTED])
        raise click.ClickException(
            f"{sheet.path}: line(s) {lines}, column sample_id: no such sample in this task "
            f"(e.g. {unknown[0].sample_id!r}); export and import with the same stimulus options"
        )
    skipped = sum(1 for a in sheet.answers if a.sample_id and a.sample_id not in ids)
    by_text = {normalise(a.client_message) for a in sheet.answers if not a.sample_id}
    chosen = []
    matched_text: set[str] = set()
    for sample in dataset:
        text = (
            normalise(last_client_text(sample.input)) if not isinstance(sample.input, str) else ""
        )
        if str(sample.id) in sheet.sample_ids or text in by_text:
            chosen.append(str(sample.id))
            if text in by_text:
                matched_text.add(text)
    unmatched = [
        a
        for a in sheet.answers
        if not a.sample_id and normalise(a.client_message) not in matched_text
    ]
    if unmatched:
        lines = ", ".join(str(a.line) for a in unmatched[:MAX_LINES_LISTED])
        raise click.ClickException(
            f"{sheet.path}: line(s) {lines}, column client_message: matches no stimulus of "
            "this task"
        )
    return chosen, skipped


@questionnaire.command(name="import")
@click.argument("filled", type=click.Path(exists=True, dir_okay=False))
@click.option("--respondent", required=True, help="Who answered (a person, a group, a bot).")
@_stimulus_options
@click.option("--judge", multiple=True, help="Judge model; repeat for an ensemble.")
@click.option(
    "--judge-mode",
    type=click.Choice(["auto", "model", "checks"]),
    default="auto",
    show_default=True,
    help="auto: LLM judge (pattern checks where only the embedded model judges).",
)
@click.option("--epochs", type=int, default=None, help="Default: most answers any sample has.")
@click.option("--log-dir", default="logs", show_default=True, type=click.Path(file_okay=False))
def import_answers(
    filled: str,
    respondent: str,
    conditions: str | None,
    context: str,
    system_prompt: str,
    paper_dir: str | None,
    judge: tuple[str, ...],
    judge_mode: str,
    epochs: int | None,
    log_dir: str,
) -> None:
    """Validate a filled answer sheet and judge its answers with the crisis task."""
    from inspect_ai import eval as inspect_eval

    from therapy_audit.commands.results import results_text
    from therapy_audit.execution import judge_model_roles

    try:
        sheet = read_answer_sheet(filled)
    except AnswerSheetError as exc:
        raise click.ClickException(str(exc)) from exc
    path = Path(filled).resolve()
    model = f"responses/{path}"
    try:
        roles = judge_model_roles(judge)
        judging: dict[str, Any] = {"judge": judge_mode}
        if roles:
            judging["judges"] = ",".join(roles)
        task = _crisis_task(conditions, context, system_prompt, paper_dir, **judging)
        every = _crisis_task(conditions, context, system_prompt, paper_dir)
    except (ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    chosen, skipped = _selected_samples(sheet, task.dataset, {str(s.id) for s in every.dataset})
    if not chosen:
        raise click.ClickException(f"{filled}: no answer is to a stimulus this task judges")
    per_sample = sheet.answers_per_sample()
    runs = epochs or max(per_sample.values())
    empty = sheet.empty
    click.echo(
        f"{filled}: {len(sheet.answers)} answer(s) to {len(chosen)} stimuli "
        f"(up to {max(per_sample.values())} per stimulus; judged as {runs} epoch(s))"
    )
    if skipped:
        click.echo(
            f"{skipped} answer(s) skipped: their stimuli have no deterministic check "
            "(--judge-mode checks); judge them with --judge MODEL"
        )
    if empty:
        lines = ", ".join(str(a.line) for a in empty[:MAX_LINES_LISTED])
        more = (
            "" if len(empty) <= MAX_LINES_LISTED else f" and {len(empty) - MAX_LINES_LISTED} more"
        )
        click.echo(
            f"{len(empty)} empty response(s) (line(s) {lines}{more}): counted as outcome "
            "'error', never as a pass or fail"
        )
    logs = inspect_eval(
        task,
        model=model,
        model_args={"respondent": respondent},
        model_roles=roles or None,
        sample_id=chosen,
        epochs=runs,
        log_dir=log_dir,
        fail_on_error=False,
        metadata={"respondent": respondent, "answers_file": str(path)},
    )
    click.echo(results_text([log.location for log in logs]))
    for log in logs:
        click.echo(f"Inspect log ({log.status}): {log.location}")


@questionnaire.command(name="import-paper")
@click.argument("paper_csv", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False), help="Answer sheet to write."
)
def import_paper(paper_csv: str, out: str) -> None:
    """Convert a human-therapist or live-bot CSV of the paper's release into an answer sheet."""
    from therapy_audit.replication.questionnaire import convert_paper_csv

    try:
        count = convert_paper_csv(Path(paper_csv), Path(out))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"{count} answer(s) written to {out}, keyed by paper_crisis sample id and stimulus text"
    )
    click.echo(
        f"Judge them with: therapy-audit questionnaire import {out} --respondent NAME "
        "--paper-dir PAPER_DIR --judge MODEL"
    )
