"""A small agent app that exits: ``run_app.py [STATUS]``, for ``otel-agentperf run``'s tests.

Two agent invocations, each calling two tools in turn, then one more tool call outside any agent; it writes
known lines to stdout and stderr and exits with STATUS (0 by default).
"""

from __future__ import annotations

import sys
import time

import otel_agentperf as perf


@perf.tool
def lookup_order(order: str) -> str:
    time.sleep(0.02)
    return f"order {order}"


@perf.tool
def refund(order: str) -> str:
    time.sleep(0.01)
    return f"refunded {order}"


@perf.agent
def support_agent(order: str) -> str:
    return refund(lookup_order(order))


def main() -> int:
    for order in ("A1", "B2"):
        print(f"app says {support_agent(order)}", flush=True)
    lookup_order("C3")
    print("app warns on stderr", file=sys.stderr, flush=True)
    return int(sys.argv[1]) if len(sys.argv) > 1 else 0


if __name__ == "__main__":
    sys.exit(main())
