"""The tap's private singer-sdk touchpoints and its two overrides of ``@final`` methods.

Each test fails if the SDK renames the name, stops calling it, or stops running our override:
a silent rename would switch the override off (for ``_increment_stream_state`` the bookmark
would then move on a window's first record). In process, against the SIEM stand-in.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from singer_sdk import Stream, Tap

from tap_proofpoint_tap.client import SiemStream
from tap_proofpoint_tap.intel_client import IntelStream
from tap_proofpoint_tap.sandboxes.siem.generator import STREAMS
from tap_proofpoint_tap.streams import ALL_STREAM_TYPES, SIEM_STREAM_TYPES
from tap_proofpoint_tap.tap import TapProofpointTap
from tap_proofpoint_tap.windows import fmt
from tests.helpers import traffic_sandbox

pytestmark = pytest.mark.fast

PRIVATE_OVERRIDES = ("_write_record_message", "_write_schema_message", "_increment_stream_state")


@pytest.fixture(scope="module")
def sandbox():
    with traffic_sandbox(11, 6, timedelta(hours=4)) as running:
        yield running


def _config(sandbox, **extra: object) -> dict[str, object]:
    # two whole hours that end an hour ago: the same windows whatever the minute of the run
    end = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    end -= timedelta(hours=1)
    return {
        "principal": "sandbox-principal",
        "secret": "sandbox-secret",
        "api_url": sandbox.url,
        "start_date": fmt(end - timedelta(hours=2)),
        "end_date": fmt(end),
        **extra,
    }


def _sync(tap: Tap) -> list[dict]:
    """Run the sync, returning the Singer messages the tap wrote to stdout."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with redirect_stdout(out):
        tap.sync_all()
        tap.message_writer.flush()
    out.flush()
    return [json.loads(line) for line in out.buffer.getvalue().splitlines()]


@pytest.mark.parametrize("name", PRIVATE_OVERRIDES)
def test_the_sdk_still_has_each_private_method_we_override(name):
    assert callable(getattr(Stream, name, None)), f"singer-sdk no longer has Stream.{name}"
    assert getattr(SiemStream, name) is not getattr(Stream, name)
    if name == "_increment_stream_state":
        assert IntelStream._increment_stream_state is not Stream._increment_stream_state


def test_the_sdks_sync_calls_our_private_overrides(sandbox, monkeypatch):
    calls: dict[str, int] = dict.fromkeys(PRIVATE_OVERRIDES, 0)
    for name in PRIVATE_OVERRIDES:
        original = getattr(SiemStream, name)

        def spy(self, *args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(SiemStream, name, spy)
    intel = []  # the streams that follow the SIEM ones override one of them too
    original = IntelStream._increment_stream_state

    def intel_spy(self, *args, **kwargs):
        intel.append(self.name)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(IntelStream, "_increment_stream_state", intel_spy)
    messages = _sync(TapProofpointTap(config=_config(sandbox, use_all_endpoint=False)))
    records = [m for m in messages if m["type"] == "RECORD" and m["stream"] in STREAMS]
    assert records, "the sandbox served no events: nothing was checked"
    # The SDK's record loop calls both per record it gets from get_records (the others are
    # written by the stream that read them), and its sync writes each stream's SCHEMA.
    assert calls["_write_record_message"] >= len(records) > 0
    assert calls["_increment_stream_state"] > 0
    assert calls["_write_schema_message"] == len(STREAMS)
    threats = [m for m in messages if m["type"] == "RECORD" and m["stream"] == "threats"]
    assert intel.count("threats") == len(threats) > 0


def test_records_never_move_the_bookmark_only_whole_windows_do(sandbox):
    tap = TapProofpointTap(config=_config(sandbox))
    stream = tap.streams["clicks_permitted"]
    assert isinstance(stream, SiemStream)
    record = {"id": "x", "queryEndTime": "2099-01-01T00:00:00Z"}
    stream._increment_stream_state(record)  # what the SDK does with each record
    assert "replication_key_value" not in stream.stream_state
    # and the SDK's own would have moved it: the override is what keeps it still
    Stream._increment_stream_state(stream, record)
    assert stream.stream_state["replication_key_value"] == "2099-01-01T00:00:00Z"


def test_our_sync_all_runs_the_sdks_sync_and_logs_the_requests(sandbox, caplog):
    tap = TapProofpointTap(config=_config(sandbox))
    with caplog.at_level("INFO"):
        messages = _sync(tap)
    assert any(
        "Requests this run, per rate-limit pool:" in r.message and "shared " in r.message
        for r in caplog.records
    )
    states = [m for m in messages if m["type"] == "STATE"]
    assert states and all(
        states[-1]["value"]["bookmarks"][name]["replication_key_value"] for name in STREAMS
    )


@pytest.mark.parametrize(
    ("flags", "final"), [((), "sync_all"), (("--test",), "run_connection_test")]
)
def test_the_sdk_cli_calls_our_overrides_of_its_final_methods(
    sandbox, tmp_path, monkeypatch, flags, final
):
    called = []
    original = getattr(TapProofpointTap, final)

    def spy(self):
        called.append(final)
        return original(self)

    monkeypatch.setattr(TapProofpointTap, final, spy)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(_config(sandbox)))
    result = CliRunner().invoke(TapProofpointTap.cli, ["--config", str(config), *flags])
    assert result.exit_code == 0, result.output
    assert called == [final]


def test_the_sdk_writes_a_stream_state_only_when_is_flushed_is_false(sandbox):
    """``state_manager.is_flushed``, an attribute of the SDK's private StreamStateManager: the
    streams set it as the SDK's own record and STATE paths do (False once records are written,
    True once their window's STATE is), so the SDK writes no STATE a window has not earned."""
    tap = TapProofpointTap(config=_config(sandbox))
    stream = tap.streams["clicks_permitted"]
    written = []
    tap.state_writer.write_state = written.append  # type: ignore[method-assign]
    stream.state_manager.is_flushed = True
    stream._write_state_message()
    assert written == []
    stream.state_manager.is_flushed = False
    stream._write_state_message()
    assert len(written) == 1


def test_the_connection_test_spends_one_request(sandbox, caplog):
    tap = TapProofpointTap(config=_config(sandbox))
    before = len(sandbox.requests)
    with caplog.at_level("INFO"), redirect_stdout(io.TextIOWrapper(io.BytesIO())):
        assert tap.run_connection_test()
    assert len(sandbox.requests) - before == 1
    assert any("Connection OK" in r.message for r in caplog.records)


def test_the_sdk_builds_its_streams_with_our_load_streams_and_syncs_them_in_that_order(
    sandbox, monkeypatch
):
    """The SIEM streams first: their events name what the others fetch (the SDK's own order,
    by name, would sync campaigns first)."""
    tap = TapProofpointTap(config=_config(sandbox))
    names = [str(vars(t)["name"]) for t in ALL_STREAM_TYPES]
    assert list(tap.streams) == names
    assert sorted(names) != names, "the SDK's order would differ"
    synced: list[str] = []
    monkeypatch.setattr(Stream, "sync", lambda self, context=None: synced.append(self.name))
    _sync(tap)
    assert synced == [name for name in names if tap.streams[name].selected]
    assert synced[:4] == [str(vars(t)["name"]) for t in SIEM_STREAM_TYPES]
