"""The SDK's standard tap tests, run in process against a sandbox on 127.0.0.1."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta, timezone

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_proofpoint_tap.sandboxes.siem import Clock, Sandbox
from tap_proofpoint_tap.sandboxes.siem.generator import STREAMS, Settings
from tap_proofpoint_tap.tap import TapProofpointTap
from tap_proofpoint_tap.windows import fmt

pytestmark = pytest.mark.fast  # the SDK's tests run the tap in process against a sandbox thread


def _free_port() -> int:
    """A port for the sandbox, known when the test class is built (the SDK reads the config
    then) though the sandbox only starts with the tests: a module imported but deselected, or
    that fails to import, holds no listening socket."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


PORT = _free_port()
_END = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)

CONFIG = {
    "principal": "sandbox-principal",
    "secret": "sandbox-secret",
    "api_url": f"http://127.0.0.1:{PORT}",
    "start_date": fmt(_END - timedelta(hours=2)),
    "end_date": fmt(_END),
}


def _every_stream_selected() -> dict:
    """The catalog with every stream selected, as a user who wants them all passes it: the
    SDK's dry run selects the streams not selected by default only after their stream maps
    were built, so their records would not match their (empty) transformed schema."""
    catalog = TapProofpointTap(config=CONFIG, validate_config=False).catalog_dict
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = True
    return catalog


TestTapProofpointTap = get_tap_test_class(
    TapProofpointTap,
    config=CONFIG,
    suite_config=SuiteConfig(),
    include_stream_attribute_tests=True,
    catalog=_every_stream_selected(),
)


@pytest.fixture(scope="module", autouse=True)
def _serve():
    with Sandbox(
        settings=Settings(seed=4, per_hour=tuple((s, 15) for s in STREAMS)),
        clock=Clock(),
        history=timedelta(hours=4),
        port=PORT,
    ):
        yield
