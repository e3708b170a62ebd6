"""Receiving an app's OTLP telemetry on loopback (``otel-agentperf run``) and keeping it in a saved-run file."""
