"""``therapy-audit annotate``: a local page for clinicians to label replies from real runs.

Three uses of one command:

- ``annotate LOG_OR_DIR... --out labels.csv --annotator NAME``: serve the
  labelling page on 127.0.0.1 until Ctrl+C; every save goes to the CSV, and
  running it again resumes where the annotator stopped.
- ``annotate LOG_OR_DIR... --out labels.csv --with-judge joined.csv``: join
  the judge's verdicts from the same logs by item id, for
  ``validate-judge joined.csv`` (offline).
- ``annotate --agreement labels.csv``: agreement between the annotators
  (Cohen's kappa per pair with a bootstrap CI, Fleiss' kappa for three or more).
"""

from __future__ import annotations

import signal
import webbrowser
from pathlib import Path

import click

from therapy_audit.analysis.stats import DEFAULT_RESAMPLES, DEFAULT_SEED


def _number(value: float) -> str:
    return "—" if value != value else f"{value:.2f}"  # NaN: undefined


def agreement_text(path: str, seed: int, resamples: int) -> str:
    """Inter-rater agreement of the people in a labels file, for the terminal.

    Units are item x criterion (the ``id`` column); ``judge:`` rows are left out.
    """
    from therapy_audit.judging.annotation import inter_rater

    result = inter_rater(path, seed, resamples)
    lines = [
        f"labels: {path}; {result.units} item x criterion unit(s); annotators: "
        + ", ".join(f"{name} ({n})" for name, n in result.labelled.items())
    ]
    if len(result.labelled) < 2:
        lines.append("one annotator: no inter-rater agreement to report")
        return "\n".join(lines)
    lines.append("Cohen's kappa, each pair (units both labelled):")
    for row in result.pairs.itertuples():
        lines.append(
            f"  {row.rater_a} / {row.rater_b}: n={row.n}, agreement={_number(row.agreement)}, "
            f"kappa={_number(row.kappa)} [{_number(row.ci_low)}, {_number(row.ci_high)}]"
        )
    if len(result.by_kind):
        lines.append("by criterion kind (no CI):")
        for row in result.by_kind.itertuples():
            lines.append(
                f"  {row.kind}: {row.rater_a} / {row.rater_b}: n={row.n}, "
                f"agreement={_number(row.agreement)}, kappa={_number(row.kappa)}"
            )
    kappa, units = result.fleiss
    if len(result.labelled) > 2:
        lines.append(
            f"Fleiss' kappa, all {len(result.labelled)} annotators: {_number(kappa)} "
            f"({units} units labelled by all)"
        )
    return "\n".join(lines)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@click.command("annotate")
@click.argument("logs", nargs=-1, type=click.Path(exists=True))
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    help="Labels CSV (the simple format validate-judge reads); created or resumed.",
)
@click.option("--annotator", help="Your name, as written in the annotator column (to label).")
@click.option(
    "--items",
    type=int,
    default=None,
    help="Replies to draw, stratified by condition. [default: 50]",
)
@click.option(
    "--seed", type=int, default=None, help="Seed of the draw and its order. [default: 20261201]"
)
@click.option("--port", type=int, default=0, show_default=True, help="0: a free port.")
@click.option("--no-browser", is_flag=True, help="Do not open the page in a browser.")
@click.option(
    "--with-judge",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the labels plus the judge's verdicts (from LOGS) to this CSV, then exit.",
)
@click.option(
    "--agreement",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Print the annotators' agreement in this labels CSV, then exit.",
)
@click.option(
    "--resamples",
    type=int,
    default=DEFAULT_RESAMPLES,
    show_default=True,
    help="Bootstrap resamples of --agreement's CIs (seed 20250401).",
)
def annotate(
    logs: tuple[str, ...],
    out: str | None,
    annotator: str | None,
    items: int | None,
    seed: int | None,
    port: int,
    no_browser: bool,
    with_judge: str | None,
    agreement: str | None,
    resamples: int,
) -> None:
    """Label replies from crisis and conversation logs in a local web page (blinded)."""
    from therapy_audit.judging import annotation as lib
    from therapy_audit.judging.validation import LabelFileError

    if agreement:
        try:
            click.echo(agreement_text(agreement, DEFAULT_SEED, resamples))
        except LabelFileError as exc:
            raise click.ClickException(str(exc)) from exc
        return
    if not logs or not out:
        raise click.UsageError("give LOG_OR_DIR... and --out (or --agreement LABELS.csv)")
    if not with_judge and not annotator:
        raise click.UsageError("--annotator NAME is required to label")
    items = lib.DEFAULT_ITEMS if items is None else items
    seed = lib.DEFAULT_DRAW_SEED if seed is None else seed
    try:
        candidates = lib.candidate_items(logs)
        drawn = lib.draw_items(candidates, items, seed)
        record = lib.draw_record(drawn, candidates, items, seed)
        if with_judge:
            if not Path(out).exists():
                raise lib.AnnotationError(f"{out}: no labels file to join the judge to")
            summary = lib.write_with_judge(out, candidates, with_judge)
            click.echo(
                f"Wrote {with_judge}: {summary['people_rows']} people's rows, "
                f"{summary['judge_rows']} rows of {summary['judge']}"
            )
            return
        lib.check_or_record_draw(out, record)
        from therapy_audit.judging.annotation_server import AnnotationServer, Session

        session = Session(drawn, out, annotator or "")
    except lib.AnnotationError as exc:
        raise click.ClickException(str(exc)) from exc
    server = AnnotationServer(session, port)
    state = session.state()
    click.echo(lib.draw_summary(record) + f"; recorded in {lib.draw_path(out)}")
    click.echo(
        f"{annotator}: {sum(state['saved'])} of {state['total']} saved in {out}; "
        f"resuming at item {state['resume'] + 1}"
    )
    click.echo(f"Labelling page: {server.url} (Ctrl+C to stop; every save is written at once)")
    if not no_browser:
        webbrowser.open(server.url)
    signal.signal(signal.SIGTERM, _interrupt)  # a plain kill stops it as cleanly as Ctrl+C
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo(f"Stopped. Labels are in {out}.")
    finally:
        server.server_close()
