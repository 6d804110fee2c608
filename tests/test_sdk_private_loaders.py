"""The private singer-sdk names the loaders rely on, pinned: each test fails if the SDK renames
one, or stops calling it where the loaders need it called.

- ``Target._process_state_message``: overridden by HeldStateTarget to hold each STATE.
- ``Target._write_state_message``: overridden, so no STATE (the SDK's drain's too) goes out
  during or after a failed commit, nor twice.
- ``Target._reset_max_record_age``: called after each commit, as the SDK's drain does.
- ``Target._handle_max_record_age``: called by the DuckDB loader's short path after each record,
  as the SDK's record path does.
- ``PluginBase._handle_termination``: overridden; the SDK installs it for SIGTERM and SIGINT.

In process, through the SDK's public entries (``process_lines``, ``drain_all``,
``process_endofpipe``) with spies; signals are raised in process and ``os._exit`` is replaced.
"""

from __future__ import annotations

import io
import json
import os
import signal

import pytest
from singer_sdk import Target
from singer_sdk.sinks import BatchSink

from tap_proofpoint_tap.targets.held_state import HeldStateTarget

pytestmark = pytest.mark.fast

SCHEMA = {
    "type": "SCHEMA",
    "stream": "s",
    "schema": {"properties": {"id": {"type": "string"}}},
    "key_properties": ["id"],
}


def record(i: int) -> dict:
    return {"type": "RECORD", "stream": "s", "record": {"id": f"r{i}"}}


def state(n: int) -> dict:
    return {"type": "STATE", "value": {"bookmarks": {"s": {"n": n}}}}


def lines(*messages: dict) -> io.StringIO:
    return io.StringIO("".join(json.dumps(m) + "\n" for m in messages))


def written(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


class ProbeSink(BatchSink):
    def __init__(self, target, *args, **kwargs):
        super().__init__(target, *args, **kwargs)
        self.owner = target

    def process_record(self, record, context):
        self.owner.rows.append(record["id"])

    def process_batch(self, context):
        self.owner.flush()


class Probe(HeldStateTarget):
    """A HeldStateTarget whose commit moves rows to a list (and may run a hook first)."""

    name = "probe"
    package_name = "tap-proofpoint-tap"
    config_jsonschema = {"type": "object", "properties": {}}  # noqa: RUF012
    default_sink_class = ProbeSink

    def __init__(self):
        super().__init__(config={})
        self.rows: list[str] = []
        self.committed: list[str] = []
        self.in_commit = None  # called at the start of each commit
        self.fail = False

    def pending(self):
        return bool(self.rows)

    def commit(self):
        if self.in_commit:
            self.in_commit()
        if self.fail:
            raise RuntimeError("the destination refused the batch")
        self.committed += self.rows
        self.rows = []


class Exited(BaseException):
    """What the replaced ``os._exit`` raises, so the test goes on."""


@pytest.fixture(autouse=True)
def signal_handlers():
    """Every target made here installs its handlers (the SDK does): put the old ones back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


@pytest.fixture
def exits(monkeypatch):
    codes: list[int] = []

    def fake_exit(code):
        codes.append(code)
        raise Exited(code)

    monkeypatch.setattr(os, "_exit", fake_exit)
    return codes


@pytest.mark.parametrize(
    "name",
    [
        "_process_state_message",
        "_write_state_message",
        "_reset_max_record_age",
        "_handle_max_record_age",
        "_handle_termination",
    ],
)
def test_the_sdk_target_still_has(name):
    assert callable(getattr(Target, name, None)), f"singer-sdk's Target lost {name}"


# -- _process_state_message --


def test_the_sdk_hands_state_messages_to_our_override(capsys):
    target = Probe()
    target.process_lines(lines(SCHEMA, state(1)))
    assert written(capsys.readouterr().out) == [state(1)["value"]], "nothing pending: sent"
    target.process_lines(lines(record(1), state(2)))
    assert capsys.readouterr().out == "", "a row pending: held"
    target.process_endofpipe()
    assert target.committed == ["r1"]
    assert written(capsys.readouterr().out) == [state(2)["value"]]


# -- _write_state_message --


def test_the_sdks_drain_writes_state_through_our_override(capsys):
    target = Probe()
    target.process_lines(lines(SCHEMA, record(1), state(1)))
    target.drain_all()  # our flush sends the STATE, then the SDK's drain sends it again
    assert written(capsys.readouterr().out) == [state(1)["value"]], "sent once, not twice"


def test_after_a_failed_commit_the_sdks_drain_sends_no_state(capsys):
    target = Probe()
    target.fail = True
    target.process_lines(lines(SCHEMA, record(1), state(1)))
    with pytest.raises(RuntimeError):
        target.drain_all()
    target.drain_all()  # the SDK writes its latest STATE: our override must refuse it
    assert capsys.readouterr().out == ""


# -- _reset_max_record_age --


def test_commits_restart_the_clock_the_sdks_drain_restarts(monkeypatch):
    target = Probe()
    calls = []
    reset = target._reset_max_record_age
    monkeypatch.setattr(target, "_reset_max_record_age", lambda: (calls.append(1), reset()))
    target.drain_all()
    assert calls == [1], "the SDK's drain no longer restarts its clock by this name"
    target.process_lines(lines(SCHEMA, record(1)))
    target.flush()
    assert calls == [1, 1] and target.committed == ["r1"]


# -- _handle_max_record_age --


def test_the_sdks_record_path_and_the_short_path_both_check_the_record_age(monkeypatch, tmp_path):
    pytest.importorskip("duckdb", reason="DuckDB 2.0 has no wheels for Python 3.10")
    from tap_proofpoint_tap.targets.duckdb.target import TargetDuckDB

    probe = Probe()
    checks = []
    monkeypatch.setattr(probe, "_handle_max_record_age", lambda: checks.append("sdk"))
    probe.process_lines(lines(SCHEMA, record(1), record(2)))
    assert checks == ["sdk", "sdk"], "the SDK's record path no longer checks by this name"

    duck = TargetDuckDB(config={"filepath": str(tmp_path / "w.duckdb")})
    monkeypatch.setattr(duck, "_handle_max_record_age", lambda: checks.append("short"))
    duck.process_lines(lines(SCHEMA, record(1), record(2)))
    assert "s" in duck.message_reader.short, "the stream took the short path"
    duck.process_endofpipe()
    assert checks[2:] == ["short", "short"]


# -- _handle_termination --


def test_the_sdk_installs_our_handler_for_sigterm_and_sigint():
    target = Probe()
    assert signal.getsignal(signal.SIGTERM) == target._handle_termination
    assert signal.getsignal(signal.SIGINT) == target._handle_termination


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_between_commits_commits_sends_the_state_and_exits_0(signum, exits, capsys):
    target = Probe()
    target.process_lines(lines(SCHEMA, record(1), state(1)))
    with pytest.raises(Exited):
        signal.raise_signal(signum)
    assert exits == [0]
    assert target.committed == ["r1"]
    assert written(capsys.readouterr().out) == [state(1)["value"]]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (signal.SIGTERM, signal.SIGTERM),
        (signal.SIGTERM, signal.SIGINT),
        (signal.SIGINT, signal.SIGINT),
    ],
)
def test_a_repeated_signal_during_the_drain_is_ignored(first, second, exits, capsys):
    """The drain's commit finishes and its STATE follows it; the repeat neither stops the
    commit half way (exit 1) nor starts a second drain inside it."""
    target = Probe()
    target.process_lines(lines(SCHEMA, record(1), record(2), state(1)))
    seen = []

    def repeat():
        seen.append(capsys.readouterr().out)  # what was written before this commit
        signal.raise_signal(second)

    target.in_commit = repeat
    with pytest.raises(Exited):
        signal.raise_signal(first)
    assert exits == [0]
    assert target.committed == ["r1", "r2"]
    assert seen == [""], "no STATE before the commit"
    assert written(capsys.readouterr().out) == [state(1)["value"]]


def test_a_signal_during_a_commit_exits_1_without_a_state(exits, capsys):
    target = Probe()
    target.process_lines(lines(SCHEMA, record(1), state(1)))
    target.in_commit = lambda: signal.raise_signal(signal.SIGTERM)
    with pytest.raises(Exited):
        target.flush()  # a commit of the main flow (a full batch), not of a signal's drain
    assert exits == [1]
    assert target.committed == []
    assert capsys.readouterr().out == ""
