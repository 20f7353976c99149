"""Importers of the paper's stigma battery and client stimuli, and their error messages."""

import json

import pytest
from paper_release import LIKELY, VIOLENT, WILLING, WORK, stigma_record, write_jsonl

from therapy_audit.replication.crisis_stimuli import load_paper_stimuli
from therapy_audit.replication.paper_files import (
    PaperFormatError,
    folder_settings,
    parse_turns,
    read_csv,
)
from therapy_audit.replication.stigma_battery import (
    check_prompts_cover_battery,
    load_paper_battery_parts,
    load_paper_items,
)


def paper(reference_dir):
    return reference_dir / "llms-as-therapists"


def release_with(tmp_path, records):
    write_jsonl(tmp_path / "data" / "prompts.jsonl", records)
    (tmp_path / "results").mkdir(exist_ok=True)
    return tmp_path


# ------------------------------------------------------------------ on the real release
def test_the_paper_battery_is_72_vignettes_by_14_questions(reference_dir):
    items = load_paper_items(paper(reference_dir))
    assert len(items) == 1008
    assert len({i.sample_id for i in items}) == 1008
    assert check_prompts_cover_battery(paper(reference_dir)) == (72, 14, 1008)
    headline = [i for i in items if i.headline]
    assert len(headline) == 72 * 6
    assert {i.condition for i in items} == {
        "daily-troubles",
        "depression",
        "alcohol-dependence",
        "schizophrenia",
    }


def test_swapped_file_names_are_recognised_by_content(reference_dir):
    parts = load_paper_battery_parts(paper(reference_dir))
    assert len(parts["vignettes"]) == 72  # from questions.jsonl
    assert len(parts["questions"]) == 14  # from vignettes.jsonl
    assert parts["vignettes"][0].path.name == "questions.jsonl"


def test_paper_options_get_our_codes_by_their_text(reference_dir):
    items = load_paper_items(paper(reference_dir))
    work = next(i for i in items if i.question == "work-closely")
    violent = next(i for i in items if i.question == "violence-toward-others")
    # Same positions, opposite directions: coded by what the option says.
    assert [o["code"] for o in work.options[:2]] == ["stigmatizing"] * 2
    assert [o["code"] for o in violent.options[:2]] == ["not_stigmatizing"] * 2
    assert violent.options[3] == {
        "text": "Very likely",
        "code": "stigmatizing",
        "scale_index": 0,
        "letter": "D",
    }
    assert work.options[-1]["code"] == "unknown"


def test_the_paper_client_stimuli(reference_dir):
    stimuli = load_paper_stimuli(paper(reference_dir))
    assert len(stimuli) == 10
    by_id = {s.id: s for s in stimuli}
    assert by_id["pesticides"].multi_turn and len(by_id["pesticides"].turns) == 5
    assert "pesticides" in by_id["pesticides"].turns[-1]
    assert by_id["dead"].appropriate_answer == "yes"
    assert by_id["bridge"].condition == "suicidal-ideation"
    # One run judged "god" with an earlier criterion: kept as a variant, majority wins.
    assert by_id["god"].appropriate_answer == "yes"
    assert by_id["god"].files == 17 and by_id["god"].variants[0][1:] == ("no", 1)


# ------------------------------------------------------------------ synthetic files
def test_option_order_does_not_change_codes(tmp_path):
    reversed_options = [*WILLING[::-1], "Do not know"]
    root = release_with(tmp_path, [stigma_record("depression", WORK, reversed_options)])
    [item] = load_paper_items(root)
    assert item.options[0]["text"] == "Definitely willing"
    assert item.options[0]["code"] == "not_stigmatizing"
    assert item.options[3]["code"] == "stigmatizing"
    assert item.options[0]["scale_index"] == 3


def test_unknown_condition_names_file_line_and_field(tmp_path):
    records = [
        stigma_record("depression", WORK, [*WILLING, "Do not know"]),
        stigma_record("bipolar disorder", WORK, [*WILLING, "Do not know"]),
    ]
    root = release_with(tmp_path, records)
    with pytest.raises(PaperFormatError, match=r"prompts\.jsonl:2: field 'condition': unknown"):
        load_paper_items(root)


def test_unknown_question_and_option_are_errors(tmp_path):
    root = release_with(
        tmp_path, [stigma_record("depression", "How tall is the person?", [*LIKELY])]
    )
    with pytest.raises(PaperFormatError, match=r":1: field 'question_only': cannot match"):
        load_paper_items(root)
    root = release_with(
        tmp_path, [stigma_record("depression", VIOLENT, [*LIKELY, "Rather not say"])]
    )
    with pytest.raises(PaperFormatError, match=r"field 'options': option 'Rather not say'"):
        load_paper_items(root)


def test_missing_field_empty_file_and_bad_json(tmp_path):
    record = stigma_record("depression", WORK, [*WILLING, "Do not know"])
    del record["prompt"]
    root = release_with(tmp_path, [record])
    with pytest.raises(
        PaperFormatError, match=r"prompts\.jsonl:1: missing field\(s\) \['prompt'\]"
    ):
        load_paper_items(root)
    (root / "data" / "prompts.jsonl").write_text("")
    with pytest.raises(PaperFormatError, match="empty file"):
        load_paper_items(root)
    good = stigma_record("depression", WORK, [*WILLING, "Do not know"])
    (root / "data" / "prompts.jsonl").write_text(json.dumps(good) + "\n{not json\n")
    with pytest.raises(PaperFormatError, match=r"prompts\.jsonl:2: not valid JSON"):
        load_paper_items(root)


def test_duplicate_items_are_an_error(tmp_path):
    record = stigma_record("depression", WORK, [*WILLING, "Do not know"])
    root = release_with(tmp_path, [record, record])
    with pytest.raises(PaperFormatError, match=r":2: duplicate item .* \(first on line 1\)"):
        load_paper_items(root)


def test_not_a_release_folder(tmp_path):
    with pytest.raises(PaperFormatError, match="no data/ folder"):
        load_paper_items(tmp_path)


def test_folder_settings_and_csv_errors(tmp_path):
    assert folder_settings("contextualize=True&model=a__b&steel-man-prompt=False") == {
        "contextualize": "True",
        "model": "a__b",
        "steel-man-prompt": "False",
    }
    with pytest.raises(PaperFormatError, match="does not encode a run"):
        folder_settings("results-2025")
    path = tmp_path / "bots.csv"
    path.write_text("id,condition\nx,mania\n")
    with pytest.raises(
        PaperFormatError, match=r"bots\.csv: missing column\(s\) \['model_response'\]"
    ):
        read_csv(path, ("id", "model_response"))
    path.write_text("id,condition\n")
    with pytest.raises(PaperFormatError, match="no rows below the header"):
        read_csv(path, ("id",))
    path.write_text("")
    with pytest.raises(PaperFormatError, match="empty file"):
        read_csv(path)


def test_turns_from_lists_literals_and_the_bots_hand_typed_lists():
    assert parse_turns(["a", "b", "c"], "x") == ["a", "b", "c"]
    assert parse_turns("""['I hurt', "It's hard", 'Where?']""", "x") == [
        "I hurt",
        "It's hard",
        "Where?",
    ]
    hand_typed = (
        "['I want to go.', 'It sounds like you're low.',  'Nice day.', 'Yes it's nice.', 'Where?']"
    )
    assert parse_turns(hand_typed, "x") == [
        "I want to go.",
        "It sounds like you're low.",
        "Nice day.",
        "Yes it's nice.",
        "Where?",
    ]
    assert parse_turns("One message.", "x") == ["One message."]
    with pytest.raises(PaperFormatError, match="f.csv:3"):
        parse_turns("[broken", "f.csv:3")


def test_crisis_stimulus_errors(tmp_path):
    from paper_release import CRISIS_FOLDER, crisis_record

    root = release_with(tmp_path, [stigma_record("depression", WORK, [*WILLING, "Do not know"])])
    path = root / "results" / "interjections" / CRISIS_FOLDER / "2025-01-02.jsonl"
    write_jsonl(path, [crisis_record(0, "ok", "no")])
    [stimulus] = load_paper_stimuli(root)
    assert (stimulus.id, stimulus.condition, stimulus.files) == ("bridge", "suicidal-ideation", 1)
    changed = crisis_record(1, "ok", "no")
    changed["interjection"] = "Something else entirely."
    write_jsonl(path, [crisis_record(0, "ok", "no"), changed])
    with pytest.raises(PaperFormatError, match=r":2: stimulus 'bridge' has a different"):
        load_paper_stimuli(root)
    two_turns = crisis_record(0, "ok", "no")
    two_turns["interjection"] = ["Hello.", "Hi, how are you?"]
    write_jsonl(path, [two_turns])
    with pytest.raises(PaperFormatError, match=r":1: field 'interjection': 2 turns"):
        load_paper_stimuli(root)
    bad_key = crisis_record(0, "ok", "no")
    bad_key["key"] = "bridge"
    write_jsonl(path, [bad_key])
    with pytest.raises(PaperFormatError, match=r":1: field 'key': expected <transcript>"):
        load_paper_stimuli(root)
    wrong_answer = crisis_record(0, "ok", "no")
    wrong_answer["verification_correct"] = "sometimes"
    write_jsonl(path, [wrong_answer])
    with pytest.raises(PaperFormatError, match=r"field 'verification_correct': expected yes or no"):
        load_paper_stimuli(root)
    path.unlink()
    with pytest.raises(PaperFormatError, match=r"no results files"):
        load_paper_stimuli(root)
