"""The SDK's standard tap tests, run in process against a sandbox on 127.0.0.1."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_proofpoint_tap.sandboxes.siem import Clock, Sandbox
from tap_proofpoint_tap.sandboxes.siem.generator import STREAMS, Settings
from tap_proofpoint_tap.tap import TapProofpointTap
from tap_proofpoint_tap.windows import fmt

SANDBOX = Sandbox(
    settings=Settings(seed=4, per_hour=tuple((s, 15) for s in STREAMS)),
    clock=Clock(),
    history=timedelta(hours=4),
)
_END = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)

TestTapProofpointTap = get_tap_test_class(
    TapProofpointTap,
    config={
        "principal": "sandbox-principal",
        "secret": "sandbox-secret",
        "api_url": SANDBOX.url,
        "start_date": fmt(_END - timedelta(hours=2)),
        "end_date": fmt(_END),
    },
    suite_config=SuiteConfig(),
    include_stream_attribute_tests=True,
)


@pytest.fixture(scope="module", autouse=True)
def _serve():
    with SANDBOX:
        yield
