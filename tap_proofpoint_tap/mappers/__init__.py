"""Singer mappers over the tap's streams: ``threatq`` (mapper-proofpoint-threatq)."""
