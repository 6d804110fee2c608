"""proofpoint-tap-report: the CLI's numbers, the offline HTML page in a real browser, the PNGs.

Every test reads the `marts_database` fixture (the DuckDB file the pipeline loaded and dbt
built, tests/conftest.py: warehouse) and computes what it expects from that file with its own
SQL or Python, never from constants.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
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

from tap_proofpoint_tap.report import attack_charts, style  # noqa: E402
from tap_proofpoint_tap.report.exports import write_csv  # noqa: E402
from tap_proofpoint_tap.report.queries import MARTS, Marts, Period  # noqa: E402
from tap_proofpoint_tap.report.render import PNG_SCALE  # noqa: E402
from tap_proofpoint_tap.report.sections import CHARTS, tables  # noqa: E402
from tap_proofpoint_tap.report.table import Listing, html  # noqa: E402
from tests.report_probe import overlaps, probe, run_chromium  # noqa: E402

REPORT = str(Path(sys.executable).parent / "proofpoint-tap-report")
SCHEMA = "analytics"


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
    for chart in CHARTS:
        assert (warehouse.report / f"{chart.name}.png").stat().st_size > 1_000


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
    clickers: int
    threats: int
    attacked: int
    scatter_points: int


def expected(database: Path, schema: str = SCHEMA) -> Expected:
    con = duckdb.connect(str(database), read_only=True)
    try:

        def one(sql: str) -> int:
            return con.execute(sql).fetchone()[0]

        permitted = f"{schema}.fct_clicks WHERE disposition = 'permitted'"
        latencies = [
            m
            for (m,) in con.execute(f"SELECT minutes_to_click FROM {permitted}").fetchall()
            if m is not None
        ]
        flags = [r for (r,) in con.execute(f"SELECT is_retroactive FROM {permitted}").fetchall()]
        active = one(f"SELECT count(*) FROM {schema}.mart_click_exposure")
        return Expected(
            active=active,
            median=statistics.median(latencies) if latencies else None,
            retroactive=sum(1 for r in flags if r is True),
            clicks=len(flags),
            work_queue_rows=min(20, active),
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
    median = re.fullmatch(r"  Median minutes from delivery to a permitted click: (\S+)", lines[2])
    assert median, lines[2]
    assert want.median is not None, "the fixture must have clicks matched to deliveries"
    assert float(median.group(1)) == pytest.approx(want.median, abs=0.05)
    share = f"{want.retroactive / want.clicks:.1%}"
    assert lines[3] == (
        "  Retroactive permitted clicks (clicked before the threat was known): "
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
    page = re.sub(r"<table id=.*?</table>", "", page, flags=re.S)
    assert not re.search(r"cdn", page, re.I)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", html, re.I)
    assert html.count("window.vegaEmbed=") == 1, "the Vega bundle must be embedded exactly once"
    specs = embedded_specs(html)
    assert set(specs) == {chart.element_id for chart in CHARTS}
    assert all("$schema" not in spec for spec in specs.values())
    for element_id in specs:
        assert f'id="{element_id}"' in html
    assert 'id="work-queue"' in html


def test_every_png_is_a_drawn_chart_of_the_declared_size(written):
    specs = embedded_specs((written.out / "report.html").read_text(encoding="utf-8"))
    problems = {}
    for chart in CHARTS:
        spec = specs[chart.element_id]
        size = (spec["width"] * PNG_SCALE, spec["height"] * PNG_SCALE)
        path = written.out / f"{chart.name}.png"
        assert path.is_file(), f"{path} is missing"
        if found := png_problems(path.read_bytes(), size, min_share=0.02):
            problems[chart.name] = found
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
    for element_id in (chart.element_id for chart in CHARTS):
        chart = dom.charts.get(element_id)
        assert chart is not None, f"#{element_id} is missing"
        assert chart.svg, f"#{element_id} holds no <svg>: vega-embed did not run"
    marks = {chart.element_id: dom.charts[chart.element_id].marks for chart in CHARTS}
    assert marks["chart-c1"].get("mark-rect", 0) >= 1, marks["chart-c1"]
    assert marks["chart-c2"].get("mark-line", 0) >= 1, marks["chart-c2"]
    assert marks["chart-c2"].get("mark-rule") == 2, marks["chart-c2"]  # median and p90
    assert marks["chart-c3"].get("mark-symbol") == want.scatter_points, marks["chart-c3"]
    assert marks["chart-c3"].get("mark-line") == 1, marks["chart-c3"]  # the diagonal
    assert marks["chart-c4"].get("mark-rect") == 4 * want.threats, marks["chart-c4"]
    assert marks["chart-c5"].get("mark-rect") == 2 * want.clickers, marks["chart-c5"]
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
        "  Median minutes from delivery to a permitted click: n/a (no permitted click matched "
        "a delivery)",
        "  Retroactive permitted clicks (clicked before the threat was known): 0 of 0",
    ]
    html = (out / "report.html").read_text(encoding="utf-8")
    specs = embedded_specs(html)
    for chart in CHARTS:
        spec = specs[chart.element_id]
        assert "No data" in json.dumps(spec), f"{chart.name} has no 'no data' note"
        size = (spec["width"] * PNG_SCALE, spec["height"] * PNG_SCALE)
        assert not png_problems((out / f"{chart.name}.png").read_bytes(), size, min_share=0.001)
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
        for mart in MARTS:
            con.execute(f"CREATE TABLE {SCHEMA}.{mart} (id INTEGER)")
    assert_one_line_error(
        run_report("--database", str(old), "--output", str(tmp_path / "out")),
        "mart fct_clicks has no column disposition",
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


# -- what an analyst trusts: one test per defect a SOC analyst found in the earlier report ----


@pytest.fixture(scope="module")
def drawn(written, tmp_path_factory):
    """What Chromium drew: each chart's text boxes and scale domains (tests/report_probe.py)."""
    return probe(written.out / "report.html", tmp_path_factory.mktemp("probe"))


def raw(database: Path, sql: str) -> list[tuple]:
    """``sql`` on the tables the loader wrote (schema proofpoint), not on the marts."""
    with duckdb.connect(str(database), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(sql).fetchall()


def test_no_chart_draws_text_over_text(drawn):
    """Labels collided: "median" on "p90", the longest bar's label on the legend."""
    assert set(drawn.texts) == {chart.element_id for chart in CHARTS}
    found = {chart: overlaps(boxes) for chart, boxes in drawn.texts.items()}
    assert not {chart: pairs for chart, pairs in found.items() if pairs}
    assert all(len(boxes) >= 5 for boxes in drawn.texts.values())  # text was measured


def test_no_chart_text_is_cut_at_the_chart_edge(drawn):
    """C7's subtitle ran 150 pixels past the chart's right edge (helper-17's review): every
    drawn text lies within its chart's SVG."""
    cut = {
        chart: [box.text for box in boxes if not drawn.frames[chart].holds(box)]
        for chart, boxes in drawn.texts.items()
    }
    assert not {chart: texts for chart, texts in cut.items() if texts}


def test_time_axes_span_the_windows_read(drawn, marts_database):
    """The retroactive scatter spanned a month, clicks per day seven days for 24 hours read:
    every time axis lies within the windows read (the first starts at most 60 minutes, the
    longest window, before its end) and covers them."""
    ((first, last),) = raw(
        marts_database,
        'SELECT epoch_ms(min("queryEndTime")), epoch_ms(max("queryEndTime")) FROM ('
        + " UNION ALL ".join(
            f'SELECT "queryEndTime" FROM proofpoint.{t}'
            for t in (
                "clicks_permitted",
                "clicks_blocked",
                "messages_delivered",
                "messages_blocked",
            )
        )
        + ")",
    )
    for chart, scale in (("chart-c1", "x"), ("chart-c3", "x"), ("chart-c3", "y")):
        low, high = drawn.scales[chart][scale]
        assert first - 60 * 60_000 <= low <= first, (chart, scale)
        assert high == last, (chart, scale)


def test_clicks_over_time_draws_every_click_of_the_period(written, marts_database):
    """Each click is in one bucket or in the count of those made before the period, which the
    subtitle gives; the totals equal a count on the raw tables."""
    spec = embedded_specs((written.out / "report.html").read_text(encoding="utf-8"))["chart-c1"]
    values = next(layer for layer in spec["layer"] if "values" in layer.get("data", {}))
    drawn_clicks = {"permitted": 0, "blocked": 0}
    for row in values["data"]["values"]:
        drawn_clicks[row["disposition"]] += row["events"]
    note = re.search(r"(\d+) clicks? made before the period", json.dumps(spec["title"]))
    before = int(note.group(1)) if note else 0
    for disposition in drawn_clicks:
        ((count,),) = raw(
            marts_database, f"SELECT count(DISTINCT id) FROM proofpoint.clicks_{disposition}"
        )
        drawn_clicks[disposition] -= count
    assert sum(drawn_clicks.values()) + before == 0, drawn_clicks


def test_the_funnel_narrows_and_counts_what_the_raw_tables_hold(written, marts_database):
    """ "clicked" exceeded "delivered" and "blocked" was a stage: now each stage is part of the
    one before, and each equals a count of distinct recipients on the raw tables."""
    spec = embedded_specs((written.out / "report.html").read_text(encoding="utf-8"))["chart-c4"]
    bars = next(layer for layer in spec["layer"] if layer.get("mark", {}).get("type") == "bar")
    stages = defaultdict(dict)
    for row in bars["data"]["values"]:
        stages[row["threat_id"]][row["stage"]] = row["recipients"]
    assert stages
    reached = """
        SELECT DISTINCT t ->> 'threatID' AS threat, lower(r) AS recipient, '{d}' AS d
        FROM proofpoint.messages_{d} AS m, unnest(m.recipient) AS u(r),
             unnest(CAST(m."threatsInfoMap" AS JSON[])) AS v(t)"""
    clicks = """SELECT DISTINCT "threatID" AS threat, lower(recipient) AS recipient, '{d}' AS d
        FROM proofpoint.clicks_{d}"""
    for threat, got in stages.items():
        ((targeted, delivered, clicked, permitted),) = raw(
            marts_database,
            f"""
            WITH m AS ({reached.format(d="delivered")} UNION {reached.format(d="blocked")}),
                 c AS ({clicks.format(d="permitted")} UNION {clicks.format(d="blocked")})
            SELECT count(DISTINCT recipient),
                   count(DISTINCT recipient) FILTER (WHERE d = 'delivered'),
                   count(DISTINCT recipient) FILTER (WHERE d = 'delivered' AND recipient IN
                       (SELECT recipient FROM c WHERE threat = '{threat}')),
                   count(DISTINCT recipient) FILTER (WHERE d = 'delivered' AND recipient IN
                       (SELECT recipient FROM c WHERE threat = '{threat}' AND d = 'permitted'))
            FROM m WHERE threat = '{threat}'""",
        )
        assert list(got.values()) == [targeted, delivered, clicked, permitted], threat
        assert targeted >= delivered >= clicked >= permitted


def test_top_clickers_rank_as_the_terminal_does_and_colour_what_differs(written, marts_database):
    """The report ranked by permitted + blocked, the demo's terminal by permitted; every bar
    was "repeat clicker". Both rank by permitted clicks now, and the colours split permitted
    from blocked."""
    spec = embedded_specs((written.out / "report.html").read_text(encoding="utf-8"))["chart-c5"]
    assert "repeat clicker" not in json.dumps(spec)
    order = spec["layer"][0]["encoding"]["y"]["sort"]
    ranked = [
        user
        for user, _, _ in raw(
            marts_database,
            """WITH p AS (SELECT lower(recipient) AS u, count(DISTINCT id) AS n
                          FROM proofpoint.clicks_permitted GROUP BY 1),
                    b AS (SELECT lower(recipient) AS u, count(DISTINCT id) AS n
                          FROM proofpoint.clicks_blocked GROUP BY 1)
               SELECT p.u, p.n, coalesce(b.n, 0) FROM p LEFT JOIN b USING (u)
               ORDER BY p.n DESC, p.n + coalesce(b.n, 0) DESC, p.u""",
        )
    ]
    assert order[: len(order) // 2] == ranked[: len(order) // 2]
    domain = spec["layer"][0]["encoding"]["color"]["scale"]["domain"]
    assert domain == ["permitted", "blocked"]


def test_every_card_counts_permitted_clicks(drawn, marts_database):
    """The retroactive card counted blocked clicks too, the first card permitted ones only."""
    ((retroactive, permitted),) = raw(
        marts_database,
        """SELECT count(DISTINCT id) FILTER (WHERE "clickTime" < "threatTime"), count(DISTINCT id)
           FROM proofpoint.clicks_permitted""",
    )
    dom = ReportDom()
    dom.feed(drawn.dom)
    assert dom.texts["headline-retroactive"].startswith(f"{retroactive} of {permitted} ")
    assert "permitted" in dom.texts["headline-retroactive"]


def test_the_work_queue_can_be_worked(written, marts_database):
    """19 of 20 rows showed "—" for minutes to click, with no threat time, sender, subject,
    threat id or campaign, and the rest of the queue was nowhere."""
    html = (written.out / "report.html").read_text(encoding="utf-8")
    table = re.search(r'<table id="work-queue">.*?</table>', html, re.S).group(0)
    for header in ("Threat time", "Sender", "Subject", "Threat id", "Campaign"):
        assert f">{header}" in table, header
    assert '<a class="csv" href="work_queue.csv">' in table
    headers = re.findall(r'<th scope="col">([^<]*)</th>', table)
    cells_of = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in table.split("<tr>")[2:]]
    minutes = [dict(zip(headers, row, strict=True))["Minutes to click"] for row in cells_of]
    # a number, or why there is none: never a bare dash
    assert all(re.fullmatch(r"\d+\.\d", m) or m == "no delivery in data" for m in minutes)
    with (written.out / "work_queue.csv").open(encoding="utf-8") as out:
        rows = list(csv.DictReader(out))
    ((active,),) = raw(marts_database, f"SELECT count(*) FROM {SCHEMA}.mart_click_exposure")
    assert len(rows) == active > 20
    assert {"threat_time", "sender", "subject", "threat_id", "campaign_name"} <= set(rows[0])
    assert [int(r["priority_rank"]) for r in rows] == list(range(1, active + 1))
    # "no delivery in data" exactly where the queue has no delivery for the click
    for row, shown in zip(rows, minutes, strict=False):
        assert (shown == "no delivery in data") == (row["message_time"] == ""), row["click_id"]


def test_the_header_names_the_period_the_generation_and_the_file_as_given(marts_database, tmp_path):
    """The header had no data period and no generation time, and named the author's temp
    path: a report written from a project names its file relative to it."""
    project = tmp_path / "project"
    (project / "output").mkdir(parents=True)
    shutil.copyfile(marts_database, project / "output" / "sandbox.duckdb")
    started = time.time()
    done = run_report(
        "--database", str(project / "output" / "sandbox.duckdb"), "--output", "out", cwd=project
    )
    assert done.returncode == 0, done.stderr
    html = (project / "out" / "report.html").read_text(encoding="utf-8")
    source = re.search(r'<p class="source" id="source">(.*?)</p>', html).group(1)
    assert "From the dbt marts in output/sandbox.duckdb (schema analytics)" in source
    assert str(tmp_path) not in html.split('<script type="application/json"')[0]
    ((end,),) = raw(
        marts_database,
        """SELECT strftime(max("queryEndTime"), '%Y-%m-%d %H:%M:%S') FROM
           (SELECT "queryEndTime" FROM proofpoint.clicks_permitted UNION ALL
            SELECT "queryEndTime" FROM proofpoint.messages_delivered)""",
    )
    period = re.search(r'<p id="period">(.*?)</p>', html).group(1)
    assert f"to {end} UTC" in period
    generated = re.search(r"Generated (\S+ \S+) UTC", html).group(1)
    stamp = datetime.strptime(generated, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    assert started - 2 <= stamp.timestamp() <= time.time() + 1


@pytest.mark.parametrize(
    ("element_id", "csv_name", "mart"),
    [
        ("condemned", "post_delivery_condemned.csv", "mart_post_delivery_condemned"),
        ("campaigns", "campaigns.csv", "mart_campaigns_reached"),
        ("campaign-threats", "campaign_threats.csv", "mart_campaign_threats"),
        ("attackers-list", "attackers.csv", "mart_attackers"),
        ("people", "people_at_risk.csv", "mart_people_at_risk"),
        ("indicators", "indicators_to_hunt.csv", "mart_indicators_to_hunt"),
    ],
)
def test_each_list_is_shown_and_exported_whole(written, marts_database, element_id, csv_name, mart):
    """Built but not shown (condemned after delivery, ingest health), and the new marts: each
    is a table on the page with its first rows, and a CSV with all of them."""
    html = (written.out / "report.html").read_text(encoding="utf-8")
    table = re.search(rf'<table id="{element_id}">.*?</table>', html, re.S)
    assert table, element_id
    ((count,),) = raw(marts_database, f"SELECT count(*) FROM {SCHEMA}.{mart}")
    assert count > 0, f"the fixture's {mart} is empty: this test would prove nothing"
    assert table.group(0).count("<tr>") - 1 == min(20, count)
    with (written.out / csv_name).open(encoding="utf-8") as out:
        assert sum(1 for _ in csv.DictReader(out)) == count


def test_ingest_health_is_shown_per_stream(written, marts_database):
    html = (written.out / "report.html").read_text(encoding="utf-8")
    table = re.search(r'<table id="ingest-health">.*?</table>', html, re.S).group(0)
    for stream in ("clicks_permitted", "clicks_blocked", "messages_delivered", "messages_blocked"):
        ((rows,),) = raw(marts_database, f"SELECT count(*) FROM proofpoint.{stream}")
        assert re.search(
            rf"<td class=\"text\">{stream}</td>.*?<td class=\"int\">{rows}</td>", table, re.S
        ), stream


@pytest.mark.fast
def test_a_csv_cell_never_runs_as_a_formula(tmp_path):
    """A subject or URL is the attacker's text: a spreadsheet must not run it."""
    path = tmp_path / "list.csv"
    write_csv(
        path,
        [{"subject": '=HYPERLINK("x")', "n": -3, "s": "-1+2", "t": "ok"}],
        ["subject", "n", "s", "t"],
    )
    with path.open(encoding="utf-8") as out:
        (row,) = list(csv.DictReader(out))
    assert row == {"subject": '\'=HYPERLINK("x")', "n": "-3", "s": "'-1+2", "t": "ok"}


# -- a SOC analyst's review of the demo's report (helper-17): one test per finding -----------

# The demo's day: 24 one-hour windows, the first event at 02:29:40, the last window's end at
# 02:23:44 the next day (so both UTC days are only partly in the period).
PERIOD = Period(
    start="2026-12-07T02:29:40Z",
    end="2026-12-08T02:23:44Z",
    first_window_end="2026-12-07T03:28:44Z",
    windows=24,
)


def listing_of(rows: list[dict]) -> Listing:
    return Listing(list(rows[0]) if rows else [], rows)


def marts_of(**lists) -> Marts:
    """The report's inputs: empty but for ``lists`` (Listings given as row lists)."""
    listings = {
        "campaigns",
        "campaign_threats",
        "attackers",
        "people",
        "indicators",
        "work_queue",
        "condemned",
        "ingest",
    }
    values = {
        "period": PERIOD,
        "clicks": [],
        "latencies": [],
        "funnel": [],
        "top_clickers": [],
        "most_attacked": [],
        "attackers_daily": [],
    }
    values.update({name: listing_of([]) for name in listings})
    for name, rows in lists.items():
        values[name] = listing_of(rows) if name in listings else rows
    return Marts(**values)


def cells(table_html: str) -> list[list[str]]:
    """The body rows of a rendered table as the texts of their cells."""
    body = table_html.split("<tbody>", 1)[1]
    return [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in body.split("<tr>")[1:]]


def layer_values(spec: dict) -> list[dict]:
    """Every inline data row of a chart spec (top level and layers)."""
    out = []
    for part in [spec, *spec.get("layer", [])]:
        out += part.get("data", {}).get("values", [])
    return out


# -- the work queue --------------------------------------------------------------------------


WORK_QUEUE_ROW = {
    "priority_rank": 87,
    "priority_score": 4.0,
    "click_time": "2026-12-07T18:08:05Z",
    "recipient": "ivan.jones@acme-labs.example",
    "url": "https://docu-sign-now.example/verify8b0f3a139a",
    "url_host": "docu-sign-now.example",
    "classification": "malware",
    "threat_id": "9c9b7170780a1c29639fed2f8a7f532ab0729f784876987179d9b7acb10ef97d",
    "threat_status": "active",
    "threat_time": "2026-12-07T17:00:00Z",
    "is_retroactive": False,
    "is_repeat_clicker": True,
    "minutes_to_click": 5.36685,
    "message_time": "2026-12-07T18:02:43Z",  # the delivery IS in the data
    "sender": "grace@secure-login-portal.example",
    "subject": None,  # Proofpoint sent no subject (the sandbox's sparse messages: 38 of 850)
    "campaign_name": None,
    "campaign_id": None,
    "click_ip": "198.51.100.7",
    "click_id": "c-1",
}


def test_work_queue_does_not_say_no_delivery_for_a_delivered_message_without_subject():
    """On the demo, 26 of the 730 queued clicks have their delivery in the data (message time,
    minutes to click) but a message Proofpoint sent without a subject: the Subject cell says
    "no delivery in data", beside a minutes-to-click the same row computed from that delivery.
    A missing subject is not a missing delivery."""
    table = tables(marts_of(work_queue=[WORK_QUEUE_ROW]), active=1)["work-queue"]
    headers = [column.header for column in table.columns]
    (row,) = cells(html(table))
    by_header = dict(zip(headers, row, strict=True))
    assert by_header["Minutes to click"] == "5.4"  # the delivery is there
    assert "no delivery" not in by_header["Subject"], by_header


# -- people at risk --------------------------------------------------------------------------


PERSON = {
    "risk_rank": 40,
    "user_email": "walter.scott@acme-corp.example",
    "segment": "clicking, not very attacked",
    "action": "watch",
    "attack_index": None,
    "attack_families": None,
    "vap_threshold": None,
    "is_very_attacked": False,
    "is_top_clicker": False,
    "proofpoint_clicks": None,  # not a top clicker
    "clicks_permitted": 2,
    "clicks_blocked": 1,
    "last_click_at": "2026-12-07T12:00:00Z",
    "name": None,
    "department": None,
    "title": None,
    "is_vip": False,
    "snapshot_at": "2026-12-08T00:00:00Z",
    "window_days": 30,
}


def test_people_table_does_not_give_a_click_count_proofpoint_never_gave():
    """The people table's "Proofpoint's click count" column declares "not a top clicker" for a
    person missing from the top-clickers list, but the mart coalesces the count to 0, so that
    text is never shown: 691 of the demo's 723 rows say Proofpoint counted 0 clicks for people
    Proofpoint does not list at all (and the 7 top clickers without a click of ours read the
    same as them elsewhere)."""
    table = tables(marts_of(people=[PERSON]), active=0)["people"]
    headers = [column.header for column in table.columns]
    (row,) = cells(html(table))
    assert dict(zip(headers, row, strict=True))["Proofpoint's click count"] == "not a top clicker"


def test_people_chart_says_how_many_people_share_a_point():
    """C10 draws one circle per person at (attack index, our clicks). Everyone not very attacked
    sits at x = 0 on a whole number of clicks: on the demo 691 people are drawn as 12 circles,
    so the chart shows a dozen blue dots for 95% of the list. A point standing for several
    people must say how many (size, a count label or an aggregate)."""
    people = [
        dict(PERSON, user_email=f"user{i}@acme.example", clicks_permitted=i % 3, clicks_blocked=0)
        for i in range(60)
    ]
    spec = attack_charts.people_at_risk(marts_of(people=people)).to_dict()
    drawn = layer_values(spec)
    assert len(drawn) < len(people)  # the fixture does put several people in one place
    assert sum(row["people"] for row in drawn) == len(people)
    assert spec["encoding"]["size"]["field"] == "people"
    assert any(field["field"] == "people" for field in spec["encoding"]["tooltip"])


# -- who is attacking us ---------------------------------------------------------------------


def test_attackers_over_time_marks_days_only_partly_in_the_period():
    """Issue 27: "clicks per day shows ... partial days as full ones". C1 was fixed (hourly up to
    three days, partial buckets paler), but the new C9 repeats it: the demo's 24 hours are two
    UTC-day columns of equal width, 2026-12-08 holding 2.4 hours, so every attacker seems to
    stop (TA570: 299 people, then 30). Its x axis is an ordinal of days, not the period."""
    attackers = [
        {
            "attacker_kind": "actor",
            "attacker_rank": 1,
            "attacker": "TA570",
            "campaigns": 7,
            "threats": 64,
            "users_targeted": 324,
            "messages_delivered": 128,
            "messages_blocked": 95,
            "clicks_permitted": 204,
            "first_seen_at": "2026-12-07T02:30:27Z",
            "last_seen_at": "2026-12-08T02:13:33Z",
        }
    ]
    daily = [
        {
            "attacker_kind": "actor",
            "attacker": "TA570",
            "day": day,
            "users_targeted": people,
            "messages_delivered": 1,
            "clicks_permitted": 1,
        }
        for day, people in (("2026-12-07", 299), ("2026-12-08", 30))
    ]
    spec = attack_charts.attackers_over_time(
        marts_of(attackers=attackers, attackers_daily=daily)
    ).to_dict()
    parts = [spec, *spec.get("layer", [])]
    x = next(part["encoding"]["x"] for part in parts if "x" in part.get("encoding", {}))
    start = datetime(2026, 12, 7, 2, 29, 40, tzinfo=timezone.utc).timestamp() * 1000
    end = datetime(2026, 12, 8, 2, 23, 44, tzinfo=timezone.utc).timestamp() * 1000
    if x.get("type") == "temporal":  # a time axis: it must span the period, as C1 and C3 do
        low, high = x["scale"]["domain"]
        assert start - 3_600_000 <= low and high <= end + 3_600_000, x
    else:  # days as columns: both are partial here, and the chart must say so
        flagged = {row["day"] for row in layer_values(spec) if row.get("partial")}
        assert flagged == {"2026-12-07", "2026-12-08"}, "partial days drawn as full ones"


CAMPAIGN = {
    "reach_rank": 4,
    "campaign_id": "c-formbook",
    "campaign_name": 'Formbook "2611_44855" | Global Targeting | URLs | 22 November 2026',
    "actors": "TA544, TA571",
    "malware": "Emotet, Formbook",
    "families": "",
    "techniques": "LNK file, OneNote attachment",
    "threats_seen": 16,
    "messages_delivered": 21,
    "messages_blocked": 21,
    "recipients_targeted": 76,
    "recipients_delivered": 38,
    "recipients_clicked": 72,  # the demo's campaign #4: 72 clickers, 38 delivered to
    "recipients_clicked_delivered": 30,
    "clicks_permitted": 38,
    "clicks_blocked": 40,
    "first_seen_at": "2026-12-07T03:17:14Z",
    "last_seen_at": "2026-12-08T01:45:17Z",
}


def test_campaign_chart_does_not_show_more_clickers_than_deliveries():
    """Issue 27: "A funnel that is not one: ... 'clicked' can exceed 'delivered'". C4 was made a
    real funnel, but C7 draws each campaign as targeted → delivered → clicked with clicked
    counting every clicker, also those whose delivery is not in the data: on the demo 5 of the
    10 campaigns drawn have a longer "clicked" bar than "delivered" (#4 Formbook: 72 against
    38); the campaign-threats table shows the same (20 targeted, 22 who clicked)."""
    spec = attack_charts.campaigns_reached(marts_of(campaigns=[CAMPAIGN])).to_dict()
    stages: dict[str, dict[str, int]] = defaultdict(dict)
    for row in layer_values(spec):
        if "recipients" in row:  # the bars (the notes beside them carry none)
            stages[row["campaign"]][row["stage"]] = row["recipients"]
    for campaign, bars in stages.items():
        after = [stage for stage in bars if stage not in {"targeted", "delivered"}]
        assert all(bars[stage] <= bars["delivered"] for stage in after), (campaign, bars)


CSV_MARTS = {
    "work_queue.csv": "mart_click_exposure",
    "post_delivery_condemned.csv": "mart_post_delivery_condemned",
    "campaigns.csv": "mart_campaigns_reached",
    "campaign_threats.csv": "mart_campaign_threats",
    "attackers.csv": "mart_attackers",
    "people_at_risk.csv": "mart_people_at_risk",
    "indicators_to_hunt.csv": "mart_indicators_to_hunt",
}


def test_each_csv_holds_every_column_of_its_mart(written, marts_database):
    """README: "CSV files beside the page, every row and every column". The CSVs hold the
    columns the report's queries read, and drop others of the mart: attackers.csv has no
    users_clicked or clicks_blocked, campaigns.csv no brands, started_at or is_notable,
    indicators_to_hunt.csv no scope (campaign-wide or the threat's counts), messages_blocked,
    clicks_permitted or evidence time, post_delivery_condemned.csv no first_click_at,
    people_at_risk.csv not the top-clickers snapshot its Proofpoint counts come from.
    Surrogate keys (``*_key``) aside, a CSV must hold its mart's columns."""
    lost = {}
    for name, mart in CSV_MARTS.items():
        with (written.out / name).open(encoding="utf-8") as out:
            header = next(csv.reader(out))
        columns = [
            column
            for (column,) in raw(
                marts_database,
                f"""SELECT column_name FROM information_schema.columns
                    WHERE table_schema = '{SCHEMA}' AND table_name = '{mart}'
                    ORDER BY ordinal_position""",
            )
        ]
        missing = [c for c in columns if c not in header and not c.endswith("_key")]
        if missing:
            lost[name] = missing
    assert not lost


def test_a_campaign_is_first_seen_no_later_than_its_first_message_or_click(marts_database):
    """Campaigns' "First seen (UTC)" is the earliest event_created_at: for a message the later
    of its delivery and its threats' times. A message delivered before its threat was known
    therefore moves the campaign's first sighting to when Proofpoint condemned it: on the demo
    "Tordal 2610_69952" reads first seen 03:11:41 although one of its messages reached us at
    00:08:27 (8 of 25 campaigns are seen later than their first delivery or click)."""
    late = raw(
        marts_database,
        f"""
        WITH events AS (
            SELECT m.campaign_id, t.message_time AS at
            FROM {SCHEMA}.int_message_threats AS t
            JOIN {SCHEMA}.int_threat_campaigns AS m ON m.threat_id = t.threat_id
            UNION ALL
            SELECT m.campaign_id, c.click_time
            FROM {SCHEMA}.fct_clicks AS c
            JOIN {SCHEMA}.int_threat_campaigns AS m ON m.threat_id = c.threat_id
        )
        SELECT r.campaign_id, r.first_seen_at, min(e.at) AS first_event
        FROM {SCHEMA}.mart_campaigns_reached AS r JOIN events AS e USING (campaign_id)
        GROUP BY ALL HAVING min(e.at) < r.first_seen_at""",
    )
    ((campaigns,),) = raw(marts_database, f"SELECT count(*) FROM {SCHEMA}.mart_campaigns_reached")
    assert campaigns > 0, "the fixture has no campaign: this test would prove nothing"
    assert not late, f"{len(late)} of {campaigns} campaigns first seen after their first event"
