"""Multi-turn tables: each conversation, safe-throughout and ended-safe rates, the worst one.

Trajectory metrics (first failure, drift, fatigue, per-kind shares, control
escalation) and the per-turn figure are in
:mod:`therapy_audit.experiments.conversation.trajectory`, re-exported here.

A conversation is *safe throughout* when no judged turn failed any persona
criterion (``value`` 1.0) and *ended safe* when its last turn passed every
criterion. Rates are over conversations with a scored outcome; the others
(unparsed, error, context overflow) are counted beside the rate by
:func:`therapy_audit.analysis.stats.rate_table`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
from inspect_ai.log import EvalSample, read_eval_log_sample

from therapy_audit.analysis.stats import DEFAULT_SEED, rate_table
from therapy_audit.experiments.conversation.client import conversation_turns
from therapy_audit.experiments.conversation.trajectory import (
    share_failing_by_turn,
    trajectory_metrics,
    turn_failure_figure,
    turn_table,
)
from therapy_audit.outcomes import FAIL, PASS, UNPARSED, UNUSABLE_OUTCOMES

__all__ = [
    "conversation_rows",
    "ended_safe_rates",
    "persona_table",
    "safe_rates",
    "share_failing_by_turn",
    "trajectory_metrics",
    "turn_failure_figure",
    "turn_table",
    "worst_conversation",
]
GROUPING = ["respondent", "system_prompt"]
PERSONA_COLUMNS = (
    "respondent",
    "system_prompt",
    "client_model",
    "persona",
    "condition",
    "epoch",
    "outcome",
    "turns",
    "first_failing_turn",
    "failing_turns",
    "share_failing",
    "ended_safe",
    "stop_reason",
)
#: persona-table column -> the frame column it is read from.
_SCORE_COLUMNS = {
    "turns": "score_turns",
    "first_failing_turn": "score_first_failing_turn",
    "failing_turns": "score_failing_turns",
    "share_failing": "score_share_failing",
    "ended_safe": "score_ended_safe",
    "stop_reason": "score_stop_reason",
}


def conversation_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Only the multi-turn experiment's rows."""
    return frame[frame["experiment"] == "conversation"]


def _column(rows: pd.DataFrame, name: str) -> pd.Series:
    return rows[name] if name in rows else pd.Series([None] * len(rows), index=rows.index)


def persona_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per conversation (respondent, system prompt, persona, epoch).

    Columns: :data:`PERSONA_COLUMNS`. ``first_failing_turn`` is NaN when no
    turn failed; ``share_failing`` is failing / judged turns (NaN when none
    was judged); ``ended_safe`` is True, False or None (last turn not
    judged, or the sample errored).

    Example:
        >>> persona_table(results_frame(["logs/"]))  # doctest: +SKIP
    """
    rows = conversation_rows(frame)
    table = pd.DataFrame(
        {
            **{c: _column(rows, c) for c in PERSONA_COLUMNS if c not in _SCORE_COLUMNS},
            **{c: _column(rows, source) for c, source in _SCORE_COLUMNS.items()},
        },
        index=rows.index,
    )
    table = table[list(PERSONA_COLUMNS)]
    return table.sort_values(
        ["respondent", "system_prompt", "client_model", "persona", "epoch"]
    ).reset_index(drop=True)


def client_grouping(frame: pd.DataFrame) -> list[str]:
    """``["client_model"]`` when the conversations had several client models, else ``[]``.

    Runs with ``--client`` given more than once are reported per client (and
    pooled by the trajectory metrics); a single client needs no column.
    """
    rows = conversation_rows(frame)
    if "client_model" in rows and rows["client_model"].nunique() > 1:
        return ["client_model"]
    return []


def safe_rates(
    frame: pd.DataFrame, by: list[str] | None = None, seed: int = DEFAULT_SEED
) -> pd.DataFrame:
    """Share of conversations safe throughout, per respondent and system prompt (and ``by``).

    Columns as :func:`~therapy_audit.analysis.stats.rate_table`; ``by`` may
    name ``persona`` or ``condition``.
    """
    return rate_table(conversation_rows(frame), [*GROUPING, *(by or [])], seed=seed)


def _ended_outcome(ended: Any, outcome: str) -> str:
    if ended is True or ended == 1:
        return PASS
    if ended is False or ended == 0:
        return FAIL
    return outcome if outcome in UNUSABLE_OUTCOMES else UNPARSED


def ended_safe_rates(
    frame: pd.DataFrame, by: list[str] | None = None, seed: int = DEFAULT_SEED
) -> pd.DataFrame:
    """Share of conversations whose last turn was safe, per respondent and system prompt.

    A conversation whose last turn could not be judged counts as
    ``unparsed`` (or its own unusable outcome), beside the rate.
    """
    rows = conversation_rows(frame).copy()
    ended = _column(rows, "score_ended_safe")
    rows["outcome"] = [_ended_outcome(e, o) for e, o in zip(ended, rows["outcome"], strict=True)]
    rows["value"] = rows["outcome"].map({PASS: 1.0, FAIL: 0.0})
    return rate_table(rows, [*GROUPING, *(by or [])], seed=seed)


@dataclass(frozen=True)
class WorstConversation:
    """The conversation that failed earliest (ties: most failing turns), with its transcript."""

    respondent: str
    system_prompt: str | None
    persona: str
    sample_id: str
    epoch: int
    log: str
    first_failing_turn: int
    failing_turns: int
    transcript: str


def transcript_text(sample: EvalSample) -> str:
    """A conversation as plain text, each reply followed by its verdicts.

    Returns the client's goodbye (if any) and the stop reason at the end.
    """
    score = next(iter((sample.scores or {}).values()), None)
    verdicts = (score.metadata or {}).get("turn_verdicts", []) if score else []
    lines = []
    for turn in conversation_turns(sample.messages):
        lines.append(f"Client (turn {turn.turn}): {turn.client}")
        lines.append(f"Assistant (turn {turn.turn}): {turn.reply}")
        for v in (v for v in verdicts if v["turn"] == turn.turn):
            lines.append(
                f"    [{v['outcome']}] {v['criterion']}: {v['answer'] or 'unreadable'} "
                f"(appropriate: {v['appropriate']}; by {v['verdict_by']})"
            )
    final = (sample.metadata or {}).get("client_final_message")
    if final:
        lines.append(f"Client (leaving): {final}")
    lines.append(f"(stopped: {(sample.metadata or {}).get('stop_reason', 'unknown')})")
    return "\n".join(lines)


def worst_conversation(frame: pd.DataFrame) -> WorstConversation | None:
    """The conversation with the earliest first failure (ties: most failing turns).

    Further ties go to the higher share of failing turns, then respondent,
    persona and epoch order, so the choice is reproducible. None when no
    conversation failed.
    """
    rows = conversation_rows(frame)
    if rows.empty or "score_first_failing_turn" not in rows:
        return None
    failed = rows[pd.to_numeric(rows["score_first_failing_turn"], errors="coerce").notna()]
    if failed.empty:
        return None
    ordered = failed.assign(
        _first=pd.to_numeric(failed["score_first_failing_turn"]),
        _failing=pd.to_numeric(failed["score_failing_turns"]),
        _share=pd.to_numeric(failed["score_share_failing"]),
    ).sort_values(
        ["_first", "_failing", "_share", "respondent", "persona", "epoch"],
        ascending=[True, False, False, True, True, True],
    )
    row = ordered.iloc[0]
    sample = read_eval_log_sample(row["log"], id=row["sample_id"], epoch=int(row["epoch"]))
    prompt = row.get("system_prompt")
    return WorstConversation(
        respondent=str(row["respondent"]),
        system_prompt=None if prompt is None or _is_nan(prompt) else str(prompt),
        persona=str(row["persona"]),
        sample_id=str(row["sample_id"]),
        epoch=int(row["epoch"]),
        log=str(row["log"]),
        first_failing_turn=int(row["_first"]),
        failing_turns=int(row["_failing"]),
        transcript=transcript_text(sample),
    )


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
