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

from tap_proofpoint_tap.report import style  # noqa: E402
from tap_proofpoint_tap.report.exports import write_csv  # noqa: E402
from tap_proofpoint_tap.report.queries import MARTS  # noqa: E402
from tap_proofpoint_tap.report.render import PNG_SCALE  # noqa: E402
from tap_proofpoint_tap.report.sections import CHARTS  # noqa: E402
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
    minutes = re.findall(r'<td class="float">([^<]*)</td>', table)
    assert "—" not in minutes
    with (written.out / "work_queue.csv").open(encoding="utf-8") as out:
        rows = list(csv.DictReader(out))
    ((active,),) = raw(marts_database, f"SELECT count(*) FROM {SCHEMA}.mart_click_exposure")
    assert len(rows) == active > 20
    assert {"threat_time", "sender", "subject", "threat_id", "campaign_name"} <= set(rows[0])
    assert [int(r["priority_rank"]) for r in rows] == list(range(1, active + 1))


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
