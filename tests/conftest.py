"""Shared fixtures: a sandbox on 127.0.0.1 with a frozen clock, and helpers to run the tap."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tap_proofpoint_tap.sandbox import Clock, Sandbox
from tap_proofpoint_tap.sandbox.generator import Settings

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=timezone.utc)
AUTH = ("sandbox-principal", "sandbox-secret")


@pytest.fixture
def clock() -> Clock:
    return Clock(fixed=NOW)


@pytest.fixture
def quiet_sandbox(clock):
    """A sandbox with no generated events: tests add exactly the events they need."""
    settings = Settings(per_hour=())
    with Sandbox(settings=settings, clock=clock) as sandbox:
        yield sandbox
