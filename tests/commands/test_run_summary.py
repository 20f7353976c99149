"""``run`` ends with a short summary, without Inspect's end panel; the tables are in ``results``."""

from click.testing import CliRunner
from inspect_ai import eval as inspect_eval

from therapy_audit.analysis.frame import results_frame
from therapy_audit.analysis.headline import NOT_INTERPRETABLE, TOO_FEW, scorecard
from therapy_audit.commands.main import main
from therapy_audit.execution import quiet_end_panel
from therapy_audit.experiments.stigma.task import stigma


def _plain_eval(log_dir):
    inspect_eval(
        stigma(), model="scripted/consistent", log_dir=str(log_dir), display="plain", limit=4
    )


def test_inspects_end_panel_is_suppressed_but_progress_stays(tmp_path, capfd):
    """On main Inspect's panel printed `rate 0.000` and the log path before our tables."""
    _plain_eval(tmp_path / "loud")
    loud = "".join(capfd.readouterr())
    assert "Log:" in loud and "total time" in loud  # what Inspect prints by default
    with quiet_end_panel():
        _plain_eval(tmp_path / "quiet")
    quiet = "".join(capfd.readouterr())
    assert "Log:" not in quiet and "total time" not in quiet
    assert "stigma (4 samples)" in loud


def test_run_ends_with_a_short_summary_and_the_log_path_once(tmp_path):
    result = CliRunner().invoke(
        main,
        ["run", "stigma", "--model", "scripted/always-a", "--log-dir", str(tmp_path), "--no-cache"],
    )
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    summary = [line for line in lines if not line.startswith("Inspect log")]
    assert len(summary) <= 15, result.output
    assert "Position bias" not in result.output  # tables moved to `results`
    assert f"({NOT_INTERPRETABLE})" in result.output  # always "A": answers by position
    assert "Details: therapy-audit results" in result.output
    [log] = [line for line in lines if line.startswith("Inspect log")]
    path = log.split(": ", 1)[1]
    assert result.output.count(path) == 1
    assert not any(line.startswith(" " * 20) for line in lines)


def test_results_explains_its_columns_in_a_legend(tmp_path):
    inspect_eval(stigma(), model="scripted/consistent", log_dir=str(tmp_path), display="none")
    result = CliRunner().invoke(main, ["results", str(tmp_path)])
    legend = result.output.split("Legend", 1)[1]
    for column in ("clusters", "ci_method", "same_option", "same_letter", "too few to read"):
        assert column in legend


def test_scorecard_statuses(tmp_path):
    inspect_eval(
        stigma(stimulus_limit=2), model="scripted/consistent", log_dir=str(tmp_path), display="none"
    )
    card = scorecard(results_frame([tmp_path]))
    [row] = card[card["metric"] == "stigma"].to_dict("records")
    assert row["status"] == TOO_FEW and row["n"] < 10
