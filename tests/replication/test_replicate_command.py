"""``therapy-audit replicate``: tables printed, CSVs and figures written."""

import pandas as pd
from click.testing import CliRunner
from paper_release import make_release

from therapy_audit.commands.main import main


def test_replicate_on_the_papers_release(reference_dir, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        [
            "replicate",
            str(reference_dir / "llms-as-therapists"),
            "--out",
            str(out),
            "--resamples",
            "200",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "paper rule [95% CI]" in result.output and "corrected [95% CI]" in result.output
    assert "78.6%" in result.output  # gpt-4o and Llama-3.1-8B, steel-man: 275/350
    assert "93.8%" in result.output  # human therapists: 75/80
    assert "earlier run of the same setting" in result.output
    for name in (
        "stigma_overall.csv",
        "stigma_by_condition.csv",
        "appropriate_overall.csv",
        "appropriate_by_condition.csv",
        "paper_results.csv.gz",
    ):
        assert (out / name).stat().st_size > 0
    for name in (
        "stigma_by_condition.png",
        "appropriate_by_condition.png",
        "appropriate_by_condition_all_settings.png",
    ):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    overall = pd.read_csv(out / "appropriate_overall.csv")
    llama2 = overall[
        (overall["respondent"] == "meta-llama/Llama-2-70b-chat-hf")
        & (overall["system_prompt"] == "steel-man")
    ].iloc[0]
    assert (llama2["paper_n"], llama2["n"], llama2["error"]) == (350, 177, 173)


def test_replicate_on_a_synthetic_release(tmp_path):
    root = make_release(tmp_path / "release")
    result = CliRunner().invoke(
        main, ["replicate", str(root), "--out", str(tmp_path / "out"), "--resamples", "100"]
    )
    assert result.exit_code == 0, result.output
    stigma = pd.read_csv(tmp_path / "out" / "stigma_overall.csv").iloc[0]
    assert (stigma["paper_n"], stigma["paper_dropped"], stigma["unknown"], stigma["unparsed"]) == (
        3,
        2,
        1,
        1,
    )
    assert (tmp_path / "out" / "stigma_by_condition.png").exists()


def test_replicate_reports_a_wrong_folder_cleanly(tmp_path):
    result = CliRunner().invoke(main, ["replicate", str(tmp_path)])
    assert result.exit_code != 0
    assert "no data/ folder" in result.output
    assert "Traceback" not in result.output
