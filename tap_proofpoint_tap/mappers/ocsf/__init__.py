"""``mapper-proofpoint-ocsf``: the tap's streams as OCSF events (:mod:`.mapper`)."""
