"""Read the dbt marts the report draws from a DuckDB file, opened read-only.

Read-only so the report can run beside a reader (and never changes the pipeline's file); every
row comes back as a plain dict with times as ISO 8601 strings in UTC, which is what altair's
inline data and the HTML table take without pandas.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import duckdb

from tap_proofpoint_tap.report.table import Listing, Row
from tap_proofpoint_tap.targets.duckdb.columns import quote
from tap_proofpoint_tap.targets.duckdb.messages import first_line, lock_holder

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


MARTS = (
    "int_message_threats",
    "int_message_recipients",
    "fct_clicks",
    "fct_message_deliveries",
    "dim_threats",
    "dim_users",
    "mart_user_risk",
    "mart_click_exposure",
    "mart_post_delivery_condemned",
    "mart_ingest_health",
    "mart_campaigns_reached",
    "mart_campaign_threats",
    "mart_attackers",
    "mart_attackers_daily",
    "mart_people_at_risk",
    "mart_indicators_to_hunt",
)
DBT_HINT = "run dbt first: meltano run dbt-duckdb:build (or meltano invoke dbt-duckdb build)"
DBT_REBUILD = "meltano run dbt-duckdb:build, or dbt build in transform/"
ISO = "%Y-%m-%dT%H:%M:%SZ"
_COLUMN = re.compile(r'column "([^"]+)" not found')
_MART = re.compile(r"FROM \S+\.(\w+)")

TOP_THREATS = 10
TOP_CLICKERS = 15
TOP_ATTACKED = 15


class ReportError(Exception):
    """A problem the user fixes (a path, a lock, dbt not run): shown as one line, exit 1."""


@dataclass(frozen=True)
class Period:
    """What the data covers: from the first event created to the end of the last window read
    (the API windows the tap read; queryEndTime). None when nothing was loaded."""

    start: str | None
    end: str | None
    first_window_end: str | None
    windows: int


@dataclass(frozen=True)
class Marts:
    """The rows of every chart and table; the lists that are exported whole are whole."""

    period: Period
    clicks: list[Row]
    latencies: list[Row]
    funnel: list[Row]
    top_clickers: list[Row]
    most_attacked: list[Row]
    campaigns: Listing
    campaign_threats: Listing
    attackers: Listing
    attackers_daily: list[Row]
    people: Listing
    indicators: Listing
    work_queue: Listing
    condemned: Listing
    ingest: Listing


@contextmanager
def connect(path: Path, schema: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to ``path`` whose ``schema`` holds every mart, or ReportError."""
    if path.is_dir():
        raise ReportError(
            f"{path} is a folder, not a DuckDB file: point --database (or "
            "PROOFPOINT_REPORT_DATABASE) at the file inside it that the pipeline loads (make "
            "demo writes output/sandbox.duckdb)"
        )
    if not path.is_file():
        raise ReportError(
            f"{path} does not exist: point --database (or PROOFPOINT_REPORT_DATABASE) at the "
            "DuckDB file the pipeline loads (make demo writes output/sandbox.duckdb)"
        )
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        if "lock" in str(exc).lower():
            holder = lock_holder(exc)
            raise ReportError(
                f"{path} is locked by {holder or 'another process'}: retry when the process "
                "writing it (the pipeline or dbt) ends"
            ) from None
        raise ReportError(f"cannot open {path} as a DuckDB database: {first_line(exc)}") from None
    try:
        con.execute("SET TimeZone = 'UTC'")  # casts of TIMESTAMPTZ to TIMESTAMP stay in UTC
        present = {
            name
            for (name,) in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
                [schema],
            ).fetchall()
        }
        missing = [mart for mart in MARTS if mart not in present]
        if missing:
            raise ReportError(
                f"{path} has no {', '.join(missing)} in schema {schema} "
                f"(pass --schema if dbt writes elsewhere): {DBT_HINT}"
            )
        yield con
    finally:
        con.close()


def execute(con: duckdb.DuckDBPyConnection, sql: str) -> duckdb.DuckDBPyConnection:
    """``sql`` run; a mart without a column it reads (built by an older dbt project than this
    report's) is a ReportError naming both."""
    try:
        return con.execute(sql)
    except duckdb.BinderException as exc:
        column = _COLUMN.search(str(exc))
        mart = _MART.search(sql)
        if column is None or mart is None:
            raise
        raise ReportError(
            f"mart {mart[1]} has no column {column[1]}: it was built by an older dbt project "
            f"than this report's; rebuild the marts with this project's ({DBT_REBUILD})"
        ) from None


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[Row]:
    """Every row of ``sql`` as a dict keyed by column name."""
    return listing(con, sql).rows


def listing(con: duckdb.DuckDBPyConnection, sql: str) -> Listing:
    """``sql``'s column names and rows (the names even when there is no row)."""
    cursor = execute(con, sql)
    names = [column[0] for column in cursor.description]
    return Listing(
        names,
        [
            {name: plain(value) for name, value in zip(names, values, strict=True)}
            for values in cursor.fetchall()
        ],
    )


def plain(value: Any) -> Any:
    """A value as the charts' JSON and the CSVs take it: a DECIMAL (a sum a mart did not cast)
    as a float, a time as ISO 8601 in UTC, a date as ISO 8601."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return moment.astimezone(timezone.utc).strftime(ISO)
    if isinstance(value, date):
        return value.isoformat()
    return value


def utc(column: str) -> str:
    """SQL giving ``column`` as an ISO 8601 string in UTC (TIMESTAMPTZ or naive UTC alike)."""
    return f"strftime(CAST({column} AS TIMESTAMP), '{ISO}')"


def period(con: duckdb.DuckDBPyConnection, schema: str) -> Period:
    """The data's period: the first event's creation (every event lies in a window read, so
    none is created before the first window starts) to the last window's end."""
    s = quote(schema)
    (row,) = rows(
        con,
        f"""
        SELECT {utc("least(c.first_created, m.first_created)")} AS start,
               {utc("h.last_end")} AS "end", {utc("h.first_end")} AS first_window_end,
               h.windows
        FROM (SELECT min(event_created_at) AS first_created FROM {s}.fct_clicks) AS c,
             (SELECT min(event_created_at) AS first_created
              FROM {s}.fct_message_deliveries) AS m,
             (SELECT min(window_end) AS first_end, max(window_end) AS last_end,
                     count(DISTINCT window_end) AS windows
              FROM {s}.mart_ingest_health) AS h""",
    )
    return Period(row["start"], row["end"], row["first_window_end"], int(row["windows"]))


def funnel_rows(con: duckdb.DuckDBPyConnection, s: str) -> list[Row]:
    """Per most-targeted threat, distinct recipients at each stage of a real funnel: targeted
    ⊇ delivered ⊇ clicked a delivered message ⊇ that click permitted. The recipients only
    blocked, and the clickers whose delivery is not in the data (older than the first window),
    are counted beside the funnel, not in it."""
    return rows(
        con,
        f"""
        WITH reached AS (
            SELECT t.threat_id, r.recipient, bool_or(r.disposition = 'delivered') AS delivered
            FROM {s}.int_message_threats AS t
            JOIN {s}.int_message_recipients AS r ON r.message_event_id = t.message_event_id
            WHERE t.threat_id IS NOT NULL
            GROUP BY ALL
        ),
        clicked AS (
            SELECT threat_id, recipient, bool_or(disposition = 'permitted') AS permitted
            FROM {s}.fct_clicks WHERE threat_id IS NOT NULL GROUP BY ALL
        ),
        stages AS (
            SELECT coalesce(reached.threat_id, clicked.threat_id) AS threat_id,
                   count(reached.recipient) AS recipients_targeted,
                   count(*) FILTER (WHERE reached.delivered) AS recipients_delivered,
                   count(*) FILTER (WHERE NOT reached.delivered) AS recipients_blocked_only,
                   count(*) FILTER (WHERE reached.delivered AND clicked.recipient IS NOT NULL)
                       AS recipients_clicked,
                   count(*) FILTER (WHERE reached.delivered AND clicked.permitted)
                       AS recipients_permitted,
                   count(*) FILTER (WHERE clicked.recipient IS NOT NULL
                                    AND coalesce(reached.delivered, false) = false)
                       AS clickers_without_delivery
            FROM reached
            FULL JOIN clicked
                ON clicked.threat_id = reached.threat_id AND clicked.recipient = reached.recipient
            GROUP BY ALL
        )
        SELECT threats.funnel_rank, threats.threat_id, threats.threat, threats.threat_type,
               coalesce(threats.classification, 'unknown') AS classification,
               threats.threat_status, stages.recipients_targeted, stages.recipients_delivered,
               stages.recipients_blocked_only, stages.recipients_clicked,
               stages.recipients_permitted, stages.clickers_without_delivery
        FROM {s}.dim_threats AS threats
        JOIN stages ON stages.threat_id = threats.threat_id
        ORDER BY threats.funnel_rank, threats.threat_id LIMIT {TOP_THREATS}""",
    )


def read_marts(con: duckdb.DuckDBPyConnection, schema: str) -> Marts:
    """What the charts and tables show, from the marts in ``schema``."""
    s = quote(schema)
    return Marts(
        period=period(con, schema),
        clicks=rows(
            con,
            f"""
            SELECT {utc("click_time")} AS click_time, {utc("threat_time")} AS threat_time,
                   disposition, coalesce(is_retroactive, false) AS is_retroactive,
                   coalesce(classification, 'unknown') AS classification, url_host
            FROM {s}.fct_clicks WHERE click_time IS NOT NULL
            ORDER BY click_time, click_id""",
        ),
        latencies=rows(
            con,
            f"""
            SELECT CAST(minutes_to_click AS DOUBLE) AS minutes_to_click,
                   coalesce(classification, 'unknown') AS classification
            FROM {s}.fct_clicks
            WHERE minutes_to_click IS NOT NULL AND disposition = 'permitted'
            ORDER BY minutes_to_click, click_id""",
        ),
        funnel=funnel_rows(con, s),
        top_clickers=rows(
            con,
            f"""
            SELECT user_email, clicks_permitted, clicks_blocked, threats_clicked,
                   coalesce(is_repeat_clicker, false) AS is_repeat_clicker
            FROM {s}.dim_users WHERE clicks > 0
            ORDER BY clicks_permitted DESC, clicks DESC, user_email LIMIT {TOP_CLICKERS}""",
        ),
        most_attacked=rows(
            con,
            f"""
            SELECT risk_rank, user_email, attack_index_proxy, threats_received,
                   malware_threats, phish_threats, spam_threats, impostor_threats,
                   other_threats, clicks_permitted
            FROM {s}.mart_user_risk
            ORDER BY risk_rank, user_email LIMIT {TOP_ATTACKED}""",
        ),
        campaigns=listing(
            con, f"SELECT * FROM {s}.mart_campaigns_reached ORDER BY reach_rank, campaign_id"
        ),
        campaign_threats=listing(
            con,
            f"""
            SELECT t.* FROM {s}.mart_campaign_threats AS t
            JOIN {s}.mart_campaigns_reached AS c USING (campaign_id)
            ORDER BY c.reach_rank, t.threat_rank, t.threat_id""",
        ),
        attackers=listing(
            con, f"SELECT * FROM {s}.mart_attackers ORDER BY attacker_kind, attacker_rank, attacker"
        ),
        attackers_daily=rows(
            con,
            f"""
            SELECT attacker_kind, attacker,
                   strftime(CAST(activity_date AS DATE), '%Y-%m-%d') AS day,
                   users_targeted, messages_delivered, clicks_permitted
            FROM {s}.mart_attackers_daily ORDER BY attacker_kind, attacker, day""",
        ),
        people=listing(
            con, f"SELECT * FROM {s}.mart_people_at_risk ORDER BY risk_rank, user_email"
        ),
        indicators=listing(
            con,
            f"""SELECT * FROM {s}.mart_indicators_to_hunt ORDER BY hunt_rank, indicator_key""",
        ),
        work_queue=listing(
            con, f"SELECT * FROM {s}.mart_click_exposure ORDER BY priority_rank, click_id"
        ),
        condemned=listing(
            con,
            f"""
            SELECT * FROM {s}.mart_post_delivery_condemned
            ORDER BY was_clicked DESC, message_time DESC, delivery_threat_key""",
        ),
        ingest=listing(
            con,
            f"""
            SELECT stream, count(*) AS windows, CAST(sum(rows_loaded) AS BIGINT) AS rows_loaded,
                   CAST(sum(new_events) AS BIGINT) AS new_events,
                   CAST(sum(re_reads) AS BIGINT) AS re_reads,
                   CAST(sum(late_events) AS BIGINT) AS late_events,
                   max(p90_minutes_to_read) AS worst_p90_minutes_to_read,
                   {utc("max(window_end)")} AS last_window_end
            FROM {s}.mart_ingest_health GROUP BY stream ORDER BY stream""",
        ),
    )
