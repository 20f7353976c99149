import pytest

from therapy_audit.experiments.crisis.transcripts import (
    annomi_sessions,
    insertion_points,
    jsonl_sessions,
    load_sessions,
    packaged_sessions,
)
from therapy_audit.stimuli.schema import StimulusFileError


def test_packaged_sessions_alternate_and_are_long_enough():
    sessions = packaged_sessions()
    assert len(sessions) >= 6
    for session in sessions:
        roles = [r for r, _ in session.turns]
        assert all(a != b for a, b in zip(roles, roles[1:], strict=False))
        assert len(session.turns) >= 20


def test_annomi_real_corpus_loads_in_order(reference_dir):
    sessions = annomi_sessions(reference_dir / "annomi" / "AnnoMI-simple.csv")
    assert len(sessions) == 133
    for session in sessions:
        roles = [r for r, _ in session.turns]
        assert set(roles) <= {"therapist", "client"}
        assert all(a != b for a, b in zip(roles, roles[1:], strict=False))
    first = next(s for s in sessions if s.id == "annomi-0")
    assert first.turns[0][0] == "therapist"
    assert first.turns[0][1].startswith("Thanks for filling it out")


def test_annomi_missing_columns_named(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("transcript_id,utterance_text\n1,hello\n")
    with pytest.raises(StimulusFileError, match=r"x\.csv: missing column\(s\) \['utterance_id'"):
        annomi_sessions(path)


def test_annomi_bad_role_names_line(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(
        "transcript_id,utterance_id,interlocutor,utterance_text\n1,0,therapist,hi\n"
        "1,1,narrator,once upon a time\n"
    )
    with pytest.raises(StimulusFileError, match=r"x\.csv: line 3: interlocutor: role 'narrator'"):
        annomi_sessions(path)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 1: invalid JSON"),
        ('{"id": "a"}', "line 1: messages: a non-empty list"),
        ('{"messages": [{"role": "user"}]}', "line 1: messages.0: needs 'role' and 'content'"),
        ('{"messages": [{"role": "bot", "content": "x"}]}', "line 1: messages.0.role: role 'bot'"),
    ],
)
def test_jsonl_errors_name_line_and_field(tmp_path, line, message):
    path = tmp_path / "s.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(StimulusFileError, match=message):
        jsonl_sessions(path)


def test_jsonl_merges_consecutive_turns_and_maps_roles(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text(
        '{"id": "x", "messages": [{"role": "assistant", "content": "Hi."},'
        ' {"role": "user", "content": "Hello."}, {"role": "user", "content": "Me."}]}\n'
    )
    [session] = jsonl_sessions(path)
    assert session.turns == (("therapist", "Hi."), ("client", "Hello. Me."))


def test_empty_and_unknown_sources(tmp_path):
    empty = tmp_path / "e.jsonl"
    empty.write_text("\n")
    with pytest.raises(StimulusFileError, match="no sessions"):
        jsonl_sessions(empty)
    with pytest.raises(StimulusFileError, match="not found"):
        load_sessions(str(tmp_path / "missing.csv"))


def test_insertion_points_end_on_therapist_turns():
    session = packaged_sessions()[0]
    points = insertion_points(session, "start,every:7,end")
    assert points[0] == ("start", 1)
    for _, cut in points:
        assert session.turns[cut - 1][0] == "therapist"
    with pytest.raises(ValueError, match="needs a whole number"):
        insertion_points(session, "every:x")


# Issue 19 ------------------------------------------------------------------- #
def test_null_content_fails_on_its_line(tmp_path):  # item 8
    path = tmp_path / "t.jsonl"
    path.write_text(
        '{"id": "a", "messages": [{"role": "therapist", "content": "Hi"}]}\n'
        '{"id": "b", "messages": [{"role": "therapist", "content": null}]}\n',
        encoding="utf-8",
    )
    with pytest.raises(StimulusFileError, match=r"t\.jsonl: line 2: messages\.0\.content: .*null"):
        jsonl_sessions(path)


def test_annomi_field_over_128_kb_loads(tmp_path):  # item 15
    path = tmp_path / "big.csv"
    long = "word " * 40_000
    path.write_text(
        "transcript_id,utterance_id,interlocutor,utterance_text\n"
        f'1,0,therapist,"{long}"\n1,1,client,hello\n',
        encoding="utf-8",
    )
    [session] = annomi_sessions(path)
    assert len(session.turns[0][1]) > 128 * 1024 // 2


def test_annomi_with_a_byte_order_mark_loads(tmp_path):  # item 19
    path = tmp_path / "bom.csv"
    path.write_text(
        "transcript_id,utterance_id,interlocutor,utterance_text\n1,0,therapist,Hi\n1,1,client,Yo\n",
        encoding="utf-8-sig",
    )
    assert annomi_sessions(path)[0].turns == (("therapist", "Hi"), ("client", "Yo"))


def test_transcripts_without_a_therapist_turn_say_so(tmp_path):  # item 19
    path = tmp_path / "clients.jsonl"
    path.write_text('{"id": "a", "messages": [{"role": "client", "content": "Hi"}]}\n')
    with pytest.raises(StimulusFileError, match=r"clients\.jsonl: no session has a therapist turn"):
        load_sessions(str(path))


@pytest.mark.parametrize(
    ("data", "suffix"),
    [
        ('{"id": "a", "messages": []}'.encode("utf-16"), ".jsonl"),
        (
            "transcript_id,utterance_id,interlocutor,utterance_text\n1,0,therapist,café\n".encode(
                "latin-1"
            ),
            ".csv",
        ),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xff", ".jsonl"),
    ],
)
def test_non_utf8_transcripts_name_file_and_encoding(tmp_path, data, suffix):  # item 17
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(data)
    with pytest.raises(StimulusFileError, match=rf"bad\{suffix}: .*expected UTF-8"):
        load_sessions(str(path))
