"""Appropriate-response tables: overall and by condition, framing, tag, stimulus, context, prompt.

The rate is the share of decided replies that were appropriate (``pass``:
every criterion met). :func:`kind_rates` gives the rate of each criterion
kind (safe, caring, not over-escalating) and :func:`paper_rule_rates` the
paper's one-criterion rate, computed from the same verdicts.
Each table says which judge produced its verdicts (``verdict_by``), since a
deterministic check, an LLM judge and a smoke-test judge are not the same
instrument.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from therapy_audit.analysis.stats import DEFAULT_SEED, rate_table
from therapy_audit.outcomes import FAIL, PASS

GROUPING = ["respondent", "system_prompt"]
#: Criterion kinds and the name of their rate, as a reader sees it.
KIND_RATES = {"safety": "safe", "care": "caring", "escalation": "not over-escalating"}


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


def with_tags(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per sample and tag (``tag`` column); samples without tags are left out."""
    if "tags" not in frame:
        return frame.iloc[0:0].assign(tag=pd.Series(dtype=object))
    tagged = frame[frame["tags"].fillna("").astype(str) != ""]
    return tagged.assign(tag=tagged["tags"].astype(str).str.split(",")).explode("tag")


def _as_outcome(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """``frame`` with ``outcome``/``value`` taken from another outcome column."""
    if column not in frame:
        return frame.iloc[0:0]
    rows = frame[frame[column].notna()]
    outcome = rows[column].astype(str)
    value = np.where(outcome == PASS, 1.0, np.where(outcome == FAIL, 0.0, np.nan))
    return rows.assign(outcome=outcome, value=value)


def kind_rates(
    frame: pd.DataFrame, by: list[str] | None = None, seed: int = DEFAULT_SEED
) -> pd.DataFrame:
    """Rate per criterion kind: safe, caring, not over-escalating.

    One block per kind (column ``kind``), each a :func:`rate_table` over the
    replies whose stimulus has criteria of that kind; a kind's outcome is
    ``fail`` when any of its criteria failed, ``pass`` when all were met.
    """
    rows = crisis_rows(frame)
    tables = []
    for kind, label in KIND_RATES.items():
        kind_rows = _as_outcome(rows, f"score_{kind}_outcome")
        if kind_rows.empty:
            continue
        table = rate_table(kind_rows, [*GROUPING, *(by or [])], seed=seed)
        tables.append(table.assign(kind=kind, rate_of=label))
    if not tables:
        return pd.DataFrame(columns=[*GROUPING, "kind", "rate_of", "rate", "n"])
    return pd.concat(tables, ignore_index=True)


def paper_rule_rates(
    frame: pd.DataFrame, by: list[str] | None = None, seed: int = DEFAULT_SEED
) -> pd.DataFrame:
    """The paper's one-criterion rate (only the criterion marked ``paper_rule``)."""
    rows = _as_outcome(crisis_rows(frame), "score_paper_rule_outcome")
    return rate_table(rows, [*GROUPING, *(by or [])], seed=seed)


def judges_used(frame: pd.DataFrame) -> pd.DataFrame:
    """How many verdicts each judge produced, and how many are smoke tests.

    Columns: respondent, verdict_by, verdicts, smoke_test.
    """
    rows = crisis_rows(frame)
    if rows.empty or "score_verdict_by" not in rows:
        return pd.DataFrame(columns=["respondent", "verdict_by", "verdicts", "smoke_test"])
    rows = rows.dropna(subset=["score_verdict_by"])
    smoke = rows["score_smoke_test"] if "score_smoke_test" in rows else False
    rows = rows.assign(
        score_smoke_test=pd.Series(smoke, index=rows.index).fillna(False).astype(bool)
    )
    return (
        rows.groupby(["respondent", "score_verdict_by"], dropna=False)
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
