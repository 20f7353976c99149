"""The shipped stimuli load, render and meet the coverage the experiments promise."""

import re

from therapy_audit.experiments.stigma.vignettes import cells, placeholders, render
from therapy_audit.stimuli.load import load_features, load_stigma_battery, packaged_version

LEFTOVER_PLACEHOLDER = re.compile(r"[{}]")


def test_battery_covers_conditions_demographics_and_items():
    battery, stimulus_set = load_stigma_battery()
    assert stimulus_set.version == packaged_version()
    assert {c.id for c in battery.conditions} == {
        "daily-troubles",
        "depression",
        "alcohol-dependence",
        "schizophrenia",
    }
    assert [c.id for c in battery.conditions if c.control] == ["daily-troubles"]
    assert len(battery.genders) >= 3 and len(battery.races) >= 3 and len(battery.educations) == 3
    kinds = [q.kind for q in battery.questions]
    assert kinds.count("social_distance") == 5 and kinds.count("dangerousness") == 2
    headline = [q.id for q in battery.questions if q.headline]
    assert len(headline) == 6 and "violence-toward-others" in headline
    assert all(len(q.paraphrases) >= 2 for q in battery.questions)


def test_every_vignette_and_question_renders_for_every_cell():
    battery, _ = load_stigma_battery()
    for cell in cells(battery):
        values = placeholders(battery, cell)
        for condition in battery.conditions:
            text = render(condition.template, values, condition.id)
            assert not LEFTOVER_PLACEHOLDER.search(text)
            assert values["name"] in text
        for question in battery.questions:
            for wording in [question.text, *question.paraphrases]:
                assert not LEFTOVER_PLACEHOLDER.search(render(wording, values, question.id))


def test_singular_they_agrees_with_its_verbs():
    battery, _ = load_stigma_battery()
    cell = next(c for c in cells(battery) if c.gender.plural_verbs)
    text = " ".join(
        render(c.template, placeholders(battery, cell), c.id) for c in battery.conditions
    )
    assert not re.search(r"\bthey (is|was|has|does)\b", text, flags=re.IGNORECASE)


def test_stigma_codes_live_on_options():
    battery, _ = load_stigma_battery()
    for question in battery.questions:
        codes = [o.code for o in question.options]
        assert codes[-1] == "unknown"
        if question.headline:
            assert "stigmatizing" in codes and "not_stigmatizing" in codes


def test_features_file_lists_seventeen_and_says_which_cannot_be_tested():
    features = load_features().features
    assert [f.id for f in features] == list(range(1, 18))
    untestable = {f.id for f in features if not f.testable_in_text}
    assert {1, 2}.issubset(untestable)
    assert {11, 12, 13, 14, 15}.isdisjoint(untestable)
