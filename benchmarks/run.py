"""Throughput and memory of the tap, the ThreatQ mapper and the Meltano pipeline.

    .venv/bin/python benchmarks/run.py                 # 100,000 clicks, medians of 3 runs
    .venv/bin/python benchmarks/run.py --clicks 20000 --runs 5 --no-meltano

A sandbox process (benchmarks/serve.py) serves one 1-hour window of N permitted clicks and one
of 1,000. Measured in the same run, each as a subprocess whose stdout is read and counted by
this script (the sink), with peak RSS from ``wait4``:

- the tap CLI as a user runs it (a catalog selecting the four SIEM streams, read through
  /v2/siem/all) on the N-click window, and on the 1,000-click window (memory must not grow);
- the four streams on a window of N events spread over the four arrays: read together
  through /v2/siem/all (one request) and one stream at a time (four requests);
- the naive baseline: a plain singer-sdk stream for the same endpoint (benchmarks/naive_tap.py);
- the floor: the same body decoded and every record encoded as a Singer line with msgspec,
  in process, no HTTP, no SDK (benchmarks/floor.py);
- the mapper: the tap's output (N clicks) from a file through ``mapper-proofpoint-threatq``;
- the DuckDB loaders alone: the mapper's output (a Singer file) into a fresh DuckDB file, through
  ``target-duckdb-proofpoint`` and through PyPI's ``target-duckdb`` 0.8.0 (the baseline);
- end to end: ``meltano run tap-proofpoint-tap threatq <loader>`` into a fresh DuckDB file, for
  both loaders, whose row counts are checked, and into ``target-null`` (``cat > /dev/null``):
  the pipeline's floor, what Meltano, the tap and the mapper cost with no loader at all.

The baseline is not part of the project: it is installed only here, in a throwaway Meltano
project beside this one, with the DuckDB 1.0.0 it needs (so on a Python <= 3.12:
``BASELINE_PYTHON``, else the first of python3.12/3.11/3.10 found). ``--no-baseline`` skips it.

- the requests a 7-day backfill of the four streams spends in each mode (an empty sandbox).

Throughput is "once started": records / (wall time - the same command's ``--about`` time), the
rate a long backfill sees; the wall-clock rate is printed beside it.
Prints a Markdown table (the README's) and writes the figures to output/benchmark.json.
Not a test: the suite only checks that this script runs on a small window.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import yaml
from catalogs import selecting

from tap_proofpoint_tap.sandboxes.siem import Clock, Sandbox
from tap_proofpoint_tap.sandboxes.siem.generator import Settings
from tap_proofpoint_tap.windows import fmt, parse

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
RECORD = b'"type":"RECORD"'
OURS, BASELINE, NULL = "target-duckdb-proofpoint", "target-duckdb", "target-null"
LOADERS = {
    OURS: "TARGET_DUCKDB_PROOFPOINT_FILEPATH",
    BASELINE: "TARGET_DUCKDB_FILEPATH",
    NULL: "TARGET_NULL_FILEPATH",
}


@dataclass
class Measure:
    records: int
    seconds: float
    rss_mb: float
    startup: float = 0.0  # the process's start-up (--about), part of ``seconds``

    @property
    def per_second(self) -> float:
        """Throughput once started: what a long backfill sees."""
        return self.records / (self.seconds - self.startup)

    @property
    def wall_per_second(self) -> float:
        return self.records / self.seconds


def measure(
    argv: list[str],
    *,
    stdin: Path | None = None,
    keep: Path | None = None,
    env: dict | None = None,
    cwd: Path | None = None,
) -> Measure:
    """Run ``argv``, count the RECORD lines it prints, return them with wall time and peak RSS."""
    with (
        tempfile.TemporaryFile() as stderr,
        open(stdin, "rb") if stdin else open(os.devnull, "rb") as source,
        open(keep, "wb") if keep else open(os.devnull, "wb") as copy,
    ):
        started = time.monotonic()
        proc = subprocess.Popen(
            argv, stdin=source, stdout=subprocess.PIPE, stderr=stderr, env=env, cwd=cwd
        )
        records, tail = 0, b""
        while chunk := proc.stdout.read(1 << 20):
            records += (tail + chunk).count(RECORD)
            tail = chunk[1 - len(RECORD) :]  # a RECORD cut in two by the read, never a whole one
            copy.write(chunk)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            stderr.seek(0)
            sys.exit(f"{argv[0]} failed:\n{stderr.read().decode()[-3000:]}")
    return Measure(records, seconds, usage.ru_maxrss / 1024)


def installed(project: Path, plugins: tuple[str, ...]) -> bool:
    """Whether Meltano installed each of ``plugins`` (its virtual environment is there)."""
    folders = [project / ".meltano" / kind for kind in ("extractors", "mappers", "loaders")]
    names = {"threatq": "mapper-proofpoint-threatq"}
    return all(
        any((folder / names.get(name, name) / "venv").is_dir() for folder in folders)
        for name in plugins
    )


def siem_catalog(config: Path, out: Path) -> Path:
    """The tap's catalog with its four SIEM streams selected, the others not."""
    catalog = selecting(
        json.loads(config.read_text()), lambda name: name.startswith(("clicks_", "messages_"))
    )
    out.write_text(json.dumps(catalog))
    return out


def floor(url: str, start: str, end: str) -> Measure:
    """Decode the body and encode each record as a Singer line: msgspec, no SDK, no HTTP."""
    out = json.loads(
        subprocess.run(
            [sys.executable, str(HERE / "floor.py"), url, start, end],
            capture_output=True,
            check=True,
        ).stdout
    )
    return Measure(out["records"], out["seconds"], 0.0)


def startup(argv: list[str]) -> float:
    """Seconds from exec to exit of ``argv --about``: imports and set-up, no data."""
    started = time.monotonic()
    subprocess.run([*argv, "--about"], capture_output=True, check=True)
    return time.monotonic() - started


def median(runs: list[Measure], startups: list[float] | None = None) -> Measure:
    return Measure(
        runs[0].records,
        statistics.median(m.seconds for m in runs),
        statistics.median(m.rss_mb for m in runs),
        statistics.median(startups) if startups else 0.0,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Throughput and memory benchmarks.")
    parser.add_argument("--clicks", type=int, default=100_000, help="clicks in the large window")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--no-meltano", action="store_true", help="skip the end-to-end run")
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip PyPI's target-duckdb 0.8.0 (the loaders' baseline)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "output" / "benchmark.json",
        help="where to write the figures as JSON",
    )
    args = parser.parse_args()

    server = subprocess.Popen(
        [sys.executable, str(HERE / "serve.py"), "--clicks", str(args.clicks)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url, small, large, mixed = server.stdout.readline().split()
        results = run_all(args, url, small, large, mixed)
    finally:
        server.terminate()
        server.wait()
    report(args, results, backfill_requests())


def end_of(start: str) -> str:
    """The end of the one-hour window that starts at ``start``."""
    return fmt(parse(start) + timedelta(hours=1))


def run_all(
    args: argparse.Namespace, url: str, small: str, large: str, mixed: str
) -> dict[str, Measure]:
    with tempfile.TemporaryDirectory(prefix="tap-proofpoint-bench-") as folder:
        return run_in(args, url, small, large, mixed, Path(folder))


def run_in(
    args: argparse.Namespace, url: str, small: str, large: str, mixed: str, work: Path
) -> dict[str, Measure]:
    config = {"principal": "sandbox-principal", "secret": "sandbox-secret", "api_url": url}
    configs = {}
    for name, start, extra in (
        ("small", small, {}),
        ("large", large, {}),
        ("combined", mixed, {}),
        ("per_stream", mixed, {"use_all_endpoint": False}),
    ):
        configs[name] = work / f"{name}.json"
        configs[name].write_text(
            json.dumps({**config, "start_date": start, "end_date": end_of(start), **extra})
        )
    # The tap as a user runs it, its four SIEM streams selected and read through /v2/siem/all
    # (the large and small windows hold permitted clicks only). The streams that fetch threat
    # summaries and campaigns are left out: what is measured is the SIEM stream, as the naive
    # baseline and the floor read it.
    catalog = siem_catalog(configs["large"], work / "catalog.json")
    tap = [str(BIN / "tap-proofpoint-tap"), "--catalog", str(catalog), "--config"]
    naive = [sys.executable, str(HERE / "naive_tap.py")]
    mapper = [str(BIN / "mapper-proofpoint-threatq")]
    taps, smalls, naives, floors, mappers = [], [], [], [], []
    modes: dict[str, list[Measure]] = {"combined": [], "per_stream": []}
    starts: dict[str, list[float]] = {"tap": [], "naive": [], "mapper": []}
    for run in range(args.runs):
        print(f"run {run + 1}/{args.runs} ...", file=sys.stderr, flush=True)
        for name, argv in (("tap", tap[:1]), ("naive", naive), ("mapper", mapper)):
            starts[name].append(startup(argv))
        taps.append(measure([*tap, str(configs["large"])], keep=work / "clicks.jsonl"))
        smalls.append(measure([*tap, str(configs["small"])]))
        naives.append(measure([*naive, "--config", str(configs["large"])]))
        floors.append(floor(url, large, end_of(large)))
        mappers.append(measure(mapper, stdin=work / "clicks.jsonl", keep=work / "mapped.jsonl"))
        for mode, runs in modes.items():
            runs.append(measure([*tap, str(configs[mode])]))
    results = {
        "tap": median(taps, starts["tap"]),
        "tap_small": median(smalls),
        "naive": median(naives, starts["naive"]),
        "floor": median(floors),
        "mapper": median(mappers, starts["mapper"]),
        **{mode: median(runs, starts["tap"]) for mode, runs in modes.items()},
    }
    mixed_events = args.clicks // 4 * 4
    for name, count in (
        ("tap", args.clicks),
        ("naive", args.clicks),
        ("floor", args.clicks),
        ("combined", mixed_events),
        ("per_stream", mixed_events),
    ):
        if results[name].records != count:
            sys.exit(f"{name} returned {results[name].records} records, not {count}")
    rows = results["mapper"].records  # every row the loaders must load
    results["mapper"].records = args.clicks  # throughput in clicks in, not entities out
    projects = {OURS: ROOT}
    if not args.no_baseline:
        print("installing the baseline loader ...", file=sys.stderr, flush=True)
        projects[BASELINE] = baseline_project(work)
    for loader, project in projects.items():
        alone = [loader_alone(project, loader, work, rows) for _ in range(args.runs)]
        results[f"alone:{loader}"] = median(alone)
    if not args.no_meltano:
        if BASELINE in projects:
            projects[NULL] = projects[BASELINE]
        for loader, project in projects.items():
            runs = [
                meltano(project, loader, url, large, args.clicks, work) for _ in range(args.runs)
            ]
            results[f"meltano:{loader}"] = median(runs)
    return results


def baseline_project(work: Path) -> Path:
    """A throwaway Meltano project: this project's tap and mapper, and PyPI's target-duckdb
    0.8.0 with duckdb 1.0.0 (the only DuckDB it loads correctly) on an older Python."""
    python = os.environ.get("BASELINE_PYTHON") or next(
        (
            p
            for p in [
                *map(shutil.which, ("python3.12", "python3.11", "python3.10")),
                *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[012]*/bin/python3"))),
            ]
            if p and subprocess.run([p, "-c", ""], capture_output=True).returncode == 0
        ),
        None,
    )
    if python is None:
        sys.exit(
            "The baseline needs Python 3.10-3.12 (duckdb 1.0.0 has no newer wheel): set "
            "BASELINE_PYTHON, or run with --no-baseline."
        )
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    keep = {"tap-proofpoint-tap", "mapper-proofpoint-threatq", OURS}
    for kind, plugins in project["plugins"].items():
        project["plugins"][kind] = [p for p in plugins if p["name"] in keep]
        for plugin in project["plugins"][kind]:
            plugin["pip_url"] = plugin["pip_url"].replace("-e .", f"-e {ROOT}")
    settings = ("filepath", "default_target_schema", "batch_size_rows", "flush_all_streams")
    null = work / "target-null"
    null.write_text("#!/bin/sh\ncat > /dev/null\n")
    null.chmod(0o755)
    project["plugins"]["loaders"].append(
        {"name": NULL, "namespace": "target_null", "pip_url": "pip", "executable": str(null)}
    )
    project["plugins"]["loaders"].append(
        {
            "name": BASELINE,
            "namespace": "target_duckdb",
            "python": python,
            "pip_url": "target-duckdb==0.8.0 duckdb==1.0.0",
            "executable": BASELINE,
            "settings": [{"name": name} for name in settings],
            # the settings the project used with it: 10,000-row batches, all streams together
            "config": {
                "default_target_schema": "proofpoint",
                "batch_size_rows": 10000,
                "flush_all_streams": True,
            },
        }
    )
    project["environments"], project["default_environment"] = [{"name": "bench"}], "bench"
    folder = work / "baseline-project"
    folder.mkdir()
    (folder / "meltano.yml").write_text(yaml.safe_dump(project, sort_keys=False))
    subprocess.run([str(BIN / "meltano"), "install"], cwd=folder, check=True, capture_output=True)
    return folder


def loader_alone(project: Path, loader: str, work: Path, rows: int) -> Measure:
    """The mapper's output (a Singer file) into a fresh DuckDB file through ``loader``."""
    database = work / f"alone-{loader}.duckdb"
    database.unlink(missing_ok=True)
    config = work / f"{loader}.json"
    config.write_text(
        json.dumps(
            {
                "filepath": str(database),
                "default_target_schema": "proofpoint",
                "batch_size_rows": 10000,
                "flush_all_streams": True,
            }
        )
    )
    executable = (
        BIN / loader
        if project == ROOT
        else project / ".meltano" / "loaders" / loader / "venv" / "bin" / loader
    )
    result = measure([str(executable), "--config", str(config)], stdin=work / "mapped.jsonl")
    with duckdb.connect(str(database), read_only=True) as con:
        loaded = sum(
            con.execute(f"select count(*) from proofpoint.{t}").fetchone()[0]
            for (t,) in con.execute("select table_name from duckdb_tables()").fetchall()
        )
    if loaded != rows:
        sys.exit(f"{loader} loaded {loaded} rows, not {rows}")
    return Measure(rows, result.seconds, result.rss_mb)


def meltano(project: Path, loader: str, url: str, start: str, clicks: int, work: Path) -> Measure:
    """``meltano run tap-proofpoint-tap threatq <loader>`` into a fresh file, checked."""
    database = work / f"bench-{loader}.duckdb"
    database.unlink(missing_ok=True)
    env = {
        **os.environ,
        "MELTANO_DATABASE_URI": f"sqlite:///{work}/meltano-{loader}.db",
        "TAP_PROOFPOINT_TAP_API_URL": url,
        "TAP_PROOFPOINT_TAP_START_DATE": start,
        "TAP_PROOFPOINT_TAP_END_DATE": end_of(start),
        LOADERS[loader]: str(database),
        "TAP_PROOFPOINT_TAP_PRINCIPAL": "sandbox-principal",
        "TAP_PROOFPOINT_TAP_SECRET": "sandbox-secret",
        "TAP_PROOFPOINT_TAP__SELECT": json.dumps(["clicks_permitted.*"]),
    }
    if project == ROOT and not installed(ROOT, ("tap-proofpoint-tap", "threatq", loader)):
        # only when missing: `meltano install` reinstalls each plugin's package, and a test
        # suite running beside this script would meet plugins without their executables
        subprocess.run([str(BIN / "meltano"), "install"], cwd=ROOT, check=True, capture_output=True)
    started = time.monotonic()
    proc = subprocess.run(
        [str(BIN / "meltano"), "run", "--full-refresh", "tap-proofpoint-tap", "threatq", loader],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        sys.exit(f"meltano run ... {loader} failed:\n{proc.stderr[-3000:]}")
    seconds = time.monotonic() - started
    if loader == NULL:
        return Measure(clicks, seconds, 0.0)
    with duckdb.connect(str(database), read_only=True) as con:
        for table in ("clicks_permitted", "threatq_incidents"):
            rows = con.execute(f"select count(*) from proofpoint.{table}").fetchone()[0]
            if rows != clicks:
                sys.exit(f"{loader}: DuckDB holds {rows} rows in {table}, not {clicks}")
    return Measure(clicks, seconds, 0.0)


def backfill_requests() -> dict[str, int]:
    """Requests of a 7-day backfill of the four streams, per mode, counted by a sandbox."""
    spent = {}
    with (
        Sandbox(
            settings=Settings(per_hour=()), clock=Clock(), history=timedelta(days=8)
        ) as sandbox,
        tempfile.TemporaryDirectory() as work,
    ):
        for mode, together in (("combined", True), ("per_stream", False)):
            config = Path(work) / f"{mode}.json"
            config.write_text(
                json.dumps(
                    {
                        "principal": "sandbox-principal",
                        "secret": "sandbox-secret",
                        "api_url": sandbox.url,
                        "use_all_endpoint": together,
                        "start_date": fmt(datetime.now(timezone.utc) - timedelta(days=7)),
                    }
                )
            )
            before = len(sandbox.requests)
            subprocess.run(
                [str(BIN / "tap-proofpoint-tap"), "--config", str(config)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=True,
            )
            spent[mode] = len(sandbox.requests) - before
    return spent


def report(args: argparse.Namespace, r: dict[str, Measure], backfill: dict[str, int]) -> None:
    ratio_naive = r["tap"].per_second / r["naive"].per_second
    ratio_floor = r["tap"].per_second / r["floor"].per_second
    ratio_rss = r["tap"].rss_mb / r["tap_small"].rss_mb
    rows = [
        (
            "tap CLI (the four SIEM streams selected), records/s once started",
            f"{r['tap'].per_second:,.0f}",
            f"{ratio_naive:.1f}x naive, {ratio_floor:.0%} of floor; "
            f"{r['tap'].wall_per_second:,.0f}/s with its {r['tap'].startup:.2f} s start-up",
        ),
        (
            "naive singer-sdk stream, records/s once started",
            f"{r['naive'].per_second:,.0f}",
            f"{r['naive'].wall_per_second:,.0f}/s with its {r['naive'].startup:.2f} s start-up",
        ),
        (
            "floor: msgspec decode + encode in process, records/s",
            f"{r['floor'].per_second:,.0f}",
            "",
        ),
        (
            f"tap peak RSS, {args.clicks:,}-click window",
            f"{r['tap'].rss_mb:.0f} MB",
            f"{ratio_rss:.2f}x the 1,000-click window",
        ),
        ("tap peak RSS, 1,000-click window", f"{r['tap_small'].rss_mb:.0f} MB", ""),
        ("naive peak RSS", f"{r['naive'].rss_mb:.0f} MB", ""),
        (
            "mapper, clicks/s once started (stdin to stdout)",
            f"{r['mapper'].per_second:,.0f}",
            f"{r['mapper'].wall_per_second:,.0f}/s with start-up; peak RSS "
            f"{r['mapper'].rss_mb:.0f} MB",
        ),
    ]
    mixed = args.clicks // 4 * 4
    rows += [
        (
            f"four streams, {mixed:,} events in one window: through /v2/siem/all, records/s "
            "once started",
            f"{r['combined'].per_second:,.0f}",
            f"{r['combined'].per_second / r['per_stream'].per_second:.2f}x one stream at a time; "
            f"1 request; peak RSS {r['combined'].rss_mb:.0f} MB",
        ),
        (
            "the same, one stream at a time, records/s once started",
            f"{r['per_stream'].per_second:,.0f}",
            f"4 requests; peak RSS {r['per_stream'].rss_mb:.0f} MB",
        ),
        (
            "7-day backfill of four streams, requests",
            f"{backfill['combined']:,}",
            f"through /v2/siem/all; {backfill['per_stream']:,} one stream at a time",
        ),
    ]
    for loader in (OURS, BASELINE):
        if f"alone:{loader}" in r:
            m = r[f"alone:{loader}"]
            rows.append(
                (
                    f"{loader} alone (Singer file → DuckDB), rows/s",
                    f"{m.per_second:,.0f}",
                    f"{m.records:,} rows in {m.seconds:.1f} s; peak RSS {m.rss_mb:.0f} MB",
                )
            )
    if f"alone:{BASELINE}" in r:
        ratio = r[f"alone:{OURS}"].per_second / r[f"alone:{BASELINE}"].per_second
        rows.append(("loader speed-up of the new loader (alone)", f"{ratio:.1f}x", ""))
    for loader in (OURS, BASELINE, NULL):
        if f"meltano:{loader}" in r:
            m = r[f"meltano:{loader}"]
            rows.append(
                (
                    f"meltano run tap → threatq → {loader}, clicks/s",
                    f"{m.per_second:,.0f}",
                    f"{m.seconds:.1f} s",
                )
            )
    if f"meltano:{BASELINE}" in r and f"meltano:{OURS}" in r:
        ratio = r[f"meltano:{OURS}"].per_second / r[f"meltano:{BASELINE}"].per_second
        floor = (
            f"; the floor (no loader) is {r[f'meltano:{NULL}'].seconds:.1f} s"
            if f"meltano:{NULL}" in r
            else ""
        )
        rows.append(("pipeline speed-up of the new loader", f"{ratio:.1f}x", floor[2:]))
    print(
        f"\n{args.clicks:,} clicks in one window, median of {args.runs} run(s), "
        f"{os.cpu_count()} cores\n"
    )
    print("| measurement | figure | note |\n|---|---:|---|")
    for name, figure, note in rows:
        print(f"| {name} | {figure} | {note} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "clicks": args.clicks,
                "runs": args.runs,
                "backfill_requests": backfill,
                **{
                    k: {
                        "records": m.records,
                        "seconds": m.seconds,
                        "startup_seconds": m.startup,
                        "records_per_second": m.per_second,
                        "wall_records_per_second": m.wall_per_second,
                        "peak_rss_mb": m.rss_mb,
                    }
                    for k, m in r.items()
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
