"""The gold replies: labelled examples that calibrate the deterministic checks and any judge.

``stimuli/gold/<condition>.yaml`` holds, for every crisis stimulus, replies
written and labelled on every criterion by the project (not a clinical
validation: the labels are the project's own). ``stimuli/gold/personas/``
does the same for persona criteria at a given turn.

A seeded 30% of the stimuli (:func:`is_held_out`) is kept apart: checks are
tuned on the rest, and their accuracy on the held-out part is reported
separately, as the figure that was not fitted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from therapy_audit.judging.checks import Asked, CheckResult, check_reply
from therapy_audit.stimuli.load import (
    STIMULI_PACKAGE,
    crisis_checks,
    load_check_groups,
    load_crisis_stimuli,
    load_personas,
)
from therapy_audit.stimuli.schema import (
    Criterion,
    GoldFile,
    PatternCheck,
    StimulusFileError,
    TurnCriterion,
    load_yaml_model,
)

HOLDOUT_SEED = "gold-holdout-2026-12"
HOLDOUT_SHARE = 0.30
#: The project's labels: never to be reported as a clinical validation.
PROJECT_LABELS = "project-written"


def is_held_out(stimulus_key: str, share: float = HOLDOUT_SHARE) -> bool:
    """True for the seeded share of stimuli kept apart from check tuning."""
    digest = hashlib.sha256(f"{HOLDOUT_SEED}/{stimulus_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


@dataclass(frozen=True)
class GoldItem:
    """One criterion of one gold reply, with the project's label."""

    stimulus: str  # condition/stimulus, or conversation/persona
    reply_id: str
    reply_type: str
    hard_case: str | None
    condition: str
    criterion: str
    kind: str
    question: str
    appropriate_answer: str
    reply: str
    label: str
    reason: str
    held_out: bool
    labelled_by: str
    #: The client's messages up to the reply, oldest first (a judge may be shown them).
    client_messages: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        stimulus: str,
        criterion: Criterion | TurnCriterion,
        *,
        reply: str,
        label: str,
        client_messages: tuple[str, ...],
        **about_reply: str | None,
    ) -> GoldItem:
        """The item of one labelled criterion, its fields derived from the criterion.

        Kind, question and appropriate answer come from ``criterion``; whether
        the item is held out comes from the ``stimulus`` key. ``about_reply``:
        ``reply_id``, ``reply_type``, ``hard_case``, ``condition``, ``reason``
        and ``labelled_by``.
        """
        return cls(
            stimulus=stimulus,
            criterion=criterion.id,
            kind=criterion.kind,
            question=criterion.question,
            appropriate_answer=criterion.appropriate_answer,
            reply=reply,
            label=label,
            held_out=is_held_out(stimulus),
            client_messages=client_messages,
            **about_reply,  # type: ignore[arg-type]
        )

    @property
    def client_text(self) -> str:
        """Every client message, one per line (what a check blanks quoted words against)."""
        return "\n".join(self.client_messages)

    @property
    def last_client_message(self) -> str:
        """The message the reply answers."""
        return self.client_messages[-1] if self.client_messages else ""


def _gold_files(folder: Path | None) -> list[Path]:
    root = Path(str(resources.files(STIMULI_PACKAGE) / "gold")) if folder is None else folder
    return sorted(root.rglob("*.yaml"))


def load_gold(folder: str | Path | None = None) -> list[GoldItem]:
    """Every labelled criterion of every gold reply (packaged, or under ``folder``)."""
    conditions, _ = load_crisis_stimuli()
    stimuli = {(c.condition, s.id): (c, s) for c in conditions for s in c.stimuli}
    personas = {p.id: p for p in load_personas()[0]}
    items: list[GoldItem] = []
    for path in _gold_files(Path(folder) if folder else None):
        gold = load_yaml_model(GoldFile, path)
        for reply in gold.replies:
            if gold.condition is not None:
                found = stimuli.get((gold.condition, reply.stimulus))
                if found is None:
                    raise StimulusFileError(
                        f"{path}: {reply.id}: unknown stimulus {reply.stimulus}"
                    )
                condition, stimulus = found
                key = f"{condition.condition}/{stimulus.id}"
                clients = [t.content for t in stimulus.turns if t.role == "client"]
                criteria = {c.id: c for c in stimulus.criteria}
                cond_name = condition.condition
            else:
                persona = personas.get(reply.stimulus)
                if persona is None:
                    raise StimulusFileError(f"{path}: {reply.id}: unknown persona {reply.stimulus}")
                key = f"conversation/{persona.id}"
                clients = list(persona.scripted_turns[: reply.turn or 1])
                criteria = {c.id: c for c in persona.criteria}
                cond_name = persona.condition
            for criterion_id, label in reply.labels.items():
                criterion = criteria.get(criterion_id)
                if criterion is None:
                    raise StimulusFileError(
                        f"{path}: {reply.stimulus}/{reply.id}: unknown criterion {criterion_id}"
                    )
                items.append(
                    GoldItem.of(
                        key,
                        criterion,
                        reply=reply.reply,
                        label=label.answer,
                        client_messages=tuple(clients),
                        reply_id=reply.id,
                        reply_type=reply.type,
                        hard_case=reply.hard_case,
                        condition=cond_name,
                        reason=label.reason,
                        labelled_by=gold.labelled_by,
                    )
                )
    return items


def gold_checks() -> dict[str, PatternCheck]:
    """``stimulus/criterion`` -> check for every gold item's criterion (crisis and personas)."""
    checks = dict(crisis_checks())
    for persona in load_personas()[0]:
        for criterion in persona.criteria:
            if criterion.check is not None:
                checks[f"conversation/{persona.id}/{criterion.id}"] = criterion.check
    return checks


def checks_as_judge(items: list[GoldItem]) -> pd.DataFrame:
    """The deterministic checks' verdict on every gold item (``check`` None: abstained).

    Each reply's criteria are decided together, as the scorers decide them
    (:func:`therapy_audit.judging.checks.check_reply`).
    Columns: every :class:`GoldItem` field, ``check`` and ``check_how``.
    """
    checks = gold_checks()
    groups = load_check_groups()
    replies: dict[tuple[str, str], list[GoldItem]] = {}
    for item in items:
        replies.setdefault((item.stimulus, item.reply_id), []).append(item)
    results: dict[int, CheckResult | None] = {}
    for asked in replies.values():
        decided = check_reply(
            [
                Asked(
                    checks.get(f"{item.stimulus}/{item.criterion}"),
                    item.kind,
                    item.question,
                    item.appropriate_answer,
                )
                for item in asked
            ],
            asked[0].reply,
            asked[0].client_text,
            groups,
        )
        results.update({id(item): result for item, result in zip(asked, decided, strict=True)})
    rows = []
    for item in items:
        result = results[id(item)]
        rows.append(
            {
                **item.__dict__,
                "check": result.answer if result else None,
                "check_how": result.how if result else "no check",
            }
        )
    return pd.DataFrame(rows)


def reply_verdicts(frame: pd.DataFrame, verdict_column: str = "check") -> pd.DataFrame:
    """Per gold reply: the combined label and the combined verdict (any criterion not met fails).

    Columns: stimulus, reply_id, reply_type, held_out, label_outcome,
    verdict_outcome (``pass``/``fail``/None when undecided).
    """

    def outcome(met: pd.Series) -> str | None:
        if (met == False).any():  # noqa: E712 (object column with None)
            return "fail"
        if met.notna().all() and (met == True).all():  # noqa: E712
            return "pass"
        return None

    work = frame.assign(
        label_met=frame["label"] == frame["appropriate_answer"],
        verdict_met=frame[verdict_column].where(
            frame[verdict_column].isna(), frame[verdict_column] == frame["appropriate_answer"]
        ),
    )
    return (
        work.groupby(["stimulus", "reply_id", "reply_type", "held_out"], dropna=False)
        .apply(
            lambda g: pd.Series(
                {
                    "label_outcome": outcome(g["label_met"]),
                    "verdict_outcome": outcome(g["verdict_met"].astype(object)),
                }
            ),
            include_groups=False,
        )
        .reset_index()
    )
