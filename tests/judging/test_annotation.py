"""Items for people to label: drawn from real logs, stratified, blinded; labels saved and joined."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from collections import Counter

import pytest

from annotation_logs import conversation_log, crisis_log
from therapy_audit.judging import annotation as lib
from therapy_audit.judging.annotation_server import AnnotationServer, Session
from therapy_audit.judging.validation import read_labels


@pytest.fixture(scope="module")
def crisis_logs(tmp_path_factory):
    return crisis_log(tmp_path_factory.mktemp("annotation-crisis"))


@pytest.fixture(scope="module")
def candidates(crisis_logs):
    return lib.candidate_items([crisis_logs])


def test_crisis_items_carry_the_conversation_and_every_criterion(candidates):
    conditions = Counter(i.condition for i in candidates)
    assert set(conditions) == {"suicidal-ideation", "mania", "delusions"}
    for item in candidates:
        assert item.stimulus.startswith(f"crisis/{item.condition}/")
        assert item.messages and item.messages[-1][0] == "client"
        assert item.reply.startswith("That sounds really hard.")
        assert item.criteria and {c.kind for c in item.criteria} <= {"safety", "care", "escalation"}
        # The judge said yes to every criterion; it is kept for the join, not shown.
        assert {v["answer"] for v in item.verdicts.values()} == {"yes"}
        assert set(item.verdicts) == {c.id for c in item.criteria}


def test_the_page_sees_no_respondent_no_verdict_and_no_source(candidates, crisis_logs):
    shown = json.dumps([i.public() for i in candidates])
    for secret in ("scripted", "supportive", "judge", "appropriate", str(crisis_logs), "crisis/"):
        assert secret not in shown, secret
    assert all(len(i.item) == 12 and i.item.isalnum() for i in candidates)


def test_draw_is_stratified_seeded_and_shuffled(candidates):
    drawn = lib.draw_items(candidates, 7, seed=3)
    counts = Counter(i.condition for i in drawn)
    assert sorted(counts.values()) == [2, 2, 3]  # as equal as 7 over 3 conditions can be
    assert [i.item for i in lib.draw_items(list(reversed(candidates)), 7, seed=3)] == [
        i.item for i in drawn
    ]
    assert [i.item for i in lib.draw_items(candidates, 7, seed=4)] != [i.item for i in drawn]
    everything = lib.draw_items(candidates, 1000, seed=3)
    assert len(everything) == len(candidates)
    # Shuffled: not grouped by condition in the order shown.
    pairs = zip(everything, everything[1:], strict=False)
    runs = sum(1 for a, b in pairs if a.condition != b.condition)
    assert runs > 3


def test_a_conflicting_draw_is_refused(candidates, tmp_path):
    out = tmp_path / "labels.csv"
    first = lib.draw_record(lib.draw_items(candidates, 4, 1), candidates, 4, 1)
    lib.check_or_record_draw(out, first)
    recorded = json.loads(lib.draw_path(out).read_text())
    assert recorded["seed"] == 1 and recorded["items_drawn"] == 4
    assert sum(c["drawn"] for c in recorded["conditions"].values()) == 4
    lib.check_or_record_draw(out, first)  # the same draw again: fine
    other = lib.draw_record(lib.draw_items(candidates, 4, 2), candidates, 4, 2)
    with pytest.raises(lib.AnnotationError, match="drawn with seed 1"):
        lib.check_or_record_draw(out, other)


def test_saves_resume_keep_other_annotators_and_validate(candidates, tmp_path):
    out = tmp_path / "labels.csv"
    drawn = lib.draw_items(candidates, 3, seed=5)
    alice = Session(drawn, out, "alice")
    first = drawn[0]
    all_no = {c.id: "no" for c in first.criteria}
    with pytest.raises(lib.AnnotationError, match="label every criterion"):
        alice.label({"item": first.item, "labels": dict(list(all_no.items())[:1])})
    with pytest.raises(lib.AnnotationError, match="yes or no"):
        alice.label({"item": first.item, "labels": {k: "maybe" for k in all_no}})
    state = alice.label({"item": first.item, "labels": all_no, "note": " hedged,\nhard "})
    assert state["saved"] == [True, False, False] and state["resume"] == 1
    bob = Session(drawn, out, "bob")
    bob.label({"item": first.item, "labels": {k: "yes" for k in all_no}})
    # alice changes her mind: her rows are replaced, bob's kept.
    alice.label({"item": first.item, "labels": {k: "yes" for k in all_no}})
    rows = lib.read_rows(out)
    assert len(rows) == 2 * len(first.criteria)
    assert {r["note"] for r in rows if r["annotator"] == "alice"} == {""}
    # A restart resumes where alice stopped.
    again = Session(drawn, out, "alice")
    assert again.state()["resume"] == 1 and again.item(0)["labels"] == {k: "yes" for k in all_no}
    labels = read_labels(out)
    assert list(labels.human.columns) == ["alice", "bob"]
    assert len(labels.items) == len(first.criteria)
    assert {i.id.split("/")[0] for i in labels.items} == {first.item}


def test_judge_verdicts_are_joined_by_item(candidates, tmp_path):
    out = tmp_path / "labels.csv"
    drawn = lib.draw_items(candidates, 2, seed=5)
    alice = Session(drawn, out, "alice")
    alice.label({"item": drawn[0].item, "labels": {c.id: "no" for c in drawn[0].criteria}})
    joined = tmp_path / "joined.csv"
    summary = lib.write_with_judge(out, candidates, joined)
    assert summary == {
        "judge": "judge:scripted/judge-yes",
        "judge_rows": len(drawn[0].criteria),
        "people_rows": len(drawn[0].criteria),
    }
    labels = read_labels(joined)
    assert list(labels.stored_judges) == ["scripted/judge-yes"]
    assert set(labels.stored_judges["scripted/judge-yes"]) == {"yes"}
    assert "judge:" not in lib.read_rows(out)[0]["annotator"]  # labels.csv is not changed


def test_conversation_turns_are_items_with_the_criteria_in_force(tmp_path):
    items = lib.candidate_items([conversation_log(tmp_path)])
    by_turn = {i.turn: i for i in items}
    assert sorted(by_turn) == [1, 2, 3]
    assert [c.id for c in by_turn[1].criteria] == ["unsafe-content"]
    assert [c.id for c in by_turn[2].criteria] == ["unsafe-content", "caffeine-advice"]
    assert [role for role, _ in by_turn[3].messages] == ["client", "reply"] * 2 + ["client"]
    assert by_turn[1].reply.startswith("SAFE") and by_turn[3].reply.startswith("UNSAFE")
    assert by_turn[3].verdicts["unsafe-content"]["answer"] == "yes"
    assert {i.stimulus for i in items} == {"conversation/night-shift"}
    assert len({i.item for i in items}) == 3


def test_no_reply_to_label_is_a_clear_error(tmp_path):
    with pytest.raises(lib.AnnotationError, match="no Inspect log"):
        lib.candidate_items([tmp_path])


@pytest.fixture
def server(candidates, tmp_path):
    session = Session(lib.draw_items(candidates, 2, seed=5), tmp_path / "labels.csv", "alice")
    running = AnnotationServer(session)
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running
    running.shutdown()
    running.server_close()


def _request(server, method, path, body=None, headers=None):
    connection = http.client.HTTPConnection(*server.server_address, timeout=30)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    return response.status, response.read()


def test_server_serves_the_page_and_refuses_foreign_hosts_and_forms(server):
    status, page = _request(server, "GET", "/")
    assert status == 200 and b"Label replies" in page
    assert b"http" not in page.replace(b"http-equiv", b"")  # nothing fetched from elsewhere
    status, body = _request(server, "GET", "/api/state")
    assert status == 200 and json.loads(body)["total"] == 2
    status, _ = _request(server, "GET", "/api/state", headers={"Host": "evil.example:80"})
    assert status == 403
    item = server.session.items[0]
    form = urllib.parse.urlencode({"item": item.item}).encode()
    status, _ = _request(
        server,
        "POST",
        "/api/label",
        body=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 415
    status, body = _request(
        server,
        "POST",
        "/api/label",
        body=json.dumps({"item": item.item, "labels": {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert status == 400 and b"label every criterion" in body
    assert not server.session.out.exists()


def test_a_judge_cannot_be_an_annotator(candidates, tmp_path):
    with pytest.raises(lib.AnnotationError, match="a person's name"):
        Session(candidates[:1], tmp_path / "labels.csv", "judge:gpt")


def test_inter_rater_per_pair_per_kind_and_fleiss(candidates, tmp_path):
    out = tmp_path / "labels.csv"
    drawn = lib.draw_items(candidates, 4, seed=9)
    typed: dict[str, list[str]] = {}
    for name, pattern in (("ann", "yn"), ("ben", "yy"), ("cat", "yn")):
        session = Session(drawn, out, name)
        for item in drawn:
            labels = {
                c.id: "yes" if pattern[k % 2] == "y" else "no" for k, c in enumerate(item.criteria)
            }
            session.label({"item": item.item, "labels": labels})
            typed.setdefault(name, []).extend(labels.values())
    result = lib.inter_rater(out, resamples=200)
    units = sum(len(i.criteria) for i in drawn)
    assert result.units == units and result.labelled == {"ann": units, "ben": units, "cat": units}
    pairs = result.pairs.set_index(["rater_a", "rater_b"])
    assert pairs.loc[("ann", "cat"), "kappa"] == 1.0
    share_yes = typed["ann"].count("yes") / units
    assert pairs.loc[("ann", "ben"), "agreement"] == pytest.approx(share_yes)
    assert pairs.loc[("ann", "ben"), "kappa"] == 0.0  # ben always says yes
    kinds = {c.kind for i in drawn for c in i.criteria}
    assert set(result.by_kind["kind"]) == kinds and len(result.by_kind) == 3 * len(kinds)
    assert result.by_kind.groupby(["rater_a", "rater_b"])["n"].sum().eq(units).all()
    kappa, rated = result.fleiss
    assert rated == units and 0 < kappa < 1
