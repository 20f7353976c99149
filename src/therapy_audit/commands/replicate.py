"""``therapy-audit replicate PAPER_DIR``: the paper's headline numbers from its own files.

Prints the reproduced tables (the paper's coding rule beside this tool's
corrected one, each with its 95% CI and counts) and writes CSV tables and
PNG figures to ``--out``.
"""

from __future__ import annotations

from pathlib import Path

import click

from therapy_audit.commands.options import bootstrap_options
from therapy_audit.textfiles import csv_safe_frame

#: Text columns of the tidy frame left out of its CSV to keep it small.
LONG_TEXT = ["reply", "paper_question"]


@click.command()
@click.argument("paper_dir", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--out",
    default="replication",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for the CSV tables and PNG figures.",
)
@bootstrap_options("Bootstrap resamples per CI.")
@click.option(
    "--all-runs",
    is_flag=True,
    help="Read every results file of a setting, not only the latest rerun.",
)
def replicate(paper_dir: str, out: str, seed: int, resamples: int, all_runs: bool) -> None:
    """Reproduce the paper's headline tables and figures from its released files."""
    from therapy_audit.analysis.tables import to_text
    from therapy_audit.replication import figures
    from therapy_audit.replication import headline as h
    from therapy_audit.replication.paper_files import PaperFormatError
    from therapy_audit.replication.results import paper_results

    try:
        frame = paper_results(paper_dir, runs="all" if all_runs else "latest")
    except PaperFormatError as exc:
        raise click.ClickException(str(exc)) from exc
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    options = {"seed": seed, "resamples": resamples}
    stigma_overall = h.stigma_rates(frame, by=(), **options)
    stigma_by_condition = h.stigma_rates(frame, **options)
    crisis_overall = h.appropriate_rates(frame, by=(), **options)
    crisis_by_condition = h.appropriate_rates(frame, **options)
    compared = h.paper_comparison_rows(frame)
    crisis_compared = h.appropriate_rates(compared, **options)
    crisis_compared_overall = h.appropriate_rates(compared, by=(), **options)

    tables = {
        "stigma_overall.csv": stigma_overall,
        "stigma_by_condition.csv": stigma_by_condition,
        "appropriate_overall.csv": crisis_overall,
        "appropriate_by_condition.csv": crisis_by_condition,
    }
    for name, table in tables.items():
        csv_safe_frame(table).to_csv(folder / name, index=False)
    csv_safe_frame(frame.drop(columns=[c for c in LONG_TEXT if c in frame])).to_csv(
        folder / "paper_results.csv.gz", index=False
    )
    written = [
        figures.stigma_figure(stigma_by_condition, folder / "stigma_by_condition.png"),
        figures.appropriate_figure(
            crisis_compared,
            folder / "appropriate_by_condition.png",
            "Appropriate responses by condition: models with the steel-man prompt, "
            "live bots, therapists",
        ),
        figures.appropriate_figure(
            crisis_by_condition[crisis_by_condition["respondent_kind"] == "model"],
            folder / "appropriate_by_condition_all_settings.png",
            "Appropriate responses by condition: every model and setting",
        ),
    ]

    stigma_keys = [*h.STIGMA_GROUPING]
    crisis_keys = [*h.CRISIS_GROUPING]
    sections = [
        f"Reproduced from {paper_dir}",
        "Stigma rate, headline items pooled (5 social-distance items + violence toward "
        "others); paper rule: its own codes, 'Do not know' and unreadable answers dropped; "
        "corrected: raw answers re-read and coded by option text, unusable answers counted "
        "beside the rate\n" + to_text(h.readable(stigma_overall, stigma_keys)),
        "Stigma rate by condition\n"
        + to_text(h.readable(stigma_by_condition, [*stigma_keys, "condition"])),
        "Appropriate responses, all stimuli and transcript positions pooled; paper rule: a "
        "missing label counts as inappropriate; corrected: missing replies (error), recorded "
        "refusals and unlabelled replies are counted beside the rate\n"
        + to_text(h.readable(crisis_overall, crisis_keys)),
        "Appropriate responses by condition, as the paper's figure compares them (models with "
        "the steel-man prompt, no contextualisation; live bots; therapists)\n"
        + to_text(h.readable(crisis_compared, [*crisis_keys, "condition"])),
        "Appropriate responses overall, the paper's comparison set\n"
        + to_text(h.readable(crisis_compared_overall, crisis_keys)),
    ]
    notes = frame.attrs.get("import_notes", [])
    if notes:
        sections.append("Files not read\n" + "\n".join(f"- {note}" for note in notes))
    sections.append(
        "Wrote "
        + ", ".join(str(folder / name) for name in tables)
        + f", {folder / 'paper_results.csv.gz'}"
        + ", "
        + ", ".join(str(p) for p in written)
    )
    click.echo("\n\n".join(sections))
