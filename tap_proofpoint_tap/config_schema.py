"""The tap's settings as the SDK declares them: names, types, defaults and what each does.

``--about`` prints this; the README's settings table is tested against it. The checks that
span settings are in :mod:`settings`.
"""

from __future__ import annotations

from singer_sdk import typing as th

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "principal",
        th.StringType,
        required=True,
        description="TAP service principal (Settings → Connected Applications).",
    ),
    th.Property(
        "secret",
        th.StringType,
        required=True,
        secret=True,
        description="TAP service secret of that principal.",
    ),
    th.Property(
        "api_url",
        th.StringType,
        default="https://tap-api-v2.proofpoint.com",
        description="Base URL of the TAP API (http or https).",
    ),
    th.Property(
        "start_date",
        th.DateTimeType,
        description="ISO 8601 time to start from when there is no bookmark "
        "(default: 24 hours ago; at most 7 days back, as the API allows). A "
        "start_date later than the bookmark wins.",
    ),
    th.Property(
        "end_date",
        th.DateTimeType,
        description="ISO 8601 time to stop at (default: now minus a 5-minute "
        "safety lag; a later end_date is capped to that).",
    ),
    th.Property(
        "threat_status",
        th.ArrayType(th.StringType),
        default=["active", "cleared"],
        description="Threat statuses to fetch: any of active, cleared, "
        "falsePositive (sent as repeated threatStatus keys).",
    ),
    th.Property(
        "threat_type",
        th.ArrayType(th.StringType),
        description="Message streams only: any of url, attachment, messageText (default: all).",
    ),
    th.Property(
        "window_minutes",
        th.IntegerType,
        default=60,
        description="Length of each API window in minutes, 1-60.",
    ),
    th.Property(
        "lookback_minutes",
        th.IntegerType,
        default=30,
        description="Each run starts this many minutes before the bookmark, to "
        "catch events Proofpoint indexed late (0-1440).",
    ),
    th.Property(
        "request_timeout",
        th.IntegerType,
        default=300,
        description="Seconds one API request may take, its whole body included, before "
        "it is retried.",
    ),
    th.Property(
        "max_requests_per_run",
        th.IntegerType,
        description="Most requests (retries included) each rate-limit pool may "
        "spend in one run; when reached, the pool's streams stop cleanly after "
        "their last whole window and the next run continues (default: no limit).",
    ),
    th.Property(
        "use_all_endpoint",
        th.BooleanType,
        default=True,
        description="Read two or more selected streams together through "
        "/v2/siem/all: one request per window for all of them instead of one per "
        "stream (with threat_type set, the message streams read their own).",
    ),
    th.Property(
        "threat_refresh_hours",
        th.IntegerType,
        default=24,
        description="threats and campaigns: fetch a threat or campaign again when events "
        "mention it this many hours after it was fetched (1-720); a threat whose events "
        "show another status is fetched again at once.",
    ),
    th.Property(
        "discover_campaigns",
        th.BooleanType,
        default=False,
        description="campaigns: also list the campaigns active in Proofpoint's wider view "
        "(/v2/campaign/ids, 50 requests per 24 hours: one per whole UTC day not yet "
        "listed, 7 days back at most).",
    ),
    th.Property(
        "forensics_threat_requests_per_day",
        th.IntegerType,
        default=40,
        description="forensics: most /v2/forensics?threatId= requests per rolling 24 hours "
        "(0-50; Proofpoint allows 50 for every tool on the principal); the threats left "
        "over wait in the state.",
    ),
    th.Property(
        "people_interval_hours",
        th.IntegerType,
        default=24,
        description="very_attacked_people and top_clickers: hours between two snapshots "
        "(1-720; each costs one request per page of a 50-a-day pool).",
    ),
    th.Property(
        "people_window_days",
        th.IntegerType,
        default=30,
        description="very_attacked_people and top_clickers: the ranking's window, 14, 30 "
        "or 90 days.",
    ),
).to_dict()
