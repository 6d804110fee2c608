"""`make fuzz`: explore new examples of the fuzz suite for as long as asked, then say what broke.

`make test` runs the fuzz suite (tests/test_fuzz*.py) derandomised (the same examples every
run, so CI does not fail at random). This runs it again and again with fresh random seeds,
5,000 examples per property and round, keeping what fails in the example database (.hypothesis/, replayed first in
the next round). Each failure is printed with the seed that reproduces it; keep it as an
``@example(...)`` in its test file once fixed, so every later run tries it.

    python -m tests.fuzz --minutes 30
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FALSIFYING = re.compile(r"^(?:E\s+|\s*\|?\s*)(Falsifying example: .*|Draw \d+: .*)$")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--minutes",
        type=float,
        default=10,
        help="how long to explore (default 10); a round started is finished",
    )
    parser.add_argument("-k", default="", help="only the tests matching this pytest -k")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.minutes * 60
    env = {**os.environ, "HYPOTHESIS_PROFILE": "explore"}
    rounds, failed = 0, []
    while time.monotonic() < deadline:
        seed = random.randrange(2**32)
        rounds += 1
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--hypothesis-seed={seed}",
            *sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("tests/test_fuzz*.py")),
            *(["-k", args.k] if args.k else []),
        ]
        proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        summary = (proc.stdout.strip().splitlines() or ["no output"])[-1]
        print(f"round {rounds} (seed {seed}): {summary}", flush=True)
        if proc.returncode != 0:
            failed.append(seed)
            found = [m[1] for line in proc.stdout.splitlines() if (m := FALSIFYING.match(line))]
            for line in dict.fromkeys(found) or proc.stdout.splitlines()[-40:]:
                print(f"    {line}")
    print(
        f"{rounds} rounds in {args.minutes:g} minutes; "
        + (
            f"failing seeds: {', '.join(map(str, failed))} (rerun one with `python -m pytest "
            f"tests/test_fuzz*.py --hypothesis-seed=SEED` and HYPOTHESIS_PROFILE=explore)"
            if failed
            else "nothing failed"
        )
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
