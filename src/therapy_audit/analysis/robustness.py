"""Wording robustness: does a rate survive rephrasing the question or the client's message?

Runs with ``-T paraphrases=true`` ask every stimulus in its main wording
(``wording`` 0) and in each paraphrase (1..k). A measurement that reflects
the respondent's attitude, not the exact words, should give about the same
rate in every wording. These tables show the rate per wording, how far the
rates spread, and how often one stimulus's outcome flips between wordings.

Functions take a results frame already restricted to the rows the rate is
about (e.g. the stigma headline items, see
:func:`therapy_audit.analysis.compare.experiment_rows`).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from therapy_audit.analysis.stats import (
    DEFAULT_SEED,
    rate_table,
    spread_table,
    stimulus_ids,
    wording_free_ids,
)

#: Default grouping: one respondent under one system prompt, per condition.
DEFAULT_BY = ("respondent", "system_prompt", "condition")
FLIP_COLUMNS = ["stimulus_id", "units", "flipped", "flip_share", "incomplete"]


def has_wordings(frame: pd.DataFrame) -> bool:
    """True when the rows carry more than one wording (a run with paraphrases)."""
    return "wording" in frame and frame["wording"].nunique(dropna=True) > 1


def paraphrased_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Only the rows of stimuli that were asked in more than one wording.

    Not every stimulus has paraphrases (in the crisis set, about half do).
    Comparing wording 0 over all stimuli with wording 1 over the paraphrased
    ones would confound wording with stimulus, so the wording tables keep
    only stimuli asked in several wordings (same option order or context).
    """
    if not has_wordings(frame):
        return frame.iloc[0:0]
    unit = wording_free_ids(frame["sample_id"]).to_numpy()
    asked = frame["wording"].groupby(unit, sort=False).transform("nunique")
    return frame[asked.to_numpy() > 1]


def wording_rates(
    frame: pd.DataFrame, by: Sequence[str] = DEFAULT_BY, seed: int = DEFAULT_SEED
) -> pd.DataFrame:
    """The rate of each wording: :func:`rate_table` grouped by ``by`` and ``wording``.

    Only stimuli asked in several wordings count (:func:`paraphrased_rows`),
    so every wording's rate covers the same stimuli. Pass ``by`` without
    ``condition`` for the overall rate per wording. The CI clusters by
    stimulus (the rows of one wording still repeat over option orders and
    epochs). Empty when the run had no paraphrases.
    """
    return rate_table(paraphrased_rows(frame), [*by, "wording"], seed=seed)


def wording_spread(
    frame: pd.DataFrame, by: Sequence[str] = DEFAULT_BY, seed: int = DEFAULT_SEED
) -> pd.DataFrame:
    """How far the per-wording rates spread, per ``by`` group.

    Columns: ``by``..., ``wordings`` (wordings with a rate), ``rate_original``
    (wording 0), ``rate_mean``, ``rate_min``, ``rate_max``, ``spread``
    (max - min) and ``rate_sd`` (sample SD across wordings, ddof=1). A
    spread as large as the differences one wants to report (between
    conditions or models) means those differences may be wording effects.
    """
    rates = wording_rates(frame, by, seed)
    columns = [
        *by,
        "wordings",
        "rate_original",
        "rate_mean",
        "rate_min",
        "rate_max",
        "spread",
        "rate_sd",
    ]
    if rates.empty:
        return pd.DataFrame(columns=columns)
    spread = spread_table(rates, by, "wording").rename(columns={"levels": "wordings"})
    original = rates[rates["wording"] == 0][[*by, "rate"]].rename(columns={"rate": "rate_original"})
    if by:
        spread = spread.merge(original, on=list(by), how="left")
    else:
        spread["rate_original"] = original["rate"].iloc[0] if len(original) else float("nan")
    return spread[columns]


def _units(frame: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """One row per (group, stimulus asked the same way bar the wording, epoch)."""
    rows = frame.assign(
        stimulus_id=stimulus_ids(frame["sample_id"]),
        unit=wording_free_ids(frame["sample_id"]),
    )
    keys = [*by, "stimulus_id", "unit", "epoch"]
    return (
        rows.groupby(keys, dropna=False, sort=True)["value"]
        .agg(scored="count", distinct="nunique")
        .reset_index()
    )


def stimulus_flips(frame: pd.DataFrame, by: Sequence[str] = DEFAULT_BY) -> pd.DataFrame:
    """Per stimulus: how often its outcome changes across wordings.

    A *unit* is one asking of a stimulus bar the wording: same option order
    (stigma) or transcript context (crisis), same epoch. A unit is
    comparable when at least two of its wordings got a scored outcome; it
    *flipped* when those outcomes differ. Stimuli without paraphrases are
    left out (:func:`paraphrased_rows`). Columns: ``by``..., ``stimulus_id``,
    ``units`` (comparable), ``flipped``, ``flip_share`` (flipped / units,
    NaN when none is comparable) and ``incomplete`` (units left out because
    fewer than two wordings were scored, e.g. "Do not know" or unreadable).
    """
    columns = [*by, *FLIP_COLUMNS]
    rows = paraphrased_rows(frame)
    if rows.empty:
        return pd.DataFrame(columns=columns)
    units = _units(rows, by)
    units["comparable"] = units["scored"] >= 2
    units["flipped"] = units["comparable"] & (units["distinct"] > 1)
    table = (
        units.groupby([*by, "stimulus_id"], dropna=False, sort=True)
        .agg(
            units=("comparable", "sum"),
            flipped=("flipped", "sum"),
            incomplete=("comparable", lambda c: int((~c).sum())),
        )
        .reset_index()
    )
    table["units"] = table["units"].astype(int)
    table["flipped"] = table["flipped"].astype(int)
    table["flip_share"] = table["flipped"] / table["units"].where(table["units"] > 0)
    return table[columns]


def flip_summary(frame: pd.DataFrame, by: Sequence[str] = DEFAULT_BY) -> pd.DataFrame:
    """Per ``by`` group: the share of comparable units whose outcome flips with wording.

    Columns: ``by``..., ``stimuli``, ``stimuli_flipping`` (stimuli with at
    least one flip), ``units``, ``flipped``, ``flip_share`` and
    ``incomplete`` (see :func:`stimulus_flips`).
    """
    columns = [*by, "stimuli", "stimuli_flipping", "units", "flipped", "flip_share", "incomplete"]
    per_stimulus = stimulus_flips(frame, by)
    if per_stimulus.empty:
        return pd.DataFrame(columns=columns)
    keyed = per_stimulus.assign(_all=0)
    keys = list(by) or ["_all"]
    table = (
        keyed.groupby(keys, dropna=False, sort=True)
        .agg(
            stimuli=("stimulus_id", "size"),
            stimuli_flipping=("flipped", lambda f: int((f > 0).sum())),
            units=("units", "sum"),
            flipped=("flipped", "sum"),
            incomplete=("incomplete", "sum"),
        )
        .reset_index()
    )
    table["flip_share"] = table["flipped"] / table["units"].where(table["units"] > 0)
    return table[columns]
