"""The loaders: ``duckdb`` (target-duckdb-proofpoint) and ``threatq`` (target-threatq).

``held_state`` is what they share: STATE messages held until the rows they cover are committed.
"""
