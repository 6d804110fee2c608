"""What headless Chromium drew in report.html: every chart's text boxes and scale domains.

A copy of the page gets one more script that waits for every chart's Vega view (the page keeps
them in ``window.reportViews``), then writes what was drawn as JSON into a ``<pre id="probe">``
that ``--dump-dom`` returns. Nothing of the report itself is changed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path

CHROMIUM_TIMEOUT = 90

PROBE = """
<script>
(function probe() {
  const ids = Object.keys(JSON.parse(document.getElementById("report-specs").textContent));
  const views = window.reportViews || {};  // an older page kept none: its texts only
  const drawn = (id) => document.querySelector("#" + id + " svg text");
  if (ids.some((id) => !drawn(id))) { setTimeout(probe, 50); return; }
  const out = {};
  for (const id of ids) {
    const texts = [];
    for (const node of document.querySelectorAll("#" + id + " svg text")) {
      const box = node.getBoundingClientRect();
      // Vega keeps the axis labels it thins out in the SVG, at opacity 0: not drawn.
      const hidden = getComputedStyle(node).opacity === "0" || node.getAttribute("opacity") === "0";
      if (hidden || !node.textContent.trim() || box.width === 0 || box.height === 0) continue;
      texts.push({text: node.textContent, x: box.x, y: box.y, w: box.width, h: box.height});
    }
    const frame = document.querySelector("#" + id + " svg").getBoundingClientRect();
    const scales = {};
    for (const name of ["x", "y"]) {
      try { scales[name] = views[id].scale(name).domain().map((v) => +v); } catch (e) {
        scales[name] = null;
      }
    }
    out[id] = {texts: texts, scales: scales,
               frame: {text: "", x: frame.x, y: frame.y, w: frame.width, h: frame.height}};
  }
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
"""


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not on PATH (CI installs it with .ci/chromium.sh)")
        pytest.skip(
            "chromium is not on PATH: install Debian's chromium package to run the browser test"
        )
    return path


def run_chromium(report: Path, profile: Path, *mode: str) -> subprocess.CompletedProcess:
    """Headless Chromium on the file, with every network path closed."""
    return subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-extensions",
            "--disable-sync",
            "--no-first-run",
            "--proxy-server=127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={profile}",
            *mode,
            report.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=CHROMIUM_TIMEOUT,
    )


@dataclass(frozen=True)
class Box:
    text: str
    x: float
    y: float
    w: float
    h: float

    def holds(self, other: Box, slack: float = 1.0) -> bool:
        """Whether ``other`` lies within this box (give or take ``slack`` pixels)."""
        return (
            other.x >= self.x - slack
            and other.y >= self.y - slack
            and other.x + other.w <= self.x + self.w + slack
            and other.y + other.h <= self.y + self.h + slack
        )

    def overlap(self, other: Box) -> float:
        """The area two boxes share, in square pixels."""
        wide = min(self.x + self.w, other.x + other.w) - max(self.x, other.x)
        high = min(self.y + self.h, other.y + other.h) - max(self.y, other.y)
        return max(wide, 0) * max(high, 0)


@dataclass(frozen=True)
class Drawn:
    texts: dict[str, list[Box]]  # chart id → its text boxes
    scales: dict[str, dict[str, list[float]]]  # chart id → scale name → domain
    frames: dict[str, Box]  # chart id → its SVG's box
    dom: str  # the page as the browser built it


def probe(report: Path, tmp: Path) -> Drawn:
    """Open a probed copy of ``report`` (beside it, so its links resolve) in Chromium."""
    copy = report.with_name("probed-report.html")
    html = report.read_text(encoding="utf-8")
    head, tail = html.rsplit("</body>", 1)  # the last: the Vega bundle holds the string too
    copy.write_text(head + PROBE + "</body>" + tail, encoding="utf-8")
    try:
        done = run_chromium(copy, tmp / "profile", "--virtual-time-budget=30000", "--dump-dom")
    finally:
        copy.unlink()
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert found, "the probe did not finish: a chart was not drawn"
    raw = json.loads(found.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
    return Drawn(
        texts={chart: [Box(**box) for box in value["texts"]] for chart, value in raw.items()},
        scales={chart: value["scales"] for chart, value in raw.items()},
        frames={chart: Box(**value["frame"]) for chart, value in raw.items()},
        dom=done.stdout,
    )


def overlaps(boxes: list[Box], tolerance: float = 2.0) -> list[tuple[str, str, float]]:
    """Pairs of text boxes that share more than ``tolerance`` square pixels."""
    found = []
    for i, first in enumerate(boxes):
        for second in boxes[i + 1 :]:
            shared = first.overlap(second)
            if shared > tolerance:
                found.append((first.text, second.text, round(shared, 1)))
    return found
