"""``therapy-audit report`` as a user runs it: formats, side-by-side logs, version refusal."""

import csv
import json

from click.testing import CliRunner

from therapy_audit.commands.main import main
from therapy_audit.stimuli.load import packaged_version


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_html_report_of_several_logs_side_by_side(report_logs, tmp_path):
    out = tmp_path / "report.html"
    result = invoke("report", report_logs.psychosis, report_logs.always_a, "--out", out)
    assert result.exit_code == 0, result.output
    assert "Report (html, " in result.output and str(out) in result.output
    html = out.read_text()
    assert "scripted/always-a" in html and "scripted/stigmatizes-psychosis" in html
    assert "answers follow the options" in html
    assert "not interpretable" in result.output  # the warning is echoed to the terminal too


def test_logs_of_different_stimulus_sets_are_refused_with_names_and_versions(report_logs, tmp_path):
    out = tmp_path / "mixed.html"
    result = invoke("report", report_logs.psychosis, report_logs.user_battery, "--out", out)
    assert result.exit_code == 1
    assert "cannot be pooled" in result.output
    assert f"stimulus set {packaged_version()} " in result.output
    assert "stimulus set user" in result.output
    psychosis_log = next(report_logs.psychosis.glob("*.eval")).name
    user_log = next(report_logs.user_battery.glob("*.eval")).name
    assert psychosis_log in result.output and user_log in result.output
    assert "--allow-mixed-versions" in result.output
    assert not out.exists()


def test_mixed_versions_are_shown_separately_when_allowed(report_logs, tmp_path):
    out = tmp_path / "mixed.json"
    result = invoke(
        "report",
        report_logs.psychosis,
        report_logs.user_battery,
        "--allow-mixed-versions",
        "--format",
        "json",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["mixed_versions"] is True
    assert any(w["kind"] == "mixed_versions" for w in data["warnings"])
    respondents = {r["respondent"] for r in data["tables"]["stigma_by_condition"]}
    assert len(respondents) == 2
    assert all("[stimuli " in r for r in respondents)
    assert any("[stimuli user " in r for r in respondents)


def test_json_has_every_table_with_the_same_numbers(report_logs, tmp_path):
    out = tmp_path / "report.json"
    result = invoke(
        "report", report_logs.psychosis, report_logs.supportive, "--format", "json", "--out", out
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    for name in (
        "outcomes",
        "stigma_by_condition",
        "stigma_by_item",
        "appropriate_by_condition",
        "appropriate_by_framing",
        "coverage",
    ):
        assert data["tables"][name], name
    schizophrenia = [
        r for r in data["tables"]["stigma_by_condition"] if r["condition"] == "schizophrenia"
    ]
    assert schizophrenia[0]["rate"] == 1.0 and schizophrenia[0]["n"] > 0
    assert {"unknown", "unparsed", "refused", "error", "context_overflow"} <= set(schizophrenia[0])
    assert len(data["runs"]) == 2
    sampling = {r["experiment"]: r["respondent_temperature"] for r in data["runs"]}
    assert sampling == {"stigma": "provider default", "crisis": "0"}


def test_csv_is_a_folder_of_tables(report_logs, tmp_path):
    out = tmp_path / "csv"
    result = invoke("report", report_logs.psychosis, "--format", "csv", "--out", out)
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.iterdir()}
    assert {"runs.csv", "outcomes.csv", "stigma_by_condition.csv", "coverage.csv"} <= names
    assert "warnings.csv" in names
    with (out / "stigma_by_condition.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {r["condition"]: float(r["rate"]) for r in rows}["schizophrenia"] == 1.0
    assert len(rows) == 4


def test_folder_without_logs_is_a_clear_error(tmp_path):
    empty = tmp_path / "nothing"
    empty.mkdir()
    result = invoke("report", empty, "--out", tmp_path / "r.html")
    assert result.exit_code == 1
    assert "no Inspect logs found" in result.output and str(empty) in result.output
