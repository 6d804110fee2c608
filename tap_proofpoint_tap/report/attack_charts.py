"""Charts of who is attacking us and with what: campaigns, actors and malware, and Proofpoint's
very attacked people against our clickers (the marts built from the Threat, Campaign, Forensics
and People streams). One pure function per chart, as in ``charts``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import altair as alt

from tap_proofpoint_tap.report.style import (
    CAMPAIGN_STAGES,
    SEGMENT_COLOURS,
    STAGE_COLOURS,
    bar_notes,
    data,
    headroom,
    no_data,
    short,
    sized,
)
from tap_proofpoint_tap.report.timeline import Span, day_column

if TYPE_CHECKING:
    from tap_proofpoint_tap.report.queries import Marts

TOP_CAMPAIGNS = 10
TOP_ATTACKERS = 8
NAMED = 5  # people a circle's tooltip names
KINDS = ("actor", "malware")


def campaigns_reached(marts: Marts) -> Any:
    """C7: the campaigns that reached us as funnels, recipients targeted ⊇ delivered ⊇ clicked
    after delivery, with the actor and malware behind each in its label and the clickers whose
    delivery is older than the data written beside it."""
    name = "campaigns_reached"
    rows = marts.campaigns.rows[:TOP_CAMPAIGNS]
    title = alt.TitleParams(
        f"Campaigns that reached us: the {len(rows) or TOP_CAMPAIGNS} that targeted most people",
        subtitle=[
            "Distinct recipients per campaign (its member threats in our messages and clicks): "
            "targeted → delivered → clicked after delivery.",
            "After the name, its actor and malware; beside the bars, clickers whose delivery "
            "is older than the data.",
        ],
    )
    if not rows:
        return no_data(name, title, "No data: no campaign of the Campaign API reached us")
    labels = [
        f"#{row['reach_rank']} {short(row['campaign_name'] or row['campaign_id'], 34)}"
        + (f" · {short(row['actors'], 18)}" if row["actors"] else "")
        + (f" · {short(row['malware'], 18)}" if row["malware"] else "")
        for row in rows
    ]
    values = [
        {
            "campaign": label,
            "stage": stage,
            "recipients": row[column] or 0,
            "campaign_id": row["campaign_id"],
            "clicks_permitted": row["clicks_permitted"],
        }
        for label, row in zip(labels, rows, strict=True)
        for column, stage in CAMPAIGN_STAGES
    ]
    stages = [stage for _, stage in CAMPAIGN_STAGES]
    notes = [
        {
            "campaign": label,
            "stage": stages[0],
            "x": row["recipients_targeted"] or 0,
            "note": f"{without_delivery(row)} clicked, delivery not in data",
        }
        for label, row in zip(labels, rows, strict=True)
    ]
    top = max(row["recipients_targeted"] or 0 for row in rows)
    y = alt.Y("campaign:N", sort=labels, title=None, axis=alt.Axis(labelLimit=320))
    y_offset = alt.YOffset("stage:N", sort=stages)
    bars = (
        alt.Chart(data(values))
        .mark_bar()
        .encode(
            y=y,
            yOffset=y_offset,
            x=alt.X(
                "recipients:Q",
                title="distinct recipients",
                scale=alt.Scale(domain=[0, headroom(top, 1.6)]),
                axis=alt.Axis(tickMinStep=1, format="d"),
            ),
            color=alt.Color(
                "stage:N",
                sort=stages,
                title=None,
                legend=alt.Legend(orient="top", direction="horizontal"),
                scale=alt.Scale(domain=stages, range=[STAGE_COLOURS[i] for i in (0, 1, 2)]),
            ),
            tooltip=[
                "campaign:N",
                "campaign_id:N",
                "stage:N",
                "recipients:Q",
                "clicks_permitted:Q",
            ],
        )
    )
    return sized(alt.layer(bars, bar_notes(notes, y, "x:Q", y_offset)), name, title)


def named(emails: list[str]) -> str:
    """The first NAMED people of a circle, and how many more."""
    more = len(emails) - NAMED
    return ", ".join(emails[:NAMED]) + (f" and {more} more" if more > 0 else "")


def without_delivery(row: dict[str, Any]) -> int:
    """A campaign's clickers whose delivery is older than the data (not in its funnel)."""
    return int((row["recipients_clicked"] or 0) - (row["recipients_clicked_delivered"] or 0))


def _shown(marts: Marts) -> list[dict[str, Any]]:
    """The attackers C8 and C9 draw: the first TOP_ATTACKERS of each kind, actors first."""
    return [
        row
        for kind in KINDS
        for row in [r for r in marts.attackers.rows if r["attacker_kind"] == kind][:TOP_ATTACKERS]
    ]


def _attacker_label(row: dict[str, Any]) -> str:
    return f"{row['attacker_kind']}: {short(row['attacker'], 40)}"


def attackers(marts: Marts) -> Any:
    """C8: per actor and per malware family, the people targeted, with the permitted clicks
    written after each bar."""
    name = "attackers"
    rows = _shown(marts)
    title = alt.TitleParams(
        "Who is attacking us: actors and malware by people targeted",
        subtitle=f"The top {TOP_ATTACKERS} of each, from the threats' and their campaigns' "
        "actors and malware; after each bar, the permitted clicks on their threats.",
    )
    if not rows:
        return no_data(name, title, "No data: no threat of ours names an actor or malware")
    values = [
        {
            **row,
            "label": _attacker_label(row),
            "note": f"{row['clicks_permitted']} permitted click"
            f"{'s' if row['clicks_permitted'] != 1 else ''}",
        }
        for row in rows
    ]
    order = [value["label"] for value in values]
    top = max(row["users_targeted"] or 0 for row in rows)
    y = alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=320))
    x = alt.X(
        "users_targeted:Q",
        title="distinct people targeted",
        scale=alt.Scale(domain=[0, headroom(top, 1.3)]),
        axis=alt.Axis(tickMinStep=1, format="d"),
    )
    base = alt.Chart(data(values)).encode(y=y, x=x)
    bars = base.mark_bar().encode(
        color=alt.Color(
            "attacker_kind:N",
            title=None,
            legend=alt.Legend(orient="top", direction="horizontal"),
            scale=alt.Scale(domain=list(KINDS), range=["#8e44ad", "#c0392b"]),
        ),
        tooltip=[
            "attacker_kind:N",
            "attacker:N",
            "campaigns:Q",
            "threats:Q",
            "users_targeted:Q",
            "messages_delivered:Q",
            "messages_blocked:Q",
            "clicks_permitted:Q",
        ],
    )
    notes = base.mark_text(align="left", dx=4, color="#333333").encode(text="note:N")
    return sized(alt.layer(bars, notes), name, title)


def attackers_over_time(marts: Marts) -> Any:
    """C9: the same actors and malware per UTC day: people targeted in each cell. A day only
    partly in the data's period says how many hours of it were read, and is paler."""
    name = "attackers_over_time"
    shown = _shown(marts)
    keys = {(row["attacker_kind"], row["attacker"]) for row in shown}
    rows = [r for r in marts.attackers_daily if (r["attacker_kind"], r["attacker"]) in keys]
    span = Span.of(marts.period)
    title = alt.TitleParams(
        "Who is attacking us, over time",
        subtitle="People targeted per UTC day by each actor and malware of the chart above "
        "(the number in each cell; darker: more; paler: a day only partly read).",
    )
    if not rows or span is None:
        return no_data(name, title, "No data: no threat of ours names an actor or malware")
    columns = {day: day_column(day, span) for day in {row["day"] for row in rows}}
    values = [{**row, "label": _attacker_label(row), **columns[row["day"]]} for row in rows]
    base = alt.Chart(data(values)).encode(
        x=alt.X(
            "column:O",
            title="day (UTC)",
            sort=[columns[day]["column"] for day in sorted(columns)],
            axis=alt.Axis(labelAngle=0),
        ),
        y=alt.Y(
            "label:N",
            sort=[_attacker_label(row) for row in shown],
            title=None,
            axis=alt.Axis(labelLimit=320),
        ),
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            "users_targeted:Q",
            title="people targeted",
            scale=alt.Scale(scheme="oranges"),
            legend=None,
        ),
        opacity=alt.condition("datum.partial", alt.value(0.5), alt.value(1.0)),
        tooltip=[
            "label:N",
            "column:O",
            "users_targeted:Q",
            "messages_delivered:Q",
            "clicks_permitted:Q",
        ],
    )
    text = base.mark_text(color="#1f2933").encode(text="users_targeted:Q")
    return sized(alt.layer(cells, text), name, title)


def people_at_risk(marts: Marts) -> Any:
    """C10: Proofpoint's very attacked people against our clickers: attack index across, our
    clicks up, coloured by what to do (protect now, train, watch). People at the same place
    are one circle whose area and tooltip say how many."""
    name = "people_at_risk"
    rows = marts.people.rows
    title = alt.TitleParams(
        "Very attacked people (Proofpoint's VAP) against our clickers",
        subtitle=[
            "Proofpoint's attack index (latest People API snapshot; 0 when not very attacked) "
            "across, clicks in our data up (permitted and blocked);",
            "a circle's area is the number of people there. Clicking also counts Proofpoint's "
            "top-clickers count: a clicker can sit at 0 here.",
        ],
    )
    if not rows:
        return no_data(name, title, "No data: no very attacked person and no clicker")
    places: dict[tuple[int, int, str], list[str]] = {}
    for row in rows:
        clicks = (row["clicks_permitted"] or 0) + (row["clicks_blocked"] or 0)
        place = (int(row["attack_index"] or 0), int(clicks), str(row["segment"]))
        places.setdefault(place, []).append(str(row["user_email"]))
    values = [
        {
            "index": index,
            "clicks": clicks,
            "segment": segment,
            "people": len(emails),
            "who": named(emails),
        }
        for (index, clicks, segment), emails in sorted(places.items())
    ]
    segments = list(SEGMENT_COLOURS)
    points = (
        alt.Chart(data(values))
        .mark_circle(opacity=0.7)
        .encode(
            x=alt.X("index:Q", title="attack index (Proofpoint)"),
            y=alt.Y("clicks:Q", title="clicks in our data", axis=alt.Axis(tickMinStep=1)),
            size=alt.Size(
                "people:Q",
                title="people",
                scale=alt.Scale(range=[40, 1600]),
                legend=alt.Legend(orient="right"),
            ),
            color=alt.Color(
                "segment:N",
                title=None,
                legend=alt.Legend(orient="top", direction="horizontal", labelLimit=0),
                scale=alt.Scale(domain=segments, range=list(SEGMENT_COLOURS.values())),
            ),
            tooltip=["segment:N", "people:Q", "index:Q", "clicks:Q", "who:N"],
        )
    )
    return sized(points, name, title)
