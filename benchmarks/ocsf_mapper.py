"""OCSF events per second through ``mapper-proofpoint-ocsf``, beside the ThreatQ mapper.

    .venv/bin/python benchmarks/ocsf_mapper.py                 # 40,000 events, medians of 3 runs
    .venv/bin/python benchmarks/ocsf_mapper.py --events 2000 --runs 1

The stand-in's generator makes ``--events`` SIEM events spread evenly over the four streams
(the everyday shapes of benchmarks/serve.py), normalised as the tap writes them, into one
Singer file. Each run feeds the file to a mapper's console script and counts the records it
prints (benchmarks/run.py's sink; its peak RSS is not reported: ``wait4`` counts the pages the
fork copied from this process, larger than the mapper's own):

- ``mapper-proofpoint-ocsf`` with ``pass_through`` off: the OCSF events alone;
- ``mapper-proofpoint-ocsf`` passing the tap's records through too (what ``make demo`` runs);
- ``mapper-proofpoint-threatq`` on the same file, for scale (entities, not events);
- the mapping functions in process, no Singer I/O: the floor of the mapper's own work.

Throughput is "once started" (records / (wall - ``--about`` time)), as in benchmarks/run.py.
Prints a Markdown table (the README's) and writes output/benchmark-ocsf.json. Not a test: the
suite only checks that this script runs on a small file.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from run import BIN, ROOT, Measure, measure, median, startup
from serve import clicks as generated

from tap_proofpoint_tap.mappers.ocsf.mapper import MAPPINGS
from tap_proofpoint_tap.normalise import SCHEMAS, normalise_click, normalise_message
from tap_proofpoint_tap.sandboxes.siem.generator import STREAMS

QUERY_END = "2026-01-05T01:00:00Z"


def singer_file(events: int, path: Path) -> int:
    """``events`` tap records over the four streams, written to ``path`` as Singer lines."""
    written = 0
    with path.open("w") as out:
        for n, stream in enumerate(STREAMS):
            kind = "click" if stream.startswith("clicks") else "message"
            schema = {"type": "SCHEMA", "stream": stream, "schema": SCHEMAS[kind]}
            out.write(json.dumps({**schema, "key_properties": ["id"]}) + "\n")
            normalise = normalise_click if kind == "click" else normalise_message
            for event in generated(events // len(STREAMS), seed=11 + n, stream=stream):
                record = {**normalise(event, []), "queryEndTime": QUERY_END}
                out.write(json.dumps({"type": "RECORD", "stream": stream, "record": record}))
                out.write("\n")
                written += 1
    return written


def in_process(source: Path, runs: int) -> Measure:
    """The mapping functions alone on the file's records, already parsed."""
    lines = (json.loads(line) for line in source.read_text().splitlines())
    records = [(m["stream"], m["record"]) for m in lines if m["type"] == "RECORD"]
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        for stream, record in records:
            MAPPINGS[stream][1](record, stream)
        timings.append(time.perf_counter() - started)
    return Measure(len(records), sorted(timings)[len(timings) // 2], 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "output" / "benchmark-ocsf.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "tap.singer"
        events = singer_file(args.events, source)
        (Path(work) / "off.json").write_text(json.dumps({"pass_through": False}))
        commands = {
            "ocsf": [str(BIN / "mapper-proofpoint-ocsf"), "--config", f"{work}/off.json"],
            "ocsf_pass_through": [str(BIN / "mapper-proofpoint-ocsf")],
            "threatq": [str(BIN / "mapper-proofpoint-threatq")],
        }
        figures: dict[str, Measure] = {}
        for name, argv in commands.items():
            runs = [measure(argv, stdin=source) for _ in range(args.runs)]
            figures[name] = median(runs, [startup(argv) for _ in range(args.runs)])
        figures["in_process"] = in_process(source, args.runs)
    report(events, figures)
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "events": events,
                **{
                    name: {
                        "records": m.records,
                        "seconds": round(m.seconds, 3),
                        "startup": round(m.startup, 3),
                        "per_second": round(m.per_second),
                    }
                    for name, m in figures.items()
                },
            },
            indent=2,
        )
    )


def report(events: int, figures: dict[str, Measure]) -> None:
    rows = (
        ("mapper-proofpoint-ocsf, OCSF events/s once started", "ocsf"),
        (
            "mapper-proofpoint-ocsf passing the tap's records through, records/s",
            "ocsf_pass_through",
        ),
        ("mapper-proofpoint-threatq on the same records, entity rows/s", "threatq"),
        ("the mapping functions in process (no Singer I/O), events/s", "in_process"),
    )
    print(f"{events:,} tap records (the four SIEM streams), medians:\n")
    print("| measure | value | wall s |")
    print("|---|---:|---:|")
    for label, name in rows:
        m = figures[name]
        print(f"| {label} | {m.per_second:,.0f} | {m.seconds:.2f} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
