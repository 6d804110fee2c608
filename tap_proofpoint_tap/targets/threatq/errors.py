"""How a ThreatQ call fails: a one-line stop, a refusal, or a write of unknown outcome."""

from __future__ import annotations

from typing_extensions import override

from tap_proofpoint_tap.errors import TapError


class ThreatQError(TapError):
    """Stops the run with a one-line message."""


class ThreatQRefused(ThreatQError):
    """ThreatQ answered 4xx, or a 2xx whose body carries errors."""


class OutcomeUnknown(Exception):
    """A write failed in a way that may or may not have been applied (``timeout``: it may
    still be running on the server)."""

    @override
    def __init__(self, failure: str, *, timeout: bool) -> None:
        super().__init__(failure)
        self.timeout = timeout
