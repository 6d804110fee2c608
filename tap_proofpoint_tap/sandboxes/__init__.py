"""Local stand-ins for tests, benchmarks and the demo: ``siem`` (Proofpoint TAP's SIEM API,
tap-proofpoint-tap-sandbox) and ``threatq`` (ThreatQ's REST API, threatq-sandbox).

Nothing outside tests, benchmarks and ``demo`` imports them, and each imports nothing of the
program it stands in for, so a test never checks a program against its own code.
"""
