"""``target-threatq``: loads the ThreatQ mapper's entities into ThreatQ through its REST API."""
