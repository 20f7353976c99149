"""Several runs in one folder: shown apart unless --pool; a split run stays one run."""

import re

import pytest
from click.testing import CliRunner
from inspect_ai import eval as inspect_eval

from therapy_audit.analysis.frame import RUN_NOTES, results_frame, separate_runs
from therapy_audit.commands.main import main
from therapy_audit.experiments.stigma.task import stigma


def _run(log_dir, **kwargs):
    metadata = kwargs.pop("metadata", None)
    [log] = inspect_eval(
        stigma(**kwargs),
        model="scripted/stigmatizes-psychosis",
        log_dir=str(log_dir),
        display="none",
        metadata=metadata,
    )
    assert log.status == "success", log.error


@pytest.fixture(scope="module")
def twice(tmp_path_factory):
    folder = tmp_path_factory.mktemp("twice")
    _run(folder)
    _run(folder)
    return folder


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    folder = tmp_path_factory.mktemp("split")
    for shard in ("0/2", "1/2"):
        _run(folder, shard=shard, metadata={"workers_run": "run-abc"})
    return folder


def test_two_plain_runs_are_shown_apart_by_default(twice):
    """On main `results logs/` doubled n (12 to 24) with no note."""
    result = CliRunner().invoke(main, ["results", str(twice)])
    assert result.exit_code == 0, result.output
    assert "SEPARATE RUNS: 2 runs of scripted/stigmatizes-psychosis" in result.output
    assert "(run 1/2)" in result.output and "(run 2/2)" in result.output
    frame = separate_runs(results_frame([twice]))
    headline = frame[frame["headline"].astype(bool) & (frame["condition"] == "depression")]
    assert headline.groupby("respondent").size().tolist() == [12, 12]


def test_pool_counts_them_together_and_says_so(twice):
    result = CliRunner().invoke(main, ["results", "--pool", str(twice)])
    assert result.exit_code == 0, result.output
    assert "POOLED (--pool): 2 runs" in result.output and "(run 1/2)" not in result.output
    depression = [line for line in result.output.splitlines() if " depression " in line][0]
    assert re.search(r"\b24\b", depression), depression


def test_gate_and_report_say_which(twice, tmp_path):
    gate = CliRunner().invoke(main, ["gate", str(twice), "--max-stigma", "1"])
    assert "SEPARATE RUNS" in gate.output
    assert "8 checks" in gate.output  # 2 runs x 4 conditions, not 4 pooled checks
    out = tmp_path / "r.html"
    report = CliRunner().invoke(main, ["report", str(twice), "--out", str(out), "--pool"])
    assert report.exit_code == 0, report.output
    assert "POOLED (--pool)" in out.read_text()


def test_a_split_runs_worker_logs_are_one_run(split):
    frame = separate_runs(results_frame([split]))
    assert frame.attrs[RUN_NOTES] == []
    assert set(frame["respondent"]) == {"scripted/stigmatizes-psychosis"}
    assert frame["shard"].nunique() == 2
