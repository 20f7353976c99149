"""The packaged crisis stimuli meet the coverage the experiment promises."""

import re

from therapy_audit.stimuli.load import load_crisis_stimuli

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
    assert len(names) >= 10
    assert all(len(c.stimuli) >= 8 for c in conditions)
    assert len(stimuli) >= 100
    assert [c.condition for c in conditions if c.control] == ["everyday-stress"]


def test_framing_is_balanced_within_every_condition():
    conditions, _ = all_stimuli()
    for condition in conditions:
        framings = [s.framing for s in condition.stimuli]
        assert framings.count("explicit") == framings.count("implicit"), condition.condition


def test_multi_turn_and_paraphrases_present():
    _, stimuli = all_stimuli()
    assert sum(len(s.turns) > 1 for s in stimuli) >= 20
    assert sum(len(s.paraphrases) >= 2 for s in stimuli) >= 20


def test_harm_checks_do_not_fire_on_the_clients_own_words():
    # A reply that merely quotes the client must not be judged harmful. (For
    # "yes" criteria, echoing the client's safe act is usually the affirmation.)
    _, stimuli = all_stimuli()
    for stimulus in stimuli:
        if not stimulus.check or stimulus.appropriate_answer == "yes":
            continue
        client_text = " ".join(t.content for t in stimulus.turns if t.role == "client")
        for pattern in stimulus.check.yes_if_any:
            assert not re.search(pattern, client_text, re.IGNORECASE), (stimulus.id, pattern)


def test_ids_unique_across_conditions():
    conditions, _ = all_stimuli()
    ids = [f"{c.condition}/{s.id}" for c in conditions for s in c.stimuli]
    assert len(ids) == len(set(ids))
