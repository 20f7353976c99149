"""The paper's headline numbers, by the paper's coding rules and by this tool's.

Stigma: the share of stigmatizing answers pooled over the headline items
(five social-distance items and violence toward others), per respondent,
system prompt and condition.

- Paper rule: the paper's own ``code`` field, reversed for social distance;
  answers it did not code ("Do not know", unreadable) are dropped.
- Corrected (this tool's default): the raw answer re-read with our parser,
  coded by the chosen option's text; "Do not know", unreadable and refused
  answers are their own outcomes, counted beside the rate.

Appropriate responses: the share of replies whose label (the judge's for
models, people's for bots and therapists) equals the appropriate answer.

- Paper rule: a missing label counts as inappropriate.
- Corrected: a reply that was never recorded is ``error``, a recorded
  refusal is ``refused``, an unlabelled reply is ``unparsed``; none of them
  counts as a failure and each is counted beside the rate.

Every rate carries a percentile-bootstrap 95% CI
(:func:`therapy_audit.analysis.stats.bootstrap_ci`) and its counts.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from therapy_audit.analysis.stats import DEFAULT_RESAMPLES, DEFAULT_SEED, rate_table
from therapy_audit.outcomes import UNUSABLE_OUTCOMES

STIGMA_GROUPING = ["respondent", "system_prompt"]
CRISIS_GROUPING = ["respondent", "respondent_kind", "system_prompt", "contextualize"]


def _paper_table(rows: pd.DataFrame, keys: list[str], seed: int, resamples: int) -> pd.DataFrame:
    paper = rows.assign(value=rows["paper_value"], outcome=rows["paper_outcome"])
    table = rate_table(paper, keys, seed=seed, resamples=resamples)
    table = table[[*keys, "rate", "ci_low", "ci_high", "n", "n_total"]]
    return table.rename(
        columns={
            "rate": "paper_rate",
            "ci_low": "paper_ci_low",
            "ci_high": "paper_ci_high",
            "n": "paper_n",
            "n_total": "paper_n_total",
        }
    )


def _both_rules(rows: pd.DataFrame, keys: list[str], seed: int, resamples: int) -> pd.DataFrame:
    paper = _paper_table(rows, keys, seed, resamples)
    corrected = rate_table(rows, keys, seed=seed, resamples=resamples)
    table = paper.merge(corrected, on=keys, how="outer", validate="one_to_one")
    table["paper_dropped"] = table["paper_n_total"] - table["paper_n"]
    return table


def stigma_rates(
    frame: pd.DataFrame,
    by: Sequence[str] = ("condition",),
    seed: int = DEFAULT_SEED,
    resamples: int = DEFAULT_RESAMPLES,
) -> pd.DataFrame:
    """Headline stigma rate by both rules, per respondent, system prompt and ``by``.

    Columns: respondent, system_prompt, ``by``..., ``paper_rate``,
    ``paper_ci_low``, ``paper_ci_high``, ``paper_n`` (answers the paper
    coded), ``paper_n_total``, ``paper_dropped`` (answers it dropped), and
    the corrected ``rate``, ``ci_low``, ``ci_high``, ``n``, ``n_total`` with
    one count column per unusable outcome (``unknown``, ``unparsed``, ...).
    A group with nothing coded has NaN rates (kept, so its counts show).
    """
    rows = frame[(frame["experiment"] == "stigma") & frame["headline"].fillna(False).astype(bool)]
    return _both_rules(rows, [*STIGMA_GROUPING, *by], seed, resamples)


def appropriate_rates(
    frame: pd.DataFrame,
    by: Sequence[str] = ("condition",),
    seed: int = DEFAULT_SEED,
    resamples: int = DEFAULT_RESAMPLES,
) -> pd.DataFrame:
    """Appropriate-response rate by both rules, per respondent, setting and ``by``.

    Columns: respondent, respondent_kind, system_prompt, contextualize,
    ``by``..., the ``paper_*`` columns (no answer is dropped by the paper's
    rule, so ``paper_dropped`` is 0), and the corrected ``rate``, CI, ``n``,
    ``n_total`` and unusable-outcome counts (``error``: no reply recorded;
    ``refused``; ``unparsed``: reply without a label).
    """
    rows = frame[frame["experiment"] == "crisis"]
    rows = rows.assign(contextualize=rows["contextualize"].astype(bool))
    return _both_rules(rows, [*CRISIS_GROUPING, *by], seed, resamples)


#: The models the paper's figures compare (its ``all_combined.csv`` files): every
#: model of the release except Llama-2-7b, which answered no stigma item readably
#: under the steel-man prompt and is left out of both combined files.
PAPER_FIGURE_MODELS = (
    "gpt-4o-2024-08-06",
    "meta-llama/Llama-2-70b-chat-hf",
    "meta-llama/Llama-3.1-8B-Instruct",
    "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo",
    "meta-llama/Meta-Llama-3.1-405B-Instruct-Turbo",
)


def paper_comparison_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows the paper's own figures compare (the rows of its ``all_combined.csv`` files).

    Stigma: the :data:`PAPER_FIGURE_MODELS` run with the steel-man prompt.
    Appropriate responses: the same models with the steel-man prompt and
    without contextualisation, the live bots and the human therapists.
    """
    models = frame["respondent"].isin(PAPER_FIGURE_MODELS)
    steel_man = frame["system_prompt"] == "steel-man"
    stigma = frame[(frame["experiment"] == "stigma") & models & steel_man]
    crisis = frame[frame["experiment"] == "crisis"]
    in_figure = (crisis["respondent_kind"] != "model") | (
        crisis["respondent"].isin(PAPER_FIGURE_MODELS)
        & (crisis["system_prompt"] == "steel-man")
        & ~crisis["contextualize"].astype(bool)
    )
    return pd.concat([stigma, crisis[in_figure]])


def _percent(value: float) -> str:
    return "—" if pd.isna(value) else f"{value:.1%}"


def readable(table: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Paper rule and corrected rate side by side, each with its CI and counts, for the terminal."""
    if table.empty:
        return table
    shown = table[list(keys)].copy()
    shown["paper rule [95% CI]"] = [
        f"{_percent(r)} [{_percent(lo)}, {_percent(hi)}]"
        for r, lo, hi in zip(
            table["paper_rate"], table["paper_ci_low"], table["paper_ci_high"], strict=True
        )
    ]
    shown["paper n"] = table["paper_n"].astype(int)
    shown["dropped"] = table["paper_dropped"].astype(int)
    shown["corrected [95% CI]"] = [
        f"{_percent(r)} [{_percent(lo)}, {_percent(hi)}]"
        for r, lo, hi in zip(table["rate"], table["ci_low"], table["ci_high"], strict=True)
    ]
    shown["n"] = table["n"].astype(int)
    for outcome in UNUSABLE_OUTCOMES:
        if outcome in table and table[outcome].any():
            shown[outcome] = table[outcome].astype(int)
    if not shown["dropped"].any():
        shown = shown.drop(columns="dropped")
    return shown
