"""A local stand-in of ThreatQ's REST API (shared/threatq-api.md §12) for loader tests.

Standard library only, and nothing from the rest of the package: it stands in for a ThreatQ
instance, so it must not share code with what is tested against it.
"""

from tap_proofpoint_tap.sandboxes.threatq.auth import Credentials
from tap_proofpoint_tap.sandboxes.threatq.faults import Fault, Maintenance
from tap_proofpoint_tap.sandboxes.threatq.server import LoggedRequest, ThreatQSandbox

__all__ = ["Credentials", "Fault", "LoggedRequest", "Maintenance", "ThreatQSandbox"]
