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
    DISPOSITION_COLOURS,
    LATENCY_TICKS,
    NOT_RETROACTIVE,
    RETROACTIVE,
    STAGE_COLOURS,
    STAGES,
    THREAT_MIX,
    bar_notes,
    classification_scale,
    data,
    headroom,
    no_data,
    quantiles,
    short,
    sized,
)
from tap_proofpoint_tap.report.timeline import Span, click_buckets, epoch_ms, parse

if TYPE_CHECKING:
    from tap_proofpoint_tap.report.queries import Marts


def clicks_over_time(marts: Marts) -> Any:
    """C1: clicks per hour (per UTC day beyond three days) of the data's period, permitted above
    the zero line and blocked below, stacked by classification; buckets cut to the period."""
    name = "clicks_over_time"
    span = Span.of(marts.period)
    if span is None or not marts.clicks:
        return no_data(name, "Clicks over time", "No data: fct_clicks has no click events")
    values, before = click_buckets(marts.clicks, span)
    unit = "hour" if span.hourly else "UTC day"
    outside = (
        f" {before} click{'s' if before != 1 else ''} made before the period (reported in it "
        "when the URL was condemned) are in the retroactive chart, not here."
        if before
        else ""
    )
    title = alt.TitleParams(
        f"Clicks per {unit}: permitted vs blocked",
        subtitle=[
            "Permitted clicks (the link opened) above the line, blocked below; by click time "
            f"(UTC), stacked by classification; paler: a {unit} only partly in the period.",
            outside.strip() or "Every click of the period is drawn.",
        ],
    )
    scale = classification_scale([row["classification"] for row in values])
    bars = (
        alt.Chart(data(values))
        .mark_rect(stroke="white", strokeWidth=0.5)
        .encode(
            x=alt.X(
                "start:T",
                title=f"click time (UTC), per {unit}",
                scale=alt.Scale(type="utc", domain=span.domain()),
                axis=alt.Axis(
                    format="%b %d %H:%M" if span.hourly else "%b %d",
                    labelAngle=0,
                    labelSeparation=8,
                ),
            ),
            x2="end:T",
            y=alt.Y(
                "low:Q",
                title="clicks: blocked ↓ · permitted ↑",
                axis=alt.Axis(labelExpr="abs(datum.value)", tickMinStep=1),
            ),
            y2="high:Q",
            color=alt.Color(
                "classification:N",
                scale=scale,
                title="classification",
                legend=alt.Legend(orient="top", direction="horizontal"),
            ),
            opacity=alt.condition("datum.partial", alt.value(0.45), alt.value(1.0)),
            tooltip=["bucket:N", "disposition:N", "classification:N", "events:Q", "partial:N"],
        )
    )
    zero = alt.Chart(data([{"zero": 0}])).mark_rule(color="#333333").encode(y="zero:Q")
    return sized(alt.layer(bars, zero), name, title)


def click_latency(marts: Marts) -> Any:
    """C2: ECDF of minutes from delivery to permitted click by classification, median and p90
    marked."""
    name = "click_latency"
    rows = marts.latencies
    stats = quantiles([row["minutes_to_click"] for row in rows])
    if stats is None:
        return no_data(
            name,
            "Delivery → click latency",
            "No data: no permitted click in fct_clicks matched a delivery",
        )
    median, p90 = stats
    title = alt.TitleParams(
        f"Delivery → permitted click: median {median:.1f} min, p90 {p90:.1f} min "
        f"({len(rows)} permitted clicks whose delivery is in the data)",
        subtitle="Share of permitted clicks made within x minutes of the message's delivery "
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
                legend=alt.Legend(orient="top", direction="horizontal"),
            ),
        )
    )
    # The median's label left of its rule and the p90's right of its own, on two heights:
    # however close the two values are, the labels cannot meet.
    marks = data(
        [
            {"minutes": median, "label": f"median {median:.1f} min", "at": 0.94, "side": "right"},
            {"minutes": p90, "label": f"p90 {p90:.1f} min", "at": 0.84, "side": "left"},
        ]
    )
    rules = alt.Chart(marks).mark_rule(strokeDash=[4, 3], color="#333333").encode(x="minutes:Q")
    before = alt.Chart(marks).transform_filter("datum.side == 'right'")  # left of its rule
    after = alt.Chart(marks).transform_filter("datum.side == 'left'")  # right of its rule
    labels = alt.layer(
        before.mark_text(align="right", dx=-5, color="#333333").encode(
            x="minutes:Q", y=alt.Y("at:Q"), text="label:N"
        ),
        after.mark_text(align="left", dx=5, color="#333333").encode(
            x="minutes:Q", y=alt.Y("at:Q"), text="label:N"
        ),
    )
    return sized(alt.layer(ecdf, rules, labels), name, title)


def retroactive_exposure(marts: Marts) -> Any:
    """C3: click time against threat time, both on the data's period; above the diagonal the
    threat was known only after the click. Times outside the period sit on its edge."""
    name = "retroactive_exposure"
    span = Span.of(marts.period)
    rows = [row for row in marts.clicks if row["threat_time"] is not None]
    if span is None or not rows:
        return no_data(name, "Retroactive exposure", "No data: fct_clicks has no clicks")
    values = []
    edge = 0
    for row in rows:
        clicked, moved_click = span.clamp(parse(row["click_time"]))
        known, moved_threat = span.clamp(parse(row["threat_time"]))
        edge += moved_click or moved_threat
        values.append(
            {
                **row,
                "x": epoch_ms(clicked),
                "y": epoch_ms(known),
                "kind": RETROACTIVE if row["is_retroactive"] else NOT_RETROACTIVE,
                "where": "outside the period: on its edge"
                if moved_click or moved_threat
                else "within the period",
            }
        )
    permitted = [row for row in rows if row["disposition"] == "permitted"]
    retro = sum(1 for row in permitted if row["is_retroactive"])
    blocked = len(rows) - len(permitted)
    retro_blocked = sum(1 for row in rows if row["is_retroactive"]) - retro
    title = alt.TitleParams(
        f"Retroactive exposure: {retro} of {len(permitted)} permitted clicks came before the "
        f"threat was known (and {retro_blocked} of {blocked} blocked)",
        subtitle=[
            "Each point is a click (permitted and blocked); above the diagonal, Proofpoint "
            "condemned the URL after the click. Both axes span the data's period (UTC).",
            f"{edge} click{'s' if edge != 1 else ''} with a click or threat time outside the "
            "period drawn as triangles on its edge."
            if edge
            else "Every time lies within the period.",
        ],
    )
    domain = span.domain()
    time_axis = alt.Axis(format="%b %d %H:%M" if span.hourly else "%b %d", labelSeparation=8)
    points = (
        alt.Chart(data(values))
        .mark_point(size=36, opacity=0.7, filled=True)
        .encode(
            x=alt.X(
                "x:T",
                title="click time",
                scale=alt.Scale(type="utc", domain=domain),
                axis=time_axis,
            ),
            y=alt.Y(
                "y:T",
                title="threat time (when it was condemned)",
                scale=alt.Scale(type="utc", domain=domain),
                axis=time_axis,
            ),
            color=alt.Color(
                "kind:N",
                title=None,
                legend=alt.Legend(orient="top", direction="horizontal", labelLimit=0),
                scale=alt.Scale(
                    domain=[RETROACTIVE, NOT_RETROACTIVE], range=["#d62728", "#9aa5b1"]
                ),
            ),
            shape=alt.Shape(
                "where:N",
                title=None,
                legend=alt.Legend(orient="bottom", direction="horizontal", labelLimit=0),
                scale=alt.Scale(
                    domain=["within the period", "outside the period: on its edge"],
                    range=["circle", "triangle-up"],
                ),
            ),
            tooltip=[
                alt.Tooltip("click_time:N", title="click time (UTC)"),
                alt.Tooltip("threat_time:N", title="threat time (UTC)"),
                "disposition:N",
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


def threat_funnel(marts: Marts) -> Any:
    """C4: for the most-targeted threats, a funnel that narrows: recipients targeted ⊇ delivered
    ⊇ clicked a delivered message ⊇ whose click was permitted; blocked-only recipients and
    clickers without a delivery in the data written beside it."""
    name = "threat_funnel"
    rows = marts.funnel
    title = alt.TitleParams(
        f"Threat funnel: the {len(rows) or 10} most-targeted threats",
        subtitle=[
            "Distinct recipients: targeted → delivered → clicked the delivered message → "
            "click permitted;",
            "each stage is part of the one before. Beside each threat: recipients only blocked,",
            "and clickers whose delivery is older than the data.",
        ],
    )
    if not rows:
        return no_data(name, title, "No data: no threat reached a recipient in the data")
    labels = [f"#{row['funnel_rank']} {short(row['threat'])}" for row in rows]
    values = [
        {
            "threat": label,
            "stage": stage,
            "recipients": row[column] or 0,
            "threat_id": row["threat_id"],
            "classification": row["classification"],
            "status": row["threat_status"],
        }
        for label, row in zip(labels, rows, strict=True)
        for column, stage in STAGES
    ]
    notes = [
        {
            "threat": label,
            "stage": STAGES[0][1],
            "x": row["recipients_targeted"] or 0,
            "note": f"{row['recipients_blocked_only']} blocked only · "
            f"{row['clickers_without_delivery']} clicked, delivery not in data",
        }
        for label, row in zip(labels, rows, strict=True)
    ]
    stages = [stage for _, stage in STAGES]
    top = max(row["recipients_targeted"] or 0 for row in rows)
    x = alt.X(
        "recipients:Q",
        title="distinct recipients",
        scale=alt.Scale(domain=[0, headroom(top, 2.2)]),
        axis=alt.Axis(tickMinStep=1, format="d"),
    )
    y = alt.Y("threat:N", sort=labels, title=None, axis=alt.Axis(labelLimit=340))
    bars = (
        alt.Chart(data(values))
        .mark_bar()
        .encode(
            y=y,
            yOffset=alt.YOffset("stage:N", sort=stages),
            x=x,
            color=alt.Color(
                "stage:N",
                sort=stages,
                title="stage",
                legend=alt.Legend(orient="top", direction="horizontal"),
                scale=alt.Scale(domain=stages, range=list(STAGE_COLOURS)),
            ),
            tooltip=[
                "threat:N",
                "threat_id:N",
                "classification:N",
                "status:N",
                "stage:N",
                "recipients:Q",
            ],
        )
    )
    text = bar_notes(notes, y, "x:Q", alt.YOffset("stage:N", sort=stages))
    return sized(alt.layer(bars, text), name, title)


def top_clickers(marts: Marts) -> Any:
    """C5: the recipients with the most permitted clicks (the ranking the demo prints), their
    permitted and blocked clicks stacked, the threats they clicked written at the bar's end."""
    name = "top_clickers"
    rows = marts.top_clickers
    title = alt.TitleParams(
        "Top clickers by permitted clicks",
        subtitle="Clicks per recipient, permitted (the link opened) and blocked stacked; "
        "at the end of each bar, the distinct threats clicked.",
    )
    if not rows:
        return no_data(name, title, "No data: no user in dim_users has clicked")
    values = [
        {
            "user_email": row["user_email"],
            "disposition": kind,
            "clicks": row[column] or 0,
            "order": i,
        }
        for row in rows
        for i, (column, kind) in enumerate(
            (("clicks_permitted", "permitted"), ("clicks_blocked", "blocked"))
        )
    ]
    notes = [
        {
            "user_email": row["user_email"],
            "total": (row["clicks_permitted"] or 0) + (row["clicks_blocked"] or 0),
            "note": f"{row['threats_clicked']} threat{'s' if row['threats_clicked'] != 1 else ''}",
        }
        for row in rows
    ]
    order = [row["user_email"] for row in rows]
    y = alt.Y("user_email:N", sort=order, title=None, axis=alt.Axis(labelLimit=300))
    top = max(note["total"] for note in notes)
    bars = (
        alt.Chart(data(values))
        .mark_bar()
        .encode(
            y=y,
            x=alt.X(
                "clicks:Q",
                title="clicks",
                stack="zero",
                scale=alt.Scale(domain=[0, headroom(top, 1.2)]),
                axis=alt.Axis(tickMinStep=1, format="d"),
            ),
            color=alt.Color(
                "disposition:N",
                title=None,
                legend=alt.Legend(orient="top", direction="horizontal"),
                scale=alt.Scale(
                    domain=list(DISPOSITION_COLOURS), range=list(DISPOSITION_COLOURS.values())
                ),
            ),
            order=alt.Order("order:Q"),
            tooltip=["user_email:N", "disposition:N", "clicks:Q"],
        )
    )
    return sized(alt.layer(bars, bar_notes(notes, y, "total:Q")), name, title)


def most_attacked(marts: Marts) -> Any:
    """C6: the recipients ranked by the attack-index proxy, with their threat mix."""
    name = "most_attacked"
    rows = marts.most_attacked
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
    top = max(total["total"] for total in totals)
    bars = (
        alt.Chart(data(values))
        .mark_bar()
        .encode(
            y=y,
            x=alt.X(
                "threats:Q",
                title="distinct threats received",
                stack="zero",
                scale=alt.Scale(domain=[0, headroom(top, 1.25)]),
                axis=alt.Axis(tickMinStep=1, format="d"),
            ),
            color=alt.Color(
                "classification:N",
                sort=mix,
                title="classification",
                legend=alt.Legend(orient="top", direction="horizontal"),
                scale=alt.Scale(domain=mix, range=[CLASSIFICATION_COLOURS[label] for label in mix]),
            ),
            order=alt.Order("order:Q"),
            tooltip=["user_email:N", "classification:N", "threats:Q", "attack_index_proxy:Q"],
        )
    )
    return sized(alt.layer(bars, bar_notes(totals, y, "total:Q")), name, title)
