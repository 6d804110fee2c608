"""Proofpoint TAP into Singer, ThreatQ and DuckDB: one distribution, one room per program.

================================  =============================  ==================
program (console script)          subpackage                     extra it needs
================================  =============================  ==================
``tap-proofpoint-tap``            the package root (``tap.py``)  none
``mapper-proofpoint-threatq``     ``mappers.threatq``            none
``mapper-proofpoint-ocsf``        ``mappers.ocsf``               none
``target-threatq``                ``targets.threatq``            none
``target-duckdb-proofpoint``      ``targets.duckdb``             ``duckdb``
``proofpoint-tap-security-lake``  ``security_lake``              ``duckdb``
``proofpoint-tap-report``         ``report``                     ``report``
``tap-proofpoint-tap-sandbox``    ``sandboxes.siem``             ``sandbox``
``threatq-sandbox``               ``sandboxes.threatq``          none (stdlib only)
================================  =============================  ==================

What the loaders share (STATE held until commit) is in ``targets``; what the tap and the
mapper share (the Singer writer) is ``singer_io``. The stand-ins and the demo
(``sandboxes.demo``) are for tests, benchmarks and demos only: nothing else imports them, and
they import nothing of what they stand in for (``make lint`` checks both).
"""
