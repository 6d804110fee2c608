"""Write ``report.html`` (one file that opens offline) and one PNG per chart.

The page embeds the Vega, Vega-Lite and vega-embed bundle from vl-convert once, and each
chart's Vega-Lite spec as JSON; the browser draws them as SVG. The PNGs are drawn by
vl-convert itself, with no browser.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from typing import TYPE_CHECKING, Any

import altair as alt
import vl_convert

from tap_proofpoint_tap.report.exports import write_csv
from tap_proofpoint_tap.report.sections import CHARTS, SECTIONS, Section, tables
from tap_proofpoint_tap.report.table import Table, html

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from tap_proofpoint_tap.report.headline import Headline
    from tap_proofpoint_tap.report.queries import Marts, Period

PNG_SCALE = 2


@dataclass(frozen=True)
class Report:
    """The files written."""

    html: Path
    pngs: dict[str, Path]
    csvs: dict[str, Path]


def vegalite_version() -> str | None:
    """Altair's Vega-Lite as vl-convert names it ('6.4'), or None (vl-convert's latest)."""
    major_minor = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    return major_minor if major_minor in vl_convert.get_vegalite_versions() else None


@lru_cache(maxsize=1)
def javascript_bundle() -> str:
    """vega, vega-lite and vega-embed as one inline script (defines window.vegaEmbed)."""
    # The stub marks ``snippet`` required; vl-convert makes it optional (no snippet: the
    # libraries alone, which is what the page needs).
    bundle = vl_convert.javascript_bundle(vl_version=vegalite_version())  # type: ignore[call-arg]
    return bundle.replace("</script", "<\\/script")


def specs(marts: Marts) -> dict[str, dict[str, Any]]:
    """Each container id's Vega-Lite spec, without ``$schema`` (the page names no URL)."""
    out = {}
    for chart in CHARTS:
        spec = chart.draw(marts).to_dict()
        spec.pop("$schema", None)
        out[chart.element_id] = spec
    return out


def script_json(value: Any) -> str:
    """JSON safe inside a <script> element: no '<', '>' or '&' that HTML could act on."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, code in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, code)
    return text


STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px;
       color: #1f2933; background: #ffffff; max-width: 1360px; }
h1 { font-size: 24px; margin: 0 0 4px; }
.source { color: #52606d; margin: 0 0 4px; font-size: 13px; }
#period { font-size: 15px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 32px 0 2px; border-bottom: 1px solid #d9e2ec; }
.answers { color: #52606d; margin: 0 0 16px; }
#headline { display: flex; gap: 16px; margin-bottom: 24px; }
.number { flex: 1; border: 1px solid #d9e2ec; border-radius: 6px; padding: 12px 16px; }
.number .value { font-size: 32px; font-weight: 600; color: #9b2c2c; }
.number .label { font-size: 14px; color: #52606d; }
.chart { margin: 0 0 28px; min-height: 200px; }
table { border-collapse: collapse; font-size: 13px; width: 100%; margin: 0 0 28px; }
caption { text-align: left; font-weight: 600; font-size: 16px; padding: 6px 0; }
th, td { border: 1px solid #d9e2ec; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #f0f4f8; }
td.url { font-family: ui-monospace, monospace; word-break: break-all; max-width: 420px; }
td.int, td.float { text-align: right; }
"""

EMBED = """
const specs = JSON.parse(document.getElementById("report-specs").textContent);
window.reportViews = {};  // each chart's Vega view, for whoever inspects the page
for (const [id, spec] of Object.entries(specs)) {
  vegaEmbed("#" + id, spec, {renderer: "svg", actions: false, mode: "vega-lite"})
    .then((result) => { window.reportViews[id] = result.view; })
    .catch((error) => {
      document.getElementById(id).textContent = "This chart failed to render: " + error;
    });
}
"""


def headline_html(headline: Headline) -> str:
    """The three numbers, each in a box with a stable id."""
    boxes = (
        (
            "headline-active",
            str(headline.active_permitted_clicks),
            "permitted clicks on threats still active",
        ),
        (
            "headline-median",
            headline.median_text(),
            "median minutes from delivery to a permitted click",
        ),
        (
            "headline-retroactive",
            headline.retroactive_text(),
            "permitted clicks made before the threat was known (retroactive)",
        ),
    )
    return (
        '<div id="headline">'
        + "".join(
            f'<div class="number" id="{element_id}"><div class="value">{escape(value)}</div>'
            f'<div class="label">{escape(label)}</div></div>'
            for element_id, value, label in boxes
        )
        + "</div>"
    )


def when(iso: str | None) -> str:
    return "—" if iso is None else iso.replace("T", " ").removesuffix("Z")


def period_html(period: Period, generated: datetime) -> str:
    """The header's data period (the first event created to the last window's end), the
    windows read, and when the report was generated."""
    if period.end is None:
        covered = "Data period: nothing was loaded yet."
    else:
        covered = (
            f"Data period: {when(period.start)} to {when(period.end)} UTC "
            f"({period.windows} API windows read, the first ending "
            f"{when(period.first_window_end)}, the last ending {when(period.end)})."
        )
    return (
        f'<p id="period">{escape(covered)}</p>\n'
        f'<p class="source" id="generated">Generated {generated:%Y-%m-%d %H:%M:%S} UTC.</p>'
    )


def section_html(section: Section, all_tables: dict[str, Table]) -> str:
    """A section: its question, its charts' containers, its tables."""
    parts = [
        f'<section id="section-{section.element_id}">',
        f"<h2>{escape(section.title)}</h2>",
        f'<p class="answers">{escape(section.answers)}</p>',
    ]
    parts += [f'<div class="chart" id="{chart.element_id}"></div>' for chart in section.charts]
    parts += [html(all_tables[element_id]) for element_id in section.tables]
    parts.append("</section>")
    return "\n".join(parts)


def page(
    chart_specs: dict[str, dict[str, Any]],
    marts: Marts,
    headline: Headline,
    source: str,
    generated: datetime,
) -> str:
    """The whole report as one HTML document."""
    all_tables = tables(marts, headline.active_permitted_clicks)
    body = "\n".join(section_html(section, all_tables) for section in SECTIONS)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Proofpoint TAP: exposure and attackers</title>
<style>{STYLE}</style>
</head>
<body>
<h1>Proofpoint TAP: exposure and attackers</h1>
{period_html(marts.period, generated)}
<p class="source" id="source">From the dbt marts in {escape(source)}. Times in UTC.</p>
{headline_html(headline)}
{body}
<script type="application/json" id="report-specs">{script_json(chart_specs)}</script>
<script>{javascript_bundle()}</script>
<script>{EMBED}</script>
</body>
</html>
"""


def write_report(
    marts: Marts, headline: Headline, out: Path, source: str, generated: datetime
) -> Report:
    """Write ``out/report.html``, ``out/<chart>.png`` and ``out/<list>.csv``; ``source`` names
    the data read."""
    out.mkdir(parents=True, exist_ok=True)
    html_path = out / "report.html"
    chart_specs = specs(marts)
    html_path.write_text(page(chart_specs, marts, headline, source, generated), encoding="utf-8")
    version = vegalite_version()
    pngs = {}
    for chart in CHARTS:
        path = out / f"{chart.name}.png"
        path.write_bytes(
            vl_convert.vegalite_to_png(
                chart_specs[chart.element_id], vl_version=version, scale=PNG_SCALE
            )
        )
        pngs[chart.name] = path
    csvs = {}
    for table in tables(marts, headline.active_permitted_clicks).values():
        path = out / table.csv
        write_csv(path, table.listing.rows, table.listing.columns)
        csvs[table.csv] = path
    return Report(html=html_path, pngs=pngs, csvs=csvs)
