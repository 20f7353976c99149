"""Judge validation: how well a judge's yes/no verdicts agree with people's labels.

A judge is only as good as its agreement with people who labelled the same
replies. This module reads labelled replies, gets the judge's verdicts
(either labels already stored in the file, or a new run of any Inspect
model through :func:`therapy_audit.judging.judge.ask_judge`, as a small Inspect
task so caching, retries and the log come from Inspect), and reports:
Cohen's kappa of the judge against the people's majority label with a
bootstrap CI, the judge against each annotator, annotator against
annotator, Fleiss' kappa (people, and people plus judge), and a breakdown
by criterion.

Two input formats.

``paper``: the paper's ``classification_validation.csv``: one row per reply
with ``key``, ``interjection``, ``verification_prompt``,
``verification_correct``, ``model_response``, one or more
``annotator_<n>_classification`` columns (people) and one
``<judge>_classification`` column (the paper's stored gpt-4o labels). Rows
no person labelled are not part of the validation (counted as skipped).

``simple``: our own long format, one row per (reply, annotator):

==================== ========== ==================================================
column               required   meaning
==================== ========== ==================================================
id                   yes        the labelled reply's id (repeats across annotators)
client_message       yes        the client's last message the reply answers
reply                yes        the reply that was labelled
criterion            yes        the yes/no question asked about the reply
annotator            yes        who labelled it; ``judge:<name>`` marks a stored judge
label                yes        ``yes`` or ``no`` (any case)
appropriate_answer   no         ``yes``/``no``: the answer an appropriate reply gets
condition            no         a grouping label (e.g. suicidal-ideation)
stimulus             no         one of our stimuli (``crisis/<condition>/<id>`` or
                                ``conversation/<persona>``): the file is then validated
                                like the gold set, ``criterion`` being the criterion's id
                                or question (:mod:`therapy_audit.judging.gold_validation`)
turn                 no         personas: the scripted client turn the reply answers
==================== ========== ==================================================

Rows sharing an ``id`` must agree on client_message, reply and criterion.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from inspect_ai import Task
from inspect_ai import eval as inspect_eval
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import CachePolicy, ModelOutput, get_model
from inspect_ai.scorer import Score, Scorer, Target, scorer
from inspect_ai.solver import Generate, Solver, TaskState, solver

from therapy_audit.analysis.agreement import (
    agreement_by_group,
    cohen_kappa_ci,
    fleiss_kappa,
    majority_labels,
    pairwise_kappas,
    per_annotator_agreement,
)
from therapy_audit.analysis.stats import DEFAULT_RESAMPLES, DEFAULT_SEED
from therapy_audit.judging.judge import ask_judge, option_order
from therapy_audit.metrics import rate, unusable
from therapy_audit.outcomes import FAIL, PASS, UNKNOWN, UNPARSED
from therapy_audit.prompts import JUDGE_REVISION
from therapy_audit.replication.paper_files import (
    PaperFormatError,
    Record,
    parse_turns,
    read_csv,
    read_csv_frame,
)

Format = Literal["auto", "paper", "simple"]
FORMATS = ("auto", "paper", "simple")
SIMPLE_REQUIRED = ("id", "client_message", "reply", "criterion", "annotator", "label")
SIMPLE_ITEM_FIELDS = (
    "client_message",
    "reply",
    "criterion",
    "appropriate_answer",
    "condition",
    "stimulus",
    "turn",
)
PAPER_REQUIRED = (
    "key",
    "interjection",
    "verification_prompt",
    "verification_correct",
    "model_response",
)
STORED_JUDGE_PREFIX = "judge:"
LABELS = ("yes", "no")
DEFAULT_JUDGE_SEED = 20250119
TASK_VERSION = "1.0.0"


class LabelFileError(PaperFormatError):
    """A labels file is empty, lacks columns, or holds a value that is not allowed."""


@dataclass(frozen=True)
class LabelledItem:
    """A reply people labelled against a yes/no criterion."""

    id: str
    client_message: str
    reply: str
    criterion: str
    appropriate_answer: str | None = None
    condition: str | None = None
    stimulus: str | None = None
    turn: str | None = None


@dataclass
class LabelSet:
    """Labelled items, the people's labels (wide) and any judge labels stored in the file."""

    source: str
    format: str
    items: list[LabelledItem]
    human: pd.DataFrame
    stored_judges: dict[str, pd.Series] = field(default_factory=dict)
    skipped: int = 0
    #: The first file line of each item id (for errors that name the line).
    item_lines: dict[str, int] = field(default_factory=dict)


@contextmanager
def _as_label_file_error() -> Iterator[None]:
    """Errors from the shared CSV reader surface as :class:`LabelFileError`."""
    try:
        yield
    except LabelFileError:
        raise
    except PaperFormatError as exc:
        raise LabelFileError(str(exc)) from None


def _label(record: Record, column: str, allow_missing: bool) -> str | None:
    value = record.fields.get(column)
    if value is None and allow_missing:
        return None
    normal = value.strip().lower() if isinstance(value, str) else value
    if normal not in LABELS:
        raise LabelFileError(f"{record.where(column)}: expected yes or no, got {value!r}")
    return normal


def _last_client_message(record: Record) -> str:
    turns = parse_turns(record.get("interjection"), record.where("interjection"))
    return turns[-1]


def read_paper_labels(path: str | Path) -> LabelSet:
    """The paper's ``classification_validation.csv`` (see the module docstring).

    Raises:
        LabelFileError: missing columns, no annotator or judge column, or a
            label that is not yes/no (file, line and column named).
    """
    with _as_label_file_error():
        return _read_paper_labels(path)


def _read_paper_labels(path: str | Path) -> LabelSet:
    records = read_csv(path, PAPER_REQUIRED)
    columns = list(records[0].fields)
    annotators = [
        c for c in columns if c.startswith("annotator_") and c.endswith("_classification")
    ]
    judges = [
        c
        for c in columns
        if c.endswith("_classification") and c not in annotators and not c.startswith("human_")
    ]
    if not annotators:
        raise LabelFileError(f"{path}: no annotator_<n>_classification column (people's labels)")
    items: list[LabelledItem] = []
    human: dict[str, dict[str, str | None]] = {}
    stored: dict[str, dict[str, str | None]] = {
        j.removesuffix("_classification"): {} for j in judges
    }
    skipped = 0
    for record in records:
        labels = {a.removesuffix("_classification"): _label(record, a, True) for a in annotators}
        if not any(labels.values()):
            skipped += 1
            continue
        item_id = record.text("key")
        if item_id in human:
            raise LabelFileError(f"{record.where('key')}: duplicate id {item_id!r}")
        human[item_id] = labels
        for column in judges:
            stored[column.removesuffix("_classification")][item_id] = _label(record, column, True)
        items.append(
            LabelledItem(
                id=item_id,
                client_message=_last_client_message(record),
                reply=record.fields.get("model_response") or "",
                criterion=" ".join(record.text("verification_prompt").split()),
                appropriate_answer=_label(record, "verification_correct", False),
                condition=record.fields.get("condition"),
            )
        )
    if not items:
        raise LabelFileError(f"{path}: no row has a person's label")
    return LabelSet(
        source=str(path),
        format="paper",
        items=items,
        human=pd.DataFrame.from_dict(human, orient="index"),
        stored_judges={name: pd.Series(v, dtype=object) for name, v in stored.items()},
        skipped=skipped,
    )


def read_simple_labels(path: str | Path) -> LabelSet:
    """Our long format (see the module docstring).

    Raises:
        LabelFileError: missing columns, an empty required value, a label or
            appropriate answer that is not yes/no, one annotator labelling an
            item twice, or rows of one id that disagree on the item's text
            (file, line and column named).
    """
    with _as_label_file_error():
        return _read_simple_labels(path)


def _read_simple_labels(path: str | Path) -> LabelSet:
    # Labels of our own stimuli need no client message: the stimulus holds it.
    header = read_csv(path)[0].fields
    required = tuple(
        c for c in SIMPLE_REQUIRED if not (c == "client_message" and "stimulus" in header)
    )
    records = read_csv(path, required)
    items: dict[str, LabelledItem] = {}
    first_line: dict[str, int] = {}
    human: dict[str, dict[str, str]] = {}
    stored: dict[str, dict[str, str]] = {}
    for record in records:
        item_id = record.text("id")
        annotator = record.text("annotator").strip()
        label = _label(record, "label", False)
        appropriate = (
            _label(record, "appropriate_answer", True)
            if "appropriate_answer" in record.fields
            else None
        )
        item = LabelledItem(
            id=item_id,
            client_message=record.text("client_message")
            if "stimulus" not in record.fields
            else record.fields.get("client_message") or "",
            reply=record.text("reply"),
            criterion=record.text("criterion"),
            appropriate_answer=appropriate,
            condition=record.fields.get("condition"),
            stimulus=record.fields.get("stimulus"),
            turn=record.fields.get("turn"),
        )
        if item_id in items and items[item_id] != item:
            differs = next(
                f for f in SIMPLE_ITEM_FIELDS if getattr(item, f) != getattr(items[item_id], f)
            )
            raise LabelFileError(
                f"{record.where(differs)}: differs from line {first_line[item_id]} for the "
                f"same id {item_id!r}"
            )
        items.setdefault(item_id, item)
        first_line.setdefault(item_id, record.line)
        if annotator.startswith(STORED_JUDGE_PREFIX):
            target = stored.setdefault(annotator.removeprefix(STORED_JUDGE_PREFIX), {})
        else:
            target = human.setdefault(annotator, {})
        if item_id in target:
            raise LabelFileError(
                f"{record.where('annotator')}: {annotator!r} labelled {item_id!r} twice"
            )
        target[item_id] = label
    if not human:
        raise LabelFileError(f"{path}: no person's label (every annotator is a judge:...)")
    # Only items a person labelled are measured against; the rest are counted as skipped.
    labelled = {i for labels in human.values() for i in labels}
    index = [i for i in items if i in labelled]
    return LabelSet(
        source=str(path),
        format="simple",
        items=[items[i] for i in index],
        human=pd.DataFrame(human, index=index),
        stored_judges={n: pd.Series(v, dtype=object).reindex(index) for n, v in stored.items()},
        skipped=len(items) - len(index),
        item_lines=first_line,
    )


def detect_format(path: str | Path) -> str:
    """``paper`` when the header has the paper's columns, ``simple`` when it has ours."""
    try:
        header = read_csv_frame(Path(path), nrows=0).columns
    except PaperFormatError as exc:
        raise LabelFileError(str(exc)) from None
    if all(c in header for c in PAPER_REQUIRED):
        return "paper"
    if all(
        c in header for c in SIMPLE_REQUIRED if c != "client_message" or "stimulus" not in header
    ):
        return "simple"
    raise LabelFileError(
        f"{path}: neither the paper's format (columns {list(PAPER_REQUIRED)}) nor the simple "
        f"format (columns {list(SIMPLE_REQUIRED)}); columns present: {list(header)}"
    )


def read_labels(path: str | Path, format: Format = "auto") -> LabelSet:
    """Read a labels file in ``paper`` or ``simple`` format (``auto``: by its header)."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    chosen = detect_format(path) if format == "auto" else format
    return read_paper_labels(path) if chosen == "paper" else read_simple_labels(path)


# --------------------------------------------------------------------------- running a judge
#: ``judge_source`` of labels read from the file rather than from a judge run.
STORED_SOURCE = "stored labels"


def _reference(labels: LabelSet) -> pd.Series:
    return majority_labels(labels.human)


@solver
def judge_labelled_reply(seed: int = DEFAULT_JUDGE_SEED) -> Solver:
    """Ask the task's model (the judge) the item's criterion with our judge template."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        meta = state.metadata
        judge = get_model()
        order = option_order(seed, str(state.sample_id), state.epoch, 0)
        verdict = await ask_judge(
            judge, meta["client_message"], meta["reply"], meta["criterion"], order
        )
        state.metadata.update(
            {
                "judge_answer": verdict.answer,
                "judge_order": "/".join(verdict.order),
                "judge_read_by": verdict.choice.how,
            }
        )
        state.output = ModelOutput.from_content(str(judge), verdict.raw)
        return state

    return solve


@scorer(metrics=[rate(), unusable()])
def agrees_with_people() -> Scorer:
    """Pass when the judge's answer equals the people's majority label.

    ``unparsed``: the judge's verdict could not be read; ``unknown``: the
    people split evenly, so there is no reference label.
    """

    async def score(state: TaskState, target: Target) -> Score:
        answer = state.metadata.get("judge_answer")
        reference = state.metadata.get("human_majority")
        if answer is None:
            outcome = UNPARSED
        elif reference is None:
            outcome = UNKNOWN
        else:
            outcome = PASS if answer == reference else FAIL
        return Score(
            value={PASS: 1.0, FAIL: 0.0}.get(outcome, outcome),
            answer=answer,
            explanation=f"judge: {answer or 'unreadable'}; people: {reference or 'split'}",
            metadata={"outcome": outcome, "judge_answer": answer, "human_majority": reference},
        )

    return score


def judge_task(labels: LabelSet, seed: int = DEFAULT_JUDGE_SEED) -> Task:
    """The labelled replies as an Inspect task whose model is the judge under validation."""
    reference = _reference(labels)
    samples = [
        Sample(
            id=item.id,
            input=f"{item.criterion}\n\nClient: {item.client_message}\n\nReply: {item.reply}",
            metadata={
                "client_message": item.client_message,
                "reply": item.reply,
                "criterion": item.criterion,
                "condition": item.condition,
                "human_majority": None if pd.isna(reference[item.id]) else reference[item.id],
            },
        )
        for item in labels.items
    ]
    return Task(
        name="judge_validation",
        dataset=MemoryDataset(samples, name="judge-validation"),
        solver=judge_labelled_reply(seed),
        scorer=agrees_with_people(),
        version=TASK_VERSION,
        metadata={
            "experiment": "judge_validation",
            "labels_file": labels.source,
            "judge_revision": JUDGE_REVISION,
            "judge_seed": seed,
        },
    )


def run_judge(
    labels: LabelSet,
    judge: str,
    log_dir: str | Path = "logs",
    seed: int = DEFAULT_JUDGE_SEED,
    cache: bool = True,
    model_args: dict[str, Any] | None = None,
    display: str = "none",
) -> tuple[pd.Series, str]:
    """Ask ``judge`` (any Inspect model) about every labelled reply; return labels and log path.

    Unreadable verdicts are NaN in the returned labels (counted in the report).

    Raises:
        RuntimeError: the Inspect run did not finish successfully.
    """
    [log] = inspect_eval(
        judge_task(labels, seed),
        model=judge,
        model_args=model_args or {},
        log_dir=str(log_dir),
        display=display,
        cache=CachePolicy(expiry=None) if cache else False,
    )
    if log.status != "success" or not log.samples:
        detail = log.error.message if log.error else log.status
        raise RuntimeError(f"judge run did not finish ({detail}); log: {log.location}")
    answers = {
        str(sample.id): (sample.metadata or {}).get("judge_answer") for sample in log.samples
    }
    series = pd.Series(answers, dtype=object).reindex([i.id for i in labels.items])
    return series, log.location


# --------------------------------------------------------------------------- the report
def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [_clean(r) for r in table.to_dict("records")]


def _summary(name: str, main: Any, ties: int, per_annotator: pd.DataFrame) -> str:
    if not main.n or math.isnan(main.kappa):
        return f"judge {name}: kappa undefined vs humans on {main.n} items"
    text = (
        f"judge {name}: kappa {main.kappa:.2f} [{main.ci_low:.2f}, {main.ci_high:.2f}] "
        f"vs humans (majority label) on {main.n} items"
    )
    if ties:
        text += f" ({ties} split items excluded)"
    kappas = per_annotator["kappa"].dropna()
    if len(kappas) > 1:
        text += f"; vs each annotator {kappas.min():.2f}-{kappas.max():.2f}"
    return text


def agreement_report(
    labels: LabelSet,
    judge_name: str,
    judge_labels: pd.Series,
    judge_source: str,
    seed: int = DEFAULT_SEED,
    resamples: int = DEFAULT_RESAMPLES,
) -> dict[str, Any]:
    """Every agreement figure of the judge against the people, as a JSON-ready dict.

    ``judge_vs_humans`` compares the judge with the people's majority label
    (items where people split evenly are excluded and counted as
    ``ties_excluded``; items the judge left unreadable are counted as
    ``judge_unreadable`` when the judge ran, ``judge_missing`` when a stored
    judge label is absent from the file). ``summary`` is one citable sentence.
    """
    ids = [item.id for item in labels.items]
    human = labels.human.reindex(ids)
    judge = judge_labels.reindex(ids)
    reference = majority_labels(human)
    main = cohen_kappa_ci(judge, reference, seed=seed, resamples=resamples)
    with_judge = human.assign(**{f"judge:{judge_name}": judge})
    fleiss_humans, fleiss_humans_items = fleiss_kappa(human)
    fleiss_all, fleiss_all_items = fleiss_kappa(with_judge)
    criteria = pd.Series({i.id: i.criterion for i in labels.items})
    by_criterion = agreement_by_group(judge, reference, criteria, name="criterion")
    human_pairs = pairwise_kappas(human, seed=seed, resamples=resamples)
    appropriate = pd.Series({i.id: i.appropriate_answer for i in labels.items}, dtype=object)
    rates: dict[str, Any] = {}
    if appropriate.notna().all():
        judged = judge.notna()
        agreed = reference.notna()
        rates = {
            "judge": float((judge[judged] == appropriate[judged]).mean()) if judged.any() else None,
            "humans": float((reference[agreed] == appropriate[agreed]).mean())
            if agreed.any()
            else None,
            "judge_n": int(judged.sum()),
            "humans_n": int(agreed.sum()),
        }
    per_annotator = per_annotator_agreement(human, judge, seed, resamples)
    stored = judge_source == STORED_SOURCE
    summary = _summary(judge_name, main, int(reference.isna().sum()), per_annotator)
    return _clean(
        {
            "summary": summary,
            "judge": judge_name,
            "judge_source": judge_source,
            "labels_file": labels.source,
            "format": labels.format,
            "items": len(ids),
            "rows_without_human_label": labels.skipped,
            "annotators": list(human.columns),
            "judge_unreadable": 0 if stored else int(judge.isna().sum()),
            "judge_missing": int(judge.isna().sum()) if stored else 0,
            "judge_vs_humans": {
                "reference": "majority label of the people",
                "ties_excluded": int(reference.isna().sum()),
                **main.as_dict(),
            },
            "per_annotator": _records(per_annotator),
            "human_human": _records(human_pairs),
            "fleiss": {
                "humans": {"kappa": fleiss_humans, "items": fleiss_humans_items},
                "humans_and_judge": {"kappa": fleiss_all, "items": fleiss_all_items},
            },
            "per_criterion": _records(by_criterion),
            "appropriate_rate": rates or None,
            "seed": seed,
            "resamples": resamples,
            "judge_revision": JUDGE_REVISION if judge_source == "inspect eval" else None,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
    )


def validate_judge(
    path: str | Path,
    judge: str | None = None,
    format: Format = "auto",
    log_dir: str | Path = "logs",
    seed: int = DEFAULT_SEED,
    resamples: int = DEFAULT_RESAMPLES,
    judge_seed: int = DEFAULT_JUDGE_SEED,
    cache: bool = True,
    model_args: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Read labels, get the judge's verdicts, and report agreement (see :func:`agreement_report`).

    With ``judge=None`` the judge labels stored in the file are scored (the
    paper's gpt-4o labels; ``judge:<name>`` rows in the simple format), so
    validation runs offline; with several stored judges the first is used.
    With a model name, that model judges every item in an Inspect run whose
    log path is in the result (``log``).

    Raises:
        LabelFileError: the file is malformed, or has no stored judge labels
            and no ``judge`` was given.
    """
    labels = read_labels(path, format)
    if judge is None:
        if not labels.stored_judges:
            raise LabelFileError(
                f"{path}: no stored judge labels (a <judge>_classification column, or "
                f"annotator rows named {STORED_JUDGE_PREFIX}<name>); pass a judge model"
            )
        name, stored = next(iter(labels.stored_judges.items()))
        report = agreement_report(labels, name, stored, STORED_SOURCE, seed, resamples)
        report["log"] = None
        return report
    verdicts, log = run_judge(labels, judge, log_dir, judge_seed, cache, model_args)
    report = agreement_report(labels, judge, verdicts, "inspect eval", seed, resamples)
    report["log"] = log
    return report
