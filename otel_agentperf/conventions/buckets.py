"""Advised explicit bucket boundaries, seconds unless noted.

The GenAI client buckets are the ones the conventions advise; the rest are the package's own.
"""

from __future__ import annotations

from typing import Final

# The conventions' advice for GenAI client durations and chunk timing.
CLIENT_DURATION: Final = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
# The MCP conventions' advised boundaries for their operation and session durations (docs/gen-ai/mcp.md).
MCP_DURATION: Final = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
AGENT_DURATION: Final = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8, 409.6)
WORKFLOW_DURATION: Final = (1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0)
# A request, end to end: from a fast cached answer to a long agent run.
REQUEST_DURATION: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 600.0)
# For in-process work measured in milliseconds: agent construction, config parsing, history scans.
FAST_DURATION: Final = (
    0.0001,
    0.0002,
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.5,
    1.0,
    2.0,
    5.0,
    10.0,
    20.0,
    60.0,
)
# otel-agentperf's own work per operation: microseconds, doubling (a wrapper's start and end).
OVERHEAD: Final = tuple(2.0**i / 1_000_000 for i in range(14))  # 1 µs … 8.2 ms
# The conventions' advice for token usage: 1 to 4^13, quadrupling.
TOKENS: Final = tuple(float(4**i) for i in range(14))
# Bytes: 1 KiB to 4 GiB, quadrupling.
BYTES: Final = tuple(float(1024 * 4**i) for i in range(12))
# Calls made by one agent invocation: an agent loop rarely runs past a few dozen steps.
CALL_COUNTS: Final = (0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 64.0, 128.0)
# History sizes: 1 to 4 Mi records, quadrupling.
RECORDS: Final = tuple(float(4**i) for i in range(12))
