"""Who decided a crisis run's verdicts, and its rates corrected for the judge's Se and Sp."""

import json
import re

import numpy as np
import pandas as pd
import pytest

from therapy_audit.analysis.correction import COMBINED, JudgeAccuracy, JudgeValidation
from therapy_audit.experiments.crisis.verdict_tables import (
    corrected_rates,
    corrected_text_table,
    decided_lines,
    validation_mismatch,
    who_decided,
)


def verdict(by, outcome, kind="care"):
    answer = None if outcome in ("unjudged", "unparsed") else "yes"
    return {"id": "c", "kind": kind, "answer": answer, "appropriate": "yes", "outcome": outcome,
            "by": by, "check": None}  # fmt: skip


def sample(n, respondent, outcome, verdicts, by=None, safety=None, care=None):
    return {
        "experiment": "crisis",
        "respondent": respondent,
        "system_prompt": "none",
        "sample_id": f"crisis/suicidal-ideation/s{n}",
        "outcome": outcome,
        "value": {"pass": 1.0, "fail": 0.0}.get(outcome, np.nan),
        "score_verdict_by": by or ",".join(sorted({v["by"] for v in verdicts})),
        "score_criteria_verdicts": json.dumps(verdicts) if verdicts else None,
        "score_safety_outcome": safety,
        "score_care_outcome": care,
        "score_escalation_outcome": None,
    }


@pytest.fixture
def frame():
    nobody = verdict("unjudged", "unjudged")
    gpt_met = verdict("openai/gpt-4o", "met")
    rows = [
        sample(1, "bot", "fail", [verdict("pattern-check", "not_met"), nobody]),
        sample(2, "bot", "unjudged", [nobody, nobody]),
        sample(3, "bot", "fail", [], by="empty-reply"),
        sample(4, "gpt", "pass", [gpt_met, gpt_met]),
        sample(5, "gpt", "unparsed", [gpt_met, verdict("openai/gpt-4o", "unparsed")]),
        sample(6, "tiny", "pass", [verdict("local/smollm2", "met")]),
    ]
    return pd.DataFrame(rows)


def test_who_decided_counts_every_criterion_by_its_decider(frame):
    table = who_decided(frame)
    counts = {
        (row.respondent, row.decided_by): row.criteria for row in table.itertuples(index=False)
    }
    assert counts == {
        ("bot", "check (pattern-check)"): 1,
        ("bot", "nobody (unjudged)"): 3,
        ("bot", "empty reply (no criteria asked; fails)"): 1,
        ("gpt", "judge openai/gpt-4o"): 3,
        ("gpt", "judge openai/gpt-4o - unreadable"): 1,
        ("tiny", "judge local/smollm2 (smoke test)"): 1,
    }
    assert table.groupby("respondent")["share"].sum().round(2).eq(1.0).all()


def test_decided_lines_say_how_many_and_by_what(frame):
    lines = dict(line.split(": ", 1) for line in decided_lines(frame))
    assert (
        lines["bot"]
        == "1 of 4 criteria decided (25%): check 1, judge 0, nobody 3; 2 of 3 replies decided"
    )
    assert lines["gpt"] == (
        "3 of 4 criteria decided (75%): check 0, judge 3, nobody 0, unreadable 1; "
        "1 of 2 replies decided"
    )


def accuracy(se, sp):
    return JudgeAccuracy(se, sp, np.full(200, se), np.full(200, sp))


def validation(judge="checks", **accuracies):
    return JudgeValidation(judge, "judge x: kappa", "project-written", 10, {}, accuracies)


def test_corrected_rates_per_kind_and_combined():
    rows = [
        sample(i, "bot", "pass" if i < 6 else "fail", [verdict("pattern-check", "met")],
               care="pass" if i < 3 else "fail", safety="pass")
        for i in range(10)
    ]  # fmt: skip
    frame = pd.DataFrame(rows)
    chance = JudgeAccuracy(0.5, 0.5, np.full(200, 0.5), np.full(200, 0.5))
    table = corrected_rates(
        frame,
        validation(**{COMBINED: accuracy(1.0, 1.0), "care": accuracy(1.0, 0.8), "safety": chance}),
        resamples=300,
    )
    by = table.set_index("rate_of")
    assert by.loc["appropriate", "observed"] == pytest.approx(0.6)
    assert by.loc["appropriate", "corrected"] == pytest.approx(0.6)  # perfect judge: identity
    # caring: observed 30%, a judge passing 20% of unmet criteria -> (0.3 + 0.8 - 1) / 0.8
    assert by.loc["caring", "corrected"] == pytest.approx(0.125)
    assert not by.loc["safe", "correctable"] and np.isnan(by.loc["safe", "corrected"])
    shown = corrected_text_table(table).set_index("rate_of")
    assert shown.loc["safe", "corrected [95% CI]"] == "not correctable"
    assert re.fullmatch(r"1[23]% \[\d+%, \d+%\]", shown.loc["caring", "corrected [95% CI]"])


def test_a_validation_of_another_judge_is_flagged(frame):
    assert "openai/gpt-4o" in validation_mismatch(frame, validation("checks"))
    only_bot = frame[frame["respondent"] == "bot"]
    assert validation_mismatch(only_bot, validation("checks")) is None
