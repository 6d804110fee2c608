"""One pure function per chart: rows from ``queries`` in, an altair chart out.

Every chart is a single (or layered) view with ``autosize: fit`` and a fixed width and height,
so its PNG is exactly ``width * scale`` by ``height * scale`` pixels; an empty table gives the
same-sized chart with a "no data" note instead of an exception.
"""

from __future__ import annotations

import statistics
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import altair as alt

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tap_proofpoint_tap.report.queries import Row

WIDTH = 900
HEIGHTS = {
    "clicks_per_day": 360,
    "click_latency": 360,
    "retroactive_exposure": 460,
    "threat_funnel": 560,
    "top_clickers": 440,
    "most_attacked": 440,
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
    ("recipients_blocked", "blocked"),
    ("recipients_clicked", "clicked"),
    ("recipients_permitted", "click permitted"),
)
STAGE_COLOURS = ("#9ecae1", "#4292c6", "#74c476", "#fd8d3c", "#d94801")
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


def _data(values: list[dict[str, Any]]) -> alt.Data:
    """Inline rows for a chart (altair's generated classes carry no annotations)."""
    return alt.Data(values=values)  # type: ignore[no-untyped-call]


def _sized(chart: Any, name: str, title: str | alt.TitleParams) -> Any:
    """The chart at its fixed size, title and white background (PNGs are not transparent)."""
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
        alt.Chart(_data([{"note": note}]))
        .mark_text(fontSize=16, color="#666666")
        .encode(
            text="note:N",
            x=alt.value(WIDTH / 2),
            y=alt.value(HEIGHTS[name] / 2 - 20),
        )
    )
    sized: alt.Chart = _sized(chart, name, title)
    return sized


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


def _epoch_ms(iso: str) -> float:
    """An ISO 8601 UTC string as epoch milliseconds (what Vega takes for a time domain)."""
    moment = datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return moment.timestamp() * 1000


def _short(text: str | None, limit: int = 48) -> str:
    text = text or "?"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clicks_per_day(rows: list[Row]) -> Any:
    """C1: permitted clicks above the zero line, blocked below, stacked by classification."""
    name = "clicks_per_day"
    title = alt.TitleParams(
        "Clicks per day: permitted vs blocked",
        subtitle="Permitted clicks (the link opened) above the line, blocked below; "
        "stacked by classification. Distinct click events, UTC days.",
    )
    if not rows:
        return no_data(name, title, "No data: mart_daily_activity has no click events")
    values = [
        {**row, "signed": row["events"] if row["disposition"] == "permitted" else -row["events"]}
        for row in rows
    ]
    scale = classification_scale([row["classification"] for row in rows])
    bars = (
        alt.Chart(_data(values))
        .mark_bar()
        .encode(
            x=alt.X("day:O", title="day (UTC)", axis=alt.Axis(labelAngle=-45)),
            y=alt.Y(
                "signed:Q",
                title="clicks: blocked ↓ · permitted ↑",
                stack="zero",
                axis=alt.Axis(labelExpr="abs(datum.value)", tickMinStep=1),
            ),
            color=alt.Color("classification:N", scale=scale, title="classification"),
            order=alt.Order("classification:N"),
            tooltip=["day:O", "disposition:N", "classification:N", "events:Q"],
        )
    )
    zero = alt.Chart(_data([{"zero": 0}])).mark_rule(color="#333333").encode(y="zero:Q")
    return _sized(alt.layer(bars, zero), name, title)


def click_latency(rows: list[Row]) -> Any:
    """C2: ECDF of minutes from delivery to click by classification, median and p90 marked."""
    name = "click_latency"
    stats = quantiles([row["minutes_to_click"] for row in rows])
    if stats is None:
        return no_data(
            name,
            "Delivery → click latency",
            "No data: no click in fct_clicks matched a delivery (minutes_to_click is null)",
        )
    median, p90 = stats
    title = alt.TitleParams(
        f"Delivery → click latency: median {median:.1f} min, p90 {p90:.1f} min "
        f"({len(rows)} clicks)",
        subtitle="Share of clicks made within x minutes of the message's delivery "
        "(same message GUID and recipient), by classification; symlog scale.",
    )
    top = max(row["minutes_to_click"] for row in rows)
    ticks = [tick for tick in LATENCY_TICKS if tick <= max(top, 1)]
    ecdf = (
        alt.Chart(_data(rows))
        .transform_window(
            share="cume_dist()",
            sort=[alt.SortField("minutes_to_click")],
            groupby=["classification"],
        )
        .mark_line(interpolate="step-after", strokeWidth=2)
        .encode(
            x=alt.X(
                "minutes_to_click:Q",
                title="minutes from delivery to click",
                scale=alt.Scale(type="symlog"),
                axis=alt.Axis(
                    values=ticks,
                    labelExpr=(
                        "datum.value >= 1440 ? datum.value / 1440 + ' d' : "
                        "datum.value >= 60 ? datum.value / 60 + ' h' : datum.value + ' min'"
                    ),
                ),
            ),
            y=alt.Y(
                "share:Q",
                title="share of clicks",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            color=alt.Color(
                "classification:N",
                scale=classification_scale([row["classification"] for row in rows]),
            ),
        )
    )
    marks = _data(
        [
            {"minutes": median, "label": f"median {median:.1f} min"},
            {"minutes": p90, "label": f"p90 {p90:.1f} min"},
        ]
    )
    rules = alt.Chart(marks).mark_rule(strokeDash=[4, 3], color="#333333").encode(x="minutes:Q")
    labels = (
        alt.Chart(marks)
        .mark_text(align="left", dx=4, color="#333333")
        .encode(x="minutes:Q", y=alt.datum(0.03), text="label:N")
    )
    return _sized(alt.layer(ecdf, rules, labels), name, title)


def retroactive_exposure(rows: list[Row]) -> Any:
    """C3: click time against threat time; above the diagonal the threat was known too late."""
    name = "retroactive_exposure"
    if not rows:
        return no_data(name, "Retroactive exposure", "No data: fct_clicks has no clicks")
    retroactive = sum(1 for row in rows if row["is_retroactive"])
    title = alt.TitleParams(
        f"Retroactive exposure: {retroactive} of {len(rows)} clicks came before the threat "
        "was known",
        subtitle="Each point is a click; above the diagonal, Proofpoint condemned the URL "
        "after the click (threat time later than click time). Times in UTC.",
    )
    times = [row["click_time"] for row in rows] + [row["threat_time"] for row in rows]
    low, high = _epoch_ms(min(times)), _epoch_ms(max(times))
    margin = max((high - low) * 0.02, 60_000)
    domain = [low - margin, high + margin]
    values = [
        {**row, "kind": RETROACTIVE if row["is_retroactive"] else NOT_RETROACTIVE} for row in rows
    ]
    points = (
        alt.Chart(_data(values))
        .mark_circle(size=36, opacity=0.7)
        .encode(
            x=alt.X(
                "click_time:T",
                title="click time",
                scale=alt.Scale(type="utc", domain=domain),
                axis=alt.Axis(format="%b %d %H:%M"),
            ),
            y=alt.Y(
                "threat_time:T",
                title="threat time (when it was condemned)",
                scale=alt.Scale(type="utc", domain=domain),
                axis=alt.Axis(format="%b %d %H:%M"),
            ),
            color=alt.Color(
                "kind:N",
                title=None,
                legend=alt.Legend(orient="top-left", labelLimit=0),
                scale=alt.Scale(
                    domain=[RETROACTIVE, NOT_RETROACTIVE], range=["#d62728", "#9aa5b1"]
                ),
            ),
            tooltip=[
                alt.Tooltip("click_time:N", title="click time (UTC)"),
                alt.Tooltip("threat_time:N", title="threat time (UTC)"),
                "classification:N",
                "url_host:N",
            ],
        )
    )
    diagonal = (
        alt.Chart(_data([{"t": domain[0]}, {"t": domain[1]}]))
        .mark_line(color="#555555", strokeDash=[6, 4])
        .encode(x="t:T", y="t:T")
    )
    return _sized(alt.layer(diagonal, points), name, title)


def threat_funnel(rows: list[Row]) -> Any:
    """C4: for the most-targeted threats, how many recipients reached each stage."""
    name = "threat_funnel"
    title = alt.TitleParams(
        "Threat funnel: the 10 most-targeted threats",
        subtitle="Distinct recipients targeted → delivered → blocked → clicked → whose "
        "click was permitted, per threat (from dim_threats).",
    )
    if not rows:
        return no_data(name, title, "No data: dim_threats is empty")
    labels = [f"#{row['funnel_rank']} {_short(row['threat'])}" for row in rows]
    values = [
        {
            "threat": label,
            "stage": stage,
            "order": i,
            "recipients": row[column] or 0,
            "threat_id": row["threat_id"],
            "classification": row["classification"],
        }
        for label, row in zip(labels, rows, strict=True)
        for i, (column, stage) in enumerate(STAGES)
    ]
    stages = [stage for _, stage in STAGES]
    chart = (
        alt.Chart(_data(values))
        .mark_bar()
        .encode(
            y=alt.Y("threat:N", sort=labels, title=None, axis=alt.Axis(labelLimit=340)),
            yOffset=alt.YOffset("stage:N", sort=stages),
            x=alt.X(
                "recipients:Q",
                title="distinct recipients",
                axis=alt.Axis(tickMinStep=1, format="d"),
            ),
            color=alt.Color(
                "stage:N",
                sort=stages,
                title="stage",
                scale=alt.Scale(domain=stages, range=list(STAGE_COLOURS)),
            ),
            tooltip=["threat:N", "threat_id:N", "classification:N", "stage:N", "recipients:Q"],
        )
    )
    return _sized(chart, name, title)


def top_clickers(rows: list[Row]) -> Any:
    """C5: the recipients with the most clicks; repeat clickers in a warning colour."""
    name = "top_clickers"
    title = alt.TitleParams(
        "Top clickers",
        subtitle="Clicks per recipient (permitted and blocked); repeat clickers "
        "(more than one threat or message) highlighted.",
    )
    if not rows:
        return no_data(name, title, "No data: no user in dim_users has clicked")
    values = [
        {
            **row,
            "kind": "repeat clicker" if row["is_repeat_clicker"] else "single clicker",
            "note": f"{row['threats_clicked']} threat{'s' if row['threats_clicked'] != 1 else ''}",
        }
        for row in rows
    ]
    order = [row["user_email"] for row in rows]
    base = alt.Chart(_data(values)).encode(
        y=alt.Y("user_email:N", sort=order, title=None, axis=alt.Axis(labelLimit=300)),
        x=alt.X("clicks:Q", title="clicks", axis=alt.Axis(tickMinStep=1, format="d")),
    )
    bars = base.mark_bar().encode(
        color=alt.Color(
            "kind:N",
            title=None,
            legend=alt.Legend(orient="bottom-right"),
            scale=alt.Scale(
                domain=["repeat clicker", "single clicker"], range=["#d94801", "#9aa5b1"]
            ),
        ),
        tooltip=[
            "user_email:N",
            "clicks:Q",
            "clicks_permitted:Q",
            "clicks_blocked:Q",
            "threats_clicked:Q",
            "kind:N",
        ],
    )
    notes = base.mark_text(align="left", dx=4, color="#333333").encode(text="note:N")
    return _sized(alt.layer(bars, notes), name, title)


def most_attacked(rows: list[Row]) -> Any:
    """C6: the recipients ranked by the attack-index proxy, with their threat mix."""
    name = "most_attacked"
    title = alt.TitleParams(
        "Most-attacked recipients: a proxy computed from the events, "
        "not Proofpoint's VAP / Attack Index",
        subtitle="Distinct threats received per recipient, stacked by classification, "
        "ranked by attack_index_proxy (classification weights + a click penalty).",
    )
    if not rows:
        return no_data(name, title, "No data: mart_user_risk is empty")
    values = [
        {
            "user_email": row["user_email"],
            "classification": label,
            "order": i,
            "threats": row[column] or 0,
            "attack_index_proxy": row["attack_index_proxy"],
        }
        for row in rows
        for i, (column, label) in enumerate(THREAT_MIX)
    ]
    totals = [
        {
            "user_email": row["user_email"],
            "total": sum(row[column] or 0 for column, _ in THREAT_MIX),
            "note": f"proxy {row['attack_index_proxy']:.1f}"
            if row["attack_index_proxy"] is not None
            else "",
        }
        for row in rows
    ]
    order = [row["user_email"] for row in rows]
    mix = [label for _, label in THREAT_MIX]
    y = alt.Y("user_email:N", sort=order, title=None, axis=alt.Axis(labelLimit=300))
    bars = (
        alt.Chart(_data(values))
        .mark_bar()
        .encode(
            y=y,
            x=alt.X(
                "threats:Q",
                title="distinct threats received",
                stack="zero",
                axis=alt.Axis(tickMinStep=1, format="d"),
            ),
            color=alt.Color(
                "classification:N",
                sort=mix,
                title="classification",
                scale=alt.Scale(domain=mix, range=[CLASSIFICATION_COLOURS[label] for label in mix]),
            ),
            order=alt.Order("order:Q"),
            tooltip=["user_email:N", "classification:N", "threats:Q", "attack_index_proxy:Q"],
        )
    )
    notes = (
        alt.Chart(_data(totals))
        .mark_text(align="left", dx=4, color="#333333")
        .encode(y=y, x="total:Q", text="note:N")
    )
    return _sized(alt.layer(bars, notes), name, title)
