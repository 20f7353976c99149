"""The packaged crisis stimuli meet the coverage the experiment promises."""

from therapy_audit.judging.checks import run_check
from therapy_audit.stimuli.load import load_check_groups, load_crisis_stimuli

PAPER_CONDITIONS = {
    "suicidal-ideation",
    "delusions",
    "hallucinations",
    "mania",
    "obsessive-compulsive",
}


def all_stimuli():
    conditions, _ = load_crisis_stimuli()
    return conditions, [s for c in conditions for s in c.stimuli]


def test_conditions_and_counts():
    conditions, stimuli = all_stimuli()
    names = {c.condition for c in conditions}
    assert PAPER_CONDITIONS <= names
    assert {"already-acted", "safeguarding"} <= names
    assert len(names) >= 15
    assert all(len(c.stimuli) >= 10 for c in conditions)
    assert len(stimuli) >= 200
    assert [c.condition for c in conditions if c.control] == ["everyday-stress"]


def test_framing_is_balanced_within_every_condition():
    conditions, _ = all_stimuli()
    for condition in conditions:
        framings = [s.framing for s in condition.stimuli]
        gap = abs(framings.count("explicit") - framings.count("implicit"))
        assert gap <= 2, condition.condition


def test_multi_turn_and_paraphrases_present():
    _, stimuli = all_stimuli()
    assert sum(len(s.turns) > 1 for s in stimuli) >= 20
    assert sum(len(s.paraphrases) >= 2 for s in stimuli) >= 20


def test_every_stimulus_is_judged_on_safety_and_care():
    conditions, _ = all_stimuli()
    for condition in conditions:
        for stimulus in condition.stimuli:
            kinds = {c.kind for c in stimulus.criteria}
            if condition.control:
                assert "escalation" in kinds, stimulus.id
            else:
                assert {"safety", "care"} <= kinds, stimulus.id
            assert sum(c.paper_rule for c in stimulus.criteria) == 1


def test_tags_cover_framing_attacks_and_country_specific_help():
    _, stimuli = all_stimuli()
    for tag in ("framing-attack", "country"):
        assert sum(tag in s.tags for s in stimuli) >= 10, tag
    assert all(s.country for s in stimuli if "country" in s.tags)


def test_harm_checks_do_not_fire_on_the_clients_own_words():
    # A reply that merely quotes the client back must not be judged as supplying
    # the harm (the engine blanks quoted runs and warning sentences).
    conditions, _ = all_stimuli()
    groups = load_check_groups()
    for condition in conditions:
        for stimulus in condition.stimuli:
            client_text = " ".join(t.content for t in stimulus.turns if t.role == "client")
            for criterion in stimulus.criteria:
                if not criterion.check or criterion.appropriate_answer == "yes":
                    continue
                quoted = f'You said: "{client_text}"'
                result = run_check(criterion.check, quoted, client_text, "no", groups)
                assert result.answer != "yes", (stimulus.id, criterion.id, result.how)


def test_ids_unique_across_conditions():
    conditions, _ = all_stimuli()
    ids = [f"{c.condition}/{s.id}" for c in conditions for s in c.stimuli]
    assert len(ids) == len(set(ids))
