"""Singer tap for Proofpoint TAP's SIEM API."""
