"""What the telemetry is called: every name, unit, bucket list and instrument description, and the opt-in layout."""
