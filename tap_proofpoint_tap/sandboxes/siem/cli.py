"""``tap-proofpoint-tap-sandbox``: serve the SIEM API stand-in from the command line."""

from __future__ import annotations

import argparse
import sys
import threading
from datetime import datetime, timedelta

from tap_proofpoint_tap.sandboxes.siem.clock import Clock
from tap_proofpoint_tap.sandboxes.siem.generator import STREAMS, Settings
from tap_proofpoint_tap.sandboxes.siem.server import FAULT_KINDS, Fault, Sandbox


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tap-proofpoint-tap-sandbox",
        description="A local stand-in of Proofpoint TAP's SIEM API v2 on 127.0.0.1, serving "
        "seeded synthetic clicks and messages with the real API's windows, errors, "
        "rate limits and quirks. Stops on Ctrl-C.",
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
        help="requests per rolling 24 hours per pool before 429 (default 1800)",
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
        metavar="KIND[:COUNT[:SKIP]]",
        help=f"inject a fault ({', '.join(FAULT_KINDS)}, or an HTTP status such as "
        "500) into COUNT requests (default 1) after SKIP (default 0); repeatable",
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
    """``500:2:3`` → two 500s after three good requests; ``truncate`` → the next body cut."""
    kind, *rest = text.split(":")
    count = int(rest[0]) if rest else 1
    skip = int(rest[1]) if len(rest) > 1 else 0
    if kind.isdigit():
        return Fault("status", count=count, skip=skip, status=int(kind))
    return Fault(kind, count=count, skip=skip, seconds=delay)


def parse_rates(items: list[str]) -> tuple[tuple[str, int], ...]:
    rates = dict.fromkeys(STREAMS, 20)
    for item in items:
        stream, _, value = item.partition("=")
        if stream not in rates or not value.isdigit():
            raise SystemExit(f"--rate expects STREAM=N with STREAM one of {', '.join(STREAMS)}")
        rates[stream] = int(value)
    return tuple(rates.items())


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    settings = Settings(
        seed=args.seed,
        per_hour=parse_rates(args.rate),
        documented_shapes=args.documented_shapes,
        retroactive_fraction=args.retroactive_fraction,
        late_fraction=args.late_fraction,
        max_lag_minutes=args.max_lag_minutes,
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
        current_lag=timedelta(seconds=args.current_lag_seconds),
        faults=faults,
        log_stream=sys.stderr if args.log_requests else None,
    )
    sandbox.store.warm(clock.now() - history, clock.now())
    sandbox.start()
    print(
        f"Proofpoint TAP SIEM API sandbox listening on {sandbox.url} "
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
