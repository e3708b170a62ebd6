"""A small research-assistant agent app, written with no otel-agentperf code at all.

It is instrumented purely through declarative targets (``agentperf.toml`` beside this file) under
``opentelemetry-instrument``: an orchestrator workflow spawns one research agent per question; each agent
loads the settings file (again: a common slow path), calls a model, runs tools and reads and appends a
JSONL history that it scans linearly.
"""
