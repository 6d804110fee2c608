"""The dbt project in transform/ on what the pipeline loaded, checked against the sandbox.

The session's ``warehouse`` fixture loads five hours append-only in two Meltano runs (the
second re-reads the first's last 30 minutes) and runs ``dbt-duckdb:build`` and ``report`` in
the same ``meltano run``. Every expected number here is computed from the sandbox's events
in Python, not read back from the models.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from tests.helpers import MELTANO, ROOT, check_marts, check_status_marts, duckdb_connect
from tests.marts_truth import check_intel_marts

DBT = str(Path(sys.executable).parent / "dbt")


def duckdb_query(path: Path):
    con = duckdb_connect(str(path), read_only=True)
    return con, lambda sql: con.execute(sql).fetchall()


def test_meltano_run_builds_the_marts_and_they_match_the_sandbox(warehouse):
    build = warehouse.runs[1].stderr
    assert "dbt-duckdb" in build and "ERROR=0" in build and "SKIP=0" in build
    assert "WARN=0" in build, "dbt build should pass without warnings"
    con, query = duckdb_query(warehouse.path)
    with con:
        check_marts(query, warehouse.truth)


def test_the_marts_status_logic_and_threat_times_match_the_threats_timelines(warehouse):
    """dim_threats' latest status and threat time, the click work queue and the deliveries
    condemned after delivery, against the sandbox's status timelines (tests/helpers.py
    ``check_status_marts``)."""
    con, query = duckdb_query(warehouse.path)
    with con:
        check_status_marts(query, warehouse)


def test_the_intel_marts_match_what_the_sandbox_served(warehouse):
    """Campaigns reached, attackers, people at risk, indicators to hunt and the work queue's
    message and campaign columns, against tests/marts_truth.py's oracle (the sandbox's events
    and its Threat, Campaign, Forensics and People answers)."""
    con, query = duckdb_query(warehouse.path)
    with con:
        counts = check_intel_marts(query, warehouse.truth, warehouse.intel)
    assert all(counts.values()), counts


CAMPAIGN_COLUMNS = (
    "campaign_id, actors, malware, techniques, threats_seen, messages_delivered, "
    "messages_blocked, recipients_targeted, recipients_delivered, recipients_clicked, "
    "clicks_permitted, clicks_blocked, first_seen_at, last_seen_at, reach_rank"
)


def test_a_campaign_reaches_us_through_its_member_list_or_the_events_campaign_id(
    warehouse, tmp_path
):
    """The sandbox's events carry their threats' campaign ids and the campaigns list the same
    threats: with either source removed (on copies), mart_campaigns_reached is unchanged."""
    with duckdb_connect(str(warehouse.path), read_only=True) as con:
        before = con.execute(
            f"select {CAMPAIGN_COLUMNS} from analytics.mart_campaigns_reached order by 1"
        ).fetchall()
    assert before
    drop_carried = [
        f"""update proofpoint.{stream} set "threatsInfoMap" = to_json(list_transform(
                cast("threatsInfoMap" as json[]),
                lambda x: json_merge_patch(x, '{{"campaignID": null}}')))"""
        for stream in ("messages_delivered", "messages_blocked")
    ] + [
        f'update proofpoint.{s} set "campaignId" = null'
        for s in ("clicks_permitted", "clicks_blocked")
    ]
    drop_listed = ["""update proofpoint.campaigns set "campaignMembers" = '[]'"""]
    for name, statements in (("carried", drop_carried), ("listed", drop_listed)):
        database = tmp_path / name / "copy.duckdb"
        database.parent.mkdir()
        shutil.copy(warehouse.path, database)
        with duckdb_connect(str(database)) as con:
            for statement in statements:
                con.execute(statement)
        proc = by_hand(database, "build", "--select", "int_threat_campaigns+")
        assert proc.returncode == 0, proc.stdout[-3000:]
        with duckdb_connect(str(database), read_only=True) as con:
            after = con.execute(
                f"select {CAMPAIGN_COLUMNS} from analytics.mart_campaigns_reached order by 1"
            ).fetchall()
            (left,) = con.execute(
                "select count(*) from analytics.int_threat_campaigns where "
                + ("is_carried_by_events" if name == "carried" else "is_listed_member")
            ).fetchone()
        assert left == 0, f"the {name} campaign ids are still there"
        assert after == before, f"without the {name} campaign ids"


def test_people_at_risk_compares_the_latest_snapshots_only(warehouse, tmp_path):
    """An older snapshot of both rankings (other people, higher numbers) stays in staging and
    changes nothing in mart_people_at_risk."""
    database = tmp_path / "copy.duckdb"
    shutil.copy(warehouse.path, database)
    columns = "user_email, segment, attack_index, proofpoint_clicks, risk_rank, snapshot_at"
    with duckdb_connect(str(database)) as con:
        before = con.execute(
            f"select {columns} from analytics.mart_people_at_risk order by user_email"
        ).fetchall()
        for table, measure in (
            ("very_attacked_people", "attackIndex"),
            ("top_clickers", "clickCount"),
        ):
            con.execute(
                f"""insert into proofpoint.{table} select * replace (
                        "snapshotAt" - interval 1 day as "snapshotAt",
                        list_transform(emails, lambda e: 'stale.' || e) as emails,
                        "{measure}" + 10000 as "{measure}")
                    from proofpoint.{table}"""
            )
    proc = by_hand(
        database, "build", "--select", "stg_tap__very_attacked_people+", "stg_tap__top_clickers+"
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    with duckdb_connect(str(database), read_only=True) as con:
        after = con.execute(
            f"select {columns} from analytics.mart_people_at_risk order by user_email"
        ).fetchall()
        snapshots = con.execute(
            "select count(distinct snapshot_at) from analytics.stg_tap__very_attacked_people"
        ).fetchone()
    assert snapshots == (2,)
    assert after == before


INTEL_TABLES = ("threats", "campaigns", "forensics", "very_attacked_people", "top_clickers")


def test_the_marts_build_without_the_intel_streams(warehouse, tmp_path):
    """Forensics and the people rankings are not selected by default: without their tables
    (and without threats and campaigns) dbt builds, with no warning. A campaign is then known by
    the events' campaign ids alone (no name), and the people at risk are our clickers."""
    database = tmp_path / "copy.duckdb"
    shutil.copy(warehouse.path, database)
    with duckdb_connect(str(database)) as con:
        queue = con.execute("select count(*) from analytics.mart_click_exposure").fetchone()
        for table in INTEL_TABLES:
            con.execute(f"drop table proofpoint.{table}")
    proc = by_hand(database, "build")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "WARN=0" in proc.stdout and "ERROR=0" in proc.stdout
    with duckdb_connect(str(database), read_only=True) as con:
        assert con.execute("select count(*) from analytics.mart_indicators_to_hunt").fetchone() == (
            0,
        )
        assert con.execute(
            "select distinct segment from analytics.mart_people_at_risk"
        ).fetchall() == [("clicking, not very attacked",)]
        named, reached = con.execute(
            "select count(campaign_name), count(*) from analytics.mart_campaigns_reached"
        ).fetchone()
        assert named == 0 and reached > 0
        assert con.execute("select count(*) from analytics.mart_click_exposure").fetchone() == queue


def test_staging_keeps_one_row_per_event_after_the_look_back_re_read(warehouse):
    con, query = duckdb_query(warehouse.path)
    with con:
        re_read = 0
        for stream, events in warehouse.truth.items():
            ((rows, ids),) = query(f"select count(*), count(distinct id) from proofpoint.{stream}")
            assert ids == len(events)
            re_read += rows - ids
            key = "click_id" if stream.startswith("clicks") else "message_event_id"
            ((staged, distinct),) = query(
                f"select count(*), count(distinct {key}) from analytics.stg_tap__{stream}"
            )
            assert staged == distinct == len(events), stream
            # every event was visible when its window was first read: the look-back's copies
            # are re-reads, none of them a late event
            health = query(
                "select sum(rows_loaded), sum(new_events), sum(re_reads), "
                "sum(late_events) from analytics.mart_ingest_health "
                f"where stream = '{stream}'"
            )
            assert health == [(rows, ids, rows - ids, 0)], stream
        assert re_read > 0, "the second run should re-read the first's last 30 minutes"
        # the latest read wins: each staged click carries the latest window that returned it
        stale = query(
            "select count(*) from analytics.stg_tap__clicks_permitted s join "
            '(select id, max("queryEndTime") as last from proofpoint.clicks_permitted '
            "group by id) r on r.id = s.click_id where s.read_until <> r.last"
        )
        assert stale == [(0,)]


def test_the_later_copy_of_a_re_read_click_is_the_one_kept(warehouse, tmp_path):
    """Two reads of a click that differ (the threat was cleared between them): staging, and
    fct_clicks, carry what the later read returned."""
    database = tmp_path / "copy.duckdb"
    shutil.copy(warehouse.path, database)
    with duckdb_connect(str(database)) as con:
        (click_id,) = con.execute(
            "select id from proofpoint.clicks_permitted group by id having count(*) > 1 "
            "order by id limit 1"
        ).fetchone()
        con.execute(
            """update proofpoint.clicks_permitted set "threatStatus" =
                       case when "queryEndTime" = (select max("queryEndTime") from
                            proofpoint.clicks_permitted where id = $1) then 'cleared'
                       else 'active' end where id = $1""",
            [click_id],
        )
    proc = by_hand(database, "build", "--select", "stg_tap__clicks_permitted+")
    assert proc.returncode == 0, proc.stdout[-3000:]
    with duckdb_connect(str(database), read_only=True) as con:
        kept = con.execute(
            "select threat_status from analytics.fct_clicks where click_id = ?", [click_id]
        ).fetchall()
    assert kept == [("cleared",)]


def by_hand(database: Path, *args: str) -> subprocess.CompletedProcess:
    """dbt as a user runs it by hand, from transform/ with the DuckDB profile (its target/ and
    logs/ beside ``database``, so that parallel tests never share them)."""
    env = {
        **os.environ,
        "DBT_PROFILES_DIR": str(ROOT / "transform/profiles/duckdb"),
        "DBT_DUCKDB_PATH": str(database),
        "DBT_TARGET_PATH": str(database.parent / "dbt-target"),
        "DBT_LOG_PATH": str(database.parent / "dbt-logs"),
    }
    return subprocess.run(
        [DBT, *args], cwd=ROOT / "transform", env=env, capture_output=True, text=True, timeout=600
    )


def test_snapshot_keeps_a_threats_status_history(warehouse, tmp_path):
    database = tmp_path / "copy.duckdb"
    shutil.copy(warehouse.path, database)
    with duckdb_connect(str(database)) as con:
        threat, status = con.execute(
            "select threat_id, threat_status from analytics.dim_threats "
            "where threat_status = 'active' order by funnel_rank limit 1"
        ).fetchone()
        # a later read: the threat is now a false positive
        later = datetime.now().astimezone() - timedelta(minutes=10)
        con.execute(
            """insert into proofpoint.clicks_permitted
                       select * replace ('flip-1' as id, 'falsePositive' as "threatStatus",
                                         ?::timestamptz as "clickTime", ?::timestamptz as "threatTime",
                                         ?::timestamptz as "queryEndTime")
                       from proofpoint.clicks_permitted limit 1""",
            [later, later, later],
        )
        con.execute(
            """update proofpoint.clicks_permitted set "threatID" = ? where id = 'flip-1'""",
            [threat],
        )
    proc = by_hand(database, "build")
    assert proc.returncode == 0, proc.stdout[-3000:]
    with duckdb_connect(str(database), read_only=True) as con:
        history = con.execute(
            "select threat_status, dbt_valid_to is null from analytics.snap_threat_status "
            "where threat_id = ? order by dbt_valid_from",
            [threat],
        ).fetchall()
    assert history == [(status, False), ("falsePositive", True)]


def test_source_freshness_passes_on_fresh_data_and_fails_on_stale(warehouse, tmp_path, project):
    # as the README has it: the utility's freshness command (on a copy: dbt opens the file
    # for writing, and other tests read the warehouse meanwhile)
    fresh = tmp_path / "fresh.duckdb"
    shutil.copy(warehouse.path, fresh)
    proc = subprocess.run(
        [MELTANO, "invoke", "dbt-duckdb:freshness"],
        cwd=project,
        env={
            **os.environ,
            "DBT_DUCKDB_PATH": str(fresh),
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/meltano.db",
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # read up to an hour or two ago: PASS, or WARN (after 2 h) late in a long session
    assert len(re.findall(r"(PASS|WARN) freshness of tap_proofpoint\.", proc.stdout)) == 4
    assert "ERROR" not in proc.stdout
    stale = tmp_path / "stale.duckdb"
    shutil.copy(warehouse.path, stale)
    with duckdb_connect(str(stale)) as con:
        con.execute("""update proofpoint.clicks_permitted
                       set "queryEndTime" = "queryEndTime" - interval 30 hours""")
    proc = by_hand(stale, "source", "freshness")
    assert proc.returncode == 1
    assert "ERROR STALE freshness of tap_proofpoint.clicks_permitted" in proc.stdout


def test_unit_tests_catch_a_guid_only_join(warehouse, tmp_path):
    """dbt's unit tests pass, and fail once fct_clicks joins on GUID alone (on a copy)."""
    database = tmp_path / "copy.duckdb"
    shutil.copy(warehouse.path, database)
    copy = tmp_path / "transform"
    shutil.copytree(ROOT / "transform", copy, ignore=shutil.ignore_patterns("target", "logs"))
    env = {
        **os.environ,
        "DBT_PROFILES_DIR": str(copy / "profiles/duckdb"),
        "DBT_DUCKDB_PATH": str(database),
    }

    def unit_tests() -> subprocess.CompletedProcess:
        return subprocess.run(
            [DBT, "test", "--select", "test_type:unit"],
            cwd=copy,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    passed = unit_tests()
    assert passed.returncode == 0 and "PASS=2" in passed.stdout, passed.stdout[-3000:]
    model = copy / "models/marts/fct_clicks.sql"
    model.write_text(model.read_text().replace("and deliveries.recipient = clicks.recipient", ""))
    failed = unit_tests()
    assert failed.returncode == 1 and "FAIL 1 fct_clicks::click_joins_its_own" in failed.stdout


def test_models_read_the_tables_pypis_target_duckdb_made(warehouse, tmp_path):
    """Tables PyPI's target-duckdb 0.8.0 created (naive TIMESTAMP times, arrays as JSON), which
    target-duckdb-proofpoint keeps loading into, give the same clicks and deliveries."""
    database = tmp_path / "old-shapes.duckdb"
    shutil.copy(warehouse.path, database)
    columns = "click_id, delivery_key, minutes_to_click, is_retroactive, click_time"
    with duckdb_connect(str(database)) as con:
        before = con.execute(f"select {columns} from analytics.fct_clicks order by 1").fetchall()
        con.execute("set TimeZone = 'UTC'")
        for stream, times in (
            ("clicks_permitted", ("clickTime", "threatTime")),
            ("clicks_blocked", ("clickTime", "threatTime")),
            ("messages_delivered", ("messageTime",)),
            ("messages_blocked", ("messageTime",)),
        ):
            for column in (*times, "queryEndTime"):
                con.execute(f'alter table proofpoint.{stream} alter "{column}" type timestamp')
            if stream.startswith("messages"):
                con.execute(
                    f"alter table proofpoint.{stream} alter recipient type json "
                    "using to_json(recipient)"
                )
        kinds = dict(
            con.execute(
                "select column_name, data_type from information_schema.columns where "
                "table_schema = 'proofpoint' and table_name = 'messages_delivered'"
            ).fetchall()
        )
        assert (kinds["recipient"], kinds["messageTime"]) == ("JSON", "TIMESTAMP")
    proc = by_hand(database, "build")
    assert proc.returncode == 0, proc.stdout[-3000:]
    with duckdb_connect(str(database), read_only=True) as con:
        after = con.execute(f"select {columns} from analytics.fct_clicks order by 1").fetchall()
    assert after == before
    assert sum(1 for row in after if row[1]) >= 20
