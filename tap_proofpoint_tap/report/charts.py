"""One pure function per chart: rows from ``queries`` in, an altair chart out.

Every chart is a single (or layered) view with ``autosize: fit`` and a fixed width and height,
so its PNG is exactly ``width * scale`` by ``height * scale`` pixels; an empty table gives the
same-sized chart with a "no data" note instead of an exception.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import altair as alt

from tap_proofpoint_tap.report.style import (
    CLASSIFICATION_COLOURS,
    LATENCY_TICKS,
    NOT_RETROACTIVE,
    RETROACTIVE,
    STAGE_COLOURS,
    STAGES,
    THREAT_MIX,
    classification_scale,
    data,
    epoch_ms,
    no_data,
    quantiles,
    short,
    sized,
)

if TYPE_CHECKING:
    from tap_proofpoint_tap.report.queries import Row


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
        alt.Chart(data(values))
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
    zero = alt.Chart(data([{"zero": 0}])).mark_rule(color="#333333").encode(y="zero:Q")
    return sized(alt.layer(bars, zero), name, title)


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
        alt.Chart(data(rows))
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
    marks = data(
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
    return sized(alt.layer(ecdf, rules, labels), name, title)


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
    low, high = epoch_ms(min(times)), epoch_ms(max(times))
    margin = max((high - low) * 0.02, 60_000)
    domain = [low - margin, high + margin]
    values = [
        {**row, "kind": RETROACTIVE if row["is_retroactive"] else NOT_RETROACTIVE} for row in rows
    ]
    points = (
        alt.Chart(data(values))
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
        alt.Chart(data([{"t": domain[0]}, {"t": domain[1]}]))
        .mark_line(color="#555555", strokeDash=[6, 4])
        .encode(x="t:T", y="t:T")
    )
    return sized(alt.layer(diagonal, points), name, title)


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
    labels = [f"#{row['funnel_rank']} {short(row['threat'])}" for row in rows]
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
        alt.Chart(data(values))
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
    return sized(chart, name, title)


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
    base = alt.Chart(data(values)).encode(
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
    return sized(alt.layer(bars, notes), name, title)


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
        alt.Chart(data(values))
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
        alt.Chart(data(totals))
        .mark_text(align="left", dx=4, color="#333333")
        .encode(y=y, x="total:Q", text="note:N")
    )
    return sized(alt.layer(bars, notes), name, title)
