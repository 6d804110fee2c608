"""The window reader on its own, in process: it gets a transport, a budget, a query and its
members, and is driven against the SIEM stand-in on 127.0.0.1 with waits that cost nothing."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
import requests

from tap_proofpoint_tap import windows
from tap_proofpoint_tap.budget import RequestBudget
from tap_proofpoint_tap.errors import BudgetReached, ThrottledError, UnavailableError
from tap_proofpoint_tap.reader import Endpoint, Member, Query, Transport, WindowReader
from tap_proofpoint_tap.sandboxes.siem import Fault
from tap_proofpoint_tap.sandboxes.siem.generator import STREAMS
from tap_proofpoint_tap.sandboxes.siem.server import ARRAY_KEYS
from tests.helpers import traffic_sandbox

pytestmark = pytest.mark.fast

LOGGER = logging.getLogger("test_reader")


@pytest.fixture
def sandbox():
    with traffic_sandbox(5, 8, timedelta(hours=3)) as running:
        yield running


def _window() -> windows.Window:
    """The hour before the current one: whole, and never "still current" for the stand-in,
    whatever the minute the test runs at."""
    end = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    end -= timedelta(hours=1)
    return windows.Window(end - timedelta(hours=1), end)


def _members(extracted: list[str]) -> tuple[Member, ...]:
    return tuple(
        Member(name, ARRAY_KEYS[name], "shared", dict, extracted.append, LOGGER) for name in STREAMS
    )


def _reader(sandbox, budget, *, waits=None, slept=None, tries=3):
    session = requests.Session()
    transport = Transport(
        session=session,
        base_url=sandbox.url,
        headers={"User-Agent": "test"},
        auth=requests.auth.HTTPBasicAuth("sandbox-principal", "sandbox-secret"),
        timeout=10,
        tries=tries,
        waits=waits or (lambda: iter([7.0, 9.0, 11.0])),
        logger=LOGGER,
        sleep=(slept.append if slept is not None else lambda _: None),
    )
    extracted: list[str] = []
    endpoint = Endpoint.all(_members(extracted))
    return WindowReader(endpoint, transport, budget, Query(), lambda: "B"), extracted


def _drain(reading):
    out = []
    while True:
        try:
            out.append(next(reading))
        except StopIteration as stop:
            return out, stop.value


def test_one_request_serves_every_member_and_counts_what_each_got(sandbox):
    budget = RequestBudget(None)
    reader, extracted = _reader(sandbox, budget)
    window = _window()
    records, counts = _drain(reader.read(window, frozenset(STREAMS)))
    assert len(sandbox.siem_requests("/v2/siem/all")) == 1
    assert budget.spent == {"shared": 1}
    assert budget.one_by_one == {"shared": len(STREAMS)}
    by_stream = {name: [r for n, r in records if n == name] for name in STREAMS}
    assert counts == {name: len(rows) for name, rows in by_stream.items()}
    assert all(by_stream.values()), "each stream got events"
    assert len(extracted) == len(STREAMS)  # each member told of the one response
    assert {r["queryEndTime"] for _, r in records} == {windows.fmt(window.end)}


def test_a_failed_try_is_retried_after_the_transports_wait_and_ids_go_out_once(sandbox):
    sandbox.inject(Fault("status", status=503), Fault("cut", skip=1))
    slept: list[float] = []
    budget = RequestBudget(None)
    reader, _ = _reader(sandbox, budget, slept=slept)
    records, counts = _drain(reader.read(_window(), frozenset(STREAMS)))
    # the 503 waits the transport's first wait (no real one), the cut body is read again whole
    # at once, on a new connection (the stand-in closed the one of the cut body)
    assert slept == [7.0, 0.0]
    assert budget.spent["shared"] == len(sandbox.siem_requests()) == 3
    keys = [(name, r["id"]) for name, r in records]
    assert len(keys) == len(set(keys)) == sum(counts.values()) > 0


def test_retries_end_with_one_line_that_keeps_the_state(sandbox):
    sandbox.inject(Fault("status", status=500, count=5))
    reader, _ = _reader(sandbox, RequestBudget(None), tries=2)
    with pytest.raises(UnavailableError, match=r"after 2 tries \(500 .*state is kept at B"):
        _drain(reader.read(_window(), frozenset(STREAMS)))


def test_a_429_is_never_retried(sandbox):
    sandbox.inject(Fault("status", status=429))
    budget = RequestBudget(None)
    reader, _ = _reader(sandbox, budget)
    with pytest.raises(ThrottledError, match="shared pool"):
        _drain(reader.read(_window(), frozenset(STREAMS)))
    assert budget.spent["shared"] == 1


def test_the_budget_refuses_before_a_request_goes_out(sandbox):
    budget = RequestBudget(1)
    reader, _ = _reader(sandbox, budget)
    _drain(reader.read(_window(), frozenset(STREAMS)))
    with pytest.raises(BudgetReached):
        _drain(reader.read(_window(), frozenset(STREAMS)))
    assert len(sandbox.siem_requests()) == 1
