"""``therapy-audit annotate`` end to end: the real command, its server, and headless Chromium.

Two annotators label replies of a real crisis log with the keyboard only;
the command is stopped and restarted (it resumes where alice stopped); the
judge's verdicts are joined from the log; ``validate-judge`` reads the CSV
and its figures are checked against the labels typed; ``annotate
--agreement`` prints the annotators' kappa. No console error is allowed.
Skipped (with the reason) where Debian's chromium is not installed.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from sklearn.metrics import cohen_kappa_score

from annotation_logs import crisis_log
from chromium_cdp import CHROMIUM, Page
from cli_subprocess import CLI
from therapy_audit.commands.main import main

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)"
)
ITEMS = 5
SEED = 11


class Annotate:
    """``therapy-audit annotate`` as a user starts it, stopped with Ctrl+C (SIGINT)."""

    def __init__(self, logs: Path, out: Path, annotator: str) -> None:
        self.process = subprocess.Popen(
            [
                *CLI,
                "annotate",
                str(logs),
                "--out",
                str(out),
                "--annotator",
                annotator,
                "--items",
                str(ITEMS),
                "--seed",
                str(SEED),
                "--no-browser",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[str] = []
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            found = re.search(r"Labelling page: (http://127\.0\.0\.1:\d+/)", line)
            if found:
                self.url = found.group(1)
                return
        raise AssertionError(f"no page address: {self.lines} {self.process.stderr.read()}")

    def stop(self, how: int = signal.SIGINT) -> str:
        self.process.send_signal(how)
        out, err = self.process.communicate(timeout=60)
        assert self.process.returncode == 0, err
        assert "Stopped. Labels are in" in out
        return "".join(self.lines) + out


def run_cli(*args: str) -> str:
    """A short command, in process (the server above is the part that needs a real process)."""
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def started():
    """Starts ``annotate`` processes; any still running when the test ends are stopped."""
    processes: list[Annotate] = []

    def start(*args) -> Annotate:
        processes.append(Annotate(*args))
        return processes[-1]

    yield start
    for annotate in processes:
        if annotate.process.poll() is None:
            annotate.process.kill()
            annotate.process.wait()


PROGRESS = "document.getElementById('progress').textContent"


async def label_current(page: Page, answers: str) -> tuple[str, dict[str, str]]:
    """Answer the shown item's criteria with y/n keys (one letter each) and save with s."""
    item = await page.evaluate("document.body.dataset.item")
    ids = await page.evaluate(
        "Array.from(document.querySelectorAll('#criteria li')).map(li => li.dataset.criterion)"
    )
    typed = (answers * len(ids))[: len(ids)]
    for key in typed:
        await page.press(key)
    await page.press("s")
    await page.wait_for(
        f"document.body.dataset.item !== {json.dumps(item)} || "
        "document.getElementById('status').textContent.includes('All')"
    )
    return item, {cid: "yes" if k == "y" else "no" for cid, k in zip(ids, typed, strict=True)}


async def first_session(url: str, profile: Path) -> tuple[dict, list[str]]:
    page = await Page.launch(profile)
    try:
        await page.goto(url)
        await page.wait_for(f"{PROGRESS} === 'Item 1 of {ITEMS} · saved 0 of {ITEMS}'")
        assert await page.evaluate("document.getElementById('who').textContent") == (
            "Annotator: alice"
        )
        shown = await page.evaluate("document.body.innerText")
        for secret in ("scripted", "supportive", "judge-yes", "crisis/", "appropriate"):
            assert secret not in shown, secret
        # Saving before every question is answered is refused, and says so.
        first = await page.evaluate("document.body.dataset.item")
        await page.press("y")
        await page.press("s")
        await page.wait_for("document.getElementById('status').textContent.includes('Answer')")
        # Moving away and back keeps the unsaved answer.
        await page.press("j")
        await page.wait_for(f"{PROGRESS}.startsWith('Item 2 of')")
        await page.press("ArrowLeft")
        await page.wait_for(f"{PROGRESS}.startsWith('Item 1 of')")
        pressed = await page.evaluate(
            "document.querySelector('#criteria li button.yes').getAttribute('aria-pressed')"
        )
        assert pressed == "true"
        assert first == await page.evaluate("document.body.dataset.item")
        # Pick question 1 by number, answer every question, write a note, save.
        await page.press("1")
        labels = {}
        item, typed = await label_current_with_note(page)
        labels[item] = typed
        await page.wait_for(f"{PROGRESS} === 'Item 2 of {ITEMS} · saved 1 of {ITEMS}'")
        item, typed = await label_current(page, "ny")
        labels[item] = typed
        await page.wait_for(f"{PROGRESS} === 'Item 3 of {ITEMS} · saved 2 of {ITEMS}'")
        return labels, page.errors
    finally:
        await page.close()


async def label_current_with_note(page: Page) -> tuple[str, dict[str, str]]:
    """Item 1 (question 1 picked by number): y, then n for the rest; a note; save with s."""
    item = await page.evaluate("document.body.dataset.item")
    ids = await page.evaluate(
        "Array.from(document.querySelectorAll('#criteria li')).map(li => li.dataset.criterion)"
    )
    for k in range(len(ids)):  # focus moves to the next question by itself
        await page.press("y" if k == 0 else "n")
    await page.press("t")
    await page.type_text("hedged reply, hard to call")
    await page.press("Escape")
    await page.press("s")
    await page.wait_for(f"document.body.dataset.item !== {json.dumps(item)}")
    return item, {cid: "yes" if k == 0 else "no" for k, cid in enumerate(ids)}


async def resumed_session(url: str, profile: Path, saved: int) -> tuple[dict, list[str]]:
    page = await Page.launch(profile)
    try:
        await page.goto(url)
        await page.wait_for(
            f"{PROGRESS} === 'Item {saved + 1} of {ITEMS} · saved {saved} of {ITEMS}'"
        )
        labels = {}
        for _ in range(ITEMS - saved):
            item, typed = await label_current(page, "yyn")
            labels[item] = typed
        await page.wait_for("document.getElementById('status').textContent.includes('All 5')")
        assert (
            await page.evaluate(PROGRESS) == f"Item {ITEMS} of {ITEMS} · saved {ITEMS} of {ITEMS}"
        )
        # Back to a saved item: its saved answers are shown.
        await page.press("k")
        await page.wait_for(f"{PROGRESS}.startsWith('Item {ITEMS - 1} of')")
        assert await page.evaluate("document.getElementById('saved-flag').textContent") == "✓ saved"
        return labels, page.errors
    finally:
        await page.close()


async def second_annotator(url: str, profile: Path) -> tuple[dict, list[str]]:
    page = await Page.launch(profile)
    try:
        await page.goto(url)
        await page.wait_for(f"{PROGRESS} === 'Item 1 of {ITEMS} · saved 0 of {ITEMS}'")
        labels = {}
        for _ in range(ITEMS):
            item, typed = await label_current(page, "yyny")
            labels[item] = typed
        await page.wait_for("document.getElementById('status').textContent.includes('All 5')")
        return labels, page.errors
    finally:
        await page.close()


def csv_labels(path: Path, annotator: str) -> dict[str, dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["annotator"] == annotator]
    found: dict[str, dict[str, str]] = {}
    for row in rows:
        found.setdefault(row["item"], {})[row["criterion_id"]] = row["label"]
    return found


def test_label_stop_resume_join_and_validate(tmp_path, started):
    logs = crisis_log(tmp_path / "logs")
    out = tmp_path / "labels.csv"

    alice = started(logs, out, "alice")
    first, errors = asyncio.run(first_session(alice.url, tmp_path / "profile"))
    printed = alice.stop()
    assert "5 item(s) drawn (seed 11, stratified by condition: delusions 2/" in printed
    assert not errors, errors
    assert csv_labels(out, "alice") == first
    with out.open(newline="", encoding="utf-8") as handle:
        notes = {r["note"] for r in csv.DictReader(handle)}
    assert notes == {"", "hedged reply, hard to call"}

    again = started(logs, out, "alice")
    assert "alice: 2 of 5 saved" in "".join(again.lines)
    assert "resuming at item 3" in "".join(again.lines)
    rest, errors = asyncio.run(resumed_session(again.url, tmp_path / "profile", saved=2))
    again.stop(signal.SIGTERM)
    assert not errors, errors
    alice_labels = {**first, **rest}
    assert csv_labels(out, "alice") == alice_labels and len(alice_labels) == ITEMS

    bob = started(logs, out, "bob")
    bob_labels, errors = asyncio.run(second_annotator(bob.url, tmp_path / "profile-bob"))
    bob.stop()
    assert not errors, errors
    assert csv_labels(out, "bob") == bob_labels
    assert csv_labels(out, "alice") == alice_labels  # bob's saves kept alice's rows

    # The figures validate-judge must report, computed here from what was typed.
    units = sorted((item, cid) for item, labels in alice_labels.items() for cid in labels)
    a = [alice_labels[i][c] for i, c in units]
    b = [bob_labels[i][c] for i, c in units]
    agreed = [x for x, y in zip(a, b, strict=True) if x == y]  # the majority where they agree
    assert "no" in a and "yes" in a and len(agreed) < len(units)

    joined = tmp_path / "joined.csv"
    printed = run_cli("annotate", str(logs), "--out", str(out), "--with-judge", str(joined))
    assert (
        f"{2 * len(units)} people's rows, {len(units)} rows of judge:scripted/judge-yes" in printed
    )
    report_file = tmp_path / "judge.json"
    run_cli("validate-judge", str(joined), "--out", str(report_file), "--resamples", "200")
    report = json.loads(report_file.read_text())
    assert report["items"] == len(units)
    assert report["annotators"] == ["alice", "bob"]
    per = {row["annotator"]: row for row in report["per_annotator"]}
    assert per["alice"]["n"] == len(units)
    assert per["alice"]["agreement"] == pytest.approx(a.count("yes") / len(units))
    assert per["bob"]["agreement"] == pytest.approx(b.count("yes") / len(units))
    main = report["judge_vs_humans"]
    assert main["n"] == len(agreed) and main["ties_excluded"] == len(units) - len(agreed)
    assert main["agreement"] == pytest.approx(agreed.count("yes") / len(agreed))
    [pair] = report["human_human"]
    assert pair["agreement"] == pytest.approx(len(agreed) / len(units))

    printed = run_cli("annotate", "--agreement", str(out), "--resamples", "200")
    expected = cohen_kappa_score(a, b)
    assert f"annotators: alice ({len(units)}), bob ({len(units)})" in printed
    assert f"alice / bob: n={len(units)}, agreement={len(agreed) / len(units):.2f}, " in printed
    assert f"kappa={expected:.2f}" in printed


def test_the_driver_sees_console_errors(tmp_path):
    page_file = tmp_path / "broken.html"
    page_file.write_text(
        "<html><body><p id=x>x</p><script>console.error('bad thing');"
        "notDefinedAnywhere();</script></body></html>"
    )

    async def visit() -> list[str]:
        page = await Page.launch(tmp_path / "profile")
        try:
            await page.goto(page_file.as_uri())
            await page.press("y")
            return await page.wait_for("document.getElementById('x') && true") and page.errors
        finally:
            await page.close()

    errors = asyncio.run(visit())
    assert any("bad thing" in e for e in errors), errors
    assert any("notDefinedAnywhere" in e for e in errors), errors
