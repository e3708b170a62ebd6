"""An app for the HTML report's tests: ``html_app.py REQUESTS TOOLS``.

REQUESTS agent requests, one after another, each calling TOOLS tools: ``lookup`` (sleeps 1 ms), a tool
whose name is hostile markup (it must show as text, never run), and ``flaky``, which fails on every third
request (the agent catches it: an error span under a request that succeeds). With ``OPENAI_BASE_URL`` set
(the local model server of ``examples/local_llm.py``), the first request also asks a model that refuses
with HTTP 429 twice before it answers: the OpenAI SDK retries, so the call has retried attempts, tokens and
a cost (unpriced: the model has no price).
"""

from __future__ import annotations

import os
import sys
import time

import otel_agentperf as perf

MODEL = "throttle-2-20-html"  # the local server's 429 twice, 20 ms apart
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


def ask() -> None:
    from openai import OpenAI

    client = OpenAI(max_retries=3)
    client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "plan"}])


@perf.agent(name="planner")
def planner(request: int, tools: int) -> int:
    if request == 0 and os.environ.get("OPENAI_BASE_URL"):
        ask()
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
