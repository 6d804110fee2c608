"""``tap-proofpoint-tap-sandbox``: serve the TAP API stand-in from the command line."""

from __future__ import annotations

import argparse
import sys
import threading
from datetime import datetime, timedelta

from tap_proofpoint_tap.sandboxes.siem.clock import Clock
from tap_proofpoint_tap.sandboxes.siem.faults import FAULT_KINDS, Fault
from tap_proofpoint_tap.sandboxes.siem.generator import STREAMS, THREAT_SPELLINGS, Settings
from tap_proofpoint_tap.sandboxes.siem.server import POOLS, Sandbox


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tap-proofpoint-tap-sandbox",
        description="A local stand-in of Proofpoint TAP's API v2 on 127.0.0.1: the SIEM API "
        "(seeded synthetic clicks and messages with the real API's windows, errors, rate "
        "limits and quirks) and the Threat, Campaign, Forensics and People APIs, consistent "
        "with it (every threat and campaign id an event carries resolves). Stops on Ctrl-C.",
    )
    p.add_argument(
        "--port",
        type=int,
        default=0,
        help="port on 127.0.0.1; 0 picks a free one (default 0); printed at start",
    )
    p.add_argument("--seed", type=int, default=7, help="seed of the event generator (default 7)")
    p.add_argument(
        "--principal",
        default="sandbox-principal",
        help="accepted service principal (default sandbox-principal)",
    )
    p.add_argument(
        "--secret", default="sandbox-secret", help="accepted secret (default sandbox-secret)"
    )
    p.add_argument(
        "--history-hours",
        type=float,
        default=24,
        help="hours of events before the clock's start (default 24; at most 168 "
        "can be fetched, as with the real API)",
    )
    p.add_argument(
        "--rate",
        action="append",
        default=[],
        metavar="STREAM=N",
        help="mean events per hour of a stream (clicks_permitted, clicks_blocked, "
        "messages_delivered, messages_blocked; default 20 each); repeatable",
    )
    p.add_argument(
        "--documented-shapes",
        action="store_true",
        help="serve the older documented payload shapes (string addresses, "
        'clusterId, "true"/"false" booleans, threatId, no message id)',
    )
    p.add_argument(
        "--retroactive-fraction",
        type=float,
        default=0.05,
        help="share of events condemned after the click/message (default 0.05)",
    )
    p.add_argument(
        "--late-fraction",
        type=float,
        default=0.05,
        help="share of events indexed late (default 0.05)",
    )
    p.add_argument(
        "--max-lag-minutes",
        type=int,
        default=20,
        help="longest indexing lag of a late event, minutes (default 20)",
    )
    p.add_argument("--now", help="freeze the clock at this ISO 8601 time (default: real time)")
    p.add_argument(
        "--offset-minutes",
        type=float,
        default=0,
        help="shift a running clock by this many minutes (default 0)",
    )
    p.add_argument(
        "--rate-limit",
        type=int,
        default=1800,
        help="requests per rolling 24 hours of each SIEM pool (shared, clicks_permitted) "
        "before 429 (default 1800)",
    )
    p.add_argument(
        "--pool-limit",
        action="append",
        default=[],
        metavar="POOL=N",
        help=f"requests per rolling 24 hours of one pool before 429 ({', '.join(POOLS)}; "
        "default 50 each for campaign_ids, vap, top_clickers and forensics_threat, 1800 for "
        "forensics_campaign; threat summaries and campaign details count in none); repeatable",
    )
    p.add_argument(
        "--threat-spelling",
        choices=THREAT_SPELLINGS,
        default="docs",
        help="field names of threat summaries: docs (severityScore, verticallyTargeted, "
        "geoTargeted) or xsoar (severity, verticals, geographies); default docs",
    )
    p.add_argument(
        "--current-lag-seconds",
        type=float,
        default=60,
        help="an interval ending closer than this to now is 'still current' (default 60)",
    )
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND[:COUNT[:SKIP[:PATH]]]",
        help=f"inject a fault ({', '.join(FAULT_KINDS)}, or an HTTP status such as "
        "500) into COUNT requests (default 1) after SKIP (default 0) to PATH (default: the "
        "SIEM paths; a PATH ending in / matches every path under it, e.g. "
        "/v2/threat/summary/); repeatable",
    )
    p.add_argument(
        "--delay-seconds",
        type=float,
        default=5,
        help="stall of a 'delay' fault, seconds (default 5)",
    )
    p.add_argument("--log-requests", action="store_true", help="print each request to stderr")
    return p


def parse_fault(text: str, delay: float) -> Fault:
    """``500:2:3`` → two 500s after three good requests; ``truncate`` → the next body cut;
    ``cut:1:0:/v2/forensics`` → the next forensics body cut."""
    kind, *rest = text.split(":", 3)
    count = int(rest[0]) if rest else 1
    skip = int(rest[1]) if len(rest) > 1 else 0
    path = rest[2] if len(rest) > 2 else None  # noqa: PLR2004
    if kind.isdigit():
        return Fault("status", count=count, skip=skip, path=path, status=int(kind))
    return Fault(kind, count=count, skip=skip, path=path, seconds=delay)


def parse_rates(items: list[str]) -> tuple[tuple[str, int], ...]:
    rates = dict.fromkeys(STREAMS, 20)
    for item in items:
        stream, _, value = item.partition("=")
        if stream not in rates or not value.isdigit():
            raise SystemExit(f"--rate expects STREAM=N with STREAM one of {', '.join(STREAMS)}")
        rates[stream] = int(value)
    return tuple(rates.items())


def parse_pool_limits(items: list[str]) -> dict[str, int]:
    limits = {}
    for item in items:
        pool, _, value = item.partition("=")
        if pool not in POOLS or not value.isdigit():
            raise SystemExit(f"--pool-limit expects POOL=N with POOL one of {', '.join(POOLS)}")
        limits[pool] = int(value)
    return limits


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    settings = Settings(
        seed=args.seed,
        per_hour=parse_rates(args.rate),
        documented_shapes=args.documented_shapes,
        retroactive_fraction=args.retroactive_fraction,
        late_fraction=args.late_fraction,
        max_lag_minutes=args.max_lag_minutes,
        threat_spelling=args.threat_spelling,
    )
    if args.now:
        clock = Clock(fixed=datetime.fromisoformat(args.now.replace("Z", "+00:00")))
    else:
        clock = Clock(offset=timedelta(minutes=args.offset_minutes))
    history = timedelta(hours=args.history_hours)
    try:
        faults = [parse_fault(f, args.delay_seconds) for f in args.fault]
    except ValueError as error:
        raise SystemExit(f"--fault: {error}") from None
    sandbox = Sandbox(
        settings=settings,
        clock=clock,
        principal=args.principal,
        secret=args.secret,
        port=args.port,
        history=history,
        rate_limit=args.rate_limit,
        pool_limits=parse_pool_limits(args.pool_limit),
        current_lag=timedelta(seconds=args.current_lag_seconds),
        faults=faults,
        log_stream=sys.stderr if args.log_requests else None,
    )
    sandbox.store.warm(clock.now() - history, clock.now())
    sandbox.start()
    print(
        f"Proofpoint TAP API sandbox listening on {sandbox.url} "
        f"(principal {args.principal}, seed {args.seed})",
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()
