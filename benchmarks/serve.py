"""Serve benchmark windows: the sandbox with exactly N permitted clicks in one hour.

Prints ``<url> <small_start> <large_start>`` on one line, then serves until killed. The hour
starting at ``small_start`` holds ``--small`` clicks, the one at ``large_start`` ``--clicks``.
Runs in its own process so that serving 100 MB bodies does not share a GIL with what is
measured.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta, timezone

from tap_proofpoint_tap.sandbox import Clock, Sandbox
from tap_proofpoint_tap.sandbox.generator import Settings, generate_hour
from tap_proofpoint_tap.windows import fmt


def clicks(count: int, seed: int) -> list[dict]:
    """``count`` generated permitted clicks (the generator's hours, concatenated)."""
    settings = Settings(seed=seed, per_hour=(("clicks_permitted", 5000),))
    out: list[dict] = []
    hour = datetime(2026, 1, 5, tzinfo=timezone.utc)
    while len(out) < count:
        out += [g.event for g in generate_hour(settings, "clicks_permitted", hour)]
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
    sandbox = Sandbox(settings=Settings(per_hour=()), clock=Clock(), history=timedelta(hours=6))
    for start, count, seed in ((small, args.small, args.seed + 1), (large, args.clicks, args.seed)):
        for n, event in enumerate(clicks(count, seed)):
            event = {**event, "threatStatus": "active", "id": f"{seed}-{n}-{event['id']}"}
            sandbox.store.add("clicks_permitted", event,
                              created=start + timedelta(milliseconds=n % 3_600_000))
    sandbox.store.warm(small, large + timedelta(hours=1))
    with sandbox:
        print(sandbox.url, fmt(small), fmt(large), flush=True)
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
