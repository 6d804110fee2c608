"""A local stand-in of Proofpoint TAP's SIEM API for demos and tests.

Nothing in the tap imports this package: only tests, benchmarks and the demo do.
"""

from tap_proofpoint_tap.sandboxes.siem.clock import Clock
from tap_proofpoint_tap.sandboxes.siem.server import Fault, Sandbox

__all__ = ["Clock", "Fault", "Sandbox"]
