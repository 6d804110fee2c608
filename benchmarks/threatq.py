"""target-threatq into the ThreatQ stand-in over loopback: entities/s and requests per 1,000 clicks.

    .venv/bin/python benchmarks/threatq.py                  # 10,000 clicks, medians of 3 runs
    .venv/bin/python benchmarks/threatq.py --clicks 2000 --runs 1

One window of N permitted clicks (benchmarks/serve.py) is read by the tap and mapped once, to a
file. Then, per run and for both dedup modes of the stand-in (merging, and
``--duplicate-reposts``), a fresh ``threatq-sandbox`` process is started and the file is fed to
``target-threatq`` twice:

- the first load: clicks/s, entities/s (Corporate Emails, Indicators, attributes, Incidents and
  links ThreatQ holds afterwards, per wall second of the target) and requests per 1,000 clicks;
- the reload of the same rows, which must change no count: its seconds and requests.

Prints a Markdown table (the README's) and writes the figures to output/benchmark-threatq.json.
Not a test: the suite only checks that this script runs on a small window.
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
from datetime import timedelta
from pathlib import Path

import requests

from tap_proofpoint_tap.windows import fmt, parse

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
KEYS = ("corporate_email", "indicators", "attributes", "incident", "pivots")
MODES = {"merging": [], "duplicate-reposts": ["--duplicate-reposts"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=10_000, help="clicks in the window")
    parser.add_argument("--runs", type=int, default=3, help="runs per mode (median)")
    parser.add_argument("--out", type=Path, default=ROOT / "output" / "benchmark-threatq.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tap-proofpoint-tq-bench-"))
    mapped = mapped_clicks(args.clicks, work)
    figures = {
        mode: [load_twice(mapped, work, flags) for _ in range(args.runs)]
        for mode, flags in MODES.items()
    }
    report(
        args,
        {
            mode: {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            for mode, runs in figures.items()
        },
    )


def mapped_clicks(clicks: int, work: Path) -> Path:
    """tap | mapper over one window of ``clicks`` permitted clicks, kept in a file."""
    server = subprocess.Popen(
        [sys.executable, str(HERE / "serve.py"), "--clicks", str(clicks), "--small", "1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url, _, large, _ = server.stdout.readline().split()
        config = work / "tap.json"
        config.write_text(
            json.dumps(
                {
                    "principal": "sandbox-principal",
                    "secret": "sandbox-secret",
                    "api_url": url,
                    "start_date": large,
                    "end_date": fmt(parse(large) + timedelta(hours=1)),
                }
            )
        )
        out = work / "mapped.jsonl"
        with open(out, "wb") as sink:
            tap = subprocess.Popen(
                [str(BIN / "tap-proofpoint-tap"), "--config", str(config)],
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
            tap.wait()
    finally:
        server.terminate()
        server.wait()
    return out


def load_twice(mapped: Path, work: Path, flags: list[str]) -> dict[str, float]:
    stand_in = subprocess.Popen(
        [str(BIN / "threatq-sandbox"), "--port", "0", *flags], stdout=subprocess.PIPE, text=True
    )
    try:
        url = next(
            word for word in stand_in.stdout.readline().split() if word.startswith("http://")
        )
        config = work / "target.json"
        config.write_text(
            json.dumps(
                {
                    "api_url": url,
                    "client_id": "sandbox-client-id",
                    "email": "analyst@sandbox.example",
                    "password": "sandbox-password",
                }
            )
        )
        first, first_clicks = load(mapped, config)
        held = counts(url)
        first_requests = len(requests.get(f"{url}/_debug/requests", timeout=30).json()["data"])
        again, _ = load(mapped, config)
        if counts(url) != held:
            sys.exit(f"the reload changed ThreatQ: {held} → {counts(url)}")
        all_requests = len(requests.get(f"{url}/_debug/requests", timeout=30).json()["data"])
    finally:
        stand_in.terminate()
        stand_in.wait()
    entities = sum(held.values())
    return {
        "clicks": first_clicks,
        "entities": entities,
        "seconds": first,
        "clicks_per_second": first_clicks / first,
        "entities_per_second": entities / first,
        "requests_per_1000": 1000 * first_requests / first_clicks,
        "reload_seconds": again,
        "reload_requests_per_1000": 1000 * (all_requests - first_requests) / first_clicks,
    }


def load(mapped: Path, config: Path) -> tuple[float, int]:
    """Wall seconds of one ``target-threatq`` run, and the clicks it read."""
    started = time.monotonic()
    with open(mapped, "rb") as source:
        proc = subprocess.run(
            [str(BIN / "target-threatq"), "--config", str(config)],
            stdin=source,
            capture_output=True,
            text=True,
        )
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"target-threatq failed:\n{proc.stderr[-3000:]}")
    line = next(x for x in proc.stderr.splitlines() if x.startswith("Requests:"))
    return seconds, int(line.split(" for ")[1].split()[0])


def counts(url: str) -> dict[str, int]:
    dump = requests.get(f"{url}/_debug/dump", timeout=60).json()["counts"]
    return {key: dump[key] for key in KEYS}


def report(args: argparse.Namespace, medians: dict[str, dict[str, float]]) -> None:
    print(f"\n{args.clicks:,} clicks, median of {args.runs} run(s), {os.cpu_count()} cores\n")
    print(
        "| stand-in | first load: clicks/s | entities/s | requests per 1,000 clicks | "
        "reload: s | reload requests per 1,000 clicks |\n|---|---:|---:|---:|---:|---:|"
    )
    for mode, m in medians.items():
        print(
            f"| {mode} | {m['clicks_per_second']:,.0f} | {m['entities_per_second']:,.0f} | "
            f"{m['requests_per_1000']:.1f} | {m['reload_seconds']:.1f} | "
            f"{m['reload_requests_per_1000']:,.0f} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"clicks": args.clicks, "runs": args.runs, **medians}, indent=2))


if __name__ == "__main__":
    main()
