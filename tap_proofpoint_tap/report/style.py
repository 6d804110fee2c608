"""What every chart shares: sizes, colours, the empty-chart frame and small value helpers."""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING, Any

import altair as alt

if TYPE_CHECKING:
    from collections.abc import Sequence

WIDTH = 900
HEIGHTS = {
    "clicks_over_time": 380,
    "click_latency": 360,
    "retroactive_exposure": 460,
    "threat_funnel": 560,
    "top_clickers": 440,
    "most_attacked": 440,
    "campaigns_reached": 480,
    "attackers": 420,
    "attackers_over_time": 360,
    "people_at_risk": 420,
}

# Fixed colours per classification, the same in every chart; unknown labels get spare colours.
CLASSIFICATION_COLOURS = {
    "malware": "#c0392b",
    "phish": "#e67e22",
    "impostor": "#8e44ad",
    "spam": "#7f8c8d",
    "other": "#2c7fb8",
    "unknown": "#bdc3c7",
}
SPARE_COLOURS = ("#1b9e77", "#66a61e", "#e6ab02", "#a6761d", "#e7298a", "#17becf")
STAGES = (
    ("recipients_targeted", "targeted"),
    ("recipients_delivered", "delivered"),
    ("recipients_clicked", "clicked after delivery"),
    ("recipients_permitted", "click permitted"),
)
STAGE_COLOURS = ("#9ecae1", "#4292c6", "#fd8d3c", "#d94801")
CAMPAIGN_STAGES = (
    ("recipients_targeted", "targeted"),
    ("recipients_delivered", "delivered"),
    ("recipients_clicked_delivered", "clicked after delivery"),
)
SEGMENT_COLOURS = {  # mart_people_at_risk's segments, most urgent first
    "very attacked and clicking": "#c0392b",
    "very attacked, not yet clicking": "#e67e22",
    "clicking, not very attacked": "#2c7fb8",
}
DISPOSITION_COLOURS = {"permitted": "#d94801", "blocked": "#9aa5b1"}
THREAT_MIX = (
    ("malware_threats", "malware"),
    ("phish_threats", "phish"),
    ("spam_threats", "spam"),
    ("impostor_threats", "impostor"),
    ("other_threats", "other"),
)
LATENCY_TICKS = (0, 1, 5, 15, 60, 240, 1440, 10080, 43200)  # minutes: up to a month
RETROACTIVE = "clicked before the threat was known (retroactive)"
NOT_RETROACTIVE = "threat known before the click"


def data(values: list[dict[str, Any]]) -> alt.Data:
    """Inline rows for a chart (altair's generated classes carry no annotations)."""
    return alt.Data(values=values)  # type: ignore[no-untyped-call]


def sized(chart: Any, name: str, title: str | alt.TitleParams) -> Any:
    """The chart at its fixed size, title and white background (PNGs are not transparent).
    Titles start at the chart's left edge: centred over the plot, which long axis labels push
    right, a long subtitle ran past the chart's right edge."""
    if isinstance(title, str):
        title = alt.TitleParams(title)
    title.anchor = "start"
    title.frame = "bounds"
    return chart.properties(
        width=WIDTH,
        height=HEIGHTS[name],
        title=title,
        background="white",
        padding=10,
        autosize=alt.AutoSizeParams(type="fit", contains="padding"),
    )


def no_data(name: str, title: str | alt.TitleParams, note: str) -> alt.Chart:
    """The chart's frame with a note where the marks would be: an empty mart is not an error."""
    chart = (
        alt.Chart(data([{"note": note}]))
        .mark_text(fontSize=16, color="#666666")
        .encode(
            text="note:N",
            x=alt.value(WIDTH / 2),
            y=alt.value(HEIGHTS[name] / 2 - 20),
        )
    )
    framed: alt.Chart = sized(chart, name, title)
    return framed


def classification_scale(labels: Sequence[str]) -> alt.Scale:
    """Known classifications in a fixed order and colour, then any others (e.g. ``toad``)."""
    present = set(labels)
    known = [name for name in CLASSIFICATION_COLOURS if name in present]
    extra = sorted(present - set(CLASSIFICATION_COLOURS))
    colours = [CLASSIFICATION_COLOURS[name] for name in known]
    colours += [SPARE_COLOURS[i % len(SPARE_COLOURS)] for i in range(len(extra))]
    return alt.Scale(domain=known + extra, range=colours)


def quantiles(values: Sequence[float]) -> tuple[float, float] | None:
    """(median, p90) by linear interpolation, as DuckDB's quantile_cont, or None if empty."""
    if not values:
        return None
    if len(values) == 1:
        return values[0], values[0]
    p90 = statistics.quantiles(values, n=10, method="inclusive")[8]
    return statistics.median(values), p90


def bar_notes(notes: list[dict[str, Any]], y: Any, x: str, y_offset: Any = None) -> alt.Chart:
    """The text written after each bar (``note`` at ``x``): the layer C4 to C7 share. Notes of
    bars split by ``y_offset`` (one per stage) are smaller, to fit their band."""
    encoding: dict[str, Any] = {"y": y, "x": alt.X(x), "text": "note:N"}
    if y_offset is not None:
        encoding["yOffset"] = y_offset
    size = 10 if y_offset is not None else 11
    layer: alt.Chart = (
        alt.Chart(data(notes))
        .mark_text(align="left", dx=5, color="#333333", fontSize=size)
        .encode(**encoding)
    )
    return layer


def headroom(top: float, factor: float) -> float:
    """An axis end past the longest bar, so the label written after it stays in the plot
    (and off the legend)."""
    return max(top * factor, top + 1, 1)


def short(text: str | None, limit: int = 48) -> str:
    text = text or "?"
    return text if len(text) <= limit else text[: limit - 1] + "…"
