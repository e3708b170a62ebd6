"""An app for the HTML report's tests: ``html_app.py REQUESTS TOOLS``.

REQUESTS agent requests, one after another, each calling TOOLS tools: ``lookup`` (sleeps 1 ms), a tool
whose name is hostile markup (it must show as text, never run), and ``flaky``, which fails on every third
request (the agent catches it: an error span under a request that succeeds). 1000 requests of 9 tools are
10,000 spans.
"""

from __future__ import annotations

import sys
import time

import otel_agentperf as perf

HOSTILE = "</script><script>window.pwned=1</script><!-- \"quoted\" 'single' & <b>bold</b>"


@perf.tool
def lookup(item: int) -> int:
    time.sleep(0.001)
    return item


@perf.tool(name=HOSTILE)
def hostile(item: int) -> int:
    return item


@perf.tool
def flaky(item: int) -> int:
    if item % 3 == 0:
        raise ValueError(f"flaky failed on {item}")
    return item


@perf.agent(name="planner")
def planner(request: int, tools: int) -> int:
    done = 0
    for call in range(tools):
        try:
            done += (lookup, hostile, flaky)[call % 3](request)
        except ValueError:
            done -= 1
    return done


def main() -> None:
    requests, tools = int(sys.argv[1]), int(sys.argv[2])
    for request in range(requests):
        planner(request, tools)
    print(f"served {requests} requests", flush=True)


if __name__ == "__main__":
    main()
