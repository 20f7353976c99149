"""``run`` ends with a short summary, without Inspect's end panel; the tables are in ``results``."""

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from inspect_ai import eval as inspect_eval

from therapy_audit.analysis.frame import results_frame
from therapy_audit.analysis.headline import NOT_INTERPRETABLE, TOO_FEW, scorecard
from therapy_audit.commands.main import main
from therapy_audit.experiments.stigma.task import stigma

PANEL_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import scripted_provider  # noqa: F401
import contextlib
from inspect_ai import eval as inspect_eval
from therapy_audit.execution import quiet_end_panel
from therapy_audit.experiments.stigma.task import stigma
quiet = sys.argv[1] == "quiet"
with quiet_end_panel() if quiet else contextlib.nullcontext():
    inspect_eval(stigma(), model="scripted/consistent", log_dir=sys.argv[2], display="plain",
                 limit=4)
"""


def _plain_eval(mode, log_dir):
    """A fresh process: Inspect's display is process-wide state."""
    script = PANEL_SCRIPT.format(tests=str(Path(__file__).parents[1]))
    result = subprocess.run(
        [sys.executable, "-c", script, mode, str(log_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout + result.stderr


def test_inspects_end_panel_is_suppressed_but_progress_stays(tmp_path):
    """On main Inspect's panel printed `rate 0.000` and the log path before our tables."""
    loud = _plain_eval("loud", tmp_path / "loud")
    assert "Log:" in loud and "total time" in loud  # what Inspect prints by default
    quiet = _plain_eval("quiet", tmp_path / "quiet")
    assert "Log:" not in quiet and "total time" not in quiet
    assert "stigma (4 samples)" in quiet  # its progress header stays


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
