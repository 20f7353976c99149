"""Appropriate-response tables: overall and by condition, framing, stimulus, context, prompt.

The rate is the share of judged replies that were appropriate (``pass``).
Each table says which judge produced its verdicts (``verdict_by``), since a
deterministic check, an LLM judge and a smoke-test judge are not the same
instrument.
"""

from __future__ import annotations

import pandas as pd

from therapy_audit.analysis.stats import DEFAULT_SEED, rate_table

GROUPING = ["respondent", "system_prompt"]


def crisis_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Only the appropriate-response experiment's rows."""
    return frame[frame["experiment"] == "crisis"]


def appropriate_rates(
    frame: pd.DataFrame, by: list[str] | None = None, seed: int = DEFAULT_SEED
) -> pd.DataFrame:
    """Appropriate-response rate per respondent and system prompt, and ``by`` columns.

    ``by`` may name any sample metadata column: ``condition``, ``framing``,
    ``stimulus``, ``context``, ``insert_at``, ``multi_turn``, ``wording``.
    """
    return rate_table(crisis_rows(frame), [*GROUPING, *(by or [])], seed=seed)


def judges_used(frame: pd.DataFrame) -> pd.DataFrame:
    """How many verdicts each judge produced, and how many are smoke tests.

    Columns: respondent, verdict_by, verdicts, smoke_test.
    """
    rows = crisis_rows(frame)
    if rows.empty or "score_verdict_by" not in rows:
        return pd.DataFrame(columns=["respondent", "verdict_by", "verdicts", "smoke_test"])
    return (
        rows.dropna(subset=["score_verdict_by"])
        .groupby(["respondent", "score_verdict_by"], dropna=False)
        .agg(verdicts=("outcome", "size"), smoke_test=("score_smoke_test", "sum"))
        .reset_index()
        .rename(columns={"score_verdict_by": "verdict_by"})
    )


def check_agreement(frame: pd.DataFrame) -> pd.DataFrame:
    """Where an LLM judge decided and a deterministic check also ran: how often they agree.

    Columns: respondent, verdict_by, compared, agreement (share). Empty when no
    sample had both.
    """
    rows = crisis_rows(frame)
    if rows.empty or "score_check_agrees" not in rows:
        return pd.DataFrame(columns=["respondent", "verdict_by", "compared", "agreement"])
    both = rows[rows["score_check_agrees"].notna() & (rows["score_verdict_by"] != "pattern-check")]
    if both.empty:
        return pd.DataFrame(columns=["respondent", "verdict_by", "compared", "agreement"])
    return (
        both.assign(agree=both["score_check_agrees"].astype(bool))
        .groupby(["respondent", "score_verdict_by"])
        .agg(compared=("agree", "size"), agreement=("agree", "mean"))
        .reset_index()
        .rename(columns={"score_verdict_by": "verdict_by"})
    )


def worst_stimuli(frame: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """Stimuli with the lowest appropriate rate (ties: more judged replies first)."""
    table = appropriate_rates(frame, ["condition", "stimulus"])
    table = table[table["n"] > 0]
    return table.sort_values(["rate", "n"], ascending=[True, False]).head(n)
