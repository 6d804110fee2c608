"""A local stand-in of Proofpoint TAP's API v2 for demos and tests: the SIEM API and the Threat,
Campaign, Forensics and People APIs, consistent with it.

Nothing in the tap imports this package: only tests, benchmarks and the demo do.
"""

from tap_proofpoint_tap.sandboxes.siem.clock import Clock
from tap_proofpoint_tap.sandboxes.siem.server import POOLS, Fault, LoggedRequest, Sandbox

__all__ = ["POOLS", "Clock", "Fault", "LoggedRequest", "Sandbox"]
