"""``threatq-sandbox``: serve the ThreatQ REST API stand-in from the command line."""

from __future__ import annotations

import argparse
import sys
import threading

from tap_proofpoint_tap.sandboxes.threatq.auth import Credentials
from tap_proofpoint_tap.sandboxes.threatq.faults import ROUTES, Fault, Maintenance
from tap_proofpoint_tap.sandboxes.threatq.server import ThreatQSandbox

FAULT_HELP = (
    "inject a fault: KIND[:COUNT|PCT%%[:SKIP]][@ROUTE]. KIND: an HTTP status such as 500 or 502 "
    "(answered before the call is applied; append + to apply the call first), errors (a 2xx "
    "body carrying errors; errors+ also applies the call) or item-error (the first item gets a "
    "per-item error). COUNT matching requests after SKIP (default 1 after 0; * for all), or "
    "PCT%% of them from a seeded RNG. ROUTE: " + ", ".join(ROUTES) + " or a path (default "
    "consume). Repeatable. Example: 502:20%%, 500+:1:3, errors@write"
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="threatq-sandbox",
        description="A local stand-in of ThreatQ's REST API on 127.0.0.1 (OAuth tokens, lookups, "
        "indicators and other objects, consume, attributes, sources, links) with ThreatQ's "
        "dedup rules, switches for the uncertain ones, and fault injection. GET /_debug/dump "
        "(no auth) shows everything stored. Stops on Ctrl-C.",
    )
    p.add_argument(
        "--port",
        type=int,
        default=0,
        help="port on 127.0.0.1; 0 picks a free one (default 0); the URL is printed",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=7,
        help="seed of the shuffled lookup ids and of the tokens (default 7)",
    )
    defaults = Credentials()
    p.add_argument(
        "--email",
        default=defaults.email,
        help=f"user of the password grant (default {defaults.email})",
    )
    p.add_argument(
        "--password",
        default=defaults.password,
        help=f"password of the password grant (default {defaults.password})",
    )
    p.add_argument(
        "--client-id",
        default=defaults.client_id,
        help=f"OAuth client id, needed by both grants (default {defaults.client_id})",
    )
    p.add_argument(
        "--client-secret",
        default=defaults.client_secret,
        help=f"secret of client_credentials (default {defaults.client_secret})",
    )
    p.add_argument(
        "--token-expiry",
        type=float,
        default=3600.0,
        help="access token lifetime in seconds, expires_in (default 3600)",
    )
    p.add_argument(
        "--corporate-email-code",
        default="corporate_email",
        help="code of the Corporate Email custom object (default corporate_email)",
    )
    p.add_argument(
        "--corporate-email-collection",
        help="its REST collection in /api/objects (default: the code)",
    )
    p.add_argument(
        "--no-corporate-email",
        action="store_true",
        help="leave the Corporate Email custom object uninstalled",
    )
    for flag, what in (
        ("--without-indicator-type", "indicator type (e.g. 'Email Subject')"),
        ("--without-status", "indicator status (e.g. Active)"),
        ("--without-event-type", "event type (e.g. Spearphish)"),
        ("--without-object", "object type, by code or collection (e.g. ttp, adversaries)"),
    ):
        p.add_argument(
            flag,
            action="append",
            default=[],
            metavar="NAME",
            help=f"play an instance without this {what}; repeatable",
        )
    p.add_argument(
        "--duplicate-reposts",
        action="store_true",
        help="pessimistic: a re-posted identical attribute or link makes a second "
        "row or pivot (default: merged into the first)",
    )
    p.add_argument(
        "--normalize-urls",
        action="store_true",
        help="store URL indicators normalised (lower-case scheme and host, no default "
        "port, fragment or bare '/' path), so stored values differ from those sent",
    )
    p.add_argument(
        "--no-incident-dedup",
        action="store_true",
        help="pessimistic: every posted incident is a new one (default: incidents "
        "are unique on value)",
    )
    p.add_argument(
        "--adversary-name-taken",
        action="store_true",
        help="pessimistic: a plain POST /api/adversaries naming a stored adversary is a 400 "
        "'The name has already been taken.' (default: the stored one is answered)",
    )
    p.add_argument(
        "--lean-consume",
        action="store_true",
        help="pessimistic: consume answers only id and value/name/title per item "
        "(no type_id, no existing)",
    )
    p.add_argument(
        "--max-items",
        type=int,
        default=500,
        help="items per consume call before a 413 (default 500)",
    )
    p.add_argument(
        "--relationship-limit",
        type=int,
        default=10_000,
        help="links per object; further links are silently dropped (default 10000)",
    )
    p.add_argument(
        "--maintenance",
        action="append",
        default=[],
        metavar="N|Ss[:SKIP]",
        help="503 maintenance mode on every route for N requests, or for S seconds "
        "(e.g. 30s), starting after SKIP requests (default 0); repeatable",
    )
    p.add_argument("--fault", action="append", default=[], metavar="SPEC", help=FAULT_HELP)
    p.add_argument(
        "--fault-seed", type=int, help="seed of the RNG of PCT%% faults (default: --seed)"
    )
    p.add_argument(
        "--reject",
        action="append",
        default=[],
        metavar="VALUE[=REASON]",
        help="give every created or consumed item with this value/name/title a "
        "per-item error (REASON, default 'Rejected by the stand-in.'); repeatable",
    )
    p.add_argument(
        "--delay",
        type=float,
        default=0.0,
        help="stall every request by this many seconds (default 0)",
    )
    p.add_argument("--log-requests", action="store_true", help="print each request to stderr")
    return p


def parse_maintenance(text: str) -> Maintenance:
    """``5`` → the next 5 requests; ``30s:10`` → 30 seconds from the 11th request."""
    span, _, skip = text.partition(":")
    if span.endswith("s"):
        return Maintenance(seconds=float(span[:-1]), skip=int(skip or 0))
    return Maintenance(requests=int(span), skip=int(skip or 0))


def parse_fault(text: str, seed: int) -> Fault:
    """``502:20%`` → 20% of consume calls; ``500+:1:3@write`` → the 4th write, once applied."""
    spec, _, route = text.partition("@")
    kind, *rest = spec.split(":")
    after = kind.endswith("+")
    kind = kind.rstrip("+")
    count: int | None = 1
    percent = None
    if rest and rest[0].endswith("%"):
        percent = float(rest[0][:-1])
    elif rest:
        count = None if rest[0] == "*" else int(rest[0])
    skip = int(rest[1]) if len(rest) > 1 else 0
    status = int(kind) if kind.isdigit() else 500
    return Fault(
        "status" if kind.isdigit() else kind,
        route=route or "consume",
        count=count,
        skip=skip,
        percent=percent,
        seed=seed,
        status=status,
        after=after,
    )


def serve(
    args: argparse.Namespace,
    credentials: Credentials,
    faults: list[Fault],
    maintenance: list[Maintenance],
) -> ThreatQSandbox:
    """The stand-in the parsed options describe (not started)."""
    return ThreatQSandbox(
        seed=args.seed,
        port=args.port,
        credentials=credentials,
        token_expiry=args.token_expiry,
        corporate_email=not args.no_corporate_email,
        corporate_email_code=args.corporate_email_code,
        corporate_email_collection=args.corporate_email_collection,
        without_indicator_types=args.without_indicator_type,
        without_statuses=args.without_status,
        without_event_types=args.without_event_type,
        without_objects=args.without_object,
        duplicate_reposts=args.duplicate_reposts,
        normalize_urls=args.normalize_urls,
        incident_dedup=not args.no_incident_dedup,
        relationship_limit=args.relationship_limit,
        adversary_name_taken=args.adversary_name_taken,
        max_items=args.max_items,
        lean_consume=args.lean_consume,
        faults=faults,
        maintenance=maintenance,
        log_stream=sys.stderr if args.log_requests else None,
    )


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    seed = args.seed if args.fault_seed is None else args.fault_seed
    try:
        faults = [parse_fault(f, seed) for f in args.fault]
        maintenance = [parse_maintenance(m) for m in args.maintenance]
    except ValueError as error:
        raise SystemExit(f"threatq-sandbox: bad --fault or --maintenance: {error}") from None
    for item in args.reject:
        value, _, reason = item.partition("=")
        faults.append(
            Fault(
                "item-error",
                route="write",
                count=None,
                value=value,
                message=reason or "Rejected by the stand-in.",
            )
        )
    if args.delay:
        faults.append(Fault("delay", route="any", count=None, seconds=args.delay))
    credentials = Credentials(args.email, args.password, args.client_id, args.client_secret)
    try:
        sandbox = serve(args, credentials, faults, maintenance)
    except ValueError as error:  # a --without-* name the instance does not have
        raise SystemExit(f"threatq-sandbox: {error}") from None
    sandbox.start()
    print(
        f"ThreatQ API stand-in listening on {sandbox.url} (client_id {args.client_id}, "
        f"user {args.email}, seed {args.seed})",
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
