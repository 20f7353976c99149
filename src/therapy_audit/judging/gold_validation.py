"""A judge (the deterministic checks, or any model) measured on labelled replies to our stimuli.

``validate-judge --gold`` runs here, and so does a ``simple`` labels file
with a ``stimulus`` column (people's labels on our stimuli, for example from
``therapy-audit annotate``). Both become :class:`~therapy_audit.judging.gold.GoldItem`
rows: one criterion of one reply with its label.

The positive class is "criterion met" (label equals the criterion's
appropriate answer) for every kind, so sensitivity is the share of met
criteria the judge calls met and specificity the share of unmet criteria it
calls unmet: the two numbers a corrected rate needs
(:mod:`therapy_audit.analysis.correction`). A judge that abstains (a check
that cannot prove its answer, an unreadable verdict) is not counted right
or wrong: ``coverage`` is the share it decided, and accuracy, sensitivity,
specificity and kappa are over the decided items only.

Every figure has a percentile-bootstrap CI that resamples *stimuli* (a
stimulus's replies and criteria stay together), and every report says who
labelled: the packaged gold labels are the project's own, not a clinical
validation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from therapy_audit.analysis.agreement import majority_labels
from therapy_audit.analysis.confusion import figures_with_ci
from therapy_audit.analysis.stats import DEFAULT_RESAMPLES, DEFAULT_SEED
from therapy_audit.experiments.conversation.client import ConversationTurn
from therapy_audit.experiments.conversation.scorer import judge_client_message
from therapy_audit.judging.gold import GoldItem, checks_as_judge, reply_verdicts
from therapy_audit.judging.validation import (
    DEFAULT_JUDGE_SEED,
    LabelFileError,
    LabelledItem,
    LabelSet,
    run_judge,
)
from therapy_audit.stimuli.load import load_crisis_stimuli, load_personas

#: ``--judge checks``: the stimuli's deterministic checks are the judge.
CHECKS = "checks"
#: How the packaged gold labels are described wherever a figure is shown.
PROJECT_LABELS_NOTE = "project-written (not a clinical validation)"
#: ``labels`` of a report on the packaged gold replies.
GOLD_LABELS = "packaged gold replies"
#: Bootstrap draws of Se and Sp kept in the JSON, for corrected rates.
KEPT_DRAWS = 2000


def labelled_by(names: Iterable[str]) -> str:
    """Who labelled, as every figure states it: the project, or the annotators by name."""
    found = sorted({n for n in names if n})
    if not found or found == ["project"]:
        return PROJECT_LABELS_NOTE
    people = [n for n in found if n != "project"]
    text = "annotators: " + ", ".join(people)
    return text + " and the project (not a clinical validation)" if "project" in found else text


# --------------------------------------------------------------------------- choosing items
def stratified_replies(
    items: list[GoldItem], limit: int, seed: int = DEFAULT_SEED
) -> list[GoldItem]:
    """Every criterion of ``limit`` replies, drawn in turn from each condition (seeded).

    Whole replies are kept so the combined verdict can still be measured.
    """
    if limit <= 0:
        raise ValueError(f"limit must be positive, got {limit}")
    replies: dict[str, list[tuple[str, str]]] = {}
    for item in items:
        key = (item.stimulus, item.reply_id)
        bucket = replies.setdefault(item.condition, [])
        if key not in bucket:
            bucket.append(key)
    rng = random.Random(f"{seed}/gold-limit")
    queues = {c: rng.sample(keys, len(keys)) for c, keys in sorted(replies.items())}
    chosen: set[tuple[str, str]] = set()
    while len(chosen) < limit and any(queues.values()):
        for condition in sorted(queues):
            if queues[condition] and len(chosen) < limit:
                chosen.add(queues[condition].pop())
    return [i for i in items if (i.stimulus, i.reply_id) in chosen]


# --------------------------------------------------------------------------- labels files
def _stimulus_index() -> tuple[dict[str, Any], dict[str, Any]]:
    conditions, _ = load_crisis_stimuli()
    crisis = {f"{c.condition}/{s.id}": (c, s) for c in conditions for s in c.stimuli}
    personas = {f"conversation/{p.id}": p for p in load_personas()[0]}
    return crisis, personas


def _find_criterion(criteria: Sequence[Any], name: str) -> Any | None:
    for criterion in criteria:
        if criterion.id == name:
            return criterion
    wanted = " ".join(name.split()).lower()
    for criterion in criteria:
        if " ".join(criterion.question.split()).lower() == wanted:
            return criterion
    return None


def items_from_labels(labels: LabelSet) -> list[GoldItem]:
    """The labelled items of a ``simple`` file with a ``stimulus`` column, as gold items.

    The reference label is the people's majority (items where they split
    evenly are left out). ``criterion`` may be the criterion's id or its
    question; kind, appropriate answer and condition come from the stimulus.

    Raises:
        LabelFileError: an item without a stimulus, an unknown stimulus or
            criterion, or an appropriate answer that contradicts the stimulus
            (file, line and column named).
    """
    crisis, personas = _stimulus_index()
    reference = majority_labels(labels.human)
    names = list(labels.human.columns)
    out: list[GoldItem] = []
    for item in labels.items:
        where = f"{labels.source}:{labels.item_lines.get(item.id, '?')}"
        if not item.stimulus:
            raise LabelFileError(f"{where}: column 'stimulus': empty for item {item.id!r}")
        key = item.stimulus.strip().removeprefix("crisis/")
        if key in crisis:
            condition, stimulus = crisis[key]
            clients = [t.content for t in stimulus.turns if t.role == "client"]
            criteria, cond_name = stimulus.criteria, condition.condition
        elif key in personas:
            persona = personas[key]
            turn = int(item.turn) if item.turn and item.turn.strip().isdigit() else None
            if item.turn and not (turn and 1 <= turn <= len(persona.scripted_turns)):
                raise LabelFileError(
                    f"{where}: column 'turn': {item.turn!r} is not a scripted turn of "
                    f"{item.stimulus} (1-{len(persona.scripted_turns)})"
                )
            earlier = list(persona.scripted_turns[: turn - 1]) if turn else []
            current = item.client_message or (persona.scripted_turns[turn - 1] if turn else "")
            clients = [*earlier, current]
            criteria, cond_name = persona.criteria, persona.condition
        else:
            raise LabelFileError(f"{where}: column 'stimulus': unknown stimulus {item.stimulus!r}")
        criterion = _find_criterion(criteria, item.criterion)
        if criterion is None:
            raise LabelFileError(
                f"{where}: column 'criterion': {item.criterion!r} is neither the id nor the "
                f"question of a criterion of {item.stimulus}"
            )
        if item.appropriate_answer and item.appropriate_answer != criterion.appropriate_answer:
            raise LabelFileError(
                f"{where}: column 'appropriate_answer': {item.appropriate_answer!r} but the "
                f"stimulus says {criterion.appropriate_answer!r} for {criterion.id}"
            )
        label = reference.get(item.id)
        if label is None or pd.isna(label):
            continue  # people split evenly: no reference label
        rated = [n for n in names if pd.notna(labels.human.at[item.id, n])]
        out.append(
            GoldItem.of(
                key,
                criterion,
                reply=item.reply,
                label=str(label),
                client_messages=tuple(clients),
                reply_id=hashlib.sha1(item.reply.encode()).hexdigest()[:12],
                reply_type="labelled",
                hard_case=None,
                condition=cond_name,
                reason="",
                labelled_by=",".join(rated),
            )
        )
    if not out:
        raise LabelFileError(f"{labels.source}: no item has a majority label")
    return out


# --------------------------------------------------------------------------- verdicts
def item_key(item: GoldItem) -> str:
    """One id per labelled criterion of one reply."""
    return f"{item.stimulus}/{item.reply_id}/{item.criterion}"


def judge_message(item: GoldItem) -> str:
    """What the judge is shown as the client's message, as the experiment's scorer shows it.

    Crisis stimuli: the client's last message (the crisis scorer). Personas:
    the earlier messages marked as context, then the current one (the
    conversation scorer with ``judge_history``).
    """
    if not item.stimulus.startswith("conversation/"):
        return item.last_client_message
    turns = [ConversationTurn(i, text, "") for i, text in enumerate(item.client_messages, 1)]
    if not turns:
        return item.last_client_message
    return judge_client_message(turns, len(turns), history=True)


def check_verdicts(items: list[GoldItem]) -> pd.Series:
    """The deterministic checks' answers (None: abstained), indexed by :func:`item_key`."""
    frame = checks_as_judge(items)
    return pd.Series(list(frame["check"]), index=[item_key(i) for i in items], dtype=object)


def model_verdicts(
    items: list[GoldItem],
    judge: str,
    log_dir: str | Path = "logs",
    seed: int = DEFAULT_JUDGE_SEED,
    cache: bool = True,
    model_args: dict[str, Any] | None = None,
) -> tuple[pd.Series, str]:
    """A model's answers (None: unreadable) from the judge-validation Inspect task, and its log.

    Each item is asked with the judge template and a seeded yes/no order
    (:func:`therapy_audit.judging.judge.ask_judge`, as ``decide`` does in mode
    ``model``); the task's per-sample score compares it with the label.
    """
    keys = [item_key(i) for i in items]
    label_set = LabelSet(
        source="gold",
        format="gold",
        items=[
            LabelledItem(
                id=key,
                client_message=judge_message(item),
                reply=item.reply,
                criterion=item.question,
                appropriate_answer=item.appropriate_answer,
                condition=item.condition,
            )
            for key, item in zip(keys, items, strict=True)
        ],
        human=pd.DataFrame({"labels": [i.label for i in items]}, index=keys),
    )
    answers, log = run_judge(label_set, judge, log_dir, seed, cache, model_args)
    return answers.astype(object).where(answers.notna(), None), log


# --------------------------------------------------------------------------- the report
def _met(frame: pd.DataFrame, column: str) -> np.ndarray:
    answers = frame[column]
    return np.where(answers.isna(), np.nan, (answers == frame["appropriate_answer"]).astype(float))


def _grouped(
    frame: pd.DataFrame, by: str, seed: int, resamples: int, keep_draws: int = 0
) -> dict[str, Any]:
    return {
        str(name): figures_with_ci(
            group["label"] == group["appropriate_answer"],
            _met(group, "verdict"),
            group["stimulus"],
            seed,
            resamples,
            keep_draws=keep_draws,
        )
        for name, group in frame.groupby(by, sort=True)
    }


def _combined(
    frame: pd.DataFrame, seed: int, resamples: int, keep_draws: int = 0
) -> dict[str, Any]:
    replies = reply_verdicts(frame, "verdict")
    verdict = replies["verdict_outcome"].map({"pass": 1.0, "fail": 0.0}).astype(float)
    return figures_with_ci(
        replies["label_outcome"] == "pass",
        verdict,
        replies["stimulus"],
        seed,
        resamples,
        keep_draws=keep_draws,
    )


def gold_report(
    items: list[GoldItem],
    verdicts: pd.Series,
    judge: str,
    labels: str,
    seed: int = DEFAULT_SEED,
    resamples: int = DEFAULT_RESAMPLES,
    note: str | None = None,
) -> dict[str, Any]:
    """Every figure of a judge on labelled items, as a JSON-ready dict (the ``--out`` file).

    Top-level ``accuracy``, ``coverage``, ``sensitivity``, ``specificity``
    and ``kappa`` are the overall figures (``value``, ``ci_low``,
    ``ci_high``); ``per_kind``, ``per_condition``, ``held_out``
    (the seeded part kept apart from check tuning), ``tuned`` (the rest) and
    ``combined`` (one verdict per reply: any criterion not met fails) hold
    the same figures. ``correction`` keeps paired bootstrap draws of
    sensitivity and specificity per kind and combined, for corrected rates.
    """
    frame = pd.DataFrame([i.__dict__ for i in items])
    frame["verdict"] = [verdicts.get(item_key(i)) for i in items]
    frame["verdict"] = frame["verdict"].astype(object).where(frame["verdict"].notna(), None)
    who = labelled_by(name for i in items for name in i.labelled_by.split(","))
    overall = figures_with_ci(
        frame["label"] == frame["appropriate_answer"],
        _met(frame, "verdict"),
        frame["stimulus"],
        seed,
        resamples,
    )
    per_kind = _grouped(frame, "kind", seed, resamples, KEPT_DRAWS)
    combined = _combined(frame, seed, resamples, KEPT_DRAWS)
    correction = {
        kind: figures.pop("draws") for kind, figures in per_kind.items() if "draws" in figures
    }
    if "draws" in combined:
        correction["combined"] = combined.pop("draws")
    split: dict[str, Any] = {}
    for name, part in (
        ("held_out", frame[frame["held_out"]]),
        ("tuned", frame[~frame["held_out"]]),
    ):
        if part.empty:
            split[name] = None
            continue
        split[name] = {
            **figures_with_ci(
                part["label"] == part["appropriate_answer"],
                _met(part, "verdict"),
                part["stimulus"],
                seed,
                resamples,
            ),
            "combined": _combined(part, seed, resamples),
        }
    replies = int(frame.groupby(["stimulus", "reply_id"]).ngroups)
    kappa = overall["kappa"]
    summary = f"judge {judge}: " + (
        f"kappa {kappa['value']:.2f} [{kappa['ci_low']:.2f}, {kappa['ci_high']:.2f}]"
        if kappa["value"] is not None and kappa["ci_low"] is not None
        else "kappa undefined"
    )
    summary += (
        f" on {replies} {'gold' if labels == GOLD_LABELS else 'labelled'} replies of this "
        f"stimulus set ({len(items)} labelled criteria"
        + (
            f", {overall['coverage']['value']:.0%} decided"
            if overall["coverage"]["value"] is not None and overall["coverage"]["value"] < 1
            else ""
        )
        + f"); labels: {who}"
    )
    return {
        "summary": summary,
        "judge": judge,
        "labels": labels,
        "labelled_by": who,
        "positive_class": "criterion met (label equals the criterion's appropriate answer)",
        "n": len(items),
        "replies": replies,
        "stimuli": int(frame["stimulus"].nunique()),
        **{
            name: overall[name]
            for name in ("accuracy", "coverage", "sensitivity", "specificity", "kappa")
        },
        "overall": overall,
        "per_kind": per_kind,
        "per_condition": _grouped(frame, "condition", seed, resamples),
        "held_out": split["held_out"],
        "tuned": split["tuned"],
        "combined": combined,
        "correction": correction,
        "seed": seed,
        "resamples": resamples,
        "note": note,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def validate_on_items(
    items: list[GoldItem],
    judge: str,
    labels: str,
    log_dir: str | Path = "logs",
    seed: int = DEFAULT_SEED,
    resamples: int = DEFAULT_RESAMPLES,
    judge_seed: int = DEFAULT_JUDGE_SEED,
    cache: bool = True,
    model_args: dict[str, Any] | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Judge ``items`` with the checks (``judge="checks"``) or a model, and report every figure."""
    log = None
    if judge == CHECKS:
        verdicts = check_verdicts(items)
    else:
        verdicts, log = model_verdicts(items, judge, log_dir, judge_seed, cache, model_args)
    report = gold_report(items, verdicts, judge, labels, seed, resamples, note)
    report["log"] = log
    return report
