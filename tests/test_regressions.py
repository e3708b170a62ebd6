"""Issue #27's planted-regression suite: six async agent apps, each with a v1 and a v2 that adds one regression.

Each app under ``tests/apps/regressions/`` is written the way users write agent apps: a package whose
``main`` module serves requests through its own workflow, agents and tools, with its targets in its own
``pyproject.toml`` (or in ``OTEL_AGENTPERF_TARGETS``), calling the local server (``examples/local_llm.py``)
through the real ``openai.AsyncOpenAI`` (and ``anthropic.AsyncAnthropic``), with other agents, tools and
models around the planted cause. Its version is chosen by configuration, as a team flips a setting:

- ``extra-llm-call``: the help desk checks every answer again with the answering model (250 ms a call);
- ``growing-prompt``: the tutor sends the whole lesson so far instead of the last exchange, so each turn's
  prompt is longer than the last (the model reads 1 ms a word, the server's ``prefill-`` models; 60-word
  answers): more input tokens, dollars and seconds per request;
- ``blocking-tool``: the travel desk's ``async def`` geocoder uses ``urllib`` (300 ms) instead of httpx's
  async client, holding the event loop while the planner's call (350 ms) should be in flight beside it;
- ``slow-first-token``: the doc writer drafts with a model whose first token comes 400 ms later;
- ``rate-limited-model``: the sales assistant scores on a tier the provider throttles: two 429s a call,
  each asking for a 150 ms wait, which the SDK honours;
- ``serialized-calls``: the research assistant awaits its web (250 ms) and paper (300 ms, Claude)
  researchers one after the other instead of gathering them.

Each runs under ``otel-agentperf run --save`` (10 requests one at a time, 24 with 8 in flight) and writes
what it measured itself with ``perf_counter``: per request its latency (from getting a slot to its end,
not its wait in the queue) and what the planted code cost it (``appkit.charge``: seconds, and tokens and
dollars where they apply), in both versions. The code charged is the case's: the answering model's calls,
the tutor model's calls, the time the geocoder held the loop (0 in v1: its client never holds it), the
draft's time to first chunk, the scorer's retries, the research fan-out.

What this module asserts (``test_compare.py`` holds ``compare`` to the same runs): the saved runs load,
v2's mean request latency is above v1's, and the difference is the planted cost within ±25%. The planted
costs are hundreds of milliseconds per request of waiting (server delays, retries' backoff, a held loop),
not CPU, so a loaded machine (two CPU burners and a second test run on 2 cores) slows both versions' other
work alike and moves the difference by far less than the margin; each app's other work is a few short calls (the tutor
grades a lesson once, not every turn: at 8 in flight under load, four more calls a request moved the
difference by a third of the planted cost). With 8 in flight a held loop delays every request waiting
beside it, so there the blocking tool's latency difference is at least its own held time (several times
it, in practice), not equal to it. ``compare`` charges those waits to the blocker, so its Δ is to match
``measured.latency_seconds``, the difference in mean request latency, in every case.

``regression_pair(case, concurrency)`` (a session fixture, ``tests/regression_runs.py``) gives
``(base_saved_path, new_saved_path, measured)`` for a case. The 24 runs are made once per session
(``conftest.py``), for every module that asks, in batches (CI time: each
process spends seconds of CPU importing the SDKs, so two cases' four processes start together) and
gated: the apps wait after their readiness check (``--go-on-stdin``), and then one case at a time, v1 and
v2 take their requests side by side, under the same load and while none of this module's other processes
imports anything. Ungated, four runs at once let one app's imports land in another's requests: the
difference moved by up to 150 ms with 8 in flight. Neither version exits until both have handled their
requests: the one done first used to exit, and its ``run`` to build its report (seconds of CPU on a loaded
machine) during the other's last requests, which moved the slow first token's difference at 8 in flight
by +40% under two CPU burners.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from otel_agentperf.receiving import received
from otel_agentperf.views import otlp
from tests.regression_runs import CASES, REQUESTS, TOLERANCE, Pair

# Once, not twice, under `--count 2` (CI time, see scripts/test.sh): what these tests check runs in processes
# they start afresh; all they share in this process is the session's local model server.
pytestmark = pytest.mark.repeat(1)


@pytest.mark.parametrize("concurrency", sorted(REQUESTS))
@pytest.mark.parametrize("name", list(CASES))
def test_v2_is_slower_by_the_planted_cost_and_both_runs_load(
    name: str, concurrency: int, regression_pair: Callable[[str, int], Pair]
) -> None:
    case = CASES[name]
    base, new, measured = regression_pair(name, concurrency)
    print(name, concurrency, measured)
    for saved in (base, new):
        loaded = received.load(saved.read_bytes())
        assert [run.index for run in loaded.runs()] == [0]  # one run, unmarked
        workflows = [row for row in otlp.rows(loaded.metric_requests()) if row.kind == "workflow"]
        assert [row.calls for row in workflows] == [REQUESTS[concurrency]], f"{saved}: {workflows}"
    planted, delta = measured.planted_seconds, measured.latency_seconds
    assert planted > 0.2, f"the planted cost is {planted * 1000:.1f} ms a request: too small to stand out"
    if case.holds_the_loop and concurrency > 1:
        # The held loop delays every request beside it too: at least its own held time, a request.
        assert delta >= (1 - TOLERANCE) * planted, measured
    else:
        assert abs(delta - planted) <= TOLERANCE * planted, measured
    if case.costs_tokens:
        assert measured.input_tokens > 0 and measured.usd > 0, measured
    else:
        assert (measured.input_tokens, measured.output_tokens) == (0, 0), measured
