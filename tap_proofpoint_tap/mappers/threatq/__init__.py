"""ThreatQ's model of a permitted click: the pure mapping and the Singer mapper around it."""
