"""proofpoint-tap-report: the CLI's numbers, the offline HTML page in a real browser, the PNGs.

Every test reads the `marts_database` fixture (the DuckDB file the pipeline loaded and dbt
built, tests/conftest.py: warehouse) and computes what it expects from that file with its own
SQL or Python, never from constants.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path
from typing import ClassVar

import pytest

# The report needs DuckDB and altair, which Python 3.10 lacks (pyproject: the extras): there
# this module skips, its one fast test included.
duckdb = pytest.importorskip("duckdb")
pytest.importorskip("altair")

from PIL import Image  # noqa: E402

from tap_proofpoint_tap.report import style  # noqa: E402
from tap_proofpoint_tap.report.render import CHARTS, PNG_SCALE  # noqa: E402

REPORT = str(Path(sys.executable).parent / "proofpoint-tap-report")
SCHEMA = "analytics"
CHROMIUM_TIMEOUT = 60


# -- the marts: what the pipeline loaded and dbt built (tests/conftest.py: warehouse) --------


@pytest.fixture(scope="module")
def marts_database(warehouse) -> Path:
    """The DuckDB file of ``meltano run tap-proofpoint-tap threatq target-duckdb-proofpoint
    dbt-duckdb:build report:render`` over five hours of sandbox traffic."""
    return warehouse.path


def test_meltano_run_renders_the_report(warehouse):
    """The report utility in the same ``meltano run`` wrote the page and every PNG."""
    assert "Report: " in warehouse.runs[1].stderr
    assert (warehouse.report / "report.html").stat().st_size > 100_000
    for _, name, _, _ in CHARTS:
        assert (warehouse.report / f"{name}.png").stat().st_size > 1_000


# -- helpers -------------------------------------------------------------------------------


def run_report(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PROOFPOINT_REPORT_")}
    return subprocess.run(
        [REPORT, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, **(env or {})},
        cwd=cwd,
    )


@dataclass(frozen=True)
class Expected:
    """What the report must show, computed here from the marts file, independently."""

    active: int
    median: float | None
    retroactive: int
    clicks: int
    work_queue_rows: int
    daily_groups: int
    clickers: int
    threats: int
    attacked: int
    scatter_points: int


def expected(database: Path, schema: str = SCHEMA) -> Expected:
    con = duckdb.connect(str(database), read_only=True)
    try:

        def one(sql: str) -> int:
            return con.execute(sql).fetchone()[0]

        latencies = [
            m
            for (m,) in con.execute(f"SELECT minutes_to_click FROM {schema}.fct_clicks").fetchall()
            if m is not None
        ]
        flags = [
            r for (r,) in con.execute(f"SELECT is_retroactive FROM {schema}.fct_clicks").fetchall()
        ]
        active = one(f"SELECT count(*) FROM {schema}.mart_click_exposure")
        return Expected(
            active=active,
            median=statistics.median(latencies) if latencies else None,
            retroactive=sum(1 for r in flags if r is True),
            clicks=len(flags),
            work_queue_rows=min(20, active),
            daily_groups=one(f"""SELECT count(*) FROM (SELECT DISTINCT activity_date, stream,
                coalesce(classification, 'unknown') FROM {schema}.mart_daily_activity
                WHERE stream LIKE 'clicks%')"""),
            clickers=min(15, one(f"SELECT count(*) FROM {schema}.dim_users WHERE clicks > 0")),
            threats=min(10, one(f"SELECT count(*) FROM {schema}.dim_threats")),
            attacked=min(15, one(f"SELECT count(*) FROM {schema}.mart_user_risk")),
            scatter_points=one(f"""SELECT count(*) FROM {schema}.fct_clicks
                WHERE click_time IS NOT NULL AND threat_time IS NOT NULL"""),
        )
    finally:
        con.close()


def embedded_specs(html: str) -> dict[str, dict]:
    found = re.search(
        r'<script type="application/json" id="report-specs">(.*?)</script>', html, re.S
    )
    assert found, "report.html has no embedded chart specs"
    return json.loads(found.group(1))


def png_problems(data: bytes, size: tuple[int, int], min_share: float) -> list[str]:
    """Why this is not a drawn chart of that size: not a PNG, wrong size, or blank."""
    try:
        image = Image.open(BytesIO(data))
        image.load()
    except Exception as exc:  # any decoding failure means "not a PNG"
        return [f"not a valid PNG: {exc}"]
    problems = []
    if image.format != "PNG":
        problems.append(f"format {image.format}")
    if image.size != size:
        problems.append(f"size {image.size}, expected {size}")
    rgb = image.convert("RGB")
    colours = rgb.getcolors(maxcolors=1 << 20) or []
    if len(colours) <= 2:
        problems.append(f"only {len(colours)} colour(s): blank")
    background = max(colours)[1] if colours else None
    drawn = sum(n for n, c in colours if c != background) / (size[0] * size[1] or 1)
    if drawn < min_share:
        problems.append(f"only {drawn:.2%} of pixels differ from the background")
    return problems


@dataclass
class ChartDom:
    svg: bool = False
    marks: dict[str, int] = field(default_factory=dict)  # mark type → items drawn


class ReportDom(HTMLParser):
    """What the browser built: per chart container, its SVG and the marks in it."""

    VOID: ClassVar[set[str]] = {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    }

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.charts: dict[str, ChartDom] = {}
        self.queue_rows = 0
        self.texts: dict[str, str] = {}
        self.scripts_with_src: list[str] = []

    def _ancestor_id(self, prefix: str) -> str | None:
        for _, attrs in reversed(self.stack):
            if attrs.get("id", "").startswith(prefix):
                return attrs["id"]
        return None

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        if tag == "script" and attrs.get("src"):
            self.scripts_with_src.append(attrs["src"])
        chart = self._ancestor_id("chart-c")
        if chart:
            dom = self.charts.setdefault(chart, ChartDom())
            dom.svg = dom.svg or tag == "svg"
            parent_class = self.stack[-1][1].get("class", "").split() if self.stack else []
            if "role-mark" in parent_class and tag in {"path", "text", "line", "rect"}:
                kind = next(c for c in parent_class if c.startswith("mark-"))
                dom.marks[kind] = dom.marks.get(kind, 0) + 1
        if (
            tag == "tr"
            and self._ancestor_id("work-queue")
            and any(t == "tbody" for t, _ in self.stack)
        ):
            self.queue_rows += 1
        if tag not in self.VOID:
            self.stack.append((tag, attrs))
        elif attrs.get("id", "").startswith("chart-c"):
            self.charts.setdefault(attrs["id"], ChartDom())

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        for _, attrs in self.stack:
            if attrs.get("id", "").startswith("headline-") and attrs.get("id"):
                self.texts[attrs["id"]] = self.texts.get(attrs["id"], "") + data


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


# -- the report, written once by the CLI ---------------------------------------------------


@dataclass(frozen=True)
class Written:
    out: Path
    process: subprocess.CompletedProcess
    seconds: float


@pytest.fixture(scope="module")
def written(marts_database, tmp_path_factory) -> Written:
    out = tmp_path_factory.mktemp("report") / "output"
    started = time.monotonic()
    process = run_report(
        "--database", str(marts_database), "--schema", SCHEMA, "--output", str(out)
    )
    return Written(out=out, process=process, seconds=time.monotonic() - started)


def test_cli_prints_the_report_path_and_the_three_numbers(written, marts_database):
    want = expected(marts_database)
    assert written.process.returncode == 0, written.process.stderr
    lines = written.process.stdout.splitlines()
    assert lines[0] == f"Report: {written.out / 'report.html'}"
    assert len(lines) == 4, lines
    assert lines[1] == f"  Permitted clicks on active threats: {want.active}"
    median = re.fullmatch(r"  Median minutes from delivery to click: (\S+)", lines[2])
    assert median, lines[2]
    assert want.median is not None, "the fixture must have clicks matched to deliveries"
    assert float(median.group(1)) == pytest.approx(want.median, abs=0.05)
    share = f"{want.retroactive / want.clicks:.1%}"
    assert lines[3] == (
        "  Retroactive clicks (clicked before the threat was known): "
        f"{want.retroactive} of {want.clicks} ({share})"
    )
    assert want.retroactive > 0 and want.active > 0  # the checks above would be weak otherwise


def test_report_html_opens_offline_by_construction(written):
    html = (written.out / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\ssrc\s*=", html, re.I)
    assert not re.search(r"<link\b", html, re.I)
    # The data (chart specs, the table) may name any host, a CDN's included: grep the rest.
    page = re.sub(
        r'<script type="application/json" id="report-specs">.*?</script>', "", html, flags=re.S
    )
    page = re.sub(r'<table id="work-queue">.*?</table>', "", page, flags=re.S)
    assert not re.search(r"cdn", page, re.I)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", html, re.I)
    assert html.count("window.vegaEmbed=") == 1, "the Vega bundle must be embedded exactly once"
    specs = embedded_specs(html)
    assert set(specs) == {element_id for element_id, *_ in CHARTS}
    assert all("$schema" not in spec for spec in specs.values())
    for element_id in specs:
        assert f'id="{element_id}"' in html
    assert 'id="work-queue"' in html


def test_every_png_is_a_drawn_chart_of_the_declared_size(written):
    specs = embedded_specs((written.out / "report.html").read_text(encoding="utf-8"))
    problems = {}
    for element_id, name, _, _ in CHARTS:
        spec = specs[element_id]
        size = (spec["width"] * PNG_SCALE, spec["height"] * PNG_SCALE)
        path = written.out / f"{name}.png"
        assert path.is_file(), f"{path} is missing"
        if found := png_problems(path.read_bytes(), size, min_share=0.02):
            problems[name] = found
    assert not problems


def test_browser_draws_every_chart_and_the_work_queue(written, marts_database, tmp_path):
    want = expected(marts_database)
    done = run_chromium(
        written.out / "report.html",
        tmp_path / "profile",
        "--virtual-time-budget=15000",
        "--dump-dom",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    dom = ReportDom()
    dom.feed(done.stdout)
    assert not dom.scripts_with_src
    for element_id, *_ in CHARTS:
        chart = dom.charts.get(element_id)
        assert chart is not None, f"#{element_id} is missing"
        assert chart.svg, f"#{element_id} holds no <svg>: vega-embed did not run"
    marks = {element_id: dom.charts[element_id].marks for element_id, *_ in CHARTS}
    assert marks["chart-c1"].get("mark-rect") == want.daily_groups, marks["chart-c1"]
    assert marks["chart-c2"].get("mark-line", 0) >= 1, marks["chart-c2"]
    assert marks["chart-c2"].get("mark-rule") == 2, marks["chart-c2"]  # median and p90
    assert marks["chart-c3"].get("mark-symbol") == want.scatter_points, marks["chart-c3"]
    assert marks["chart-c3"].get("mark-line") == 1, marks["chart-c3"]  # the diagonal
    assert marks["chart-c4"].get("mark-rect") == 5 * want.threats, marks["chart-c4"]
    assert marks["chart-c5"].get("mark-rect") == want.clickers, marks["chart-c5"]
    assert marks["chart-c6"].get("mark-rect") == 5 * want.attacked, marks["chart-c6"]
    assert dom.queue_rows == want.work_queue_rows
    assert dom.texts["headline-active"].startswith(str(want.active))
    assert dom.texts["headline-retroactive"].startswith(f"{want.retroactive} of {want.clicks}")


def test_browser_screenshot_shows_the_charts(written, tmp_path):
    shot = tmp_path / "report.png"
    done = run_chromium(
        written.out / "report.html",
        tmp_path / "profile",
        "--virtual-time-budget=15000",
        f"--screenshot={shot}",
        "--window-size=1400,5000",
        "--hide-scrollbars",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert not png_problems(shot.read_bytes(), (1400, 5000), min_share=0.03)
    pixels = Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 24)
    counts = dict((colour, n) for n, colour in pixels)

    def near(hex_colour: str) -> int:
        r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
        return sum(
            n
            for (cr, cg, cb), n in counts.items()
            if abs(cr - r) <= 3 and abs(cg - g) <= 3 and abs(cb - b) <= 3
        )

    # Bar fills only the charts paint: the page's own CSS uses none of these colours.
    for colour in (style.CLASSIFICATION_COLOURS["phish"], style.STAGE_COLOURS[1], "#d94801"):
        assert near(colour) > 500, f"hardly any {colour} in the screenshot: charts not drawn"


# -- empty marts, and a page's escaping ----------------------------------------------------


def test_empty_marts_give_a_report_of_no_data_charts(marts_database, tmp_path):
    empty = tmp_path / "empty.duckdb"
    con = duckdb.connect(str(empty))
    try:
        con.execute(f"ATTACH '{marts_database}' AS marts (READ_ONLY)")
        con.execute("CREATE SCHEMA reporting")
        for (table,) in con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_catalog = 'marts' AND table_schema = ?",
            [SCHEMA],
        ).fetchall():
            con.execute(
                f"CREATE TABLE reporting.{table} AS SELECT * FROM marts.{SCHEMA}.{table} LIMIT 0"
            )
    finally:
        con.close()
    out = tmp_path / "out"
    # A reader holds the file meanwhile: the report, which opens it read-only, runs beside it.
    with duckdb.connect(str(empty), read_only=True):
        done = run_report(
            env={
                "PROOFPOINT_REPORT_DATABASE": str(empty),
                "PROOFPOINT_REPORT_SCHEMA": "reporting",
                "PROOFPOINT_REPORT_OUTPUT": str(out),
            }
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"Report: {out / 'report.html'}",
        "  Permitted clicks on active threats: 0",
        "  Median minutes from delivery to click: n/a (no click matched a delivery)",
        "  Retroactive clicks (clicked before the threat was known): 0 of 0",
    ]
    html = (out / "report.html").read_text(encoding="utf-8")
    specs = embedded_specs(html)
    for element_id, name, _, _ in CHARTS:
        spec = specs[element_id]
        assert "No data" in json.dumps(spec), f"{name} has no 'no data' note"
        size = (spec["width"] * PNG_SCALE, spec["height"] * PNG_SCALE)
        assert not png_problems((out / f"{name}.png").read_bytes(), size, min_share=0.001)
    dom = ReportDom()
    dom.feed(html)
    assert dom.queue_rows == 0


# -- user errors: one line, exit 1, what to change -----------------------------------------


def assert_one_line_error(done: subprocess.CompletedProcess, *needles: str) -> None:
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_missing_file_is_one_line(tmp_path):
    missing = tmp_path / "nowhere.duckdb"
    assert_one_line_error(
        run_report("--database", str(missing)), str(missing), "does not exist", "--database"
    )
    assert_one_line_error(run_report(cwd=tmp_path), "output/sandbox.duckdb", "does not exist")
    assert_one_line_error(
        run_report(env={"PROOFPOINT_REPORT_DATABASE": str(missing)}), str(missing)
    )


def test_a_folder_is_named_a_folder(tmp_path):
    assert_one_line_error(
        run_report("--database", str(tmp_path)), str(tmp_path), "is a folder", "--database"
    )


def test_a_mart_an_older_dbt_project_built_names_the_missing_column(tmp_path):
    """Marts without the columns this report reads (an older transform/): one line naming the
    mart, the column and the rebuild, not DuckDB's BinderException."""
    old = tmp_path / "old.duckdb"
    with duckdb.connect(str(old)) as con:
        con.execute(f"CREATE SCHEMA {SCHEMA}")
        for mart in (
            "mart_daily_activity",
            "fct_clicks",
            "dim_threats",
            "dim_users",
            "mart_user_risk",
            "mart_click_exposure",
        ):
            con.execute(f"CREATE TABLE {SCHEMA}.{mart} (id INTEGER)")
    assert_one_line_error(
        run_report("--database", str(old), "--output", str(tmp_path / "out")),
        "mart fct_clicks has no column minutes_to_click",
        "older dbt project",
        "dbt-duckdb:build",
    )


def test_file_without_the_marts_says_run_dbt(marts_database, tmp_path):
    bare = tmp_path / "raw.duckdb"
    duckdb.connect(str(bare)).close()
    assert_one_line_error(
        run_report("--database", str(bare)), str(bare), "fct_clicks", "dbt-duckdb"
    )
    assert_one_line_error(
        run_report("--database", str(marts_database), "--schema", "nope"),
        "schema nope",
        "--schema",
        "dbt-duckdb",
    )
    garbage = tmp_path / "garbage.duckdb"
    garbage.write_bytes(b"not a database" * 100)
    assert_one_line_error(run_report("--database", str(garbage)), str(garbage))


def test_file_locked_by_a_writer_says_retry(marts_database, tmp_path):
    copy = tmp_path / "locked.duckdb"
    shutil.copyfile(marts_database, copy)
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
            "print('ready', flush=True); time.sleep(120)",
            str(copy),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "ready"
        assert_one_line_error(
            run_report("--database", str(copy)), str(copy), "locked", "retry", f"PID {writer.pid}"
        )
    finally:
        writer.kill()
        writer.communicate(timeout=10)
