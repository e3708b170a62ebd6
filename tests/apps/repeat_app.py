"""An app whose runs differ, for ``otel-agentperf run --repeat``'s tests: ``repeat_app.py COUNTER STATUS...``.

Each run appends a line to the file COUNTER; the n-th run (1-based) invokes its agent n times, so each run's
telemetry is told apart by its count, then exits with the n-th STATUS (the last one once they run out). With
``--wait`` it prints ``waiting`` and sleeps instead, until a signal ends it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import otel_agentperf as perf


@perf.tool
def lookup_order(order: str) -> str:
    time.sleep(0.005)
    return f"order {order}"


@perf.agent
def support_agent(order: str) -> str:
    return lookup_order(order)


def main() -> int:
    if sys.argv[1] == "--wait":
        print("waiting", flush=True)
        time.sleep(60)
        return 0
    counter, statuses = Path(sys.argv[1]), [int(status) for status in sys.argv[2:]]
    with counter.open("a", encoding="utf-8") as runs:
        runs.write("ran\n")
    run = len(counter.read_text(encoding="utf-8").splitlines())
    for order in range(run):
        support_agent(f"R{run}-{order}")
    return statuses[min(run, len(statuses)) - 1]


if __name__ == "__main__":
    sys.exit(main())
