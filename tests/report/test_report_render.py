"""The report's context and HTML, from real logs of scripted respondents."""

import json
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from therapy_audit.analysis.frame import results_frame
from therapy_audit.report import ReportInputError, build_report, render
from therapy_audit.report.build import _runs, context_from_frame, load_judge_validation
from therapy_audit.report.comparison import difference_ci
from therapy_audit.report.render import FOLD_ROWS
from therapy_audit.stimuli.coverage import coverage_table
from therapy_audit.stimuli.load import packaged_version


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text of the document."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    return tags


@pytest.fixture(scope="module")
def context(report_logs):
    return build_report([*report_logs.all_consistent(), report_logs.conversation])


@pytest.fixture(scope="module")
def html(context):
    return render(context)


def rate(table, **where):
    rows = table
    for key, value in where.items():
        rows = rows[rows[key] == value]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_every_section_is_rendered(html):
    ids = {attrs.get("id") for _, attrs in parse(html).tags}
    for section in ("summary", "stigma", "appropriate", "comparison", "conversation", "coverage"):
        assert section in ids
    assert "How to read this report" in html


def test_report_is_self_contained(html):
    tags = parse(html)
    for tag, attrs in tags.tags:
        assert tag not in ("link", "iframe"), tag
        # One inline script (the reply browser's filters); nothing is fetched.
        assert tag != "script" or "src" not in attrs, attrs
        if "src" in attrs:
            assert attrs["src"].startswith("data:image/png;base64,"), attrs["src"][:40]
        if "href" in attrs:
            assert attrs["href"].startswith("#"), attrs["href"]
    assert "@import" not in html and "url(" not in html
    assert "fetch(" not in html and "XMLHttpRequest" not in html
    assert sum(tag == "script" for tag, _ in tags.tags) == 1
    images = [a["src"] for t, a in tags.tags if t == "img"]
    assert len(images) >= 4  # stigma, appropriate, framing, two comparisons


def test_stigma_rates_follow_the_scripted_behaviour(context, html):
    table = context.tables["stigma_by_condition"]
    psychosis = table[table["respondent"] == "scripted/stigmatizes-psychosis"]
    schizophrenia = psychosis[psychosis["condition"] == "schizophrenia"]
    others = psychosis[psychosis["condition"] != "schizophrenia"]
    assert (schizophrenia["rate"] == 1.0).all() and (others["rate"] == 0.0).all()
    assert (psychosis["n"] > 0).all()
    assert "100% [61%, 100%]" in html
    # The quick profile asks one demographic variant: a one-level table compares nothing,
    # so the report says so instead of printing it (main printed three one-level tables).
    for attribute in ("gender", "race", "education"):
        assert f"stigma_by_{attribute}" not in context.tables
    [note] = [w for w in context.warnings if w.kind == "one_demographic_level"]
    assert "--full" in note.text and "gender" in note.text


def test_position_driven_respondent_is_flagged_not_interpretable(context, html):
    flagged = [w for w in context.warnings if w.kind == "position_bias"]
    assert len(flagged) == 1 and "scripted/always-a" in flagged[0].text
    assert "not interpretable" in flagged[0].text
    assert 'data-warning="position_bias"' in html
    assert "scripted/stigmatizes-psychosis" not in flagged[0].text


def test_worst_stimuli_quote_the_reply_and_the_verdict_from_the_log(context, html):
    quoted = [q for q in context.worst if q["respondent"] == "scripted/long-reply"]
    assert quoted, context.worst
    first = quoted[0]
    assert first["outcome"] == "fail"
    assert first["reply"].startswith("I hear you.")
    assert "by scripted/judge-yes" in first["verdict"]
    assert first["client_message"]  # the client's message, read from the sample
    assert first["judged_part_only"]  # longer than the char limit: the judge saw its start
    assert "I hear you. I hear you." in html
    assert "by scripted/judge-yes" in html


def test_every_rate_table_carries_n_and_the_unusable_counts(context, html):
    unusable = ["unknown", "unjudged", "unparsed", "refused", "error", "context_overflow"]
    for name, table in context.tables.items():
        if "rate" in table.columns and "n_total" in table.columns:
            for column in ("n", "n_total", *unusable):
                assert column in table.columns, (name, column)
            # every sample is either scored (in n) or counted beside the rate
            assert (table["n"] + table[unusable].sum(axis=1) == table["n_total"]).all(), name
    assert html.count("<th>don&#39;t know</th>") >= 5
    assert html.count("<th>unjudged</th>") >= 5
    assert html.count("<th>overflow</th>") >= 5


def test_unjudged_replies_are_counted_beside_the_rate_never_scored(context, html):
    # judge="checks": a criterion no deterministic check proves stays unjudged, and a reply
    # with an unjudged criterion and none failed is neither a pass nor a fail.
    outcomes = context.tables["outcomes"]
    supportive = outcomes[
        (outcomes["experiment"] == "crisis") & (outcomes["respondent"] == "scripted/supportive")
    ]
    assert len(supportive) == 2 and (supportive["unjudged"] > 0).all()
    overall = context.tables["appropriate_overall"]
    for _, row in supportive.iterrows():
        rated = rate(overall, respondent=row["respondent"], system_prompt=row["system_prompt"])
        assert rated["unjudged"] == row["unjudged"]
        assert rated["n"] == row["pass"] + row["fail"]
        assert rated["n_total"] == row["rows"]
    # the judge model decides every criterion: nothing is left unjudged
    assert rate(overall, respondent="scripted/long-reply")["unjudged"] == 0
    assert f'<td class="num attn">{int(supportive["unjudged"].iloc[0])}</td>' in html  # highlighted


def test_prompt_comparison_has_a_difference_and_its_ci(context):
    table = context.tables["prompt_comparison_stigma"]
    pooled = rate(table, respondent="scripted/stigmatizes-psychosis", condition="(all)")
    # The scripted respondent ignores the system prompt: no difference, and a CI around 0.
    assert pooled["difference"] == 0 and pooled["ci_low"] <= 0 <= pooled["ci_high"]
    assert pooled["baseline_n"] > 0 and pooled["prompt_n"] > 0
    appropriate = context.tables["prompt_comparison_appropriate"]
    assert set(appropriate["respondent"]) == {"scripted/supportive"}


def test_unpaired_difference_ci_is_seeded_and_covers_the_difference():
    a = np.array([1.0] * 30 + [0.0] * 70)
    b = np.array([1.0] * 60 + [0.0] * 40)
    difference, low, high = difference_ci(a, b, seed=3, resamples=2000)
    assert difference == pytest.approx(0.3)
    se = np.sqrt(0.3 * 0.7 / 100 + 0.6 * 0.4 / 100)
    assert low == pytest.approx(0.3 - 1.96 * se, abs=0.03)
    assert high == pytest.approx(0.3 + 1.96 * se, abs=0.03)
    assert difference_ci(a, b, seed=3, resamples=2000) == (difference, low, high)
    assert all(np.isnan(difference_ci([], b)))


def test_coverage_marks_every_untestable_feature(context, html):
    coverage = coverage_table()
    assert len(context.tables["coverage"]) == 17
    untestable = int((~coverage["testable_in_text"]).sum())
    assert untestable > 0
    assert html.count('class="untestable"') == untestable


def test_conversation_section_renders_whatever_columns_exist(context, html):
    by_persona = context.tables["conversation_by_persona"]
    assert set(by_persona["persona"]) == {
        "teen-self-harm",
        "stopping-lithium",
        "control-exam-stress",
    }
    assert (by_persona["rate"] == 1.0).all()  # the supportive reply mentions 988
    samples = context.tables["conversation_samples"]
    assert {"score_turns", "score_ended_safely"} <= set(samples.columns)
    assert 'data-table="conversation_samples"' in html


def test_long_tables_are_folded(context, html):
    assert len(context.tables["stigma_by_item"]) > FOLD_ROWS
    folded = re.search(
        r"<details><summary>Show (\d+) rows</summary>\s*<table id=\"table-stigma_by_item\"", html
    )
    assert folded and int(folded.group(1)) == len(context.tables["stigma_by_item"])
    assert not re.search(
        r"<details><summary>[^<]*</summary>\s*<table id=\"table-stigma_by_condition\"", html
    )


def test_summary_names_respondents_judges_versions_and_prompts(context, html):
    assert "scripted/judge-yes" in html and "pattern-check" in html
    assert f"<dt>Stimulus set</dt><dd>{packaged_version()}</dd>" in html  # one version, unmixed
    assert "You are a licensed, experienced psychotherapist" in html  # steel-man prompt text
    assert {"stigma", "crisis", "conversation"} <= set(context.runs["experiment"])
    assert "not given (run" in html  # no judge validation file


def test_no_scored_answer_is_shown_not_zero(report_logs):
    html = render(build_report([report_logs.garbage]))
    assert "no scored answer" in html
    assert html.count('<td class="num attn">0</td>') >= 4  # n = 0 per condition, highlighted


def test_smoke_test_verdicts_are_announced(report_logs):
    frame = results_frame([report_logs.supportive])
    # What a log judged by the embedded model with judge="model" records (with judge="auto"
    # it would leave undecided criteria unjudged instead).
    frame["score_smoke_test"] = True
    frame["score_verdict_by"] = "local/smollm2"
    context = context_from_frame(frame, _runs(frame))
    [warning] = [w for w in context.warnings if w.kind == "smoke_test_judge"]
    assert "smoke test" in render(context).lower()
    assert str(len(frame)) in warning.text


def test_judge_validation_figure_is_shown_and_absent_keys_tolerated(report_logs, tmp_path):
    full = tmp_path / "validation.json"
    full.write_text(json.dumps({"kappa": 0.72, "ci_low": 0.6, "ci_high": 0.84, "n": 120}))
    html = render(build_report([report_logs.supportive], judge_validation=full))
    assert "Cohen&#39;s kappa 0.72 (95% CI 0.60 to 0.84); n = 120 labelled replies" in html
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"n": 40, "other": "ignored"}))
    assert load_judge_validation(partial) == {"n": 40, "source": "partial.json"}
    html = render(build_report([report_logs.supportive], judge_validation=partial))
    assert "n = 40 labelled replies" in html


def test_judge_validation_reads_the_figures_where_validate_judge_nests_them(tmp_path):
    written = tmp_path / "judge.json"
    written.write_text(
        json.dumps(
            {
                "summary": "judge openai/gpt-4o: kappa 0.81 [0.70, 0.90] vs humans on 98 items",
                "judge": "openai/gpt-4o",
                "judge_vs_humans": {"kappa": 0.81, "ci_low": 0.7, "ci_high": 0.9, "n": 98},
                "per_annotator": [],
            }
        )
    )
    found = load_judge_validation(written)
    assert found["kappa"] == 0.81 and found["n"] == 98 and found["judge"] == "openai/gpt-4o"
    assert found["summary"].startswith("judge openai/gpt-4o")


def test_unreadable_judge_validation_names_the_file(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text("{kappa: ")
    with pytest.raises(ReportInputError, match="broken.json"):
        load_judge_validation(bad)
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    with pytest.raises(ReportInputError, match="list.json: expected a JSON object"):
        load_judge_validation(listed)


def test_render_escapes_text_from_logs(context):
    context.worst[0] = {**context.worst[0], "reply": "<script>alert(1)</script>"}
    html = render(context)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_scorecard_comes_first_with_badges_and_the_floor(html):
    """On main the report had no headline: the first section was a list of facts."""
    assert html.index('id="scorecard"') < html.index('id="summary"')
    card = html[
        html.index('id="table-scorecard"') : html.index(
            "</table>", html.index('id="table-scorecard"')
        )
    ]
    assert "scripted/always-a" in card and "not interpretable" in card
    assert "stigma (lower is better)" in card and "not over-escalating" in card


def test_glitches_of_main_are_gone(html):
    assert "(nan)" not in html
    assert "`" not in html.split("<style>")[0] + html.split("</style>")[1]
    assert " 1 verdicts" not in html
    assert "suicidal ideation" in html  # condition names in words


def test_reply_browser_lists_every_reply_with_its_verdicts(context, html):
    crisis_rows = context.tables["appropriate_overall"]["n_total"].sum()
    assert len(context.replies) == crisis_rows
    assert html.count('class="reply-item"') == len(context.replies)
    assert 'data-filter="kind"' in html and "decided by" in html
    decided = [c for r in context.replies for c in r["criteria"] if c["verdict"] != "undecided"]
    assert decided and all(c["by"] != "—" for c in decided)


def test_paper_reference_lines_only_beside_paper_crisis(html):
    """The project's own stimuli are not comparable with the paper's 93.8% / 78.6%."""
    assert "Paper's one-criterion rule," in html
    assert "93.8%" not in html and "78.6%" not in html
    assert "not comparable with the paper's figures" in html


def test_invalid_rates_are_not_drawn_as_solid_bars(report_logs):
    """On main a position-driven respondent's stigma bars looked like valid data."""
    from therapy_audit.analysis import figures as figure_module

    drawn = []
    original = figure_module.rate_bars

    def spy(table, *args, **kwargs):
        drawn.append(table.copy())
        return original(table, *args, **kwargs)

    figure_module.rate_bars = spy
    try:
        build_report([report_logs.always_a, report_logs.psychosis])
    finally:
        figure_module.rate_bars = original
    stigma = drawn[0]
    invalid = stigma[stigma["invalid"]]
    assert set(invalid["respondent"]) == {"scripted/always-a"}
    assert "daily troubles" in set(stigma["condition"])  # names in words


def test_conversation_trajectories_section_or_placeholder(html):
    section = html[html.index('id="trajectories"') :]
    assert "Conversation trajectories" in section[:400]
    assert "placeholder" in section[:800] or "share_failed" in section[:4000]


def test_trajectory_rows_from_first_failing_turns():
    import pandas as pd

    from therapy_audit.report.reader import trajectory_rows

    frame = pd.DataFrame(
        {
            "experiment": ["conversation"] * 4,
            "respondent": ["m"] * 4,
            "system_prompt": ["none"] * 4,
            "value": [0.0, 0.0, 1.0, 1.0],
            "score_turns": [3, 3, 3, 3],
            "score_first_failing_turn": [1, 3, None, None],
        }
    )
    rows = trajectory_rows(frame)
    assert rows["share_failed"].tolist() == [0.25, 0.25, 0.5]
