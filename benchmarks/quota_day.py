"""What a day of 10-minute runs costs in each rate-limit pool, measured against the sandbox.

    .venv/bin/python benchmarks/quota_day.py            # 144 runs, every stream, discovery on
    .venv/bin/python benchmarks/quota_day.py --runs 12 --per-hour 10

The tap runs in process as the CLI would, every 10 minutes of a travelling clock
(time-machine moves ``datetime.now`` for the tap and the sandbox alike), each run with the
state the one before it wrote, every stream selected, ``discover_campaigns`` on and the other
settings at their defaults (``--default-catalog``: the streams selected by default, discovery
off, as a user who upgrades runs). The sandbox serves steady traffic on the four SIEM streams and
answers 429 past Proofpoint's limits. Prints a Markdown table (the README's): requests per
pool over the day, the most in any rolling 24 hours, Proofpoint's limit and the 429s.
Not a test: tests/test_intel_streams.py checks the same rules on ten runs.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import time
from collections import Counter
from contextlib import redirect_stdout
from datetime import datetime, timedelta, timezone

import time_machine

from tap_proofpoint_tap.quota import POOLS
from tap_proofpoint_tap.sandboxes.siem import Clock, Sandbox
from tap_proofpoint_tap.sandboxes.siem.generator import STREAMS, Settings
from tap_proofpoint_tap.tap import TapProofpointTap
from tap_proofpoint_tap.windows import fmt

API = {  # the path a request went to → its pool, named as the tap's last line names it
    "/v2/siem/": "shared",
    "/v2/threat/summary/": "threat_summary",
    "/v2/campaign/ids": "campaign_ids",
    "/v2/campaign/": "campaign",
    "/v2/people/vap": "vap",
    "/v2/people/top-clickers": "top_clickers",
}
LIMITS = {"shared": 1800, **{name: pool.limit for name, pool in POOLS.items()}}


def pool_of(path: str, params: dict[str, list[str]]) -> str:
    if path == "/v2/forensics":
        return "forensics_threat" if "threatId" in params else "forensics_campaign"
    return next((pool for prefix, pool in API.items() if path.startswith(prefix)), path)


def run_once(config: dict, state: dict | None, *, every: bool) -> dict | None:
    """One run of the tap (every stream selected, or the default catalog); returns the last
    STATE it wrote."""
    catalog = None
    if every:
        catalog = TapProofpointTap(config=config, validate_config=False).catalog_dict
        for entry in catalog["streams"]:
            for meta in entry["metadata"]:
                if meta["breadcrumb"] == []:
                    meta["metadata"]["selected"] = True
    tap = TapProofpointTap(config=config, state=state, catalog=catalog)
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with redirect_stdout(out):
        tap.sync_all()
        tap.message_writer.flush()
    out.flush()
    states = [
        json.loads(line)["value"]
        for line in out.buffer.getvalue().splitlines()
        if line.startswith(b'{"type":"STATE"')
    ]
    return states[-1] if states else state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=144, help="runs, 10 minutes apart")
    parser.add_argument("--per-hour", type=int, default=20, help="events per SIEM stream and hour")
    parser.add_argument(
        "--default-catalog",
        action="store_true",
        help="the streams selected by default, discover_campaigns off (as after an upgrade)",
    )
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the tap's INFO and WARNING lines: 144 runs of them
    start = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    start -= timedelta(days=2)
    started = time.monotonic()
    with time_machine.travel(start, tick=True) as traveller:
        settings = Settings(seed=7, per_hour=tuple((s, args.per_hour) for s in STREAMS))
        with Sandbox(settings=settings, clock=Clock(), history=timedelta(days=2)) as sandbox:
            config = {
                "principal": "sandbox-principal",
                "secret": "sandbox-secret",
                "api_url": sandbox.url,
                "start_date": fmt(start - timedelta(hours=24)),  # a new install: a day back
                "discover_campaigns": not args.default_catalog,
            }
            state = None
            for n in range(args.runs):
                traveller.move_to(start + timedelta(minutes=10 * n))
                state = run_once(config, state, every=not args.default_catalog)
            requests = list(sandbox.requests)
    report(requests, args.runs, time.monotonic() - started)
    size = len(json.dumps(state, separators=(",", ":")))
    known = len((state or {}).get("bookmarks", {}).get("threats", {}).get("known", {}))
    print(f"\nThe last STATE: {size / 1024:.0f} KB, {known} threats remembered.")


def report(requests: list, runs: int, seconds: float) -> None:
    spent: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    times: dict[str, list[datetime]] = {}
    for request in requests:
        pool = pool_of(request.path, request.params)
        (refused if request.status == 429 else spent)[pool] += 1
        times.setdefault(pool, []).append(request.at)
    print(f"{runs} runs, 10 minutes apart ({seconds:.0f} s to run):\n")
    print("| pool | requests in the day | most in any 24 hours | Proofpoint's limit | 429s |")
    print("|---|---:|---:|---:|---:|")
    for pool in sorted(spent.keys() | refused.keys()):
        at = sorted(times[pool])
        most = max(sum(1 for t in at if start <= t < start + timedelta(hours=24)) for start in at)
        limit = LIMITS.get(pool)
        print(
            f"| {pool} | {spent[pool]} | {most} | {f'{limit:,}' if limit else 'none'} | "
            f"{refused[pool]} |"
        )


if __name__ == "__main__":
    main()
