"""The benchmark scripts run end to end on a small window (their figures are not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers import ROOT


def run_benchmark(script: str, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """``benchmarks/<script> args`` from the project's root, as the README runs it; it must
    succeed."""
    proc = subprocess.run(
        [sys.executable, f"benchmarks/{script}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_benchmark_script_runs_on_a_small_window(tmp_path, meltano_installed):
    out = tmp_path / "benchmark.json"
    proc = run_benchmark(
        "run.py", "--clicks", "300", "--runs", "1", "--no-baseline", "--out", str(out)
    )
    assert "| tap CLI (the four SIEM streams selected), records/s once started |" in proc.stdout
    figures = json.loads(out.read_text())
    assert {
        "tap",
        "tap_small",
        "naive",
        "floor",
        "mapper",
        "combined",
        "per_stream",
        "alone:target-duckdb-proofpoint",
        "meltano:target-duckdb-proofpoint",
    } <= set(figures)
    assert figures["tap"]["records"] == figures["naive"]["records"] == 300
    assert figures["combined"]["records"] == figures["per_stream"]["records"] == 300
    assert (
        figures["backfill_requests"]["per_stream"]
        == 4 * figures["backfill_requests"]["combined"]
        >= 4 * 167
    )


def test_threatq_benchmark_runs_on_a_small_day(tmp_path):
    out = tmp_path / "benchmark-threatq.json"
    proc = run_benchmark("threatq.py", "--per-hour", "4", "--runs", "1", "--out", str(out))
    assert "| merging |" in proc.stdout and "| duplicate-reposts |" in proc.stdout
    figures = json.loads(out.read_text())
    assert figures["read"]["clicks_permitted"] > 0 and figures["read"]["messages_delivered"] > 0
    for mode in ("merging", "duplicate-reposts"):
        assert figures[mode]["cached_requests"] == 0, "a re-read within a day costs nothing"
        assert figures[mode]["cold_requests"] > figures[mode]["cached_requests"]


def test_the_quota_benchmark_runs_a_few_runs_and_prints_its_table():
    proc = run_benchmark("quota_day.py", "--runs", "3", "--per-hour", "4", timeout=300)
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| pool | requests in the day |")
    assert {row.split("|")[1].strip() for row in rows[2:]} >= {"shared", "vap", "campaign_ids"}


def test_ocsf_benchmark_runs_on_a_small_file(tmp_path):
    out = tmp_path / "benchmark-ocsf.json"
    proc = run_benchmark(
        "ocsf_mapper.py", "--events", "200", "--runs", "1", "--out", str(out), timeout=300
    )
    assert "| mapper-proofpoint-ocsf, OCSF events/s once started |" in proc.stdout
    figures = json.loads(out.read_text())
    assert (
        figures["events"] == figures["ocsf"]["records"] == figures["in_process"]["records"] == 200
    )
    assert figures["ocsf_pass_through"]["records"] == 400  # each record, and its event
