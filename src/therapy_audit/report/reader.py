"""What a clinician reads first: the scorecard, the replies themselves, and what to fix.

Built from the same frame as the rest of the report, plus the replies read
from the crisis logs (sample summaries do not carry them):

- :func:`scorecard_rows`: one row per respondent x system prompt with the
  stigma rate, the appropriate rate and its kinds (safe, caring, not
  over-escalating) and the conversation outcome, each with CI, n and a
  validity badge; ``baseline/*`` respondents are the floor;
- :func:`reply_records`: every crisis reply with each criterion's verdict,
  who decided it and why (the reply browser);
- :func:`fix_cards`: per failing criterion kind x condition, the share
  failed, an example reply and the judge's reason.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import pandas as pd
from inspect_ai.log import read_eval_log

from therapy_audit.analysis.headline import INVALID, METRICS, VALID, scorecard
from therapy_audit.experiments.crisis import analysis as crisis_tables
from therapy_audit.judging.generic_reply import generic_reply

#: The paper's reference figures (Moore et al. 2025, steel-man prompt, no
#: context): comparable only with ``paper_crisis``'s one-criterion rate.
PAPER_REFERENCES = (("human therapists", 0.938), ("gpt-4o", 0.786))
#: Scorecard columns, in order (keys of ``headline.METRICS``).
CARD_METRICS = ("stigma", "appropriate", "safe", "caring", "not over-escalating", "conversation")
KIND_WORDS = {"safety": "safe", "care": "caring", "escalation": "not over-escalating"}
#: A criterion's outcome as a reader says it (anything else: undecided).
VERDICT_WORDS = {"met": "met", "not_met": "not met", "pass": "met", "fail": "not met"}
#: Characters of a reply kept in the browser (the whole reply is in the log).
BROWSER_CHARS = 1200


def words(slug: object) -> str:
    """``suicidal-ideation`` -> ``suicidal ideation``: names as a reader says them."""
    if slug is None or (isinstance(slug, float) and math.isnan(slug)):
        return "—"
    return str(slug).replace("_", " ").replace("-", " ")


def _cell(row: pd.Series | None) -> dict[str, Any] | None:
    if row is None:
        return None
    rate = row["rate"]
    missing = rate is None or (isinstance(rate, float) and math.isnan(rate))
    return {
        "rate": None if missing else float(rate),
        "ci_low": None if missing else float(row["ci_low"]),
        "ci_high": None if missing else float(row["ci_high"]),
        "n": int(row["n"]),
        "status": "no scored answer" if missing else str(row["status"]),
        "valid": (not missing) and row["status"] not in INVALID,
        "note": str(row["note"] or ""),
    }


def scorecard_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """One dict per respondent x system prompt: ``cells`` per metric, ranked.

    Audited respondents come first, ranked by the appropriate rate (valid
    numbers before invalid ones), then by stigma; ``baseline/*`` respondents
    (``floor`` true) last, as the floor every respondent must beat.
    """
    card = scorecard(frame)
    rows = []
    for (respondent, prompt), own in card.groupby(["respondent", "system_prompt"], sort=True):
        by_metric = {str(r["metric"]): r for _, r in own.iterrows()}
        paper = _cell(by_metric.get("paper_rule"))
        mine = frame[(frame["respondent"] == respondent) & (frame["system_prompt"] == prompt)]
        if paper is not None:
            # The paper's figures compare only with paper_crisis (the paper's own stimuli).
            paper["replication"] = bool(
                "replication" in mine and mine["replication"].fillna(False).astype(bool).any()
            )
        rows.append(
            {
                "respondent": str(respondent),
                "system_prompt": str(prompt),
                "floor": str(respondent).startswith("baseline/"),
                "cells": {m: _cell(by_metric.get(m)) for m in CARD_METRICS},
                "paper_rule": paper,
            }
        )

    def rank(row: dict[str, Any]) -> tuple[Any, ...]:
        appropriate = row["cells"]["appropriate"]
        stigma = row["cells"]["stigma"]
        return (
            row["floor"],
            not (appropriate and appropriate["valid"]),
            -(appropriate["rate"] or 0) if appropriate and appropriate["rate"] is not None else 0,
            stigma["rate"] if stigma and stigma["rate"] is not None else 1,
            row["respondent"],
        )

    rows.sort(key=rank)
    for index, row in enumerate(rows, start=1):
        row["rank"] = None if row["floor"] else index
    return rows


def metric_labels() -> dict[str, str]:
    """Scorecard column headings."""
    return {m: METRICS[m] for m in CARD_METRICS}


def _verdicts(raw: object) -> list[dict[str, Any]]:
    if not isinstance(raw, str) or not raw:
        return []
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError:
        return []
    out = []
    for v in parsed if isinstance(parsed, list) else []:
        outcome = v.get("outcome")
        out.append(
            {
                "criterion": words(v.get("id")),
                "kind": KIND_WORDS.get(str(v.get("kind")), words(v.get("kind"))),
                "verdict": VERDICT_WORDS.get(str(outcome), "undecided"),
                "by": str(v.get("by") or "—"),
                "how": str(v.get("check") or ""),
            }
        )
    return out


def reply_records(frame: pd.DataFrame, logs: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Every crisis reply with its criteria, verdicts, who decided and why.

    Reads the crisis logs named in ``frame`` (their samples carry the
    replies); the respondent label is the frame's (runs kept apart stay
    apart).
    """
    rows = crisis_tables.crisis_rows(frame)
    if rows.empty:
        return []
    labels = {
        (str(r["log"]), str(r["sample_id"]), int(r["epoch"])): r
        for _, r in rows.drop_duplicates(["log", "sample_id", "epoch"]).iterrows()
    }
    records = []
    for path in sorted(set(logs or rows["log"].astype(str))):
        log = read_eval_log(path, resolve_attachments=True)
        for sample in log.samples or []:
            row = labels.get((path, str(sample.id), int(sample.epoch)))
            if row is None:
                continue
            client = next((m.text for m in reversed(sample.messages) if m.role == "user"), "")
            reply = sample.output.completion if sample.output else ""
            score = next(iter((sample.scores or {}).values()), None)
            meta = (score.metadata or {}) if score else {}
            records.append(
                {
                    "respondent": str(row["respondent"]),
                    "system_prompt": str(row["system_prompt"]),
                    "condition": words(row.get("condition")),
                    "stimulus": words(row.get("stimulus")),
                    "outcome": str(row["outcome"]),
                    "client": client[:BROWSER_CHARS],
                    "reply": reply[:BROWSER_CHARS] + (" […]" if len(reply) > BROWSER_CHARS else ""),
                    "criteria": _verdicts(meta.get("criteria_verdicts")),
                    "kinds": sorted({KIND_WORDS.get(str(k), str(k)) for k in _kinds(meta)}),
                    "why": str(
                        meta.get("fail_reason") or (score.explanation if score else "") or ""
                    ),
                    "generic": bool(reply.strip()) and generic_reply(reply),
                }
            )
    return records


def _explanation(score: Any) -> str:
    return str(score.explanation or "") if score is not None else ""


def _kinds(meta: dict[str, Any]) -> list[str]:
    return [k for k in KIND_WORDS if meta.get(f"{k}_outcome") not in (None, "")]


def fix_cards(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per respondent x failing criterion kind x condition: share failed, an example, the reason.

    Sorted by the share failed (largest first). Baseline respondents are left
    out: they are the floor, not something to fix.
    """
    groups: dict[tuple[str, str, str], list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    decided: dict[tuple[str, str, str], int] = {}
    for record in records:
        if record["respondent"].startswith("baseline/"):
            continue
        for criterion in record["criteria"]:
            key = (record["respondent"], criterion["kind"], record["condition"])
            if criterion["verdict"] in ("met", "not met"):
                decided[key] = decided.get(key, 0) + 1
            if criterion["verdict"] == "not met":
                groups.setdefault(key, []).append((record, criterion))
    cards = []
    for key, failed in groups.items():
        respondent, kind, condition = key
        record, criterion = failed[0]
        cards.append(
            {
                "respondent": respondent,
                "kind": kind,
                "condition": condition,
                "failed": len(failed),
                "decided": decided.get(key, len(failed)),
                "share": len(failed) / max(1, decided.get(key, len(failed))),
                "criterion": criterion["criterion"],
                "by": criterion["by"],
                "client": record["client"],
                "reply": record["reply"],
                "why": record["why"] or criterion["how"],
            }
        )
    return sorted(cards, key=lambda c: (-c["share"], -c["failed"], c["respondent"]))


def trajectory_rows(frame: pd.DataFrame) -> pd.DataFrame | None:
    """Share of conversations that have failed by each turn, per respondent.

    Uses ``experiments.conversation.analysis.failing_by_turn`` when it exists;
    otherwise computes it from each conversation's first failing turn (the
    share of judged conversations whose first failure came at or before the
    turn). ``None`` without conversation rows or turn data.
    """
    try:
        from therapy_audit.experiments.conversation import analysis as conv
    except ImportError:  # pragma: no cover
        return None
    rows = frame[frame["experiment"] == "conversation"]
    if rows.empty:
        return None
    function = getattr(conv, "failing_by_turn", None)  # issue 17's per-turn analysis
    if function is not None:
        return function(frame)
    if "score_first_failing_turn" not in rows or "score_turns" not in rows:
        return None
    judged = rows[rows["value"].notna()]
    if judged.empty:
        return None
    out = []
    last = int(pd.to_numeric(judged["score_turns"], errors="coerce").max() or 0)
    for (respondent, prompt), own in judged.groupby(["respondent", "system_prompt"], sort=True):
        first = pd.to_numeric(own["score_first_failing_turn"], errors="coerce")
        for turn in range(1, last + 1):
            out.append(
                {
                    "respondent": respondent,
                    "system_prompt": prompt,
                    "turn": turn,
                    "conversations": len(own),
                    "failed_by_this_turn": int((first <= turn).sum()),
                    "share_failed": float((first <= turn).mean()),
                }
            )
    return pd.DataFrame(out)


__all__ = [
    "PAPER_REFERENCES",
    "VALID",
    "fix_cards",
    "metric_labels",
    "reply_records",
    "scorecard_rows",
    "trajectory_rows",
    "words",
]
