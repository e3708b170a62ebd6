"""A fare-search agent app for tests/test_code_rows.py, with no otel-agentperf code: each of its loop holders
is one shape the report once named badly (a machine path, a frozen or generated frame, the script's module)."""
