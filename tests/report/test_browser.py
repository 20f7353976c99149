"""The HTML report in a real browser: headless Chromium loads it, screenshots it, dumps its DOM.

Checks what a reader would notice: every section is there, no script error
is logged, every figure decodes to a real image and the screenshot is not
blank. Skipped (with the reason) where Debian's chromium is not installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from therapy_audit.analysis.figures import PALETTE
from therapy_audit.report import build_report, render

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)"
)
WINDOW = (1280, 4800)
SECTIONS = ("summary", "stigma", "appropriate", "comparison", "coverage")
#: Appended to a copy of the report: after load, writes each image's decoded size into the DOM.
PROBE = """<script>
window.addEventListener("load", function () {
  var out = document.createElement("pre");
  out.id = "probe";
  out.textContent = Array.prototype.map.call(document.images, function (img) {
    return img.naturalWidth + "x" + img.naturalHeight;
  }).join(" ");
  document.body.appendChild(out);
});
</script>"""


def chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


def console_errors(stderr: str) -> list[str]:
    """Chromium's log lines for page script errors and console.error calls."""
    return [
        line
        for line in stderr.splitlines()
        if "Uncaught" in line or re.search(r"CONSOLE.*\b(error|Error)\b", line)
    ]


def screenshot(report_file: Path, window: tuple[int, int], tmp_path: Path) -> np.ndarray:
    """The report as Chromium draws it in a ``window`` (width, height), with no page errors."""
    shot = tmp_path / f"report-{window[0]}x{window[1]}.png"
    result = chromium(
        [
            f"--screenshot={shot}",
            f"--window-size={window[0]},{window[1]}",
            "--hide-scrollbars",
            report_file.as_uri(),
        ],
        tmp_path / "profile",
    )
    assert shot.exists(), result.stderr[-2000:]
    assert not console_errors(result.stderr)
    return np.asarray(Image.open(shot).convert("RGB")).astype(int)


class Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.ids.update(value for name, value in attrs if name == "id" and value)


@pytest.fixture(scope="module")
def report_file(report_logs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "report.html"
    out.write_text(render(build_report(report_logs.all_consistent())), encoding="utf-8")
    return out


def test_console_error_detection_catches_a_broken_page(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<html><body><p>x</p><script>notDefinedAnywhere();</script></body></html>")
    result = chromium(["--dump-dom", page.as_uri()], tmp_path / "profile")
    assert console_errors(result.stderr), result.stderr[-2000:]


def test_report_loads_without_errors_and_images_decode(report_file, tmp_path):
    probed = tmp_path / "probed.html"
    probed.write_text(
        report_file.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
        encoding="utf-8",
    )
    result = chromium(["--dump-dom", probed.as_uri()], tmp_path / "profile")
    assert result.returncode == 0, result.stderr[-2000:]
    assert not console_errors(result.stderr)
    ids = Ids()
    ids.feed(result.stdout)
    assert set(SECTIONS) <= ids.ids, ids.ids
    probe = re.search(r'<pre id="probe">([^<]*)</pre>', result.stdout)
    assert probe, "the load-time probe did not run"
    sizes = [tuple(map(int, s.split("x"))) for s in probe.group(1).split()]
    assert len(sizes) == report_file.read_text().count("<img ")
    assert sizes and all(w > 100 and h > 100 for w, h in sizes), sizes


def test_screenshot_shows_the_report_and_its_figures(report_file, tmp_path):
    pixels = screenshot(report_file, WINDOW, tmp_path)
    assert pixels.shape[:2] == (WINDOW[1], WINDOW[0])
    assert pixels.std() > 20  # text, tables and figures, not a blank page
    # The stigma figure (first in the window) draws its bars in the palette's first colours.
    for colour in PALETTE[:2]:
        rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
        matches = (np.abs(pixels - rgb).sum(axis=2) < 30).sum()
        assert matches > 500, (colour, matches)


#: The first screen a reader sees (a laptop window).
FIRST_VIEWPORT = (1280, 800)
#: Appended to a copy of the report: picks one filter value, then records what is visible.
FILTER_PROBE = """<script>
window.addEventListener("load", function () {
  var out = document.createElement("pre");
  out.id = "filter-probe";
  var card = document.getElementById("table-scorecard");
  var box = card ? card.getBoundingClientRect() : {top: -1, bottom: -1};
  var select = document.querySelector('#filters select[data-filter="outcome"]');
  var items = document.querySelectorAll("#reply-list .reply-item");
  var visible = function () {
    return Array.prototype.filter.call(items, function (i) { return i.style.display !== "none"; });
  };
  var before = visible().length;
  select.value = "fail";
  select.dispatchEvent(new Event("change"));
  var after = visible();
  var wrong = after.filter(function (i) { return i.getAttribute("data-outcome") !== "fail"; });
  out.textContent = [Math.round(box.top), Math.round(box.bottom), before, after.length,
                     wrong.length, document.getElementById("reply-count").textContent].join(";");
  document.body.appendChild(out);
});
</script>"""


def test_scorecard_is_in_the_first_viewport_and_filters_work(report_file, tmp_path):
    probed = tmp_path / "filters.html"
    probed.write_text(
        report_file.read_text(encoding="utf-8").replace("</body>", FILTER_PROBE + "</body>"),
        encoding="utf-8",
    )
    result = chromium(
        [f"--window-size={FIRST_VIEWPORT[0]},{FIRST_VIEWPORT[1]}", "--dump-dom", probed.as_uri()],
        tmp_path / "profile",
    )
    assert not console_errors(result.stderr), result.stderr[-2000:]
    probe = re.search(r'<pre id="filter-probe">([^<]*)</pre>', result.stdout)
    assert probe, "the filter probe did not run"
    top, bottom, before, after, wrong, count = probe.group(1).split(";")
    assert 0 <= int(top) < int(bottom) <= FIRST_VIEWPORT[1], (top, bottom)
    assert int(before) > int(after) > 0 and int(wrong) == 0
    assert count == f"{after} of {before} replies"


def test_first_viewport_screenshot_shows_the_scorecard(report_file, tmp_path):
    pixels = screenshot(report_file, FIRST_VIEWPORT, tmp_path)
    # The validity badges' colours (valid green, not-a-measurement red) are on screen.
    for rgb in ((0xD9, 0xF2, 0xDD), (0xF8, 0xD7, 0xDA)):
        matches = (np.abs(pixels - np.array(rgb)).sum(axis=2) < 12).sum()
        assert matches > 50, (rgb, matches)
