"""What the tests share besides fixtures (tests/conftest.py holds those): running the tap,
the mapper and ``meltano run`` as users do, the sandboxes' ground truth, and expectations
derived from it independently of the programs. Imports nothing that a Python without the
duckdb extra lacks (duckdb, dbt) and no database driver (tests/postgres.py has psycopg).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tap_proofpoint_tap.sandboxes.siem import Clock, Sandbox
from tap_proofpoint_tap.sandboxes.siem.generator import STREAMS, Settings, creation_time, parse_ms
from tap_proofpoint_tap.sandboxes.siem.rules import (
    DEFAULT_THREAT_STATUSES,
    Window,
    resolve_window,
)
from tap_proofpoint_tap.sandboxes.siem.siem_routes import ENDPOINTS
from tap_proofpoint_tap.sandboxes.siem.timeline import EARLY, status_at, threat_index, threat_time
from tap_proofpoint_tap.windows import fmt

if TYPE_CHECKING:
    from collections.abc import Iterator

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=timezone.utc)
AUTH = ("sandbox-principal", "sandbox-secret")
SANDBOX_CREDENTIALS = {"principal": AUTH[0], "secret": AUTH[1]}
BIN = Path(sys.executable).parent


# -- running the tap as users do: the console script, as a subprocess --

TAP = str(BIN / "tap-proofpoint-tap")


@dataclass
class Run:
    """What one tap process printed."""

    returncode: int
    messages: list[dict]
    stderr: str

    def records(self, stream: str | None = None) -> list[dict]:
        return [
            m["record"]
            for m in self.messages
            if m["type"] == "RECORD" and (stream is None or m["stream"] == stream)
        ]

    def ids(self, stream: str | None = None) -> list[str]:
        return [r["id"] for r in self.records(stream)]

    @property
    def states(self) -> list[dict]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    def bookmark(self, stream: str = "clicks_permitted") -> str | None:
        return self.states[-1]["bookmarks"].get(stream, {}).get("replication_key_value")


def run_tap(
    tmp_path,
    config: dict,
    state: dict | None = None,
    catalog: dict | None = None,
    args: tuple[str, ...] = (),
    timeout: float = 300,
) -> Run:
    """Run ``tap-proofpoint-tap`` with files for config, state and catalog; parse its stdout."""
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(config))
    argv = [TAP, "--config", str(cfg), *args]
    if state is not None:
        (tmp_path / "state.json").write_text(json.dumps(state))
        argv += ["--state", str(tmp_path / "state.json")]
    if catalog is not None:
        (tmp_path / "catalog.json").write_text(json.dumps(catalog))
        argv += ["--catalog", str(tmp_path / "catalog.json")]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    assert_no_secret(config, proc.stdout, proc.stderr)
    # Singer lines end at "\n" only: str.splitlines() would also cut at U+0085 or U+2028, which
    # JSON encoders leave unescaped inside strings.
    messages = [json.loads(line) for line in proc.stdout.split("\n") if line.startswith("{")]
    return Run(proc.returncode, messages, proc.stderr)


def assert_no_secret(config: dict, *outputs: str) -> None:
    """Neither the secret nor the Basic auth header built from it appears in any output."""
    secret = str(config.get("secret") or "")
    if len(secret.strip()) < 6:  # a blank or tiny test value would match anything
        return
    token = base64.b64encode(f"{config.get('principal', '')}:{secret}".encode()).decode()
    for output in outputs:
        assert secret not in output, "the secret leaked into the output"
        assert token not in output, "the Basic auth header leaked into the output"


def tap_config(sandbox, start, end, **extra) -> dict:
    return {
        **SANDBOX_CREDENTIALS,
        "api_url": sandbox.url,
        "start_date": fmt(start),
        "end_date": fmt(end),
        **extra,
    }


def catalog_selecting(tmp_path, config: dict, *streams: str) -> dict:
    """The tap's discovered catalog with only ``streams`` selected."""
    cfg = tmp_path / "discover.json"
    cfg.write_text(json.dumps(config))
    catalog = json.loads(
        subprocess.run(
            [TAP, "--config", str(cfg), "--discover"], capture_output=True, text=True, check=True
        ).stdout
    )
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return catalog


def deselect(catalog: dict, stream: str, prop: str) -> dict:
    """``catalog`` with property ``prop`` of ``stream`` deselected."""
    entry = next(e for e in catalog["streams"] if e["tap_stream_id"] == stream)
    for meta in entry["metadata"]:
        if meta["breadcrumb"] == ["properties", prop]:
            meta["metadata"]["selected"] = False
    return catalog


def consume(messages: list[dict], seen: dict[str, set[str]], state: dict | None) -> dict | None:
    """What a target keeps of a (killed) run: the ids of each stream of ``seen`` into it; the
    last STATE."""
    for message in messages:
        if message["type"] == "RECORD" and message["stream"] in seen:
            seen[message["stream"]].add(message["record"]["id"])
        elif message["type"] == "STATE":
            state = message["value"]
    return state


def finish(tmp_path, config: dict, state: dict | None, seen: dict[str, set[str]]) -> Run:
    """Run the tap to the end from ``state`` and add what it emitted to ``seen``."""
    final = run_tap(tmp_path, config, state=state)
    assert final.returncode == 0, final.stderr
    for stream in seen:
        seen[stream] |= set(final.ids(stream))
    return final


def click(n: int, created: datetime, *, click_time: datetime | None = None) -> dict:
    """A permitted click ``click-<n>`` whose threat was recognised at ``created``."""
    stamp = created.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {
        "id": f"click-{n}",
        "GUID": f"guid-{n}",
        "url": f"https://bad.example/{n}",
        "classification": "phish",
        "clickTime": (click_time or created).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "threatTime": stamp,
        "threatStatus": "active",
        "threatID": f"t{n}",
        "threatURL": "https://threatinsight.example/t",
        "clickIP": "1.2.3.4",
        "userAgent": "ua",
        "sender": "s@bad.example",
        "recipient": f"user{n}@acme.example",
        "senderIP": "5.6.7.8",
        "messageID": f"<m{n}>",
    }


def traffic_sandbox(seed: int, per_hour: int, history: timedelta) -> Sandbox:
    """A sandbox on the real clock with seeded traffic on every stream, all indexed at once."""
    settings = Settings(seed=seed, per_hour=tuple((s, per_hour) for s in STREAMS), late_fraction=0)
    return Sandbox(settings=settings, clock=Clock(), history=history)


def recipient_of(click: dict) -> str:
    """A click's one recipient, lower case: the first address when the API sends an array (as
    the README and the SIEM notes have it), "" when there is none."""
    recipient = click.get("recipient")
    if isinstance(recipient, list):
        recipient = next((r for r in recipient if r is not None), None)
    return (recipient or "").strip().lower()


def hour_floor(when: datetime) -> datetime:
    return when.replace(minute=0, second=0, microsecond=0)


def expected_entities(clicks: list[dict]) -> dict[str, set]:
    """The ThreatQ entities of ``clicks`` by natural key, counted straight from the clicks.

    An independent reading of the mapping in the README, to check the mapper and the tables
    a pipeline loads against.
    """
    links, attributes = set(), set()
    for c in clicks:
        i, u = c["id"], c["url"]
        r, s = recipient_of(c), (c["sender"] or "").strip().lower()
        links |= {(i, r), (i, u), (r, u)} | ({(i, s), (u, s)} if s else set())
        attributes |= {
            (u, name, c[field])
            for name, field in (
                ("Classification", "classification"),
                ("Threat Status", "threatStatus"),
                ("Threat ID", "threatID"),
                ("Threat URL", "threatURL"),
                ("Campaign ID", "campaignId"),
            )
            if c.get(field)
        }
        if s:
            attributes |= {
                (s, name, c[field])
                for name, field in (("Sender IP", "senderIP"), ("Classification", "classification"))
                if c.get(field)
            }
    senders = {(c["sender"] or "").strip().lower() for c in clicks} - {""}
    return {
        "emails": {recipient_of(c) for c in clicks} - {""},
        "indicators": {c["url"] for c in clicks} | senders,
        "attributes": attributes,
        "incidents": {c["id"] for c in clicks},
        "links": links,
    }


def assert_entity_tables(rows_of, events: dict[str, list[dict]]) -> dict[str, int]:
    """The mapper's tables in a warehouse (``rows_of(sql)`` → rows): each id once, every
    entity of the clicks there (``expected_entities``), one event per message GUID read.
    Returns the rows per table. What the other feeds map is checked against the independent
    oracle in tests/test_threatq_feeds.py."""
    from tap_proofpoint_tap.mappers.threatq.entities import ENTITY_STREAMS, entity_id

    counts = {}
    for table in ENTITY_STREAMS:
        ((rows, ids),) = rows_of(f"select count(*), count(distinct id) from proofpoint.{table}")
        assert rows == ids, table
        counts[table] = rows
    clicks = expected_entities(events["clicks_permitted"])
    emails = {a for (a,) in rows_of("select address from proofpoint.threatq_corporate_emails")}
    assert emails >= clicks["emails"]
    values = {v for (v,) in rows_of("select value from proofpoint.threatq_indicators")}
    assert values >= clicks["indicators"]
    incidents = {i for (i,) in rows_of("select id from proofpoint.threatq_incidents")}
    assert incidents == clicks["incidents"]
    messages = events.get("messages_delivered", []) + events.get("messages_blocked", [])
    read = {i for (i,) in rows_of("select id from proofpoint.threatq_events")}
    assert read == {entity_id("event", m["GUID"]) for m in messages}
    return counts


def duckdb_connect(path: Path | str, **options):
    """``duckdb.connect``, imported when a test opens a file: Python 3.10 has no DuckDB (the
    duckdb extra), and there only the fast tier runs, which never opens one."""
    import duckdb

    return duckdb.connect(str(path), **options)


# -- the Meltano project as users run it --

ROOT = Path(__file__).resolve().parents[1]
MELTANO = str(BIN / "meltano")
MAPPER = str(BIN / "mapper-proofpoint-threatq")
PLUGIN_DIRS = ("extractors", "loaders", "mappers", "utilities")


def session_folder(tmp_path_factory) -> Path:
    """A folder of this pytest session that its pytest-xdist workers share (each worker's base
    temporary folder is inside it), or the session's own base folder without workers."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created): one pytest worker at a time."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def install_meltano_plugins(folder: Path) -> None:
    """``meltano install`` in the repository once per session, whatever the number of pytest
    workers: the first takes a lock in the session's ``folder`` and installs, the others wait
    and find it done."""
    done = folder / "meltano-install.done"
    with exclusive(folder / "meltano-install.lock"):
        if done.exists():
            return
        proc = subprocess.run(
            [MELTANO, "install"], cwd=ROOT, capture_output=True, text=True, timeout=1200
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        done.touch()


def meltano_project(folder: Path) -> Path:
    """A copy of the Meltano project in ``folder`` (meltano.yml, transform/) whose .meltano/
    shares the installed plugins of the repository's and keeps its own run files (the tap's
    state and catalog files), logs and output/: parallel ``meltano run``s never meet."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "meltano.yml", folder / "meltano.yml")
    shutil.copytree(
        ROOT / "transform", folder / "transform", ignore=shutil.ignore_patterns("target", "logs")
    )
    (folder / ".meltano").mkdir()
    for kind in PLUGIN_DIRS:
        if (ROOT / ".meltano" / kind).exists():
            (folder / ".meltano" / kind).symlink_to(ROOT / ".meltano" / kind)
    return folder


def meltano_env(tmp_path: Path, sandbox, start: datetime, end: datetime, **extra: str) -> dict:
    """Environment for a ``meltano run`` of this project with its own state and DuckDB file."""
    return {
        **os.environ,
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/meltano.db",
        "TAP_PROOFPOINT_TAP_API_URL": sandbox.url,
        "TAP_PROOFPOINT_TAP_START_DATE": fmt(start),
        "TAP_PROOFPOINT_TAP_END_DATE": fmt(end),
        "TARGET_DUCKDB_PROOFPOINT_FILEPATH": str(tmp_path / "warehouse.duckdb"),
        **extra,
    }


def kill_meltano_at(
    argv: list[str], env: dict, log: Path, requests: list, count: int, cwd: Path
) -> None:
    """Run ``meltano run`` in the project ``cwd`` and SIGKILL its whole process group once the
    stand-in whose request log is ``requests`` has seen ``count`` requests."""
    with open(log, "w") as out:
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=out, stderr=out, start_new_session=True
        )
        while len(requests) < count and proc.poll() is None:
            time.sleep(0.002)
        assert proc.poll() is None, "meltano finished before the kill point"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@dataclass
class Warehouse:
    """A DuckDB file the pipeline loaded and dbt built, with the sandbox's ground truth: its
    events (``truth``), the windows the pipeline read of each stream (``reads``: interval
    start and end, as the API wrote ``queryEndTime``), the anchor of its threats'
    timelines (``anchor``: seed, origin, span in seconds; ``settings()`` rebuilds them) and
    what its intel APIs served for what the pipeline fetched (``intel``,
    tests/marts_truth.py: intel_truth)."""

    path: Path
    report: Path
    truth: dict[str, list[dict]]
    runs: list[subprocess.CompletedProcess]
    reads: dict[str, list[list[str]]]
    anchor: dict[str, object]
    intel: dict = field(default_factory=dict)

    def save(self, file: Path) -> None:
        runs = [
            {"returncode": r.returncode, "stdout": r.stdout, "stderr": r.stderr} for r in self.runs
        ]
        saved = {
            "truth": self.truth,
            "runs": runs,
            "reads": self.reads,
            "anchor": self.anchor,
            "intel": self.intel,
        }
        file.write_text(json.dumps(saved))

    @classmethod
    def load(cls, file: Path, path: Path, report: Path) -> Warehouse:
        saved = json.loads(file.read_text())
        runs = [subprocess.CompletedProcess([], **run) for run in saved["runs"]]
        return cls(
            path, report, saved["truth"], runs, saved["reads"], saved["anchor"], saved["intel"]
        )

    def settings(self) -> Settings:
        """The sandbox's settings as far as the threats' timelines go (timeline.py)."""
        origin = datetime.fromisoformat(str(self.anchor["origin"]))
        span = timedelta(seconds=float(str(self.anchor["span"])))
        return Settings(seed=int(str(self.anchor["seed"]))).anchored(origin, span)


def windows_read(sandbox: Sandbox) -> dict[str, list[list[str]]]:
    """The windows of each stream the sandbox answered (200), as [start, end] ISO times."""
    out: dict[str, list[list[str]]] = {stream: [] for stream in STREAMS}
    for request in sandbox.siem_requests():
        if request.status != 200 or request.fault in ("truncate", "cut", "reset"):
            continue
        window = resolve_window(request.params, request.at, sandbox.current_lag)
        for stream in ENDPOINTS[request.path]:
            out[stream].append([window.start.isoformat(), window.end.isoformat()])
    return out


def pipeline_truth(sandbox: Sandbox, start: datetime, end: datetime) -> dict[str, list[dict]]:
    """Every event the sandbox serves for ``[start, end)``, per stream (the ground truth a
    pipeline's tables are checked against)."""
    return {
        stream: [
            s.event
            for s in sandbox.store.select(stream, Window(start, end), None, DEFAULT_THREAT_STATUSES)
        ]
        for stream in STREAMS
    }


def build_warehouse(tmp: Path) -> Warehouse:
    """The warehouse fixture's pipeline (tests/conftest.py), in the folder ``tmp``."""
    project = meltano_project(tmp / "project")
    base = hour_floor(datetime.now(timezone.utc)) - timedelta(hours=6)
    with traffic_sandbox(17, 60, timedelta(hours=8)) as sandbox:
        extra = {
            "TARGET_DUCKDB_PROOFPOINT_LOAD_METHOD": "append-only",
            "DBT_DUCKDB_PATH": str(tmp / "warehouse.duckdb"),
            "PROOFPOINT_REPORT_DATABASE": str(tmp / "warehouse.duckdb"),
            "PROOFPOINT_REPORT_OUTPUT": str(tmp / "report"),
        }
        runs = []
        for end, chain in (
            (base + timedelta(hours=4), ()),
            (base + timedelta(hours=5), ("dbt-duckdb:build", "report:render")),
        ):
            proc = subprocess.run(
                [
                    MELTANO,
                    "run",
                    "tap-proofpoint-tap",
                    "threatq",
                    "target-duckdb-proofpoint",
                    *chain,
                ],
                cwd=project,
                env=meltano_env(tmp, sandbox, base, end, **extra),
                capture_output=True,
                text=True,
                timeout=900,
            )
            assert proc.returncode == 0, proc.stderr[-5000:]
            runs.append(proc)
        truth = pipeline_truth(sandbox, base, base + timedelta(hours=5))
        reads = windows_read(sandbox)
        assert sandbox.settings.origin is not None  # the Sandbox anchors its settings
        anchor = {
            "seed": sandbox.settings.seed,
            "origin": sandbox.settings.origin.isoformat(),
            "span": sandbox.settings.span.total_seconds(),
        }
        from tests.marts_truth import intel_truth  # it imports this module

        with duckdb_connect(tmp / "warehouse.duckdb", read_only=True) as con:
            intel = intel_truth(sandbox, lambda sql: con.execute(sql).fetchall())
    return Warehouse(tmp / "warehouse.duckdb", tmp / "report", truth, runs, reads, anchor, intel)


# -- the dbt marts, expected from the ground truth --

CLICK_STREAMS = ("clicks_permitted", "clicks_blocked")


def expected_clicks(truth: dict[str, list[dict]]) -> dict[str, dict]:
    """Each click's delivery (same GUID and same recipient), minutes to click, retroactive flag."""
    deliveries = defaultdict(list)
    for message in truth["messages_delivered"]:
        for recipient in message["recipient"]:
            deliveries[message["GUID"], recipient.lower()].append(
                (parse_ms(message["messageTime"]), f"{message['id']}/{recipient.lower()}")
            )
    out = {}
    for stream in CLICK_STREAMS:
        for click in truth[stream]:
            found = deliveries.get((click["GUID"], recipient_of(click)))
            clicked, threat = parse_ms(click["clickTime"]), parse_ms(click["threatTime"])
            delivered = min(found) if found else (None, None)
            out[click["id"]] = {
                "disposition": stream.removeprefix("clicks_"),
                "delivery_key": delivered[1],
                "minutes": (clicked - delivered[0]).total_seconds() / 60 if found else None,
                "retroactive": clicked < threat,
                "shared_guid": len({k for g, k in deliveries if g == click["GUID"]}) > 1,
            }
    return out


def expected_funnel(truth: dict[str, list[dict]]) -> dict[str, tuple]:
    """Per threat id: recipients targeted, delivered, blocked, clicked, permitted; clicks."""
    sets = defaultdict(lambda: defaultdict(set))
    clicks = defaultdict(int)
    for stream in ("messages_delivered", "messages_blocked"):
        for message in truth[stream]:
            for info in message["threatsInfoMap"]:
                for recipient in message["recipient"]:
                    sets[info["threatID"]]["targeted"].add(recipient.lower())
                    sets[info["threatID"]][stream].add(recipient.lower())
    for stream in CLICK_STREAMS:
        for click in truth[stream]:
            sets[click["threatID"]]["clicked"].add(recipient_of(click))
            sets[click["threatID"]][stream].add(recipient_of(click))
            clicks[click["threatID"]] += 1
    return {
        threat: (
            len(s["targeted"]),
            len(s["messages_delivered"]),
            len(s["messages_blocked"]),
            len(s["clicked"]),
            len(s["clicks_permitted"]),
            clicks[threat],
        )
        for threat, s in sets.items()
    }


def check_marts(query, truth: dict[str, list[dict]]) -> None:
    """The marts against the sandbox: the click ↔ delivery join, minutes to click, the
    retroactive flag, every threat's funnel, the clickers and the clicks per day."""
    clicks = expected_clicks(truth)
    rows = {
        r[0]: r[1:]
        for r in query(
            "select click_id, disposition, delivery_key, minutes_to_click, is_retroactive "
            "from analytics.fct_clicks"
        )
    }
    assert rows.keys() == clicks.keys()
    for click_id, want in clicks.items():
        disposition, key, minutes, retro = rows[click_id]
        assert (disposition, key, retro) == (
            want["disposition"],
            want["delivery_key"],
            want["retroactive"],
        ), click_id
        assert (minutes is None) == (want["minutes"] is None), click_id
        if minutes is not None:
            assert minutes == pytest.approx(want["minutes"], abs=1e-6), click_id
    linked = [c for c in clicks.values() if c["delivery_key"]]
    # the data must hold the cases the join is about, or this test proves nothing
    assert len(linked) >= 20 and sum(c["shared_guid"] for c in linked) >= 5
    assert any(c["retroactive"] for c in clicks.values())

    funnel = expected_funnel(truth)
    threats = {
        r[0]: tuple(r[1:])
        for r in query(
            "select threat_id, recipients_targeted, recipients_delivered, recipients_blocked, "
            "recipients_clicked, recipients_permitted, clicks from analytics.dim_threats"
        )
    }
    assert threats == funnel

    per_user = defaultdict(lambda: [0, set(), set()])
    for stream in CLICK_STREAMS:
        for click in truth[stream]:
            user = per_user[recipient_of(click)]
            user[0] += 1
            user[1].add(click["threatID"])
            user[2].add(click["GUID"])
    users = {
        r[0]: (r[1], r[2])
        for r in query(
            "select user_email, clicks, is_repeat_clicker from analytics.dim_users where clicks > 0"
        )
    }
    assert users == {u: (n, len(t) > 1 or len(g) > 1) for u, (n, t, g) in per_user.items()}

    per_day = defaultdict(int)
    for stream in CLICK_STREAMS:
        for click in truth[stream]:
            per_day[stream, parse_ms(click["clickTime"]).date()] += 1
    daily = {
        (s, d): n
        for s, d, n in query(
            "select stream, activity_date, sum(events) from analytics.mart_daily_activity "
            "where stream like 'clicks%' group by 1, 2"
        )
    }
    assert daily == per_day


@dataclass(frozen=True)
class Sighting:
    """One event's mention of a threat: what the event says of it, when the event was
    created and the end of the latest window that returned it."""

    stream: str
    event: dict
    threat_time: datetime
    status: str
    created: datetime
    read_until: datetime


def sightings(warehouse: Warehouse) -> dict[str, list[Sighting]]:
    """Every threat's mentions in the events the pipeline read, by threat id."""
    reads = {
        stream: [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in windows]
        for stream, windows in warehouse.reads.items()
    }
    out: dict[str, list[Sighting]] = defaultdict(list)
    for stream, events in warehouse.truth.items():
        for event in events:
            created = creation_time(event)
            read_until = max(end for start, end in reads[stream] if start <= created < end)
            for info in event.get("threatsInfoMap") or [event]:
                out[info["threatID"]].append(
                    Sighting(
                        stream,
                        event,
                        parse_ms(info["threatTime"]),
                        info["threatStatus"],
                        created,
                        read_until,
                    )
                )
    return out


def latest_statuses(seen: dict[str, list[Sighting]]) -> dict[str, str]:
    """Each threat's latest status: the status of the latest event read that names it (the
    latest window that returned it, then the latest threat time, then the latest event)."""
    return {
        threat: max(s, key=lambda x: (x.read_until, x.threat_time, x.created)).status
        for threat, s in seen.items()
    }


def check_status_marts(query, warehouse: Warehouse) -> None:
    """The marts' status logic and threat times against the sandbox's timelines (timeline.py):
    dim_threats' latest status and threat time, the click work queue, the deliveries condemned
    after delivery, and each click's threat time."""
    settings, index = warehouse.settings(), threat_index(int(str(warehouse.anchor["seed"])))
    assert settings.origin is not None
    seen = sightings(warehouse)
    latest = latest_statuses(seen)
    identified = {threat: threat_time(settings, index[threat]) for threat in seen}

    # the truth: one threat time per threat, I_n, within the traffic's range; the statuses its
    # timeline gives at each event's creation
    end = max(datetime.fromisoformat(b) for w in warehouse.reads.values() for _, b in w)
    for threat, mentions in seen.items():
        assert {m.threat_time for m in mentions} == {identified[threat]}, threat
        assert settings.origin - EARLY <= identified[threat] <= end, threat
        for m in mentions:
            assert m.status == status_at(settings, index[threat], m.created), threat
    # the data must hold threats that changed status within it, some of them last seen changed
    changed = {t for t, mentions in seen.items() if len({m.status for m in mentions}) > 1}
    assert changed, "no threat changed status within the data"
    assert any(latest[t] != "active" for t in changed)

    dim = {
        r[0]: r[1:]
        for r in query(
            "select threat_id, threat_status, latest_threat_time from analytics.dim_threats"
        )
    }
    assert dim.keys() == seen.keys()
    wrong = {t: (dim[t][0], latest[t]) for t in seen if dim[t][0] != latest[t]}
    assert not wrong, f"dim_threats.threat_status (model, truth) differs for {wrong}"
    assert {t: dim[t][1] for t in dim} == identified

    clicks = dict(query("select click_id, threat_time from analytics.fct_clicks"))
    assert clicks == {
        c["id"]: identified[c["threatID"]]
        for stream in CLICK_STREAMS
        for c in warehouse.truth[stream]
    }

    exposure = query("select click_id, threat_status from analytics.mart_click_exposure")
    assert sorted(exposure) == sorted(
        (c["id"], "active")
        for c in warehouse.truth["clicks_permitted"]
        if latest[c["threatID"]] == "active"
    )
    assert any(latest[c["threatID"]] != "active" for c in warehouse.truth["clicks_permitted"])

    condemned = Counter(
        k
        for (k,) in query("select delivery_threat_key from analytics.mart_post_delivery_condemned")
    )
    want = Counter(
        f"{m['id']}/{recipient.lower()}/{info['threatID']}"
        for m in warehouse.truth["messages_delivered"]
        for recipient in m["recipient"]
        for info in m["threatsInfoMap"]
        if parse_ms(m["messageTime"]) < identified[info["threatID"]]
        and latest[info["threatID"]] == "active"
    )
    assert condemned == want and want, "deliveries condemned after delivery, still active"


# -- the mapper, as users run it --# -- the mapper, as users run it --

ENTITIES = (
    "threatq_corporate_emails",
    "threatq_indicators",
    "threatq_indicator_attributes",
    "threatq_incidents",
    "threatq_relationships",
)


@dataclass
class MapperRun:
    messages: list[dict]
    stderr: str

    def rows(self, stream: str) -> list[dict]:
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    def summary(self) -> dict[str, int]:
        """The stderr run table, as {metric: count}."""
        table = {}
        for line in self.stderr.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if line.startswith("| ") and len(cells) == 2 and cells[1].isdigit():
                table[cells[0]] = int(cells[1])
        return table


def mapper_lines(messages: list[dict]) -> list[str]:
    """The mapper's stdout lines for the tap's ``messages`` (what a target reads after it)."""
    proc = subprocess.run(
        [MAPPER],
        input="".join(json.dumps(m) + "\n" for m in messages),
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return proc.stdout.splitlines(keepends=True)


def run_mapper(
    lines: list[str], config: dict | None = None, tmp_path: Path | None = None
) -> MapperRun:
    argv = [MAPPER]
    if config is not None:
        path = tmp_path / "mapper.json"
        path.write_text(json.dumps(config))
        argv += ["--config", str(path)]
    proc = subprocess.run(argv, input="".join(lines), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return MapperRun([json.loads(line) for line in proc.stdout.split("\n") if line], proc.stderr)


def natural(run: MapperRun) -> set[tuple[str, str]]:
    """Relationships as (source, target) by natural value: address, indicator value, click id
    or a message's GUID (links to the event and campaign a record names but does not map are
    left out)."""
    names = {r["id"]: r["address"] for r in run.rows("threatq_corporate_emails")}
    names |= {r["id"]: r["value"] for r in run.rows("threatq_indicators")}
    names |= {r["id"]: r["id"] for r in run.rows("threatq_incidents")}
    names |= {r["id"]: r["guid"] for r in run.rows("threatq_events")}
    return {
        (names[r["source_id"]], names[r["target_id"]])
        for r in run.rows("threatq_relationships")
        if r["target_key"] is None
    }


# -- backfills --


def backfill_sandbox(seed: int, per_hour: int = 6, days: int = 3) -> Sandbox:
    return traffic_sandbox(seed, per_hour, timedelta(days=days))


def truth(sandbox: Sandbox, start: datetime, end: datetime) -> dict[str, set[str]]:
    return {
        stream: {
            s.event["id"]
            for s in sandbox.store.select(stream, Window(start, end), None, DEFAULT_THREAT_STATUSES)
        }
        for stream in STREAMS
    }
