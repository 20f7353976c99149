"""``paper_stigma`` and ``paper_crisis``: our solvers and scorers on the paper's exact prompts."""

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.log import read_eval_log
from paper_release import make_release

from therapy_audit.analysis.frame import results_frame
from therapy_audit.replication.tasks import paper_crisis, paper_stigma
from therapy_audit.report import build_report, render

WORK = "paper-stigma/schizophrenia/man-white-8th-grade/work-closely"
VIOLENT = "paper-stigma/schizophrenia/man-white-8th-grade/violence-toward-others"


def paper(reference_dir):
    return str(reference_dir / "llms-as-therapists")


def two_items(reference_dir, tmp_path, respondent):
    """``paper_stigma`` on WORK and VIOLENT, answered by a scripted respondent."""
    [log] = inspect_eval(
        paper_stigma(paper(reference_dir)),
        model=f"scripted/{respondent}",
        sample_id=[WORK, VIOLENT],
        log_dir=str(tmp_path),
        display="none",
    )
    assert log.status == "success"
    return log


def test_paper_stigma_on_two_samples_codes_the_same_letter_by_option_text(reference_dir, tmp_path):
    log = two_items(reference_dir, tmp_path, "always-a")
    frame = results_frame([log.location]).set_index("sample_id")
    assert len(frame) == 2
    # "A" is "Definitely unwilling" for one item and "Not at all likely" for the other.
    assert frame.loc[WORK, "outcome"] == "stigmatizing"
    assert frame.loc[WORK, "score_option_text"] == "Definitely unwilling"
    assert frame.loc[VIOLENT, "outcome"] == "not_stigmatizing"
    assert frame.loc[VIOLENT, "score_option_text"] == "Not at all likely"
    assert set(frame["experiment"]) == {"stigma"}
    assert set(frame["stimulus_set_version"]) == {"moore2025-release"}
    sample = read_eval_log(log.location).samples[0]
    assert sample.input.startswith("Vignette:\n")  # the paper's prompt, verbatim
    assert "- (A): " in sample.input


def test_paper_stigma_keeps_unparsed_answers_out_of_the_average(reference_dir, tmp_path):
    """Inspect's default reducer reads "unparsed" as 0 (and logs a warning per sample)."""
    log = two_items(reference_dir, tmp_path, "garbage")
    assert set(results_frame([log.location])["outcome"]) == {"unparsed"}
    [reduction] = read_eval_log(log.location).reductions
    assert [s.value for s in reduction.samples] == ["unparsed", "unparsed"]


def test_paper_stigma_rejects_bad_arguments(reference_dir, tmp_path):
    with pytest.raises(ValueError, match="answer_mode must be one of"):
        paper_stigma(paper(reference_dir), answer_mode="guess")
    with pytest.raises(ValueError, match="no data/ folder"):
        paper_stigma(str(tmp_path))


def test_paper_crisis_judges_replies_against_the_papers_criteria(reference_dir, tmp_path):
    [log] = inspect_eval(
        paper_crisis(paper(reference_dir)),
        model="scripted/supportive",
        model_roles={"grader": "scripted/judge-no"},
        sample_id=[
            "paper-crisis/suicidal-ideation/pesticides",
            "paper-crisis/delusions/dead",
        ],
        log_dir=str(tmp_path),
        display="none",
    )
    assert log.status == "success"
    frame = results_frame([log.location]).set_index("sample_id")
    # The judge says "no": appropriate where the appropriate answer is no.
    assert frame.loc["paper-crisis/suicidal-ideation/pesticides", "outcome"] == "pass"
    assert frame.loc["paper-crisis/delusions/dead", "outcome"] == "fail"
    samples = {s.id: s for s in read_eval_log(log.location).samples}
    pesticides = samples["paper-crisis/suicidal-ideation/pesticides"]
    assert [m.role for m in pesticides.messages[:5]] == [
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert "pesticides" in pesticides.messages[4].text
    # Only here, beside paper_crisis's paper-rule rate, does the report give the paper's figures.
    html = render(build_report([log.location]))
    line = html.split("Paper's one-criterion rule,")[1].split("</p>")[0]
    assert "human therapists 93.8%" in line and "gpt-4o 78.6%" in line


def test_paper_crisis_on_a_synthetic_release_and_bad_arguments(tmp_path):
    root = make_release(tmp_path / "release")
    task = paper_crisis(str(root))
    assert [s.id for s in task.dataset] == ["paper-crisis/suicidal-ideation/bridge"]
    assert task.dataset[0].metadata["appropriate_answer"] == "no"
    with pytest.raises(ValueError, match="the paper's stimuli have none"):
        paper_crisis(str(root), judge="checks")
    with pytest.raises(ValueError, match="char_limit"):
        paper_crisis(str(root), char_limit=0)
