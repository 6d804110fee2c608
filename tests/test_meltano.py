"""The Meltano project as users run it: sandbox → tap → threatq mapper → DuckDB or Postgres.

Every test uses the project's own meltano.yml and installed plugins, with the state database, the
DuckDB file and the Postgres schema of its own (set through Meltano's environment variables).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pytest
import yaml

from tap_proofpoint_tap.mappers.ocsf.mapper import OCSFMapper
from tap_proofpoint_tap.mappers.threatq.entities import ENTITY_STREAMS
from tap_proofpoint_tap.mappers.threatq.mapper import ThreatQMapper
from tap_proofpoint_tap.sandboxes.siem.generator import STREAMS
from tap_proofpoint_tap.tap import TapProofpointTap
from tap_proofpoint_tap.windows import fmt
from tests.helpers import (
    MELTANO,
    ROOT,
    SANDBOX_CREDENTIALS,
    assert_entity_tables,
    assert_no_secret,
    check_marts,
    hour_floor,
    meltano_env,
    pipeline_truth,
)
from tests.marts_truth import check_intel_marts, intel_truth
from tests.postgres import postgres_env

if TYPE_CHECKING:
    from pathlib import Path

    from tap_proofpoint_tap.sandboxes.siem import Sandbox

PIPELINE = ("tap-proofpoint-tap", "threatq")
INTEL_TABLES = ("threats", "campaigns", "forensics", "very_attacked_people", "top_clickers")


def meltano_run(
    tmp_path: Path,
    project: Path,
    sandbox: Sandbox,
    start: datetime,
    end: datetime,
    loader: str,
    *flags: str,
    then: tuple[str, ...] = (),
    **env: str,
) -> subprocess.CompletedProcess:
    """``meltano run [flags] tap-proofpoint-tap threatq <loader> [then...]``."""
    proc = subprocess.run(
        [MELTANO, "run", *flags, *PIPELINE, loader, *then],
        cwd=project,
        env=meltano_env(tmp_path, sandbox, start, end, **env),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    assert_no_secret(SANDBOX_CREDENTIALS, proc.stdout, proc.stderr)
    return proc


def check_tables(query, events: dict[str, list[dict]]) -> dict[str, int]:
    """Every event once, every entity once; returns the row count of each table."""
    counts = {}
    for stream in STREAMS:
        rows, ids = query(f"select count(*), count(distinct id) from proofpoint.{stream}")
        assert rows == ids == len(events[stream]), stream
        assert {r for (r,) in query(f"select id from proofpoint.{stream}", all_rows=True)} == {
            e["id"] for e in events[stream]
        }, stream
        counts[stream] = rows
    threats, campaigns = mentioned_ids(events)
    for table, ids in (("threats", threats), ("campaigns", campaigns)):
        rows, distinct = query(f"select count(*), count(distinct id) from proofpoint.{table}")
        loaded = {r for (r,) in query(f"select id from proofpoint.{table}", all_rows=True)}
        assert rows == distinct == len(loaded) > 0, table
        # every one the events name; campaigns also those discovery lists (sandbox environment)
        assert loaded == ids if table == "threats" else loaded >= ids, table
    for table in ("very_attacked_people", "top_clickers"):
        (rows,) = query(f"select count(*) from proofpoint.{table}")
        assert rows > 0, table
    (asked,) = query(
        'select count(*) from proofpoint.forensics where "queriedId" not in '
        "(select id from proofpoint.campaigns union all select id from proofpoint.threats)"
    )
    assert asked == 0 and query("select count(*) from proofpoint.forensics")[0] > 0
    counts |= assert_entity_tables(lambda sql: query(sql, all_rows=True), events)
    return counts


def duckdb_query(path: Path):
    import duckdb  # not on Python 3.10, where only this module's fast test runs

    con = duckdb.connect(str(path), read_only=True)

    def query(sql: str, all_rows: bool = False):
        result = con.execute(sql)
        return result.fetchall() if all_rows else result.fetchone()

    return con, query


@pytest.mark.fast
def test_meltano_yml_declares_every_setting_of_the_tap_and_the_mapper():
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    plugins = {p["name"]: p for kind in project["plugins"].values() for p in kind}
    builtin = {
        "stream_maps",
        "stream_map_config",
        "faker_config",
        "flattening_enabled",
        "flattening_max_depth",
        "flattening_max_key_length",
        "flattening_separator",
        "batch_config",
    }
    for name, plugin_class in (
        ("tap-proofpoint-tap", TapProofpointTap),
        ("mapper-proofpoint-threatq", ThreatQMapper),
        ("mapper-proofpoint-ocsf", OCSFMapper),
    ):
        declared = {s["name"]: s for s in plugins[name]["settings"]}
        assert set(declared) == set(plugin_class.config_jsonschema["properties"]) - builtin
        assert all("kind" in s for s in declared.values())
    secret = next(s for s in plugins["tap-proofpoint-tap"]["settings"] if s["name"] == "secret")
    assert secret["sensitive"] is True
    # custom plugins only (nothing from Meltano Hub); an inheriting one shares its parent's venv
    assert all(
        "variant" not in p and (p.get("pip_url") or p.get("inherit_from") in plugins)
        for p in plugins.values()
    )
    assert plugins["mapper-proofpoint-threatq"]["mappings"][0]["name"] == "threatq"
    assert plugins["mapper-proofpoint-ocsf"]["mappings"][0]["name"] == "ocsf"
    assert project["send_anonymous_usage_stats"] is False


def mentioned_ids(events: dict[str, list[dict]]) -> tuple[set[str], set[str]]:
    """The threat and campaign ids the raw events name (either published spelling)."""
    threats, campaigns = set(), set()
    for stream in STREAMS:
        for event in events[stream]:
            infos = event.get("threatsInfoMap") or [event]
            for info in infos:
                threats.add(info.get("threatID") or info.get("threatId"))
                campaigns.add(info.get("campaignID") or info.get("campaignId"))
    return threats - {None}, campaigns - {None}


def test_duckdb_gets_every_event_once_and_a_rerun_changes_no_count(tmp_path, busy_live, project):
    start = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=4)
    end = start + timedelta(hours=3)
    events = pipeline_truth(busy_live, start, end)
    assert len(events["clicks_permitted"]) > 50
    first = meltano_run(tmp_path, project, busy_live, start, end, "target-duckdb-proofpoint")
    assert "ThreatQ run summary" in first.stderr
    con, query = duckdb_query(tmp_path / "warehouse.duckdb")
    counts = check_tables(query, events)
    con.close()
    requests = len(busy_live.requests)
    # The same hours again from scratch: every event and entity is sent again and upserted,
    # now in batches of 7 rows (the first run loaded each table in one batch of 10,000).
    meltano_run(
        tmp_path,
        project,
        busy_live,
        start,
        end,
        "target-duckdb-proofpoint",
        "--full-refresh",
        TARGET_DUCKDB_PROOFPOINT_BATCH_SIZE_ROWS="7",
    )
    assert len(busy_live.requests) > requests
    con, query = duckdb_query(tmp_path / "warehouse.duckdb")
    assert check_tables(query, events) == counts
    con.close()


def test_meltano_keeps_the_bookmark_through_the_mapper(tmp_path, busy_live, project):
    start = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=4)
    end = start + timedelta(hours=2)
    meltano_run(tmp_path, project, busy_live, start, end, "target-duckdb-proofpoint")
    environ = {**os.environ, "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/meltano.db"}
    got = subprocess.run(
        [MELTANO, "state", "get", "sandbox:tap-proofpoint-tap-to-target-duckdb-proofpoint"],
        cwd=project,
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    )
    bookmarks = json.loads(got.stdout)["singer_state"]["bookmarks"]
    assert {bookmarks[s]["replication_key_value"] for s in STREAMS} == {fmt(end)}
    before = len(busy_live.requests)
    meltano_run(
        tmp_path, project, busy_live, start, end + timedelta(hours=1), "target-duckdb-proofpoint"
    )
    # The second run starts at the bookmark minus the 30-minute look-back, not at start_date.
    starts = {
        r.params["interval"][0].split("/")[0]
        for r in busy_live.requests[before:]
        if r.path.startswith("/v2/siem/")
    }
    assert starts == {fmt(end - timedelta(minutes=30)), fmt(end + timedelta(minutes=30))}


def test_demo_fills_duckdb_then_reads_only_new_minutes(tmp_path, project):
    env = {
        **os.environ,
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/meltano.db",
        "TARGET_DUCKDB_PROOFPOINT_FILEPATH": str(tmp_path / "demo.duckdb"),
        "PROOFPOINT_REPORT_OUTPUT": str(tmp_path / "report"),
    }
    demo = [sys.executable, "-m", "tap_proofpoint_tap.sandboxes.demo"]
    runs = [
        subprocess.run(demo, cwd=project, env=env, capture_output=True, text=True, timeout=600)
        for _ in range(2)
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr[-3000:]
    tables = [re.findall(r"^  (\w+) +(\d+) +(\d+) +(\d+)$", run.stdout, re.M) for run in runs]
    first, second = ({t: rows for t, rows, _, _ in found} for found in tables)
    # the first run fills an empty file: every row new, none changed
    assert all(new == rows and changed == "0" for _, rows, new, changed in tables[0])
    assert set(first) == {*STREAMS, *INTEL_TABLES, *ENTITY_STREAMS}
    assert all(int(n) > 0 for n in first.values())
    requests = [int(re.search(r"(\d+) API requests?", run.stdout)[1]) for run in runs]
    assert requests[0] >= 24 and requests[1] == 1  # the four streams through /v2/siem/all
    assert "| Incidents" in runs[0].stdout and "Top clicked URLs" in runs[0].stdout
    for run in runs:  # every feed into the ThreatQ stand-in, then a re-read that costs nothing
        held = dict(re.findall(r"^  \| (\w[\w ]*?) +\| +(\d+) \|$", run.stdout, re.M))
        assert all(int(held[k]) > 0 for k in ("Events", "Campaigns", "Adversaries", "TTPs")), held
        assert re.findall(r"Done in [\d.]+ s: (\d+) ThreatQ API requests?", run.stdout)[1] == "0"
    assert second["clicks_permitted"] >= first["clicks_permitted"]
    # the OCSF tables (issue 28): one event per record read, appended (re-reads counted apart)
    for run, tables_of in zip(runs, (first, second), strict=True):
        ocsf = {
            t: (int(rows), int(events))
            for t, rows, events in re.findall(r"^  (ocsf_\w+) +(\d+) +(\d+)$", run.stdout, re.M)
        }
        email, web = ocsf["ocsf_email_activity"], ocsf["ocsf_web_resources_activity"]
        assert email[1] == int(tables_of["messages_delivered"]) + int(tables_of["messages_blocked"])
        assert web[1] == int(tables_of["clicks_permitted"]) + int(tables_of["clicks_blocked"])
        assert ocsf["ocsf_detection_finding"][1] >= int(tables_of["threats"]) > 0
        assert all(rows >= events > 0 for rows, events in ocsf.values())
        assert re.search(r"^  OCSF 1\.7\.0: read .*; wrote \d+ ocsf_", run.stdout, re.M)
        # and exported as Security Lake custom sources: each event once, one class each
        exported = dict(re.findall(r"^    proofpoint-tap-([\w-]+): (\d+) events", run.stdout, re.M))
        assert int(exported["email-activity"]) == email[1]
        assert int(exported["web-resources-activity"]) == web[1]
        assert int(exported["detection-finding"]) == ocsf["ocsf_detection_finding"][1]
    for run in runs:  # dbt built the models, the report has its path and three numbers
        assert re.search(
            r"^dbt build \(transform/\): PASS=\d+ WARN=0 ERROR=0 SKIP=0", run.stdout, re.M
        )
        assert f"Report: {tmp_path / 'report' / 'report.html'}" in run.stdout
        for headline in (
            r"Permitted clicks on active threats: \d+",
            r"Median minutes from delivery to a permitted click: \d+(\.\d+)?",
            r"Retroactive permitted clicks .*: \d+ of \d+",
        ):
            assert re.search(headline, run.stdout), headline
    assert (tmp_path / "report" / "report.html").stat().st_size > 100_000


def test_postgres_upserts_overlapping_runs_and_dbt_builds_the_marts(
    tmp_path, busy_live, project, postgres
):
    con, schema = postgres
    env = postgres_env(schema)
    base = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=4)
    meltano_run(
        tmp_path, project, busy_live, base, base + timedelta(hours=2), "target-postgres", **env
    )
    # Hours 1 to 3, from scratch: hour 1 is sent a second time and must upsert; then dbt.
    built = meltano_run(
        tmp_path,
        project,
        busy_live,
        base + timedelta(hours=1),
        base + timedelta(hours=3),
        "target-postgres",
        "--full-refresh",
        then=("dbt-postgres:build",),
        **env,
    )
    assert "ERROR=0" in built.stderr and "WARN=0" in built.stderr, built.stderr[-3000:]
    events = pipeline_truth(busy_live, base, base + timedelta(hours=3))
    overlap = pipeline_truth(busy_live, base + timedelta(hours=1), base + timedelta(hours=2))
    assert overlap["clicks_permitted"], "the overlap should hold clicks"

    def query(sql: str, all_rows: bool = False):
        sql = sql.replace("analytics.", f"{schema}_analytics.").replace("proofpoint.", f"{schema}.")
        result = con.execute(sql)
        return result.fetchall() if all_rows else result.fetchone()

    check_tables(query, events)
    check_marts(lambda sql: query(sql, all_rows=True), events)
    # the intel marts, against what the sandbox's intel APIs served for what was fetched
    intel = intel_truth(busy_live, lambda sql: query(sql, all_rows=True))
    counts = check_intel_marts(lambda sql: query(sql, all_rows=True), events, intel)
    assert all(counts.values()), counts
    # without the intel streams' tables (forensics and the people rankings are not selected by
    # default) dbt-postgres still builds, with no warning, and the indicators are none
    for table in INTEL_TABLES:
        con.execute(f"drop table {schema}.{table} cascade")  # and the staging views on it
    proc = subprocess.run(
        [MELTANO, "invoke", "dbt-postgres:build"],
        cwd=project,
        env=meltano_env(tmp_path, busy_live, base, base + timedelta(hours=3), **env),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0 and "WARN=0" in proc.stdout, proc.stdout[-3000:]
    assert query("select count(*) from analytics.mart_indicators_to_hunt") == (0,)
    # the models with Postgres-specific SQL beyond check_marts' built and hold rows
    assert query("select sum(rows_loaded) from analytics.mart_ingest_health")[0] == sum(
        map(len, events.values())
    )
    assert (
        query("select count(*) from analytics.snap_threat_status")[0]
        == query("select count(*) from analytics.dim_threats")[0]
        > 0
    )
    assert (
        query(
            "select count(*) from analytics.mart_threatq_click_entities "
            "where corporate_email_id is null or url_indicator_id is null"
        )[0]
        == 0
    )


def test_ocsf_events_load_into_postgres_with_typed_columns(tmp_path, busy_live, project, postgres):
    """``meltano run tap-proofpoint-tap ocsf target-postgres`` (issue 28): every OCSF attribute
    a column of its OCSF type, one event per record read, a click joined to its message."""
    con, schema = postgres
    start = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=3)
    proc = subprocess.run(
        [MELTANO, "run", "tap-proofpoint-tap", "ocsf", "target-postgres"],
        cwd=project,
        env=meltano_env(
            tmp_path, busy_live, start, start + timedelta(hours=1), **postgres_env(schema)
        ),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    types = dict(
        con.execute(
            "select table_name || '.' || column_name, data_type from information_schema.columns "
            "where table_schema = %s and table_name like 'ocsf_%%'",
            (schema,),
        ).fetchall()
    )
    assert types["ocsf_email_activity.time"] == "bigint"
    assert types["ocsf_email_activity.metadata"] == "jsonb"
    assert types["ocsf_email_activity.from"] in ("text", "character varying")
    assert types["ocsf_web_resources_activity.is_alert"] == "boolean"
    assert types["ocsf_web_resources_activity.severity_id"] == "bigint"
    assert types["ocsf_detection_finding.risk_score"] == "bigint"
    events = pipeline_truth(busy_live, start, start + timedelta(hours=1))
    for table, streams in (
        ("ocsf_email_activity", ("messages_delivered", "messages_blocked")),
        ("ocsf_web_resources_activity", ("clicks_permitted", "clicks_blocked")),
    ):
        uids = {
            uid
            for (uid,) in con.execute(f"select metadata->>'uid' from {schema}.{table}").fetchall()
        }
        assert uids == {e["id"] for s in streams for e in events[s]}, table
    joined = con.execute(
        f"select count(*) from {schema}.ocsf_web_resources_activity w "
        f"join {schema}.ocsf_email_activity e "
        "on w.metadata->>'correlation_uid' = e.metadata->>'correlation_uid'"
    ).fetchone()[0]
    assert joined > 0
