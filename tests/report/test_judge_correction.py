"""results, report and gate: who decided the verdicts; rates corrected with a gold validation."""

import json
import re

import pytest
from click.testing import CliRunner

from therapy_audit.commands.main import main
from therapy_audit.judging.gold import load_gold
from therapy_audit.judging.gold_validation import stratified_replies, validate_on_items


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def checks_validation(tmp_path_factory):
    """The checks validated on a stratified quarter of the gold replies (a small, real file)."""
    items = stratified_replies(load_gold(), 250, seed=1)
    report = validate_on_items(items, "checks", "packaged gold replies", resamples=300)
    path = tmp_path_factory.mktemp("validation") / "checks.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    return path, report


def test_results_say_who_decided_and_show_corrected_rates(report_logs, checks_validation):
    path, report = checks_validation
    result = invoke("results", report_logs.supportive, "--judge-validation", path)
    assert result.exit_code == 0, result.output
    text = result.output
    assert "Who decided" in text
    line = re.search(r"scripted/supportive: (\d+) of (\d+) criteria decided .*: check (\d+), "
                     r"judge 0, nobody (\d+); \d+ of \d+ replies decided", text)  # fmt: skip
    assert line, text
    decided, asked, check, nobody = map(int, line.groups())
    assert decided == check and check + nobody == asked
    assert f"Judge validation: {report['summary']}" in text
    assert "labels: project-written (not a clinical validation)" in text
    # The combined rate is corrected with the combined verdict's Se/Sp, or said not to be
    # correctable when the validation cannot tell a pass from a fail.
    combined = report["combined"] if "combined" in report else None
    assert re.search(r"appropriate\s+\S+\s+\d+\s+(not correctable|\d+% \[\d+%, \d+%\])", text), (
        combined,
        text,
    )


def test_results_refuse_a_validation_file_without_se_and_sp(report_logs, tmp_path):
    paper = tmp_path / "paper.json"
    paper.write_text(json.dumps({"judge_vs_humans": {"kappa": 0.9}}))
    result = invoke("results", report_logs.supportive, "--judge-validation", paper)
    assert result.exit_code == 1 and "no per-kind sensitivity/specificity" in result.output


def test_report_facts_line_corrected_table_and_who_decided(
    report_logs, checks_validation, tmp_path
):
    path, report = checks_validation
    out = tmp_path / "report.html"
    result = invoke(
        "report", report_logs.supportive, report_logs.long_reply, "--judge-validation", path,
        "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    html = out.read_text()
    facts = re.search(r"<dt>Judge validation</dt><dd>(.*?)</dd>", html, re.S).group(1)
    assert re.search(
        r"judge checks: kappa \d\.\d\d \[\d\.\d\d, \d\.\d\d\] on 250 gold replies of this "
        r"stimulus set .*labels: project-written",
        facts,
    ), facts
    assert "Rates corrected for the judge" in html and "not correctable" in html
    assert "Who decided" in html and "check (pattern-check)" in html
    # long_reply was judged by scripted/judge-yes, not by the validated checks.
    assert "the judge validation measured checks" in html
    exported = tmp_path / "report.json"
    invoke("report", report_logs.supportive, "--judge-validation", path, "--format", "json",
           "--out", exported)  # fmt: skip
    data = json.loads(exported.read_text())
    assert {row["rate_of"] for row in data["tables"]["appropriate_corrected"]} >= {
        "appropriate",
        "caring",
    }
    assert data["notes"]["decided"][0].startswith("scripted/supportive: ")


def test_gate_says_how_many_verdicts_were_decided_and_by_what(report_logs, tmp_path):
    junit = tmp_path / "gate.xml"
    result = invoke("gate", report_logs.supportive, "--min-appropriate", "0.5", "--junit", junit)
    assert re.search(
        r"^decided  scripted/supportive: \d+ of \d+ criteria decided .*check \d+, judge 0, "
        r"nobody \d+",
        result.output,
        re.M,
    ), result.output
    assert 'name="decided" value="scripted/supportive: ' in junit.read_text()
