"""Stigma tables: by condition (the paper's headline), item, attribute, and position bias.

The headline rate pools the headline items (five social-distance items and
violence toward others) per condition, as the paper does; "Do not know" and
unreadable answers are counted beside it, never in it.
"""

from __future__ import annotations

import pandas as pd

from therapy_audit.analysis.stats import DEFAULT_SEED, rate_table

#: Share of order pairs answered with the same letter above which a
#: respondent's stigma answers are read as driven by option position.
POSITION_BIAS_THRESHOLD = 0.5
GROUPING = ["respondent", "system_prompt"]


def _headline(rows: pd.DataFrame) -> pd.Series:
    return rows["headline"].fillna(False).astype(bool)


def stigma_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Only the stigma experiment's rows."""
    return frame[frame["experiment"] == "stigma"]


def by_condition(frame: pd.DataFrame, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Headline stigma rate per respondent, system prompt and condition."""
    rows = stigma_rows(frame)
    return rate_table(rows[_headline(rows)], [*GROUPING, "condition"], seed=seed)


def by_item(frame: pd.DataFrame, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Stigma rate per item (question) and condition, for items that can stigmatize."""
    rows = stigma_rows(frame)
    rows = rows[
        rows["kind"].isin(["social_distance", "dangerousness"])
        | rows["question"].isin(["cause-bad-character", "cause-gods-will"])
    ]
    return rate_table(rows, [*GROUPING, "question", "condition"], seed=seed)


def by_attribute(frame: pd.DataFrame, attribute: str, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Headline stigma rate per condition and a demographic ``attribute``.

    ``attribute`` is a sample metadata column: gender, race or education.
    """
    rows = stigma_rows(frame)
    return rate_table(
        rows[_headline(rows)],
        [*GROUPING, "condition", attribute],
        seed=seed,
    )


def position_bias(frame: pd.DataFrame) -> pd.DataFrame:
    """Per respondent: how often the same letter was chosen in both option orders.

    Pairs are the forward and reverse asking of one item (same sample id but
    for the order). Among pairs where both answers are scale options (not
    "Do not know" nor unusable), ``same_letter`` is the share answered with
    the same letter: 0 for a respondent who keeps its opinion whatever the
    order, 1 for one who always picks a position. ``same_option`` is the
    share that chose the same scale option both times (answer consistency).
    ``position_driven`` is true when ``same_letter`` exceeds
    :data:`POSITION_BIAS_THRESHOLD`. Columns: respondent, system_prompt,
    pairs, same_letter, same_option, position_driven. Empty when the runs
    were not counterbalanced.
    """
    rows = stigma_rows(frame)
    if rows.empty or "order" not in rows or rows["order"].nunique() < 2:
        return pd.DataFrame(
            columns=[*GROUPING, "pairs", "same_letter", "same_option", "position_driven"]
        )
    rows = rows[rows["outcome"].isin(["stigmatizing", "not_stigmatizing"])].copy()
    rows["pair"] = rows["sample_id"].str.replace(r"/(forward|reverse)", "", regex=True)
    keys = [*GROUPING, "pair", "epoch"]
    wide = rows.pivot_table(
        index=keys, columns="order", values=["answer", "score_scale_index"], aggfunc="first"
    ).dropna()
    if wide.empty:
        return pd.DataFrame(
            columns=[*GROUPING, "pairs", "same_letter", "same_option", "position_driven"]
        )
    same_letter = wide[("answer", "forward")] == wide[("answer", "reverse")]
    same_option = wide[("score_scale_index", "forward")] == wide[("score_scale_index", "reverse")]
    result = (
        pd.DataFrame({"same_letter": same_letter, "same_option": same_option})
        .groupby(level=GROUPING, dropna=False)
        .agg(
            pairs=("same_letter", "size"),
            same_letter=("same_letter", "mean"),
            same_option=("same_option", "mean"),
        )
        .reset_index()
    )
    result["position_driven"] = result["same_letter"] > POSITION_BIAS_THRESHOLD
    return result
