"""What the programs that read Singer lines (the mapper, target-threatq) do with a line that
is not a Singer message, and every program with a setting from the environment that is not of
its type: one line, exit 1, no traceback, never the input echoed whole."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers import BIN, MAPPER, TAP

TARGET_THREATQ = str(BIN / "target-threatq")
TARGET_DUCKDB = str(BIN / "target-duckdb-proofpoint")
HUGE = "x" * 5_000_000


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "| ERROR" in line]


@pytest.mark.parametrize("program", [MAPPER, TARGET_THREATQ], ids=["mapper", "target-threatq"])
@pytest.mark.parametrize(
    ("line", "message"),
    [
        (f"not json {HUGE}", "Line 1 of the input is not JSON"),
        ("", "Line 1 of the input is not JSON"),
        ("[1, 2]", "it is JSON list, not a Singer message"),
        ('{"type": "RECORD", "stream": "x", "record": {}}', "comes before any SCHEMA of it"),
        ("[" * 200_000 + "]" * 200_000, "Line 1 of the input is nested deeper"),
    ],
    ids=["not-json", "empty", "list", "record-first", "deep"],
)
def test_a_line_that_is_not_a_singer_message_is_one_line(tmp_path, program, line, message):
    config = tmp_path / "config.json"
    config.write_text(
        '{"api_url": "http://127.0.0.1:9", "client_id": "c", "email": "e@x.example",'
        ' "password": "sandbox-password"}'
        if program == TARGET_THREATQ
        else "{}"
    )
    proc = subprocess.run(
        [program, "--config", str(config)],
        input=line + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    [error] = errors(proc.stderr)
    assert message in error and len(proc.stderr) < 20_000


@pytest.mark.parametrize(
    ("program", "variable"),
    [
        (TAP, "TAP_PROOFPOINT_TAP_WINDOW_MINUTES"),
        (TARGET_DUCKDB, "TARGET_DUCKDB_PROOFPOINT_BATCH_SIZE_ROWS"),
        (TARGET_THREATQ, "TARGET_THREATQ_BATCH_SIZE"),
    ],
    ids=["tap", "target-duckdb-proofpoint", "target-threatq"],
)
def test_a_setting_from_the_environment_of_the_wrong_type_is_named(tmp_path, program, variable):
    env = {**os.environ, variable: "abc", "TAP_PROOFPOINT_TAP_PRINCIPAL": "p"}
    proc = subprocess.run(
        [program, "--config", "ENV"],
        input='{"type": "STATE", "value": {}}\n',
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(tmp_path),
        timeout=120,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert f"{variable} must be a whole number" in proc.stderr
