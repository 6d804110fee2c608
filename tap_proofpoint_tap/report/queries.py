"""Read the dbt marts the report draws from a DuckDB file, opened read-only.

Read-only so the report can run beside a reader (and never changes the pipeline's file); every
row comes back as a plain dict with times as ISO 8601 strings in UTC, which is what altair's
inline data and the HTML table take without pandas.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb

from tap_proofpoint_tap.targets.duckdb.columns import quote
from tap_proofpoint_tap.targets.duckdb.messages import first_line, lock_holder

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

Row = dict[str, Any]

MARTS = (
    "mart_daily_activity",
    "fct_clicks",
    "dim_threats",
    "dim_users",
    "mart_user_risk",
    "mart_click_exposure",
)
DBT_HINT = "run dbt first: meltano run dbt-duckdb:build (or meltano invoke dbt-duckdb build)"
DBT_REBUILD = "meltano run dbt-duckdb:build, or dbt build in transform/"
ISO = "%Y-%m-%dT%H:%M:%SZ"
_COLUMN = re.compile(r'column "([^"]+)" not found')
_MART = re.compile(r"FROM \S+\.(\w+)")

TOP_THREATS = 10
TOP_CLICKERS = 15
TOP_ATTACKED = 15
WORK_QUEUE_ROWS = 20


class ReportError(Exception):
    """A problem the user fixes (a path, a lock, dbt not run): shown as one line, exit 1."""


@dataclass(frozen=True)
class Marts:
    """The rows of every chart and of the work queue, already cut to what is drawn."""

    daily_clicks: list[Row]
    latencies: list[Row]
    click_threat_times: list[Row]
    funnel: list[Row]
    top_clickers: list[Row]
    most_attacked: list[Row]
    work_queue: list[Row]


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
    cursor = execute(con, sql)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def _utc(column: str) -> str:
    """SQL giving ``column`` as an ISO 8601 string in UTC (TIMESTAMPTZ or naive UTC alike)."""
    return f"strftime(CAST({column} AS TIMESTAMP), '{ISO}')"


def read_marts(con: duckdb.DuckDBPyConnection, schema: str) -> Marts:
    """What the charts and the work queue show, from the marts in ``schema``."""
    s = quote(schema)
    return Marts(
        daily_clicks=rows(
            con,
            f"""
            SELECT strftime(CAST(activity_date AS DATE), '%Y-%m-%d') AS day,
                   CASE stream WHEN 'clicks_permitted' THEN 'permitted' ELSE 'blocked' END
                       AS disposition,
                   coalesce(classification, 'unknown') AS classification,
                   CAST(sum(events) AS BIGINT) AS events
            FROM {s}.mart_daily_activity
            WHERE stream IN ('clicks_permitted', 'clicks_blocked')
            GROUP BY ALL ORDER BY day, disposition, classification""",
        ),
        latencies=rows(
            con,
            f"""
            SELECT CAST(minutes_to_click AS DOUBLE) AS minutes_to_click,
                   coalesce(classification, 'unknown') AS classification
            FROM {s}.fct_clicks WHERE minutes_to_click IS NOT NULL
            ORDER BY minutes_to_click, click_id""",
        ),
        click_threat_times=rows(
            con,
            f"""
            SELECT {_utc("click_time")} AS click_time, {_utc("threat_time")} AS threat_time,
                   coalesce(is_retroactive, false) AS is_retroactive,
                   coalesce(classification, 'unknown') AS classification, url_host
            FROM {s}.fct_clicks WHERE click_time IS NOT NULL AND threat_time IS NOT NULL
            ORDER BY click_time, click_id""",
        ),
        funnel=rows(
            con,
            f"""
            SELECT funnel_rank, threat_id, threat, threat_type,
                   coalesce(classification, 'unknown') AS classification, threat_status,
                   recipients_targeted, recipients_delivered, recipients_blocked,
                   recipients_clicked, recipients_permitted, clicks
            FROM {s}.dim_threats
            ORDER BY funnel_rank, threat_id LIMIT {TOP_THREATS}""",
        ),
        top_clickers=rows(
            con,
            f"""
            SELECT user_email, clicks, clicks_permitted, clicks_blocked, threats_clicked,
                   coalesce(is_repeat_clicker, false) AS is_repeat_clicker
            FROM {s}.dim_users WHERE clicks > 0
            ORDER BY clicks DESC, user_email LIMIT {TOP_CLICKERS}""",
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
        work_queue=rows(
            con,
            f"""
            SELECT priority_rank, priority_score, {_utc("click_time")} AS click_time,
                   recipient, url, url_host, classification, threat_id, threat_status,
                   is_retroactive, is_repeat_clicker, minutes_to_click, click_ip, click_id
            FROM {s}.mart_click_exposure
            ORDER BY priority_rank, click_id LIMIT {WORK_QUEUE_ROWS}""",
        ),
    )
