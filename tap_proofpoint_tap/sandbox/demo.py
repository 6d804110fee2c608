"""``make demo``: a day of sandbox traffic through the tap, then what a user wants to see.

Runs the tap CLI against a sandbox on 127.0.0.1 (real-time clock, seed 7), keeps rows keyed by
``id`` under ``output/`` together with the last STATE, so a second run reads only the hours
since the first (plus the 30-minute look-back).
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tap_proofpoint_tap.sandbox import Clock, Sandbox
from tap_proofpoint_tap.sandbox.generator import STREAMS, Settings
from tap_proofpoint_tap.windows import fmt

OUTPUT = Path("output")
TAP = str(Path(sys.executable).parent / "tap-proofpoint-tap")


def main() -> None:
    OUTPUT.mkdir(exist_ok=True)
    state_file, rows_file = OUTPUT / "demo-state.json", OUTPUT / "demo-rows.json"
    rows: dict[str, dict[str, dict]] = (json.loads(rows_file.read_text()) if rows_file.exists()
                                        else {s: {} for s in STREAMS})
    config = OUTPUT / "demo-config.json"
    settings = Settings(seed=7, per_hour=tuple((s, 40) for s in STREAMS))
    with Sandbox(settings=settings, clock=Clock(), history=timedelta(hours=25)) as sandbox:
        config.write_text(json.dumps({
            "principal": "sandbox-principal", "secret": "sandbox-secret", "api_url": sandbox.url,
            "start_date": fmt(datetime.now(timezone.utc) - timedelta(hours=24))}))
        argv = [TAP, "--config", str(config)]
        if state_file.exists():
            argv += ["--state", str(state_file)]
        proc = subprocess.run(argv, capture_output=True, text=True)
        requests = len(sandbox.requests)
    if proc.returncode != 0:
        sys.exit(proc.stderr.strip().splitlines()[-1])
    new = collections.Counter()
    for line in proc.stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            rows[message["stream"]][message["record"]["id"]] = message["record"]
            new[message["stream"]] += 1
        elif message["type"] == "STATE":
            state_file.write_text(json.dumps(message["value"]))
    rows_file.write_text(json.dumps(rows))
    print(f"This run: {requests} API requests, {sum(new.values())} events read "
          f"(state in {state_file}).\n")
    print(f"{'stream':<20}{'rows':>8}{'read now':>10}")
    for stream in STREAMS:
        print(f"{stream:<20}{len(rows[stream]):>8}{new[stream]:>10}")
    clicks = list(rows["clicks_permitted"].values())
    for title, field in (("Top clicked URLs", "url"), ("Most-clicking recipients", "recipient")):
        print(f"\n{title} (permitted clicks):")
        for value, count in collections.Counter(c[field] for c in clicks).most_common(5):
            print(f"{count:>6}  {value}")


if __name__ == "__main__":
    main()
