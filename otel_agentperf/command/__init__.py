"""The ``otel-agentperf`` command: one parser in front of the views (reports, run, compare, check) and the
stack's generated files (grafana, kubernetes), the one layer that reads both."""
