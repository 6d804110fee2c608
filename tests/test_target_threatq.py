"""target-threatq against the ThreatQ stand-in on 127.0.0.1, run as users do (issue 14).

A day of sandbox clicks goes through the tap and the mapper once; each test feeds the mapper's
output to the ``target-threatq`` console script and counts what the stand-in stored, against a
count made straight from the clicks (``expected_entities``).
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from tap_proofpoint_tap.sandboxes.siem.rules import DEFAULT_THREAT_STATUSES, Window
from tap_proofpoint_tap.sandboxes.threatq import Credentials, Fault, Maintenance, ThreatQSandbox
from tap_proofpoint_tap.targets.threatq.settings import OWN
from tests.helpers import (
    assert_no_secret,
    catalog_selecting,
    expected_entities,
    hour_floor,
    kill_meltano_at,
    mapper_lines,
    run_tap,
    tap_config,
    traffic_sandbox,
)
from tests.threatq_runs import meltano_threatq

TARGET = str(Path(sys.executable).parent / "target-threatq")
MAPPER = str(Path(sys.executable).parent / "mapper-proofpoint-threatq")
CREDENTIALS = Credentials()
SECRETS = (CREDENTIALS.password, CREDENTIALS.client_secret, "tqa-", "tqr-")


@dataclass
class Day:
    """A day of permitted clicks: the mapper's output lines and the clicks themselves."""

    lines: list[str]
    clicks: list[dict]

    @property
    def loads_between_states(self) -> list[str]:
        """The lines less the clicks' links to their messages' events and their campaigns: a
        link to one not in ThreatQ yet holds the STATE to the end of the input (the tap reads
        campaigns last, messages after clicks; tests/test_threatq_feeds.py), and these clicks
        come without either."""
        return [
            line for line in self.lines if not json.loads(line).get("record", {}).get("target_key")
        ]


@pytest.fixture(scope="module")
def day(tmp_path_factory) -> Day:
    tmp = tmp_path_factory.mktemp("day")
    with traffic_sandbox(5, 55, timedelta(hours=27)) as siem:
        end = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=1)
        config = tap_config(siem, end - timedelta(hours=24), end)
        tap = run_tap(tmp, config, catalog=catalog_selecting(tmp, config, "clicks_permitted"))
    assert tap.returncode == 0, tap.stderr[-2000:]
    return Day(mapper_lines(tap.messages), tap.records("clicks_permitted"))


def tq_config(tq: ThreatQSandbox, **extra) -> dict:
    """Without the local cache: these tests check what the target does against ThreatQ itself,
    which a cache would spare it on a rerun (tests/test_threatq_feeds.py tests the cache)."""
    return {
        "api_url": tq.url,
        "client_id": CREDENTIALS.client_id,
        "email": CREDENTIALS.email,
        "password": CREDENTIALS.password,
        "cache_hours": 0,
        **extra,
    }


@dataclass
class TargetRun:
    returncode: int
    states: list[dict]
    stderr: str

    def summary(self) -> dict[str, tuple[int, int]]:
        rows = {}
        for line in self.stderr.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if line.startswith("| ") and len(cells) == 4 and cells[1].isdigit():
                rows[cells[0]] = (int(cells[1]), int(cells[2]) + int(cells[3]))
        return rows


def run_target(tmp_path, lines: list[str], config: dict, timeout: float = 600) -> TargetRun:
    path = tmp_path / "target.json"
    path.write_text(json.dumps(config))
    proc = subprocess.run(
        [TARGET, "--config", str(path)],
        input="".join(lines),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    for secret in SECRETS:
        assert secret not in proc.stdout + proc.stderr, "a secret or token leaked"
    states = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return TargetRun(proc.returncode, states, proc.stderr)


def stored(tq: ThreatQSandbox) -> dict[str, set]:
    """What the stand-in holds, by natural key, in the shape of ``expected_entities``."""
    dump = tq.store.dump()
    objects = dump["objects"]
    names = {}
    emails, indicators, attributes, incidents = set(), set(), set(), set()
    for row in objects["corporate_email"]:
        names["corporate_email", row["id"]] = row["value"]
        emails.add(row["value"])
    for row in objects["indicators"]:
        names["indicator", row["id"]] = row["value"]
        indicators.add(row["value"])
        attributes |= {(row["value"], a["name"], a["value"]) for a in row["attributes"]}
    for row in objects["incident"]:
        click = row["value"].rsplit("[click ", 1)[1].rstrip("]")
        names["incident", row["id"]] = click
        incidents.add(click)
    links = {
        (names[p["src_type"], p["src_object_id"]], names[p["dest_type"], p["dest_object_id"]])
        for p in dump["pivots"]
    }
    return {
        "emails": emails,
        "indicators": indicators,
        "attributes": attributes,
        "incidents": incidents,
        "links": links,
    }


def counts(tq: ThreatQSandbox) -> dict[str, int]:
    dump = tq.store.dump()["counts"]
    return {
        k: dump[k] for k in ("corporate_email", "indicators", "attributes", "incident", "pivots")
    }


def undirected(links: set[tuple]) -> set[frozenset]:
    return {frozenset(link) for link in links}


def assert_holds_exactly(tq: ThreatQSandbox, clicks: list[dict]) -> None:
    expected, got = expected_entities(clicks), stored(tq)
    for key in ("emails", "indicators", "attributes", "incidents"):
        assert got[key] == expected[key], key
    assert undirected(got["links"]) == undirected(expected["links"])
    assert counts(tq) == {
        "corporate_email": len(expected["emails"]),
        "indicators": len(expected["indicators"]),
        "attributes": len(expected["attributes"]),
        "incident": len(expected["incidents"]),
        "pivots": len(expected["links"]),
    }


def committed_through_last_state(tq: ThreatQSandbox, day: Day, run: TargetRun) -> None:
    """Every entity, attribute and link of the clicks the last STATE covers is in ThreatQ."""
    if not run.states:
        return
    bookmark = run.states[-1]["bookmarks"]["clicks_permitted"]["replication_key_value"]
    covered = expected_entities([c for c in day.clicks if c["queryEndTime"] <= bookmark])
    got = stored(tq)
    for key in ("emails", "indicators", "attributes", "incidents"):
        assert covered[key] <= got[key], key
    assert undirected(covered["links"]) <= undirected(got["links"])


def assert_statuses(tq: ThreatQSandbox) -> None:
    """URLs Active, senders Review: the mapper's statuses, set on every indicator created."""
    statuses = {s["id"]: s["name"] for s in tq.lookups.statuses}
    assert {
        (r["type"]["name"], statuses[r["status_id"]])
        for r in tq.store.dump()["objects"]["indicators"]
    } == {("URL", "Active"), ("Email Address", "Review")}


# -- what lands --


@pytest.mark.parametrize("duplicate_reposts", [False, True])
def test_a_day_lands_once_and_reloading_changes_nothing(tmp_path, day, duplicate_reposts):
    with ThreatQSandbox(duplicate_reposts=duplicate_reposts) as tq:
        first = run_target(tmp_path, day.lines, tq_config(tq))
        assert first.returncode == 0, first.stderr[-3000:]
        assert len(day.clicks) > 800
        assert_holds_exactly(tq, day.clicks)
        by_click = {
            r["value"].rsplit("[click ", 1)[1].rstrip("]"): r
            for r in tq.store.dump()["objects"]["incident"]
        }
        for click in day.clicks:
            assert by_click[click["id"]]["started_at"] == datetime.fromisoformat(
                click["clickTime"].replace("Z", "+00:00")
            ).strftime("%Y-%m-%d %H:%M:%S")
        summary = first.summary()
        expected = expected_entities(day.clicks)
        assert summary["Incidents"] == (len(day.clicks), 0)
        assert summary["Relationships"] == (len(expected["links"]), 0)
        assert summary["Attributes"] == (len(expected["attributes"]), 0)
        per_thousand = float(first.stderr.split("clicks and messages (")[1].split(" per")[0])
        assert per_thousand <= 25, first.stderr[-500:]
        again = run_target(tmp_path, day.lines, tq_config(tq))
        assert again.returncode == 0, again.stderr[-3000:]
        assert_holds_exactly(tq, day.clicks)
        assert again.summary()["Relationships"] == (0, len(expected["links"]))
        assert first.states and first.states[-1] == again.states[-1]


def test_url_statuses_are_set_once_and_an_analysts_change_stays(tmp_path, day):
    with ThreatQSandbox() as tq:
        assert run_target(tmp_path, day.lines, tq_config(tq)).returncode == 0
        statuses = {s["id"]: s["name"] for s in tq.lookups.statuses}
        rows = tq.store.dump()["objects"]["indicators"]
        by_type = {(r["type"]["name"], statuses[r["status_id"]]) for r in rows}
        assert by_type == {("URL", "Active"), ("Email Address", "Review")}
        whitelisted = next(s for s in tq.lookups.statuses if s["name"] == "Whitelisted")
        url = next(r for r in rows if r["type"]["name"] == "URL")
        token = requests.post(
            f"{tq.url}/api/token",
            params={"grant_type": "password", "client_id": CREDENTIALS.client_id},
            json={"email": CREDENTIALS.email, "password": CREDENTIALS.password},
            timeout=10,
        ).json()
        requests.put(
            f"{tq.url}/api/indicators/{url['id']}",
            json={"status_id": whitelisted["id"]},
            headers={"Authorization": f"Bearer {token['access_token']}"},
            timeout=10,
        ).raise_for_status()
        assert run_target(tmp_path, day.lines, tq_config(tq)).returncode == 0
        again = {r["id"]: r for r in tq.store.dump()["objects"]["indicators"]}
        assert again[url["id"]]["status_id"] == whitelisted["id"]


def test_client_credentials_and_a_custom_object_code(tmp_path, day):
    with ThreatQSandbox(corporate_email_code="pp_corporate_mail") as tq:
        config = {
            "api_url": tq.url,
            "client_id": CREDENTIALS.client_id,
            "client_secret": CREDENTIALS.client_secret,
            "batch_size": 50,
            "corporate_email_object": "pp_corporate_mail",
        }
        run = run_target(tmp_path, day.lines, config)
        assert run.returncode == 0, run.stderr[-3000:]
        dump = tq.store.dump()["counts"]
        assert dump["pp_corporate_mail"] == len(expected_entities(day.clicks)["emails"])


def test_other_streams_are_named_once_and_ignored(tmp_path, day):
    with ThreatQSandbox() as tq:
        run = run_target(tmp_path, day.lines, tq_config(tq))
        named = [line for line in run.stderr.splitlines() if "Ignored streams" in line]
        assert len(named) == 1 and named[0].endswith(": clicks_permitted")


# -- nothing lost, nothing doubled --


def test_a_token_that_expires_mid_run_is_renewed(tmp_path, day):
    with ThreatQSandbox() as tq:

        def expire_after_some_writes() -> None:
            while len(tq.requests) < 8:
                time.sleep(0.005)
            tq.tokens.expire_all()

        watcher = threading.Thread(target=expire_after_some_writes, daemon=True)
        watcher.start()
        run = run_target(tmp_path, day.lines, tq_config(tq, batch_size=40))
        watcher.join(timeout=5)
        assert run.returncode == 0, run.stderr[-3000:]
        assert 401 in [r.status for r in tq.requests]
        assert [r.path for r in tq.requests].count("/api/token") == 2
        assert_holds_exactly(tq, day.clicks)


# ThreatQ's maintenance mode lasts about 30 seconds (`artisan down` while it upgrades); the
# stand-in's stretch is scaled down to MAINTENANCE seconds here, and the test below checks that
# the target's own schedule of waits covers the real one.
MAINTENANCE = 2.5


def test_a_maintenance_stretch_is_waited_out(tmp_path, day):
    with ThreatQSandbox() as tq:
        tq.inject(Maintenance(seconds=MAINTENANCE, skip=6))
        started = time.monotonic()
        run = run_target(tmp_path, day.lines, tq_config(tq, batch_size=100))
        assert run.returncode == 0, run.stderr[-3000:]
        assert time.monotonic() - started >= MAINTENANCE
        assert "maintenance" in {r.fault for r in tq.requests}
        assert "trying again in" in run.stderr
        assert_holds_exactly(tq, day.clicks)


@pytest.mark.fast
def test_the_waits_between_tries_outlast_a_30_second_maintenance_stretch():
    from tap_proofpoint_tap.targets.threatq.api import WAITS

    assert sum(WAITS) > 30, "a try must come after a 30-second stretch ends"


@pytest.mark.parametrize("after", [False, True])
def test_5xx_on_bulk_calls_are_retried_without_doubling(tmp_path, day, after):
    """``after``: the stand-in applies the write, then answers 500 (the outcome unknown)."""
    with ThreatQSandbox(duplicate_reposts=True) as tq:
        tq.inject(Fault("status", route="consume", percent=25, seed=3, status=500, after=after))
        run = run_target(tmp_path, day.lines, tq_config(tq, batch_size=250))
        assert run.returncode == 0, run.stderr[-3000:]
        assert sum(r.status == 500 for r in tq.requests) >= 2
        assert_holds_exactly(tq, day.clicks)
        assert_statuses(tq)


def test_a_500_after_writing_never_doubles_incidents_on_an_instance_that_would(tmp_path, day):
    """Incidents are not deduplicated there: a blind retry would add a second one."""
    with ThreatQSandbox(incident_dedup=False, duplicate_reposts=True) as tq:
        tq.inject(
            Fault("status", route="/api/incident/consume", count=2, skip=1, status=500, after=True)
        )
        run = run_target(tmp_path, day.lines, tq_config(tq, batch_size=250))
        assert run.returncode == 0, run.stderr[-3000:]
        assert_holds_exactly(tq, day.clicks)


def test_a_write_that_times_out_is_read_again_after_it_ends(tmp_path, day):
    with ThreatQSandbox(duplicate_reposts=True) as tq:
        tq.inject(Fault("delay", route="consume", seconds=2.5, skip=4, count=2))
        run = run_target(tmp_path, day.lines, tq_config(tq, batch_size=250, request_timeout=1))
        assert run.returncode == 0, run.stderr[-3000:]
        assert "no answer within request_timeout" in run.stderr
        assert_holds_exactly(tq, day.clicks)
        assert_statuses(tq)


def test_an_instance_that_does_not_say_what_existed(tmp_path, day):
    """Without ``existing`` in consume answers, ids above the start's highest are this run's."""
    with ThreatQSandbox(lean_consume=True, duplicate_reposts=True) as tq:
        first = run_target(tmp_path, day.lines, tq_config(tq))
        assert first.returncode == 0, first.stderr[-3000:]
        assert float(first.stderr.split("clicks and messages (")[1].split(" per")[0]) <= 25
        assert_holds_exactly(tq, day.clicks)
        assert_statuses(tq)
        assert run_target(tmp_path, day.lines, tq_config(tq)).returncode == 0
        assert_holds_exactly(tq, day.clicks)


def test_sigterm_mid_load_sends_no_state_and_a_rerun_completes(tmp_path, day):
    with ThreatQSandbox(duplicate_reposts=True) as tq:
        stall = Fault("delay", route="consume", seconds=5, skip=12, count=1)
        tq.inject(stall)
        path, lines = tmp_path / "target.json", tmp_path / "mapped.jsonl"
        path.write_text(json.dumps(tq_config(tq, batch_size=100)))
        lines.write_text("".join(day.loads_between_states))
        with open(lines) as source:
            proc = subprocess.Popen(
                [TARGET, "--config", str(path)],
                stdin=source,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        while not stall.fired:
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 1
        assert "during a load into ThreatQ" in err and "Traceback" not in err
        states = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert states, "the loads before the signal were committed and their STATE sent"
        committed_through_last_state(tq, day, TargetRun(1, states, err))
        # The stalled write still lands after the target is gone; a rerun started before it
        # ends could add its attributes again on an instance that duplicates re-posts.
        deadline = time.monotonic() + 30
        while not any("delay" in (r.fault or "") for r in tq.requests):
            assert time.monotonic() < deadline, "the stalled write never ended"
            time.sleep(0.05)
        rerun = run_target(tmp_path, day.loads_between_states, tq_config(tq))
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        assert_holds_exactly(tq, day.clicks)
        assert_statuses(tq)


def test_a_2xx_body_with_errors_stops_the_run_and_the_state_is_not_ahead(tmp_path, day):
    with ThreatQSandbox() as dry:  # how many consume calls the whole load takes
        assert (
            run_target(tmp_path, day.loads_between_states, tq_config(dry, batch_size=60)).returncode
            == 0
        )
        calls = sum(r.path.endswith("/consume") for r in dry.requests)
    with ThreatQSandbox() as tq:  # the last one refused: every earlier flush is committed
        tq.inject(
            Fault("errors", route="consume", skip=calls - 1, message="Database is read-only.")
        )
        run = run_target(tmp_path, day.loads_between_states, tq_config(tq, batch_size=60))
        assert run.returncode == 1
        errors = [line for line in run.stderr.splitlines() if "ERROR" in line]
        assert len(errors) == 1 and "Database is read-only." in errors[0], errors
        assert "Traceback" not in run.stderr
        assert run.states, "the batches before the refusal were committed"
        committed_through_last_state(tq, day, run)


def test_a_rejected_item_is_named_and_nothing_after_it_is_claimed(tmp_path, day):
    url = day.clicks[len(day.clicks) // 2]["url"]
    with ThreatQSandbox() as tq:
        tq.inject(
            Fault(
                "item-error",
                route="consume",
                value=url,
                count=None,
                message="Value is on the deny list.",
            )
        )
        run = run_target(tmp_path, day.lines, tq_config(tq, batch_size=60))
        assert run.returncode == 1
        errors = [line for line in run.stderr.splitlines() if "ERROR" in line]
        assert len(errors) == 1, errors
        assert "threatq_indicators" in errors[0] and url in errors[0]
        assert "Value is on the deny list." in errors[0]
        committed_through_last_state(tq, day, run)
        assert url not in stored(tq)["indicators"]


# -- mistakes: one line, exit 1, nothing loaded --


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"api_url": "http://threatq.example.com"}, "api_url must be https://"),
        ({"client_id": ""}, "client_id is empty"),
        ({"password": None}, "email and password go together"),
        ({"client_secret": "x"}, "either email + password or client_secret"),
        ({"email": None, "password": None}, "no credentials"),
        ({"batch_size": 501}, "batch_size must be between 1 and 500"),
        ({"batch_size": 0}, "batch_size must be between 1 and 500"),
        ({"request_timeout": 0}, "request_timeout must be between 1 and 3600"),
        ({"ca_bundle": "/nonexistent/ca.pem"}, "ca_bundle '/nonexistent/ca.pem' is not a file"),
        ({"api_url": "https://threatq.example.com/api"}, "api_url is the host only"),
        ({"password": "wrong-password"}, "ThreatQ refused the credentials"),
        ({"client_id": "unknown-client"}, "ThreatQ refused the credentials"),
        (
            {"corporate_email_object": "corp_mail"},
            "ThreatQ has no Corporate Email object with code 'corp_mail'",
        ),
    ],
)
def test_each_mistake_gets_one_line_and_loads_nothing(tmp_path, day, change, message):
    with ThreatQSandbox() as tq:
        config = {k: v for k, v in {**tq_config(tq), **change}.items() if v is not None}
        run = run_target(tmp_path, day.lines, config)
        assert run.returncode == 1
        assert message in run.stderr, run.stderr[-2000:]
        assert "Traceback" not in run.stderr
        assert not [r for r in tq.requests if r.method == "POST" and r.path != "/api/token"]
        assert counts(tq) == dict.fromkeys(counts(tq), 0)


def test_an_instance_without_the_custom_object_is_told_what_to_install(tmp_path, day):
    with ThreatQSandbox(corporate_email=False) as tq:
        run = run_target(tmp_path, day.lines, tq_config(tq))
        assert run.returncode == 1
        assert (
            "ThreatQ has no Corporate Email object: install the Corporate Email custom "
            "object" in run.stderr
        )
        assert not [r for r in tq.requests if r.method == "POST" and r.path != "/api/token"]


def test_an_unknown_status_name_is_named_before_anything_is_written(tmp_path, day):
    messages = [json.loads(line) for line in day.lines]
    for message in messages:
        if (
            message.get("stream") == "threatq_indicators"
            and message["type"] == "RECORD"
            and message["record"]["type"] == "URL"
        ):
            message["record"]["status"] = "Condemned"
    with ThreatQSandbox() as tq:
        run = run_target(tmp_path, [json.dumps(m) + "\n" for m in messages], tq_config(tq))
        assert run.returncode == 1
        assert "ThreatQ has no indicator status named 'Condemned'" in run.stderr
        assert counts(tq)["indicators"] == 0


def test_an_unknown_indicator_type_is_named_before_anything_is_written(tmp_path, day):
    messages = [json.loads(line) for line in day.lines]
    for message in messages:
        if message.get("stream") != "threatq_indicators":
            continue
        if message["type"] == "SCHEMA":  # a mapper that names types this instance lacks
            message["schema"]["properties"]["type"].pop("enum", None)
        elif message["type"] == "RECORD" and message["record"]["type"] == "Email Address":
            message["record"]["type"] = "Sender Address"
    with ThreatQSandbox() as tq:
        run = run_target(tmp_path, [json.dumps(m) + "\n" for m in messages], tq_config(tq))
        assert run.returncode == 1
        assert (
            "ThreatQ has no indicator type named 'Sender Address': add the indicator type "
            "in ThreatQ" in run.stderr
        )
        assert counts(tq)["indicators"] == 0


def test_a_record_that_breaks_its_schema_gets_one_line(tmp_path, day):
    messages = [json.loads(line) for line in day.lines]
    bad = next(
        m for m in messages if m.get("stream") == "threatq_indicators" and m["type"] == "RECORD"
    )
    bad["record"]["type"] = "Hostname"
    with ThreatQSandbox() as tq:
        run = run_target(tmp_path, [json.dumps(m) + "\n" for m in messages], tq_config(tq))
        assert run.returncode == 1
        errors = [line for line in run.stderr.splitlines() if "ERROR" in line]
        assert (
            len(errors) == 1
            and "A threatq_indicators record does not match its SCHEMA" in errors[0]
        )
        assert "'Hostname' is not one of" in errors[0]
        assert "Traceback" not in run.stderr


def test_readme_settings_table_equals_about():
    """Each of target-threatq's own settings has its --about row in the README's table."""
    about = subprocess.run(
        [TARGET, "--about", "--format", "markdown"], capture_output=True, text=True, check=True
    ).stdout
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Loading into ThreatQ", 1)[1].split("\n## ", 1)[0]
    rows = {
        line.split("|")[1].strip(): line for line in about.splitlines() if line.startswith("| ")
    }
    ours = OWN
    assert {"cache_hours", "cache_dir", "corporate_email_object", "batch_size"} <= set(ours)
    for name in ours:
        assert rows[name] in section, name


# -- through Meltano --


def window_clicks(siem, start, end) -> list[dict]:
    return [
        s.event
        for s in siem.store.select(
            "clicks_permitted", Window(start, end), None, DEFAULT_THREAT_STATUSES
        )
    ]


@pytest.mark.parametrize("duplicate_reposts", [False, True])
def test_meltano_run_loads_threatq_and_full_refresh_changes_nothing(
    tmp_path, project, duplicate_reposts
):
    with (
        traffic_sandbox(7, 30, timedelta(hours=10)) as siem,
        ThreatQSandbox(duplicate_reposts=duplicate_reposts) as tq,
    ):
        end = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=1)
        start = end - timedelta(hours=6)
        clicks = window_clicks(siem, start, end)
        for args in ((), ("--full-refresh",)):
            argv, env = meltano_threatq(tmp_path, siem, tq, start, end, *args)
            run = subprocess.run(
                argv, cwd=project, env=env, capture_output=True, text=True, timeout=600
            )
            assert run.returncode == 0, run.stderr[-3000:]
            assert_no_secret({"secret": CREDENTIALS.password}, run.stdout, run.stderr)
            assert_holds_exactly(tq, clicks)
            assert "ThreatQ load summary" in run.stderr


KILL_SEEDS = [61, 62] + [pytest.param(seed, marks=pytest.mark.long) for seed in (63, 64, 65)]


@pytest.mark.parametrize("seed", KILL_SEEDS)
def test_kill_9_of_meltano_run_into_threatq_then_rerun_loads_every_entity_once(
    tmp_path, project, seed
):
    """Killed with its whole process group at a random ThreatQ request, against an instance
    that would duplicate re-posted attributes and links; then run again."""
    rng = random.Random(seed)
    with (
        traffic_sandbox(seed, 40, timedelta(hours=14)) as siem,
        ThreatQSandbox(duplicate_reposts=True) as tq,
    ):
        end = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=1)
        start = end - timedelta(hours=12)
        clicks = window_clicks(siem, start, end)
        argv, env = meltano_threatq(tmp_path, siem, tq, start, end, TARGET_THREATQ_BATCH_SIZE="40")
        kill_at = rng.randint(6, 40)
        kill_meltano_at(argv, env, tmp_path / "killed.log", tq.requests, kill_at, project)
        assert counts(tq)["incident"] < len(clicks), "the kill came after the whole load"
        rerun = subprocess.run(
            [*argv[:2], "--force", *argv[2:]],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        assert_holds_exactly(tq, clicks)
        assert_statuses(tq)
