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

from tap_proofpoint_tap.report import charts
from tap_proofpoint_tap.report.table import work_queue_table

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tap_proofpoint_tap.report.headline import Headline
    from tap_proofpoint_tap.report.queries import Marts, Row

PNG_SCALE = 2

# (container id, PNG name, chart function, the Marts field it draws)
CHARTS: tuple[tuple[str, str, Callable[[list[Row]], Any], str], ...] = (
    ("chart-c1", "clicks_per_day", charts.clicks_per_day, "daily_clicks"),
    ("chart-c2", "click_latency", charts.click_latency, "latencies"),
    ("chart-c3", "retroactive_exposure", charts.retroactive_exposure, "click_threat_times"),
    ("chart-c4", "threat_funnel", charts.threat_funnel, "funnel"),
    ("chart-c5", "top_clickers", charts.top_clickers, "top_clickers"),
    ("chart-c6", "most_attacked", charts.most_attacked, "most_attacked"),
)


@dataclass(frozen=True)
class Report:
    """The files written."""

    html: Path
    pngs: dict[str, Path]


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
    for element_id, _, chart, field in CHARTS:
        spec = chart(getattr(marts, field)).to_dict()
        spec.pop("$schema", None)
        out[element_id] = spec
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
.source { color: #52606d; margin: 0 0 16px; font-size: 13px; }
#headline { display: flex; gap: 16px; margin-bottom: 24px; }
.number { flex: 1; border: 1px solid #d9e2ec; border-radius: 6px; padding: 12px 16px; }
.number .value { font-size: 32px; font-weight: 600; color: #9b2c2c; }
.number .label { font-size: 14px; color: #52606d; }
.chart { margin: 0 0 28px; min-height: 200px; }
table { border-collapse: collapse; font-size: 13px; width: 100%; }
caption { text-align: left; font-weight: 600; font-size: 16px; padding: 6px 0; }
th, td { border: 1px solid #d9e2ec; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #f0f4f8; }
td.url { font-family: ui-monospace, monospace; word-break: break-all; max-width: 420px; }
td.int, td.float { text-align: right; }
"""

EMBED = """
const specs = JSON.parse(document.getElementById("report-specs").textContent);
for (const [id, spec] of Object.entries(specs)) {
  vegaEmbed("#" + id, spec, {renderer: "svg", actions: false, mode: "vega-lite"})
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
        ("headline-median", headline.median_text(), "median minutes from delivery to click"),
        (
            "headline-retroactive",
            headline.retroactive_text(),
            "retroactive clicks: clicked before the threat was known",
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


def page(
    chart_specs: dict[str, dict[str, Any]], marts: Marts, headline: Headline, source: str
) -> str:
    """The whole report as one HTML document."""
    containers = "\n".join(
        f'<div class="chart" id="{element_id}"></div>' for element_id, *_ in CHARTS
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Proofpoint TAP: click exposure</title>
<style>{STYLE}</style>
</head>
<body>
<h1>Proofpoint TAP: click exposure</h1>
<p class="source">From the dbt marts in {escape(source)}. Times in UTC.</p>
{headline_html(headline)}
{containers}
{work_queue_table(marts.work_queue, headline.active_permitted_clicks)}
<script type="application/json" id="report-specs">{script_json(chart_specs)}</script>
<script>{javascript_bundle()}</script>
<script>{EMBED}</script>
</body>
</html>
"""


def write_report(marts: Marts, headline: Headline, out: Path, source: str) -> Report:
    """Write ``out/report.html`` and ``out/<chart>.png``; ``source`` names the data read."""
    out.mkdir(parents=True, exist_ok=True)
    html = out / "report.html"
    chart_specs = specs(marts)
    html.write_text(page(chart_specs, marts, headline, source), encoding="utf-8")
    version = vegalite_version()
    pngs = {}
    for element_id, name, _, _ in CHARTS:
        path = out / f"{name}.png"
        path.write_bytes(
            vl_convert.vegalite_to_png(chart_specs[element_id], vl_version=version, scale=PNG_SCALE)
        )
        pngs[name] = path
    return Report(html=html, pngs=pngs)
