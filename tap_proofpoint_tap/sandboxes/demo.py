"""``make demo``: a day of sandbox traffic through Meltano into DuckDB and into ThreatQ.

Starts the sandbox on 127.0.0.1 (real-time clock, seed 7, 25 hours of history), runs ``meltano
run tap-proofpoint-tap threatq ocsf target-duckdb-proofpoint dbt-duckdb:build report:render`` in
the project's ``sandbox`` environment and prints rows per table, the OCSF events (and their
export as AWS Security Lake custom sources, output/security-lake), the top clicked URLs, the
most-clicking recipients, the ThreatQ run summary, dbt's result and the report's path with its
three headline numbers (output/report.html). Meltano keeps the bookmark in
``.meltano/meltano.db``, so running the demo again reads only the minutes since the last run
(plus the 30-minute look-back).

Then it starts the ThreatQ stand-in (in memory, empty) and runs
``meltano run --full-refresh tap-proofpoint-tap threatq target-threatq`` over the SIEM streams,
threats, campaigns and forensic evidence, prints what ThreatQ now holds in the shape of the
seed feed's "Average Feed Run" table, and runs it once more: the re-read costs ThreatQ nothing
(target-threatq's local cache, in a folder of its own for the demo).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from tap_proofpoint_tap.sandboxes.siem import Clock, Sandbox
from tap_proofpoint_tap.sandboxes.siem.generator import STREAMS, Settings
from tap_proofpoint_tap.sandboxes.threatq import ThreatQSandbox
from tap_proofpoint_tap.windows import fmt

DEMO_PORT = 8765  # the api_url of the sandbox environment in meltano.yml
THREATQ_PORT = 8766  # target-threatq's api_url there
SETTLED = timedelta(minutes=30)  # events created this long ago are all visible
THREATQ_PIPELINE = ["--full-refresh", "tap-proofpoint-tap", "threatq", "target-threatq"]
# The streams the mapper makes ThreatQ's entities from (the people rankings it does not read).
THREATQ_SELECT = json.dumps([f"{s}.*" for s in (*STREAMS, "threats", "campaigns", "forensics")])
FEED_RUN = (
    ("Corporate Emails", "corporate_email"),
    ("Indicators", "indicators"),
    ("Attributes", "attributes"),
    ("Incidents", "incident"),
    ("Events", "events"),
    ("Campaigns", "campaign"),
    ("Adversaries", "adversaries"),
    ("Malware", "malware"),
    ("TTPs", "ttp"),
    ("Relationships", "pivots"),
)
OCSF_TABLES = ("ocsf_email_activity", "ocsf_web_resources_activity", "ocsf_detection_finding")
# The sandbox environment's file; TARGET_DUCKDB_PROOFPOINT_FILEPATH (Meltano's override) moves it.
DATABASE = Path(os.environ.get("TARGET_DUCKDB_PROOFPOINT_FILEPATH", "output/sandbox.duckdb"))
MELTANO = str(Path(sys.executable).parent / "meltano")
SECURITY_LAKE = str(Path(sys.executable).parent / "proofpoint-tap-security-lake")
LAKE = DATABASE.parent / "security-lake"  # the export of the OCSF tables, beside the file
LAKE_PARTITION = ("--region", "us-east-1", "--account-id", "external")
PIPELINE = [
    "tap-proofpoint-tap",
    "threatq",
    "ocsf",
    "target-duckdb-proofpoint",
    "dbt-duckdb:build",
    "report:render",
]
TABLES = (
    *STREAMS,
    "threats",
    "campaigns",
    "forensics",
    "very_attacked_people",
    "top_clickers",
    "threatq_corporate_emails",
    "threatq_indicators",
    "threatq_indicator_attributes",
    "threatq_incidents",
    "threatq_events",
    "threatq_campaigns",
    "threatq_adversaries",
    "threatq_malware",
    "threatq_ttps",
    "threatq_relationships",
)


def main() -> None:
    if not Path("meltano.yml").exists():
        sys.exit("Run the demo from the project's root (where meltano.yml is): make demo")
    DATABASE.parent.mkdir(exist_ok=True)
    before = table_rows()
    settings = Settings(seed=7, per_hour=tuple((s, 40) for s in STREAMS))
    port = DEMO_PORT if port_free(DEMO_PORT) else 0
    with Sandbox(settings=settings, clock=Clock(), history=timedelta(hours=25), port=port) as sb:
        print(f"Sandbox: {sb.url} (seed 7, about 40 events per stream and hour)")
        print(f"Running: meltano run {' '.join(PIPELINE)}  (environment: sandbox)")
        started = time.monotonic()
        proc = subprocess.run(
            [MELTANO, "--log-format=json", "run", *PIPELINE],
            env={
                **os.environ,
                "TAP_PROOFPOINT_TAP_API_URL": sb.url,
                # dbt and the report read the file the loader wrote
                "DBT_DUCKDB_PATH": str(DATABASE.resolve()),
                "PROOFPOINT_REPORT_DATABASE": str(DATABASE.resolve()),
            },
            capture_output=True,
            text=True,
            check=False,  # checked() reports a failed run with its errors
        )
        elapsed = time.monotonic() - started
        requests = sb.siem_requests()
        logs = checked(proc)
        intervals = sorted(r.params["interval"][0] for r in requests)
        print(
            f"Done in {elapsed:.1f} s: {len(requests)} API "
            f"request{'' if len(requests) == 1 else 's'}, reading "
            f"{intervals[0].split('/')[0]} to {intervals[-1].split('/')[1]}"
            if intervals
            else f"Done in {elapsed:.1f} s: nothing new to read yet"
        )
        print(f"  and for threats, campaigns, forensics and people: {other_requests(sb)}")
        report(before, logs)
        into_threatq(sb.url)


def other_requests(sandbox: Sandbox) -> str:
    """The requests beside the SIEM API's, per API (the 50-a-day pools named)."""
    kinds = {
        "/v2/threat/summary/": "threat summaries",
        "/v2/campaign/ids": "campaign ids (50 a day)",
        "/v2/campaign/": "campaigns",
        "/v2/forensics": "forensics",
        "/v2/people/vap": "very attacked people (50 a day)",
        "/v2/people/top-clickers": "top clickers (50 a day)",
    }
    counts: dict[str, int] = dict.fromkeys(kinds.values(), 0)
    for request in sandbox.requests:
        kind = next((k for path, k in kinds.items() if request.path.startswith(path)), None)
        if kind is not None:
            counts[kind] += 1
    return ", ".join(f"{kind} {n}" for kind, n in counts.items())


def checked(proc: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    """The run's JSON log lines; a failed run ends the demo with its errors."""
    logs = [json.loads(line) for line in proc.stderr.split("\n") if line.startswith("{")]
    if proc.returncode != 0:
        errors = [e["event"] for e in logs if e.get("level") == "error"] or [proc.stderr[-2000:]]
        sys.exit("meltano run failed:\n" + "\n".join(errors[-5:]))
    return logs


def into_threatq(siem_url: str) -> None:
    """The same day into the ThreatQ stand-in, what ThreatQ then holds, and a re-read."""
    port = THREATQ_PORT if port_free(THREATQ_PORT) else 0
    with ThreatQSandbox(port=port) as tq, tempfile.TemporaryDirectory() as cache:
        print(f"\nThreatQ stand-in: {tq.url} (in memory, empty)")
        env = {
            **os.environ,
            "TAP_PROOFPOINT_TAP_API_URL": siem_url,
            "TARGET_THREATQ_API_URL": tq.url,
            "TAP_PROOFPOINT_TAP__SELECT": THREATQ_SELECT,
            # Both runs read the same windows, ending where every late event is visible (the
            # stand-in indexes some up to 20 minutes late): the re-read has nothing new.
            "TAP_PROOFPOINT_TAP_END_DATE": fmt(
                datetime.now(timezone.utc).replace(second=0, microsecond=0) - SETTLED
            ),
            # Its own cache: a stand-in started afresh at the same address holds nothing.
            "TARGET_THREATQ_CACHE_DIR": cache,
        }
        for run in ("load", "re-read"):
            print(f"Running: meltano run {' '.join(THREATQ_PIPELINE)}  (environment: sandbox)")
            calls_before, started = len(tq.requests), time.monotonic()
            proc = subprocess.run(
                [MELTANO, "--log-format=json", "run", *THREATQ_PIPELINE],
                env=env,
                capture_output=True,
                text=True,
                check=False,  # checked() reports a failed run with its errors
            )
            elapsed = time.monotonic() - started
            logs = checked(proc)
            calls = len(tq.requests) - calls_before
            print(
                f"Done in {elapsed:.1f} s: {calls} ThreatQ API request{'' if calls == 1 else 's'}"
            )
            shown = ("|", "ThreatQ load summary") if run == "load" else ()
            for entry in logs:
                if entry.get("name") == "target-threatq" and entry["event"].startswith(
                    (*shown, "Requests:", "Relationships not made", "Known (cache)")
                ):
                    print("  " + entry["event"])
            if run == "load":
                counts = tq.store.dump()["counts"]
        if tq.store.dump()["counts"] != counts:
            sys.exit("the re-read changed what ThreatQ holds")
    width = max(len(label) for label, _ in FEED_RUN)
    print("\nWhat ThreatQ now holds (the seed feed's Average Feed Run, counted in ThreatQ):")
    print(f"  | {'Metric':<{width}} | Result |")
    print(f"  |{'-' * (width + 2)}|--------|")
    for label, key in FEED_RUN:
        print(f"  | {label:<{width}} | {counts[key]:>6} |")


def report(before: dict[str, dict[str, str]], logs: list[dict[str, Any]]) -> None:
    after = table_rows()
    print(f"\nDuckDB file {DATABASE}, schema proofpoint:")
    print(f"  {'table':<30}{'rows':>8}{'new':>8}{'changed':>9}")
    changed_in_all = 0
    for table in TABLES:
        now, then = after.get(table, {}), before.get(table, {})
        new = sum(1 for key in now if key not in then)
        changed = sum(1 for key, digest in now.items() if key in then and then[key] != digest)
        changed_in_all += changed
        print(f"  {table:<30}{len(now):>8}{new:>8}{changed:>9}")
    if changed_in_all:
        print(
            "  changed: rows read again whose content differs, which the loader replaced "
            "(upsert): the report's numbers can move with no new row (a threat's status "
            "that changed, for example)"
        )
    ocsf_events(logs)
    print()
    for entry in logs:
        if entry.get("name") == "mapper-proofpoint-threatq" and (
            entry["event"].startswith(("|", "ThreatQ run summary"))
        ):
            print("  " + entry["event"])
    import duckdb  # noqa: PLC0415 - the duckdb extra; the demo's constants are read without it

    with duckdb.connect(str(DATABASE), read_only=True) as con:
        for title, column in (
            ("Top clicked URLs", "url"),
            ("Most-clicking recipients", "recipient"),
        ):
            print(f"\n{title} (permitted clicks):")
            top = con.execute(
                f"select {column}, count(*) as n from proofpoint.clicks_permitted "
                f"group by 1 order by n desc, 1 limit 5"
            ).fetchall()
            for value, count in top:
                print(f"  {count:>5}  {value}")
    print()
    for entry in logs:
        if entry.get("name") == "dbt-duckdb" and "Done. PASS=" in entry["event"]:
            print("dbt build (transform/): " + entry["event"].split("Done. ")[-1].strip())
        elif entry.get("name") == "report":
            print(entry["event"])
    print(
        "\nRun `make demo` again later: it reads only the minutes since this run "
        "(and a 30-minute look-back)."
    )


def ocsf_events(logs: list[dict[str, Any]]) -> None:
    """The OCSF tables: rows (appended, a look-back's re-reads included), distinct events
    (``metadata.uid``), and for findings the threats they describe (``finding_info.uid``)."""
    import duckdb  # noqa: PLC0415 - as above

    print(
        "\nOCSF events (mapper-proofpoint-ocsf; appended, so readers deduplicate on metadata.uid):"
    )
    print(f"  {'table':<30}{'rows':>8}{'events':>8}")
    with duckdb.connect(str(DATABASE), read_only=True) as con:
        for table in OCSF_TABLES:
            rows, distinct = con.execute(
                f"select count(*), count(distinct json_extract_string(metadata, '$.uid')) "
                f"from proofpoint.{table}"
            ).fetchone() or (0, 0)
            print(f"  {table:<30}{rows:>8}{distinct:>8}")
    for entry in logs:
        if entry.get("name") == "mapper-proofpoint-ocsf" and entry["event"].startswith("OCSF"):
            print("  " + entry["event"])
    lake = subprocess.run(
        [SECURITY_LAKE, "--database", str(DATABASE), "--output", str(LAKE), *LAKE_PARTITION],
        capture_output=True,
        text=True,
        check=False,
    )
    if lake.returncode != 0:
        sys.exit(f"proofpoint-tap-security-lake failed: {lake.stderr.strip()}")
    print(f"  As AWS Security Lake custom sources (proofpoint-tap-security-lake), in {LAKE}:")
    for line in lake.stdout.splitlines()[:-1]:  # the last line is the how-to-register note
        print("    " + line.split("/ext/", 1)[-1])


# Columns that change on every read without the record changing: left out of a row's digest.
READ_MARKS = frozenset({"queryEndTime", "fetchedAt"})


def table_rows() -> dict[str, dict[str, str]]:
    """Per table, each row's key (its id, or the whole row) and a digest of its content."""
    if not DATABASE.exists():
        return {}
    import duckdb  # noqa: PLC0415 - as above

    with duckdb.connect(str(DATABASE), read_only=True) as con:
        columns: dict[str, list[str]] = {}
        for table, column in con.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_schema = 'proofpoint' order by table_name, ordinal_position"
        ).fetchall():
            columns.setdefault(table, []).append(column)
        out = {}
        for table in TABLES:
            if table not in columns:
                continue
            kept = [c for c in columns[table] if c not in READ_MARKS]
            listed = ", ".join(f'cast("{c}" as varchar)' for c in kept)
            rows = con.execute(f"select {listed} from proofpoint.{table}").fetchall()
            keyed = "id" in kept
            out[table] = {str(row[kept.index("id")] if keyed else row): digest(row) for row in rows}
        return out


def digest(row: tuple[Any, ...]) -> str:
    """A row's content, blind to the order of a JSON array's items: Proofpoint sends a
    message's parts in any order from one call to the next, which changes nothing."""

    def unordered(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("["):
            try:
                items = json.loads(value)
            except ValueError:
                return value
            if isinstance(items, list):
                return sorted(json.dumps(item, sort_keys=True) for item in items)
        return value

    return hashlib.sha256(repr([unordered(value) for value in row]).encode()).hexdigest()


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


if __name__ == "__main__":
    main()
