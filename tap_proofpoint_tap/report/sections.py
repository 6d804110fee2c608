"""What the report shows, in order: its sections, each chart and each table with its columns.

A section says which question it answers; its charts come from ``charts`` and
``attack_charts``, its tables from ``table``; each table's whole list is exported to CSV.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tap_proofpoint_tap.report import attack_charts, charts
from tap_proofpoint_tap.report.table import Column, Table

if TYPE_CHECKING:
    from collections.abc import Callable

    from tap_proofpoint_tap.report.queries import Marts
    from tap_proofpoint_tap.report.table import Listing


@dataclass(frozen=True)
class Chart:
    element_id: str
    name: str  # its PNG's name
    draw: Callable[[Marts], Any]


@dataclass(frozen=True)
class Section:
    element_id: str
    title: str
    answers: str
    charts: tuple[Chart, ...]
    tables: tuple[str, ...]  # the element ids of its tables, after its charts


CHARTS = (
    Chart("chart-c1", "clicks_over_time", charts.clicks_over_time),
    Chart("chart-c2", "click_latency", charts.click_latency),
    Chart("chart-c3", "retroactive_exposure", charts.retroactive_exposure),
    Chart("chart-c4", "threat_funnel", charts.threat_funnel),
    Chart("chart-c5", "top_clickers", charts.top_clickers),
    Chart("chart-c6", "most_attacked", charts.most_attacked),
    Chart("chart-c7", "campaigns_reached", attack_charts.campaigns_reached),
    Chart("chart-c8", "attackers", attack_charts.attackers),
    Chart("chart-c9", "attackers_over_time", attack_charts.attackers_over_time),
    Chart("chart-c10", "people_at_risk", attack_charts.people_at_risk),
)
_CHART = {chart.element_id: chart for chart in CHARTS}

SECTIONS = (
    Section(
        "clicks",
        "Clicks and exposure",
        "Who clicked, how fast after delivery, before the threat was known, and what to "
        "work first.",
        tuple(_CHART[f"chart-c{i}"] for i in (1, 2, 3, 4, 5, 6)),
        ("work-queue", "condemned"),
    ),
    Section(
        "attackers",
        "Who is attacking us, with what",
        "The campaigns that reached us, the actors and malware behind them, the people "
        "Proofpoint sees most attacked against our clickers, and the evidence to hunt for.",
        tuple(_CHART[f"chart-c{i}"] for i in (7, 8, 9, 10)),
        ("campaigns", "campaign-threats", "attackers-list", "people", "indicators"),
    ),
    Section(
        "pipeline",
        "Pipeline health",
        "Whether the data is complete: windows read, re-reads by the look-back, late events.",
        (),
        ("ingest-health",),
    ),
)

C = Column
NO_DELIVERY = "no delivery in data"
# How far a campaign or one of its threats got (mart_campaigns_reached, mart_campaign_threats).
REACH = (
    C("recipients_targeted", "People targeted", "int"),
    C("recipients_delivered", "Delivered to", "int"),
    C("recipients_clicked_delivered", "Clicked after delivery", "int"),
    C("recipients_clicked", "All clickers", "int"),
    C("clicks_permitted", "Permitted clicks", "int"),
    C("first_seen_at", "First seen (UTC)", "time"),
    C("last_seen_at", "Last seen (UTC)", "time"),
)


def tables(marts: Marts, active: int) -> dict[str, Table]:
    """Every table of the report by element id."""

    def table(
        element_id: str, csv: str, caption: str, listing: Listing, empty: str, *columns: Column
    ) -> Table:
        return Table(element_id, csv, caption, columns, listing, empty)

    out = (
        table(
            "work-queue",
            "work_queue.csv",
            f"Work queue: permitted clicks on threats still active ({active}), by priority "
            "(mart_click_exposure)",
            marts.work_queue,
            "no permitted click on a threat still active",
            C("priority_rank", "#", "int"),
            C("priority_score", "Score", "float"),
            C("click_time", "Click time (UTC)", "time"),
            C("recipient", "Recipient"),
            C("url", "URL (not a link)", "url"),
            C("classification", "Class"),
            C("threat_time", "Threat time (UTC)", "time"),
            C("is_retroactive", "Retroactive", "bool"),
            C("minutes_to_click", "Minutes to click", "float", NO_DELIVERY),
            C("sender", "Sender"),
            C(
                "subject",
                "Subject",
                missing=NO_DELIVERY,
                blank_when=("message_time", "(no subject)"),
            ),
            C("campaign_name", "Campaign", missing="none known"),
            C("threat_id", "Threat id", "url"),
            C("click_ip", "Click IP"),
        ),
        table(
            "condemned",
            "post_delivery_condemned.csv",
            "Messages to pull: delivered, condemned only afterwards, still active "
            "(mart_post_delivery_condemned)",
            marts.condemned,
            "no delivered message was condemned after delivery",
            C("message_time", "Delivered (UTC)", "time"),
            C("recipient", "Recipient"),
            C("sender", "Sender"),
            C("subject", "Subject"),
            C("threat", "Threat", "url"),
            C("classification", "Class"),
            C("threat_time", "Condemned (UTC)", "time"),
            C("minutes_to_condemn", "Minutes to condemn", "float"),
            C("was_clicked", "Clicked", "bool"),
            C("guid", "Message GUID", "url"),
        ),
        table(
            "campaigns",
            "campaigns.csv",
            "Campaigns that reached us (mart_campaigns_reached)",
            marts.campaigns,
            "no campaign of the Campaign API reached us",
            C("reach_rank", "#", "int"),
            C("campaign_name", "Campaign"),
            C("actors", "Actors", missing="none named"),
            C("malware", "Malware", missing="none named"),
            C("techniques", "Techniques", missing="none named"),
            C("threats_seen", "Threats seen", "int"),
            C("messages_delivered", "Messages delivered", "int"),
            C("messages_blocked", "Messages blocked", "int"),
            *REACH,
        ),
        table(
            "campaign-threats",
            "campaign_threats.csv",
            "Each campaign's threats: messages, recipients and clicks per threat "
            "(mart_campaign_threats)",
            marts.campaign_threats,
            "no campaign of the Campaign API reached us",
            C("campaign_name", "Campaign", missing="no name (known from events)"),
            C("threat", "Threat", "url"),
            C("classification", "Class"),
            C("threat_status", "Status"),
            C("messages_delivered", "Messages delivered", "int"),
            C("messages_blocked", "Messages blocked", "int"),
            *REACH,
        ),
        table(
            "attackers-list",
            "attackers.csv",
            "Actors and malware (mart_attackers)",
            marts.attackers,
            "no threat of ours names an actor or malware",
            C("attacker_kind", "Kind"),
            C("attacker", "Name"),
            C("campaigns", "Campaigns", "int"),
            C("threats", "Threats", "int"),
            C("users_targeted", "People targeted", "int"),
            C("messages_delivered", "Messages delivered", "int"),
            C("messages_blocked", "Messages blocked", "int"),
            C("clicks_permitted", "Permitted clicks", "int"),
            C("first_seen_at", "First seen (UTC)", "time"),
            C("last_seen_at", "Last seen (UTC)", "time"),
        ),
        table(
            "people",
            "people_at_risk.csv",
            "Protect and train: very attacked people and our clickers (mart_people_at_risk)",
            marts.people,
            "no very attacked person and no clicker",
            C("risk_rank", "#", "int"),
            C("user_email", "Person"),
            C("action", "Action"),
            C("segment", "Why"),
            C("attack_index", "Attack index", "int", "not very attacked"),
            C("attack_families", "Attacked with", missing="—"),
            C("clicks_permitted", "Permitted clicks", "int"),
            C("clicks_blocked", "Blocked clicks", "int"),
            C("proofpoint_clicks", "Proofpoint's click count", "int", "not a top clicker"),
            C("last_click_at", "Last click (UTC)", "time", "never"),
            C("department", "Department"),
        ),
        table(
            "indicators",
            "indicators_to_hunt.csv",
            "Indicators to hunt: malicious forensic evidence (mart_indicators_to_hunt)",
            marts.indicators,
            "no malicious forensic evidence was read",
            C("indicator_type", "Type"),
            C("indicator", "Indicator", "url"),
            C("evidence_types", "Evidence"),
            C("campaign_name", "Campaign", missing="threat only"),
            C("threat", "Threat", "url"),
            C("seen_in_mail", "Seen in our mail", "bool"),
            C("messages_delivered", "Messages delivered", "int"),
            C("recipients", "Recipients", "int"),
            C("clicks", "Clicks", "int"),
            C("last_seen_in_mail_at", "Last seen in mail (UTC)", "time", "never"),
        ),
        table(
            "ingest-health",
            "ingest_health.csv",
            "Ingest health per stream (mart_ingest_health)",
            marts.ingest,
            "nothing was loaded",
            C("stream", "Stream"),
            C("windows", "Windows read", "int"),
            C("rows_loaded", "Rows loaded", "int"),
            C("new_events", "New events", "int"),
            C("re_reads", "Re-reads", "int"),
            C("late_events", "Late events", "int"),
            C("worst_p90_minutes_to_read", "Worst p90 minutes to read", "float"),
            C("last_window_end", "Last window end (UTC)", "time"),
        ),
    )
    return {t.element_id: t for t in out}
