"""Singer mappers over the tap's streams: ``threatq`` (mapper-proofpoint-threatq) and ``ocsf``
(mapper-proofpoint-ocsf)."""
