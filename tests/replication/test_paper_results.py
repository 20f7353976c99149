"""The paper's raw results as a tidy frame, and its headline numbers by both coding rules."""

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from paper_release import (
    BOT_FOLDER,
    CRISIS_FOLDER,
    JUDGE,
    crisis_record,
    make_release,
    write_jsonl,
)

from therapy_audit.replication import headline as h
from therapy_audit.replication.paper_files import PaperFormatError
from therapy_audit.replication.results import CORE_COLUMNS, paper_results

RESAMPLES = 200
#: ../shared/reference, as tests/conftest.py finds it (module scope cannot use reference_dir).
REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"


@pytest.fixture(scope="module")
def frame():
    if not REFERENCE.is_dir():
        pytest.skip(f"reference data not found at {REFERENCE} (only CI and developers have it)")
    return paper_results(REFERENCE / "llms-as-therapists")


def one(table, **keys):
    rows = table
    for key, value in keys.items():
        rows = rows[rows[key] == value]
    assert len(rows) == 1, rows
    return rows.iloc[0]


# ------------------------------------------------------------------ the real release
def test_every_run_is_imported_with_settings_from_fields_and_folders(frame):
    assert list(frame.columns[: len(CORE_COLUMNS)]) == CORE_COLUMNS
    stigma = frame[frame["experiment"] == "stigma"]
    crisis = frame[frame["experiment"] == "crisis"]
    assert len(stigma) == 6 * 2 * 1008
    assert stigma.groupby(["respondent", "system_prompt"]).size().eq(1008).all()
    models = crisis[crisis["respondent_kind"] == "model"]
    assert len(models) == 6 * 3 * 350
    assert set(models["judge"]) == {"gpt-4o-2024-08-06"}  # from the field name
    therapists = crisis[crisis["respondent_kind"] == "human"]
    assert len(therapists) == 80 and therapists["participant_id"].nunique() == 6
    bots = crisis[crisis["respondent_kind"] == "bot"]
    assert sorted(bots["respondent"].unique()) == [
        "Noni-7cups",
        "Serena",
        "Therapist-CharacterAI",
        "Therapist-Fictional-GPT",
        "pi",
    ]
    assert set(bots["judge"]) == {"human"}
    # Transcript context from the record's message_number, not from folder names.
    assert (models.loc[models["message_number"] == 0, "context"] == "none").all()
    assert (models.loc[models["message_number"] > 0, "context"] == "transcripts").all()


def test_reruns_and_exports_are_listed_not_double_counted(frame):
    notes = "\n".join(frame.attrs["import_notes"])
    assert "2025-01-01.jsonl: earlier run of the same setting" in notes
    assert "2025-01-19.csv: export of 2025-01-19.jsonl" in notes
    assert "classification_validation.csv: human labels for judge validation" in notes


def test_pinned_appropriate_rates_paper_rule(frame):
    table = h.appropriate_rates(frame, by=(), resamples=RESAMPLES)
    steel = table[(table["system_prompt"] == "steel-man") & ~table["contextualize"]]
    gpt4o = one(steel, respondent="gpt-4o-2024-08-06")
    assert gpt4o["paper_rate"] == pytest.approx(275 / 350)
    assert one(steel, respondent="meta-llama/Meta-Llama-3.1-405B-Instruct-Turbo")[
        "paper_rate"
    ] == pytest.approx(246 / 350)
    llama2 = one(steel, respondent="meta-llama/Llama-2-70b-chat-hf")
    assert llama2["paper_rate"] == pytest.approx(92 / 350)
    # Corrected: the 173 replies never recorded are not failures.
    assert (llama2["rate"], llama2["n"], llama2["error"]) == (pytest.approx(92 / 177), 177, 173)
    therapists = one(table, respondent="human_therapist")
    assert therapists["paper_rate"] == pytest.approx(75 / 80)
    assert therapists["paper_ci_low"] < 75 / 80 < therapists["paper_ci_high"]


def test_pinned_stigma_rates(frame):
    table = h.stigma_rates(frame, resamples=RESAMPLES)
    cell = one(
        table, respondent="gpt-4o-2024-08-06", system_prompt="steel-man", condition="schizophrenia"
    )
    assert (cell["paper_rate"], cell["paper_n"], cell["paper_dropped"]) == (
        pytest.approx(20 / 46),
        46,
        62,
    )
    assert (cell["rate"], cell["n"], cell["unknown"]) == (pytest.approx(20 / 46), 46, 62)
    overall = h.stigma_rates(frame, by=(), resamples=RESAMPLES)
    llama2 = one(overall, respondent="meta-llama/Llama-2-70b-chat-hf", system_prompt="steel-man")
    # Our parser reads answers the paper's dropped ("The answer is (A): Not at all").
    assert (llama2["paper_n"], llama2["n"], llama2["unknown"], llama2["unparsed"]) == (
        99,
        106,
        4,
        322,
    )


def test_matches_the_papers_own_combined_files(frame, reference_dir):
    """The paper-rule numbers equal what the paper's all_combined.csv files hold."""
    results = reference_dir / "llms-as-therapists" / "results"
    compared = h.paper_comparison_rows(frame)
    names = {
        "gpt-4o": "gpt-4o-2024-08-06",
        "llama2-70b": "meta-llama/Llama-2-70b-chat-hf",
        "llama3.1-8b": "meta-llama/Llama-3.1-8B-Instruct",
        "llama3.1-70b": "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo",
        "llama3.1-405b": "meta-llama/Meta-Llama-3.1-405B-Instruct-Turbo",
        "human_therapist": "human_therapist",
        "Pi": "pi",
        "Serena": "Serena",
        "7cups\nNoni": "Noni-7cups",
        "CharacterAI\nTherapist": "Therapist-CharacterAI",
        "GPT\nTherapist": "Therapist-Fictional-GPT",
    }
    theirs = pd.read_csv(results / "interjections" / "all_combined.csv")
    expected = theirs.groupby(theirs["participant_type"].map(names))["correct_response"].agg(
        ["sum", "count"]
    )
    ours = h.appropriate_rates(compared, by=(), resamples=RESAMPLES).set_index("respondent")
    assert sorted(ours.index) == sorted(expected.index)
    for respondent, row in expected.iterrows():
        assert ours.loc[respondent, "paper_n"] == row["count"]
        assert ours.loc[respondent, "paper_rate"] == pytest.approx(row["sum"] / row["count"])
    theirs = pd.read_csv(results / "stigma" / "all_combined.csv")
    conditions = {c: c.replace(" ", "-") for c in theirs["condition"].unique()}
    expected = theirs.groupby([theirs["model"].map(names), theirs["condition"].map(conditions)])[
        "code"
    ].agg(["mean", "count"])
    ours = h.stigma_rates(compared, resamples=RESAMPLES).set_index(["respondent", "condition"])
    assert len(ours) == len(expected) == 20
    for key, row in expected.iterrows():
        assert ours.loc[key, "paper_n"] == row["count"]
        assert ours.loc[key, "paper_rate"] == pytest.approx(row["mean"])


def test_bot_placeholders_are_their_own_outcomes(frame):
    bots = frame[frame["respondent_kind"] == "bot"]
    assert one(bots, respondent="Serena", outcome="refused")["reply"] == "None (refused)"
    missing = bots[bots["outcome"] == "error"]
    assert sorted(missing["respondent"]) == ["Noni-7cups", "Serena", "Therapist-CharacterAI"]
    # The paper's rule took their labels at face value.
    assert set(missing["paper_outcome"]) == {"pass"}


def test_all_runs_keeps_reruns(reference_dir):
    every = paper_results(reference_dir / "llms-as-therapists", runs="all")
    rows = every[
        (every["respondent"] == "meta-llama/Llama-3.1-8B-Instruct")
        & (every["experiment"] == "stigma")
        & (every["system_prompt"] == "none")
    ]
    assert sorted(rows["run_date"].unique()) == ["2025-01-01", "2025-01-02"]
    assert len(rows) == 2 * 1008
    with pytest.raises(ValueError, match="runs must be"):
        paper_results(reference_dir / "llms-as-therapists", runs="first")


# ------------------------------------------------------------------ synthetic release
def test_both_rules_on_a_synthetic_release(tmp_path):
    frame = paper_results(make_release(tmp_path))
    stigma = one(h.stigma_rates(frame, by=(), resamples=RESAMPLES), respondent="test-model")
    assert (stigma["paper_rate"], stigma["paper_n"], stigma["paper_dropped"]) == (
        pytest.approx(2 / 3),
        3,
        2,
    )
    assert (stigma["rate"], stigma["n"], stigma["unknown"], stigma["unparsed"]) == (
        pytest.approx(2 / 3),
        3,
        1,
        1,
    )
    crisis = h.appropriate_rates(frame, by=(), resamples=RESAMPLES)
    model = one(crisis, respondent="test-model")
    assert (model["paper_rate"], model["paper_n"]) == (0.5, 4)
    assert (model["rate"], model["n"], model["error"]) == (pytest.approx(2 / 3), 3, 1)
    bot = one(crisis, respondent="Test-Bot")
    assert (bot["paper_rate"], bot["rate"], bot["n"], bot["error"]) == (0.5, 0.0, 1, 1)
    rows = frame[frame["respondent"] == "test-model"]
    assert set(rows.loc[rows["experiment"] == "stigma", "system_prompt"]) == {"steel-man"}
    assert set(rows.loc[rows["experiment"] == "crisis", "system_prompt"]) == {"none"}
    assert math.isnan(rows.loc[rows["outcome"] == "unknown", "value"].iloc[0])


def test_result_file_errors_name_file_line_and_field(tmp_path):
    root = make_release(tmp_path)
    crisis_file = root / "results" / "interjections" / CRISIS_FOLDER / "2025-01-02.jsonl"
    bad = crisis_record(9, "ok", "no")
    bad["condition"] = "insomnia"
    bad["key"] = "109_insomnia_bridge_0"
    write_jsonl(crisis_file, [crisis_record(0, "ok", "no"), bad])
    with pytest.raises(PaperFormatError, match=r"2025-01-02\.jsonl:2: field 'condition': unknown"):
        paper_results(root)
    no_judge = crisis_record(0, "ok", "no")
    del no_judge[JUDGE]
    write_jsonl(crisis_file, [no_judge])
    with pytest.raises(PaperFormatError, match=r":1: expected one <judge>_classification field"):
        paper_results(root)
    bad_label = crisis_record(0, "ok", "maybe")
    write_jsonl(crisis_file, [bad_label])
    with pytest.raises(PaperFormatError, match=rf"field '{JUDGE}': expected yes or no"):
        paper_results(root)
    write_jsonl(crisis_file, [crisis_record(0, "ok", "no")])
    bot_file = root / "results" / "interjections" / BOT_FOLDER / "2025-01-01.csv"
    bot_file.write_text("id,condition\nbridge,mania\n")
    with pytest.raises(PaperFormatError, match=r"2025-01-01\.csv: missing column\(s\)"):
        paper_results(root)
    bot_file.write_text("")
    with pytest.raises(PaperFormatError, match=r"2025-01-01\.csv: empty file"):
        paper_results(root)


def test_stigma_result_errors(tmp_path):
    root = make_release(tmp_path)
    folder = root / "results" / "stigma" / "model=test-model&steel-man-prompt=True"
    records = [json.loads(line) for line in (folder / "2025-01-01.jsonl").read_text().splitlines()]
    records[1]["code"] = "sometimes"
    write_jsonl(folder / "2025-01-01.jsonl", records)
    with pytest.raises(PaperFormatError, match=r"2025-01-01\.jsonl:2: field 'code'"):
        paper_results(root)
    (folder / "2025-01-01.jsonl").write_text("")
    with pytest.raises(PaperFormatError, match="empty file"):
        paper_results(root)
    (folder / "2025-01-01.jsonl").unlink()
    with pytest.raises(PaperFormatError, match="no results file"):
        paper_results(root)
    (root / "results" / "stigma" / "misc").mkdir()
    with pytest.raises(PaperFormatError, match="misc: folder name does not encode a run"):
        paper_results(root)
