"""Fixtures only (tests/helpers.py holds what tests share besides): sandboxes on 127.0.0.1,
the Meltano project as users run it, PostgreSQL, and the pipeline's warehouse."""

from __future__ import annotations

import itertools
import os
import subprocess
import time
import uuid
from datetime import timedelta

import pytest
from hypothesis import settings as hypothesis_settings

from tap_proofpoint_tap.api_stream import ApiStream
from tap_proofpoint_tap.sandboxes.siem import Clock, Sandbox
from tap_proofpoint_tap.sandboxes.siem.generator import Settings
from tap_proofpoint_tap.sandboxes.threatq import ThreatQSandbox
from tests.helpers import (
    NOW,
    Warehouse,
    build_warehouse,
    exclusive,
    install_meltano_plugins,
    meltano_project,
    session_folder,
    traffic_sandbox,
)
from tests.intel_runs import day_sandbox
from tests.threatq_api import Api, Ticker

# `make test` tries the same examples on every run (derandomised, no example database), so a
# red suite means a change broke something; `make fuzz` (tests/fuzz.py) explores new ones.
hypothesis_settings.register_profile(
    "repeatable", derandomize=True, database=None, max_examples=400, print_blob=True
)
hypothesis_settings.register_profile("explore", max_examples=5000, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


@pytest.fixture(autouse=True)
def _own_cache(tmp_path_factory, monkeypatch):
    """Each test has its own target-threatq cache (XDG_CACHE_HOME, which the processes it
    starts inherit): stand-ins reuse ports, and a cache of another test's instance would
    skip rows."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


@pytest.fixture(autouse=True)
def _fast_means_in_process(request, monkeypatch):
    """A test marked ``fast`` fails when it starts a process or sleeps: it belongs to the
    end-to-end tier (or should inject a clock, or scale the stand-in's wait)."""
    if request.node.get_closest_marker("fast") is None:
        return
    real_sleep = time.sleep

    def no_process(self, args, *rest, **options) -> None:
        raise AssertionError(f"a fast test started {args!r}: mark it end-to-end")

    def no_wait(seconds: float) -> None:
        assert seconds <= 0.01, f"a fast test slept {seconds} s: inject a clock"
        real_sleep(seconds)

    monkeypatch.setattr(subprocess.Popen, "__init__", no_process)
    monkeypatch.setattr(time, "sleep", no_wait)


@pytest.fixture
def clock() -> Clock:
    return Clock(fixed=NOW)


@pytest.fixture
def quiet_sandbox(clock):
    """A sandbox with no generated events: tests add exactly the events they need."""
    settings = Settings(per_hour=())
    with Sandbox(settings=settings, clock=clock) as sandbox:
        yield sandbox


@pytest.fixture
def busy_live():
    """A real-time sandbox with about 60 events per stream and hour over the last 8 hours."""
    with traffic_sandbox(11, 60, timedelta(hours=8)) as sandbox:
        yield sandbox


@pytest.fixture
def live_sandbox():
    """A sandbox on a real-time clock (the tap plans windows from the real now); no events."""
    with Sandbox(settings=Settings(per_hour=()), clock=Clock(), history=timedelta(days=8)) as sb:
        yield sb


# -- the Meltano project as users run it --


@pytest.fixture
def sb():
    """The ThreatQ stand-in, empty, on a clock that ticks a second at every reading."""
    with ThreatQSandbox(now=Ticker()) as sandbox:
        yield sandbox


@pytest.fixture
def api(sb):
    """A client logged in to ``sb``."""
    return Api(sb)


@pytest.fixture
def day_of_traffic():
    """The stand-in with a day of steady traffic (tests/intel_runs.py reads it)."""
    with day_sandbox() as running:
        yield running


@pytest.fixture
def no_retry_waits(monkeypatch):
    """Retries try again at once (the backoff is the SDK's, tested there)."""
    monkeypatch.setattr(ApiStream, "_waits", lambda self: itertools.repeat(0.0))


@pytest.fixture(scope="session")
def meltano_installed(tmp_path_factory) -> None:
    """``meltano install`` once: the plugins' virtual environments under .meltano/ (once for
    all pytest-xdist workers)."""
    install_meltano_plugins(session_folder(tmp_path_factory))


@pytest.fixture
def project(tmp_path, meltano_installed):
    """This test's copy of the Meltano project (helpers.meltano_project): run ``meltano`` there."""
    return meltano_project(tmp_path / "project")


@pytest.fixture
def postgres():
    """A fresh schema on the PostgreSQL server of TEST_POSTGRES_URL (.ci/run starts one)."""
    import psycopg

    from tests.postgres import POSTGRES_URL, connect

    try:
        con = connect()
    except psycopg.OperationalError as error:
        pytest.skip(
            f"no PostgreSQL server at {POSTGRES_URL} ({str(error).strip()[:80]}); "
            "set TEST_POSTGRES_URL or run .ci/run, which starts one"
        )
    schema = f"proofpoint_test_{uuid.uuid4().hex[:8]}"
    yield con, schema
    con.execute(f"drop schema if exists {schema} cascade")
    con.execute(f"drop schema if exists {schema}_analytics cascade")
    con.close()


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory, meltano_installed) -> Warehouse:
    """Five hours of traffic loaded append-only in two runs, the second re-reading the first's
    last 30 minutes (the tap's look-back), then dbt and the report, as a user runs them:
    ``meltano run tap-proofpoint-tap threatq target-duckdb-proofpoint dbt-duckdb:build report:render``.

    Built once per session: the first pytest worker that needs it builds it, the others wait
    for it and read the same files (tests copy the DuckDB file before they change it).
    """
    tmp = session_folder(tmp_path_factory) / "warehouse"
    with exclusive(tmp.parent / "warehouse.lock"):
        saved = tmp / "warehouse.json"
        if saved.exists():
            return Warehouse.load(saved, tmp / "warehouse.duckdb", tmp / "report")
        built = build_warehouse(tmp)
        built.save(saved)
        return built
