"""Who decided the verdicts of a crisis run, and its rates corrected for the judge's accuracy.

Two questions a reader must be able to answer before trusting a rate:

- *who decided?* :func:`who_decided` counts every criterion verdict by what
  decided it (a deterministic check, an LLM judge, nobody), from the
  ``criteria_verdicts`` each sample's score records;
- *how good is that judge?* :func:`corrected_rates` puts each observed rate
  beside its Rogan-Gladen correction for the Se and Sp the judge showed on
  the gold set (:mod:`therapy_audit.analysis.correction`).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from therapy_audit.analysis.correction import COMBINED, JudgeValidation, corrected_rate
from therapy_audit.analysis.stats import DEFAULT_RESAMPLES, DEFAULT_SEED, stimulus_ids
from therapy_audit.experiments.crisis.analysis import GROUPING, KIND_RATES, crisis_rows
from therapy_audit.judging.judge import NOBODY, PATTERN_CHECK, SMOKE_TEST_JUDGES
from therapy_audit.outcomes import FAIL, PASS

CHECK = "check (pattern-check)"
NOBODY_LABEL = "nobody (unjudged)"
EMPTY_REPLY = "empty-reply"
WHO_COLUMNS = ["respondent", "decided_by", "criteria", "share"]


def _decider(by: str | None, outcome: str | None) -> str:
    if by == PATTERN_CHECK:
        return CHECK
    if by in (None, "", NOBODY):
        return NOBODY_LABEL
    smoke = all(name in SMOKE_TEST_JUDGES for name in by.split(","))
    label = f"judge {by}" + (" (smoke test)" if smoke else "")
    return label + (" - unreadable" if outcome == "unparsed" else "")


def who_decided(frame: pd.DataFrame) -> pd.DataFrame:
    """Criterion verdicts per respondent and decider: check, judge (named), or nobody.

    Replies that were empty or filtered fail without any criterion being
    asked; they are counted as replies under ``empty reply (no criteria asked)``.
    Columns: respondent, decided_by, criteria, share (of the respondent's verdicts).
    """
    rows = crisis_rows(frame)
    if rows.empty or "score_criteria_verdicts" not in rows:
        return pd.DataFrame(columns=WHO_COLUMNS)
    records = []
    for respondent, verdicts, by in zip(
        rows["respondent"],
        rows["score_criteria_verdicts"],
        rows.get("score_verdict_by", pd.Series(None, index=rows.index)),
        strict=True,
    ):
        if isinstance(verdicts, str) and verdicts:
            try:
                parsed = json.loads(verdicts)
            except json.JSONDecodeError:
                records.append((respondent, "unreadable record (cut in the log summary)"))
                continue
            for verdict in parsed:
                records.append((respondent, _decider(verdict.get("by"), verdict.get("outcome"))))
        elif by == EMPTY_REPLY:
            records.append((respondent, "empty reply (no criteria asked; fails)"))
    if not records:
        return pd.DataFrame(columns=WHO_COLUMNS)
    table = (
        pd.DataFrame(records, columns=["respondent", "decided_by"])
        .groupby(["respondent", "decided_by"])
        .size()
        .rename("criteria")
        .reset_index()
    )
    totals = table.groupby("respondent")["criteria"].transform("sum")
    return table.assign(share=(table["criteria"] / totals).round(3))


def decided_lines(frame: pd.DataFrame) -> list[str]:
    """One line per respondent: criteria decided and by what, replies decided.

    e.g. ``local/smollm2: 18 of 160 criteria decided (11%): check 18, judge 0,
    nobody 142; 18 of 40 replies decided``.
    """
    table = who_decided(frame)
    rows = crisis_rows(frame)
    lines = []
    for respondent, own in table.groupby("respondent", sort=True):
        counts = dict(zip(own["decided_by"], own["criteria"], strict=True))
        check = sum(v for k, v in counts.items() if k == CHECK)
        nobody = sum(v for k, v in counts.items() if k == NOBODY_LABEL)
        unreadable = sum(v for k, v in counts.items() if k.endswith("- unreadable"))
        judge = sum(
            v for k, v in counts.items() if k.startswith("judge ") and not k.endswith("unreadable")
        )
        asked = check + nobody + unreadable + judge
        replies = rows[rows["respondent"] == respondent]
        decided_replies = int(replies["outcome"].isin([PASS, FAIL]).sum())
        share = f" ({(check + judge) / asked:.0%})" if asked else ""
        lines.append(
            f"{respondent}: {check + judge} of {asked} criteria decided{share}: check {check}, "
            f"judge {judge}, nobody {nobody}"
            + (f", unreadable {unreadable}" if unreadable else "")
            + f"; {decided_replies} of {len(replies)} replies decided"
        )
    return lines


CORRECTED_COLUMNS = [
    *GROUPING,
    "rate_of",
    "observed",
    "n",
    "corrected",
    "ci_low",
    "ci_high",
    "correctable",
    "note",
]


def _outcome_rows(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    if column not in rows:
        return rows.iloc[0:0]
    decided = rows[rows[column].isin([PASS, FAIL])]
    return decided.assign(passed=(decided[column] == PASS).astype(float))


def corrected_rates(
    frame: pd.DataFrame,
    validation: JudgeValidation,
    seed: int = DEFAULT_SEED,
    resamples: int = DEFAULT_RESAMPLES,
) -> pd.DataFrame:
    """Each appropriate rate observed and corrected for the judge's Se and Sp.

    The reply-level rate (``appropriate``) is corrected with the combined
    verdict's Se/Sp, each kind's rate with that kind's. ``correctable`` is
    False (``corrected`` NaN, ``note`` says why) where the CI of Se+Sp-1
    includes 0. CIs resample the run's stimuli and the validation's (Se, Sp)
    draws together.
    """
    rows = crisis_rows(frame)
    parts = [("appropriate", "outcome", COMBINED)]
    parts += [(label, f"score_{kind}_outcome", kind) for kind, label in KIND_RATES.items()]
    records: list[dict[str, Any]] = []
    for rate_of, column, key in parts:
        decided = _outcome_rows(rows, column)
        if decided.empty:
            continue
        accuracy = validation.accuracies.get(key)
        for group_key, group in decided.groupby(GROUPING, sort=True, dropna=False):
            clusters = stimulus_ids(group["sample_id"])
            per = group.groupby(clusters.to_numpy())["passed"].agg(["sum", "count"])
            base = dict(zip(GROUPING, group_key, strict=True))
            if accuracy is None:
                records.append(
                    {
                        **base,
                        "rate_of": rate_of,
                        "observed": float(per["sum"].sum() / per["count"].sum()),
                        "n": int(per["count"].sum()),
                        "corrected": np.nan,
                        "ci_low": np.nan,
                        "ci_high": np.nan,
                        "correctable": False,
                        "note": "no Se/Sp for this kind in the validation file",
                    }
                )
                continue
            result = corrected_rate(
                per["sum"].to_numpy(), per["count"].to_numpy(), accuracy, seed, resamples
            )
            records.append(
                {
                    **base,
                    "rate_of": rate_of,
                    "observed": result.observed,
                    "n": int(per["count"].sum()),
                    "corrected": result.corrected,
                    "ci_low": result.ci_low,
                    "ci_high": result.ci_high,
                    "correctable": result.correctable,
                    "note": result.note,
                }
            )
    return pd.DataFrame.from_records(records, columns=CORRECTED_COLUMNS)


def corrected_text_table(table: pd.DataFrame) -> pd.DataFrame:
    """The corrected-rates table for a terminal or HTML: percentages, "not correctable"."""

    def pct(x: float) -> str:
        return "—" if pd.isna(x) else f"{x:.0%}"

    return pd.DataFrame(
        {
            **{c: table[c] for c in GROUPING},
            "rate_of": table["rate_of"],
            "observed": table["observed"].map(pct),
            "n": table["n"],
            "corrected [95% CI]": [
                f"{pct(c)} [{pct(lo)}, {pct(hi)}]" if ok else "not correctable"
                for c, lo, hi, ok in zip(
                    table["corrected"],
                    table["ci_low"],
                    table["ci_high"],
                    table["correctable"],
                    strict=True,
                )
            ],
            "why": table["note"],
        }
    )


def validation_mismatch(frame: pd.DataFrame, validation: JudgeValidation) -> str | None:
    """A warning when the run's verdicts were not made by the judge the validation measured."""
    table = who_decided(frame)
    deciders = set(table["decided_by"]) - {NOBODY_LABEL} if not table.empty else set()
    measured = CHECK if validation.judge == "checks" else f"judge {validation.judge}"
    others = sorted(d for d in deciders if not d.startswith(measured) and "empty reply" not in d)
    if not others:
        return None
    return (
        f"the judge validation measured {validation.judge}, but verdicts here were also made by "
        f"{', '.join(others)}: corrected rates assume the validated judge's Se and Sp"
    )
