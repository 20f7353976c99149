"""People's labels on replies from real runs: drawing items, reading and writing the labels CSV.

``therapy-audit annotate`` (served by :mod:`therapy_audit.judging.annotation_server`)
asks clinicians the same yes/no criteria the judge answered, about replies
taken from crisis and conversation logs, so the judge can be validated on
our own stimuli and on real respondents' replies.

An **item** is one reply: a crisis sample's reply, or one assistant turn of
a conversation. It carries the conversation before the reply and every
criterion of its stimulus (a conversation turn: the persona criteria whose
``from_turn`` has been reached). Items are **blinded**: their id is a hash of
where they come from (log, sample, epoch, turn), their order is shuffled
with a seed, and nothing shown names the respondent, the system prompt, or
the judge's verdict. Where an item came from is kept in the CSV (and the draw
file) so the judge's verdict can be joined afterwards
(:func:`judge_rows`).

Items are **drawn stratified by condition**: conditions take turns (in a
seeded order) giving one item each until ``items`` are drawn, so every
condition is represented as equally as its candidates allow. The draw is a
pure function of the logs and the seed, so every annotator who runs the
command on the same logs gets the same items; it is recorded beside the CSV
(``<out>.draw.json``) and a later run that would draw differently is refused.

The CSV is the ``simple`` labels format of
:mod:`therapy_audit.judging.validation`, one row per annotator x item x
criterion (``id`` is ``<item>/<criterion id>``), plus ``stimulus``,
``criterion_id``, ``kind``, ``note`` and the item's source columns. Every
save rewrites the file atomically under a lock, keeping other annotators'
rows, so annotators can share one file and a restart resumes.
"""

from __future__ import annotations

import csv
import datetime as dt
import fcntl
import hashlib
import json
import math
import os
import random
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import pandas as pd
from inspect_ai.log import EvalLog, EvalSample, read_eval_log

from therapy_audit.analysis.agreement import cohen_kappa, fleiss_kappa, pairwise_kappas
from therapy_audit.analysis.frame import current_logs, log_paths
from therapy_audit.analysis.stats import DEFAULT_RESAMPLES, DEFAULT_SEED
from therapy_audit.experiments.conversation.client import conversation_turns
from therapy_audit.judging.validation import read_labels

DEFAULT_ITEMS = 50
DEFAULT_DRAW_SEED = 20261201
LABELS = ("yes", "no")
#: The labels CSV's columns, in order: the ``simple`` format's, then ours.
COLUMNS = (
    "id",
    "stimulus",
    "criterion_id",
    "kind",
    "criterion",
    "appropriate_answer",
    "condition",
    "client_message",
    "reply",
    "annotator",
    "label",
    "note",
    "item",
    "turn",
    "source_log",
    "sample_id",
    "epoch",
    "labelled_at",
)
EXPERIMENTS = ("crisis", "conversation")
JUDGE_PREFIX = "judge:"


class AnnotationError(ValueError):
    """Logs, a labels file or a draw file that cannot be used (the message names what and where)."""


@dataclass(frozen=True)
class Criterion:
    """A yes/no question asked about the item's reply."""

    id: str
    kind: str
    question: str
    appropriate_answer: str


@dataclass(frozen=True)
class Item:
    """One reply to label, with what the client said before it and its criteria.

    ``messages`` is the conversation before the reply as ``(role, text)``
    pairs, role ``client`` or ``reply`` (an earlier reply: a scripted
    therapist turn of a crisis stimulus, or the respondent's earlier turn of
    a conversation). ``verdicts`` holds the judge's answer per criterion id
    (None: unjudged or unreadable) and its ``by``; it is never sent to the page.
    """

    item: str
    stimulus: str
    condition: str
    turn: int | None
    messages: tuple[tuple[str, str], ...]
    reply: str
    criteria: tuple[Criterion, ...]
    source_log: str
    sample_id: str
    epoch: int
    verdicts: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False)

    @property
    def client_message(self) -> str:
        """The client's last message before the reply (what the judge is shown)."""
        return next((text for role, text in reversed(self.messages) if role == "client"), "")

    def public(self) -> dict[str, Any]:
        """What the page may show: no source, no respondent, no verdict, no appropriate answer."""
        return {
            "item": self.item,
            "messages": [{"role": role, "text": text} for role, text in self.messages],
            "reply": self.reply,
            "criteria": [
                {"id": c.id, "kind": c.kind, "question": c.question} for c in self.criteria
            ],
        }


def item_key(eval_id: str, sample_id: str, epoch: int, turn: int | None) -> str:
    """The blinded item id: a hash of the item's source that names no respondent."""
    source = f"{eval_id}|{sample_id}|{epoch}|{turn if turn is not None else ''}"
    return hashlib.sha256(source.encode()).hexdigest()[:12]


def _chat(sample: EvalSample) -> list[tuple[str, str]]:
    """User/assistant messages as (client|reply, text); system and tool messages left out."""
    return [
        ("client" if m.role == "user" else "reply", m.text)
        for m in sample.messages
        if m.role in ("user", "assistant")
    ]


def _criteria(records: Iterable[dict[str, Any]], turn: int | None = None) -> tuple[Criterion, ...]:
    return tuple(
        Criterion(
            id=str(c["id"]),
            kind=str(c.get("kind") or ""),
            question=str(c["question"]),
            appropriate_answer=str(c["appropriate_answer"]),
        )
        for c in records
        if turn is None or int(c.get("from_turn", 1)) <= turn
    )


def _crisis_verdicts(sample: EvalSample) -> dict[str, dict[str, Any]]:
    for score in (sample.scores or {}).values():
        raw = (score.metadata or {}).get("criteria_verdicts")
        if raw:
            records = json.loads(raw) if isinstance(raw, str) else raw
            return {r["id"]: {"answer": r.get("answer"), "by": r.get("by")} for r in records}
    return {}


def _conversation_verdicts(sample: EvalSample) -> dict[int, dict[str, dict[str, Any]]]:
    by_turn: dict[int, dict[str, dict[str, Any]]] = {}
    for score in (sample.scores or {}).values():
        for v in (score.metadata or {}).get("turn_verdicts") or []:
            by_turn.setdefault(int(v["turn"]), {})[v["criterion"]] = {
                "answer": v.get("answer"),
                "by": v.get("verdict_by"),
            }
    return by_turn


def sample_items(log: EvalLog, path: str, sample: EvalSample) -> list[Item]:
    """The items of one sample: its reply (crisis) or each assistant turn (conversation).

    Samples that errored or gave no reply text have nothing to label and give no item.
    """
    meta = sample.metadata or {}
    experiment = meta.get("experiment")
    if sample.error or experiment not in EXPERIMENTS or not meta.get("criteria"):
        return []
    chat = _chat(sample)
    common = {"source_log": path, "sample_id": str(sample.id), "epoch": sample.epoch}
    eval_id = log.eval.eval_id
    if experiment == "crisis":
        if not chat or chat[-1][0] != "reply" or not chat[-1][1].strip():
            return []
        return [
            Item(
                item=item_key(eval_id, str(sample.id), sample.epoch, None),
                stimulus=f"crisis/{meta['condition']}/{meta['stimulus']}",
                condition=str(meta["condition"]),
                turn=None,
                messages=tuple(chat[:-1]),
                reply=chat[-1][1],
                criteria=_criteria(meta["criteria"]),
                verdicts=_crisis_verdicts(sample),
                **common,
            )
        ]
    verdicts = _conversation_verdicts(sample)
    items = []
    try:
        turns = conversation_turns(sample.messages)
    except ValueError as exc:
        raise AnnotationError(f"{path}: sample {sample.id}: {exc}") from None
    for turn in turns:
        criteria = _criteria(meta["criteria"], turn.turn)
        if not criteria or not turn.reply.strip():
            continue
        items.append(
            Item(
                item=item_key(eval_id, str(sample.id), sample.epoch, turn.turn),
                stimulus=f"conversation/{meta['persona']}",
                condition=str(meta["condition"]),
                turn=turn.turn,
                messages=tuple(chat[: 2 * turn.turn - 1]),
                reply=turn.reply,
                criteria=criteria,
                verdicts=verdicts.get(turn.turn, {}),
                **common,
            )
        )
    return items


def candidate_items(paths: Iterable[str | Path]) -> list[Item]:
    """Every labellable item of the crisis and conversation logs under ``paths``.

    A log a resumed run replaced is left out (as in ``results``), so no reply
    is offered twice. Sorted by stimulus and source so the draw does not
    depend on the order logs are given in.

    Raises:
        AnnotationError: no log found, or no crisis/conversation reply in them.
    """
    found = log_paths(paths)
    if not found:
        raise AnnotationError(f"no Inspect log under {[str(p) for p in paths]}")
    headers = {p: read_eval_log(p, header_only=True) for p in found}
    items: list[Item] = []
    for path in current_logs(headers):
        log = read_eval_log(path, resolve_attachments=True, exclude_fields={"events"})
        for sample in log.samples or []:
            items.extend(sample_items(log, path, sample))
    if not items:
        raise AnnotationError(
            f"no crisis or conversation reply to label in {len(found)} log(s) "
            f"({', '.join(found[:3])}{', ...' if len(found) > 3 else ''})"
        )
    seen: dict[str, Item] = {}
    for item in items:
        seen.setdefault(item.item, item)
    return sorted(seen.values(), key=_order)


def _order(item: Item) -> tuple[str, str, int, str]:
    return (item.stimulus, item.sample_id, item.turn or 0, item.item)


def draw_items(candidates: list[Item], items: int, seed: int) -> list[Item]:
    """Draw ``items`` replies stratified by condition, in a shuffled (blinded) order.

    Conditions, in an order drawn from ``seed``, take turns giving one item
    each (their own candidates shuffled with the same generator) until
    ``items`` are drawn or none is left, so conditions are as equally
    represented as their candidates allow. The returned order is shuffled
    again, so neither condition nor source can be read from the position.
    The result does not depend on the order of ``candidates``.

    >>> len(draw_items([], 5, 1))
    0
    """
    if items < 1:
        raise AnnotationError(f"--items must be at least 1, got {items}")
    rng = random.Random(seed)
    by_condition: dict[str, list[Item]] = {}
    for item in sorted(candidates, key=_order):
        by_condition.setdefault(item.condition, []).append(item)
    queues = []
    for condition in sorted(by_condition):
        queue = list(by_condition[condition])
        rng.shuffle(queue)
        queues.append(queue)
    rng.shuffle(queues)
    drawn: list[Item] = []
    while len(drawn) < items and any(queues):
        for queue in queues:
            if queue and len(drawn) < items:
                drawn.append(queue.pop())
    rng.shuffle(drawn)
    return drawn


# --------------------------------------------------------------------------- the draw file
def draw_path(out: str | Path) -> Path:
    """Where the draw of a labels file is recorded: ``labels.csv`` -> ``labels.draw.json``."""
    out = Path(out)
    return out.with_name(out.stem + ".draw.json")


def draw_record(drawn: list[Item], candidates: list[Item], items: int, seed: int) -> dict:
    """What the draw file holds: its parameters, the strata and each item's source."""
    per_condition: dict[str, dict[str, int]] = {}
    for item in candidates:
        per_condition.setdefault(item.condition, {"candidates": 0, "drawn": 0})["candidates"] += 1
    for item in drawn:
        per_condition[item.condition]["drawn"] += 1
    return {
        "seed": seed,
        "items_requested": items,
        "items_drawn": len(drawn),
        "stratified_by": "condition",
        "conditions": dict(sorted(per_condition.items())),
        "logs": sorted({i.source_log for i in candidates}),
        "items": [
            {
                "item": i.item,
                "stimulus": i.stimulus,
                "source_log": i.source_log,
                "sample_id": i.sample_id,
                "epoch": i.epoch,
                "turn": i.turn,
            }
            for i in drawn
        ],
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def check_or_record_draw(out: str | Path, record: dict) -> None:
    """Write the draw file, or check a recorded one drew the same items in the same order.

    Raises:
        AnnotationError: the recorded draw differs (other logs, seed or item count).
    """
    path = draw_path(out)
    if path.exists():
        try:
            recorded = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise AnnotationError(f"{path}: not readable JSON: {exc}") from None
        old = [i.get("item") for i in recorded.get("items", [])]
        new = [i["item"] for i in record["items"]]
        if old != new:
            raise AnnotationError(
                f"{path}: these labels were drawn with seed {recorded.get('seed')} and "
                f"--items {recorded.get('items_requested')} from {len(recorded.get('logs', []))} "
                f"log(s); this run draws other items (seed {record['seed']}, --items "
                f"{record['items_requested']}, {len(record['logs'])} log(s)). Pass the same "
                f"logs, --seed and --items, or another --out"
            )
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- the labels CSV
@dataclass
class Labels:
    """One annotator's labels of one item."""

    labels: dict[str, str]
    note: str = ""
    labelled_at: str = ""


def read_rows(path: str | Path) -> list[dict[str, str]]:
    """The labels CSV's rows (an absent file has none).

    Raises:
        AnnotationError: a column of :data:`COLUMNS` is missing.
    """
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise AnnotationError(
                f"{path}: not a labels file written by annotate (missing columns {missing})"
            )
        return list(reader)


def annotator_labels(rows: list[dict[str, str]], annotator: str) -> dict[str, Labels]:
    """Per item, what ``annotator`` saved (rows of other annotators ignored)."""
    found: dict[str, Labels] = {}
    for row in rows:
        if row["annotator"] != annotator:
            continue
        entry = found.setdefault(row["item"], Labels({}, row.get("note") or ""))
        entry.labels[row["criterion_id"]] = row["label"]
        entry.labelled_at = row.get("labelled_at") or entry.labelled_at
    return found


def item_rows(item: Item, annotator: str, saved: Labels) -> list[dict[str, Any]]:
    """The CSV rows of one annotator's labels of one item, one per labelled criterion."""
    return [
        {
            "id": f"{item.item}/{c.id}",
            "stimulus": item.stimulus,
            "criterion_id": c.id,
            "kind": c.kind,
            "criterion": c.question,
            "appropriate_answer": c.appropriate_answer,
            "condition": item.condition,
            "client_message": item.client_message,
            "reply": item.reply,
            "annotator": annotator,
            "label": saved.labels[c.id],
            "note": saved.note,
            "item": item.item,
            "turn": "" if item.turn is None else item.turn,
            "source_log": item.source_log,
            "sample_id": item.sample_id,
            "epoch": item.epoch,
            "labelled_at": saved.labelled_at,
        }
        for c in item.criteria
        if c.id in saved.labels
    ]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock beside the labels file, so annotators sharing it do not lose rows."""
    lock = path.with_name(path.name + ".lock")
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(temporary, path)


def save_labels(path: str | Path, item: Item, annotator: str, saved: Labels) -> None:
    """Store one annotator's labels of one item, replacing what they saved for it before.

    The file is re-read under the lock and rewritten atomically, so rows
    other annotators saved meanwhile are kept.

    Raises:
        AnnotationError: a criterion is unlabelled or a label is not yes/no.
    """
    wanted = {c.id for c in item.criteria}
    if set(saved.labels) != wanted:
        missing = sorted(wanted - set(saved.labels))
        raise AnnotationError(f"item {item.item}: label every criterion (missing {missing})")
    bad = {k: v for k, v in saved.labels.items() if v not in LABELS}
    if bad:
        raise AnnotationError(f"item {item.item}: labels must be yes or no, got {bad}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        rows = [
            r
            for r in read_rows(path)
            if not (r["annotator"] == annotator and r["item"] == item.item)
        ]
        rows.extend(item_rows(item, annotator, saved))
        _write(path, sorted(rows, key=lambda r: r["annotator"]))  # stable: save order within


def judge_rows(path: str | Path, items: Iterable[Item]) -> tuple[list[dict[str, Any]], str]:
    """The judge's verdicts as ``judge:<by>`` rows for every labelled item and criterion.

    Joined by item id from the logs the items were drawn from; the judge's
    name is every ``verdict_by`` seen, joined with ``+`` (one name, because
    ``validate-judge`` scores one stored judge). A criterion the judge left
    unjudged or unreadable gets no row (``validate-judge`` counts it as
    unreadable). Returns the rows and the judge's name.
    """
    by_id = {i.item: i for i in items}
    rows = read_rows(path)
    labelled = {r["item"] for r in rows if not r["annotator"].startswith(JUDGE_PREFIX)}
    found: list[tuple[Item, dict[str, str]]] = []
    names: set[str] = set()
    for key in sorted(labelled):
        item = by_id.get(key)
        if item is None:
            raise AnnotationError(f"{path}: item {key} is not in the logs given")
        answers = {}
        for criterion in item.criteria:
            verdict = item.verdicts.get(criterion.id) or {}
            if verdict.get("answer") in LABELS:
                answers[criterion.id] = verdict["answer"]
                names.add(str(verdict.get("by")))
        found.append((item, answers))
    name = JUDGE_PREFIX + "+".join(sorted(names))
    out = [row for item, answers in found for row in item_rows(item, name, Labels(answers))]
    return out, name


def write_with_judge(labels: str | Path, items: Iterable[Item], out: str | Path) -> dict:
    """Write the people's labels plus the judge's rows to ``out`` (``labels`` is not changed)."""
    people = [r for r in read_rows(labels) if not r["annotator"].startswith(JUDGE_PREFIX)]
    extra, name = judge_rows(labels, items)
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    _write(target, people + extra)
    return {"judge": name, "judge_rows": len(extra), "people_rows": len(people)}


def draw_summary(record: dict) -> str:
    """One line: how many items were drawn from how many candidates, per condition."""
    parts = [f"{c} {v['drawn']}/{v['candidates']}" for c, v in record["conditions"].items()]
    return (
        f"{record['items_drawn']} item(s) drawn (seed {record['seed']}, stratified by "
        f"condition: {', '.join(parts)})"
    )


# --------------------------------------------------------------------------- inter-rater agreement
@dataclass
class InterRater:
    """The annotators' agreement in a labels file (units: item x criterion, judges left out).

    ``pairs``: every pair of annotators over the units both labelled (rater_a,
    rater_b, n, agreement, kappa, ci_low, ci_high, resamples_used).
    ``by_kind``: the same per criterion kind, without CI (kind, rater_a,
    rater_b, n, agreement, kappa); empty when the file has no ``kind`` column.
    ``fleiss``: Fleiss' kappa and the units every annotator labelled (NaN, 0
    with fewer than three annotators, where Cohen's kappa says it all).
    """

    labelled: dict[str, int]
    units: int
    pairs: pd.DataFrame
    by_kind: pd.DataFrame
    fleiss: tuple[float, int]


def inter_rater(
    path: str | Path, seed: int = DEFAULT_SEED, resamples: int = DEFAULT_RESAMPLES
) -> InterRater:
    """Cohen's kappa per pair (bootstrap CI), per kind, and Fleiss' kappa of a ``simple`` file.

    Raises:
        LabelFileError: the file is not in the ``simple`` format.
    """
    labels = read_labels(path, "simple")
    human = labels.human
    kinds = pd.read_csv(path, dtype=str, keep_default_na=False)
    kind_of = (
        kinds.drop_duplicates("id").set_index("id")["kind"]
        if "kind" in kinds.columns
        else pd.Series(dtype=object)
    )
    records = []
    for kind in sorted(k for k in kind_of.unique() if k):
        ids = [i for i in human.index if kind_of.get(i) == kind]
        for a, b in combinations(human.columns, 2):
            both = human.loc[ids, [a, b]].dropna()
            records.append(
                {
                    "kind": kind,
                    "rater_a": a,
                    "rater_b": b,
                    "n": len(both),
                    "agreement": float((both[a] == both[b]).mean()) if len(both) else math.nan,
                    "kappa": cohen_kappa(both[a], both[b]),
                }
            )
    return InterRater(
        labelled={str(k): int(v) for k, v in human.notna().sum().items()},
        units=len(human),
        pairs=pairwise_kappas(human, seed=seed, resamples=resamples),
        by_kind=pd.DataFrame.from_records(
            records, columns=["kind", "rater_a", "rater_b", "n", "agreement", "kappa"]
        ),
        fleiss=fleiss_kappa(human) if human.shape[1] > 2 else (math.nan, 0),
    )
