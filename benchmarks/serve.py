"""Serve benchmark windows: the sandbox with exactly N permitted clicks in one hour.

Prints ``<url> <small_start> <large_start> <mixed_start>`` on one line, then serves until
killed. The hour starting at ``small_start`` holds ``--small`` clicks, the one at
``large_start`` ``--clicks``, the one at ``mixed_start`` ``--clicks`` events spread evenly over
the four streams (what /v2/siem/all answers in one body).
Runs in its own process so that serving 100 MB bodies does not share a GIL with what is
measured.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta, timezone

from tap_proofpoint_tap.sandboxes.siem import Clock, Sandbox
from tap_proofpoint_tap.sandboxes.siem.generator import STREAMS, Settings, generate_hour
from tap_proofpoint_tap.windows import fmt


def clicks(count: int, seed: int, stream: str = "clicks_permitted") -> list[dict]:
    """``count`` generated events of ``stream`` (the generator's hours, concatenated)."""
    # The everyday shapes only, as in every earlier run of the benchmark: the corpus's rarer
    # ones (an undeclared field, several recipients) are the tests' business, and a click with
    # several recipients logs a warning of its own (a tenth of the clicks in the stand-in's
    # default traffic, far more than a tenant sends).
    hour = datetime(2026, 1, 5, tzinfo=timezone.utc)
    settings = Settings(
        seed=seed, per_hour=((stream, 5000),), undeclared_every=0, several_recipients_every=0
    ).anchored(hour, timedelta(days=1))  # the threats' timelines start with the first hour
    out: list[dict] = []
    while len(out) < count:
        out += [g.event for g in generate_hour(settings, stream, hour)]
        hour += timedelta(hours=1)
    return out[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    small, large = now - timedelta(hours=4), now - timedelta(hours=2)
    mixed = now - timedelta(hours=6)
    sandbox = Sandbox(settings=Settings(per_hour=()), clock=Clock(), history=timedelta(hours=8))
    hours = [
        (small, "clicks_permitted", args.small, args.seed + 1),
        (large, "clicks_permitted", args.clicks, args.seed),
    ]
    hours += [(mixed, stream, args.clicks // len(STREAMS), args.seed + 2) for stream in STREAMS]
    active = frozenset({"active"})
    for start, stream, count, seed in hours:
        for n, generated in enumerate(clicks(count, seed, stream)):
            event = {**generated, "id": f"{seed}-{n}-{generated['id']}"}
            if stream.startswith("clicks"):
                event["threatStatus"] = "active"
            sandbox.store.add(
                stream,
                event,
                statuses=active,
                created=start + timedelta(milliseconds=n % 3_600_000),
            )
    sandbox.store.warm(mixed, large + timedelta(hours=1))
    with sandbox:
        print(sandbox.url, fmt(small), fmt(large), fmt(mixed), flush=True)
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
