"""target-threatq into the ThreatQ stand-in over loopback: what a first load and a re-read cost.

    .venv/bin/python benchmarks/threatq.py                  # a day at 100 events/hour/stream
    .venv/bin/python benchmarks/threatq.py --per-hour 10 --runs 1

A day of the TAP sandbox's traffic (every SIEM stream at ``--per-hour``, with the threats,
campaigns and forensic evidence they name) is read by the tap and mapped once, to a file. Then,
per run and for both dedup modes of the stand-in (merging, and ``--duplicate-reposts``), a
fresh ``threatq-sandbox`` process is started and the file is fed to ``target-threatq`` three
times:

- the first load: its requests, seconds and entities/s (every object, attribute and link
  ThreatQ holds afterwards, per wall second of the target);
- a re-read with the local cache (the look-back, a ``--full-refresh`` within a day);
- a re-read without it (``cache_hours: 0``: a cache deleted, or older than a day).

Neither re-read may change a count. Requests are given per 1,000 permitted clicks (the unit of
the seed feed) and per 1,000 clicks and messages. Prints a Markdown table (the README's) and
writes the figures to output/benchmark-threatq.json. Not a test: the suite only checks that
this script runs on a small day.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import requests
from catalogs import selecting

from tap_proofpoint_tap.sandboxes.siem import Clock, Sandbox
from tap_proofpoint_tap.sandboxes.siem.generator import STREAMS, Settings
from tap_proofpoint_tap.windows import fmt

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MODES = {"merging": [], "duplicate-reposts": ["--duplicate-reposts"]}
SELECTED = (*STREAMS, "threats", "campaigns", "forensics")
READS = ("clicks_permitted", "clicks_blocked", "messages_delivered", "messages_blocked")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-hour", type=int, default=100, help="events/hour of each stream")
    parser.add_argument("--runs", type=int, default=3, help="runs per mode (median)")
    parser.add_argument("--out", type=Path, default=ROOT / "output" / "benchmark-threatq.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tap-proofpoint-tq-bench-"))
    mapped, read = mapped_day(args.per_hour, work)
    figures = {
        mode: [load_three_times(mapped, work / f"{mode}-{n}", flags) for n in range(args.runs)]
        for mode, flags in MODES.items()
    }
    medians = {
        mode: {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        for mode, runs in figures.items()
    }
    report(args, read, medians)


def mapped_day(per_hour: int, work: Path) -> tuple[Path, dict[str, int]]:
    """tap | mapper over a day of the sandbox's traffic, kept in a file; the records read."""
    settings = Settings(seed=26, per_hour=tuple((s, per_hour) for s in STREAMS))
    end = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    end -= timedelta(hours=1)
    out = work / "mapped.jsonl"
    with Sandbox(settings=settings, clock=Clock(), history=timedelta(hours=27)) as sandbox:
        config = work / "tap.json"
        config.write_text(
            json.dumps(
                {
                    "principal": "sandbox-principal",
                    "secret": "sandbox-secret",
                    "api_url": sandbox.url,
                    "start_date": fmt(end - timedelta(hours=24)),
                    "end_date": fmt(end),
                }
            )
        )
        catalog = work / "catalog.json"
        catalog.write_text(
            json.dumps(selecting(json.loads(config.read_text()), SELECTED.__contains__))
        )
        with open(out, "wb") as sink:
            tap = subprocess.Popen(
                [
                    str(BIN / "tap-proofpoint-tap"),
                    "--config",
                    str(config),
                    "--catalog",
                    str(catalog),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            subprocess.run(
                [str(BIN / "mapper-proofpoint-threatq")],
                stdin=tap.stdout,
                stdout=sink,
                stderr=subprocess.DEVNULL,
                check=True,
            )
            if tap.wait() != 0:
                sys.exit("the tap failed")
    read = dict.fromkeys(READS, 0)
    with open(out) as lines:
        for line in lines:
            message = json.loads(line)
            if message["type"] == "RECORD" and message["stream"] in read:
                read[message["stream"]] += 1
    return out, read


def load_three_times(mapped: Path, work: Path, flags: list[str]) -> dict[str, float]:
    work.mkdir(parents=True)
    stand_in = subprocess.Popen(
        [str(BIN / "threatq-sandbox"), "--port", "0", *flags], stdout=subprocess.PIPE, text=True
    )
    try:
        url = next(
            word for word in stand_in.stdout.readline().split() if word.startswith("http://")
        )
        base = {
            "api_url": url,
            "client_id": "sandbox-client-id",
            "email": "analyst@sandbox.example",
            "password": "sandbox-password",
            "cache_dir": str(work / "cache"),
        }
        first, first_requests = load(mapped, work, base, url)
        held = counts(url)
        cached, cached_requests = load(mapped, work, base, url)
        cold, cold_requests = load(mapped, work, {**base, "cache_hours": 0}, url)
        if counts(url) != held:
            sys.exit(f"a re-read changed ThreatQ: {held} → {counts(url)}")
    finally:
        stand_in.terminate()
        stand_in.wait()
    entities = sum(held.values())
    return {
        "entities": entities,
        "seconds": first,
        "entities_per_second": entities / first,
        "requests": first_requests,
        "cached_seconds": cached,
        "cached_requests": cached_requests,
        "cold_seconds": cold,
        "cold_requests": cold_requests,
    }


def load(mapped: Path, work: Path, config: dict[str, Any], url: str) -> tuple[float, int]:
    """Wall seconds of one ``target-threatq`` run, and the requests ThreatQ saw."""
    path = work / "target.json"
    path.write_text(json.dumps(config))
    before = logged(url)
    started = time.monotonic()
    with open(mapped, "rb") as source:
        proc = subprocess.run(
            [str(BIN / "target-threatq"), "--config", str(path)],
            stdin=source,
            capture_output=True,
            text=True,
        )
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"target-threatq failed:\n{proc.stderr[-3000:]}")
    return seconds, logged(url) - before


def logged(url: str) -> int:
    """The requests the stand-in has logged, its debug routes' (this script's) left out."""
    data = requests.get(f"{url}/_debug/requests", timeout=30).json()["data"]
    return sum(not str(r.get("path", "")).startswith("/_debug") for r in data)


def counts(url: str) -> dict[str, int]:
    found: dict[str, int] = requests.get(f"{url}/_debug/dump", timeout=120).json()["counts"]
    return found


def report(args: argparse.Namespace, read: dict[str, int], medians: dict[str, Any]) -> None:
    clicks = read["clicks_permitted"]
    records = sum(read.values())
    print(
        f"\nA day at {args.per_hour}/hour/stream: {clicks:,} permitted clicks, {records:,} "
        f"clicks and messages; median of {args.runs} run(s), {os.cpu_count()} cores\n"
    )
    print(
        "| stand-in | first load: requests per 1,000 clicks (per 1,000 clicks and messages) | "
        "entities/s | re-read with the cache | re-read without it |\n|---|---:|---:|---:|---:|"
    )
    for mode, m in medians.items():

        def per(requests_: float) -> str:
            return f"{1000 * requests_ / clicks:,.1f} ({1000 * requests_ / records:,.1f})"

        print(
            f"| {mode} | {per(m['requests'])} | {m['entities_per_second']:,.0f} | "
            f"{per(m['cached_requests'])} | {per(m['cold_requests'])} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"per_hour": args.per_hour, "runs": args.runs, "read": read, **medians}, indent=2
        )
    )


if __name__ == "__main__":
    main()
