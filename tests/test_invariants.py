"""The invariant checker (tests/invariants.py) catches each impossible report issue #26 found.

A checker that cannot fail proves nothing: each case below plants one of the problems users saw in a
report that is otherwise possible, and the checker must name it. The possible report itself passes, and
so does every report the rest of the suite renders (the autouse check in conftest.py).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.invariants import Impossible, check_compare_text, check_json, check_text

GOOD = """\
otel-agentperf run: `python -m travel` exited with status 0 after 4.81 s; received 130 spans and 3 metric exports

Operations by own ms: self time (its duration less the operations it called) less the time it waited for an event loop other code held
kind      operation                   calls  errors   own ms  self ms  total ms  mean ms  p50 ms  p95 ms  p99 ms  notes
tool      search_flights                 30       0   1507.0   1507.0    1507.0     50.2    50.1    52.0    53.1  held the event loop 1411.8 ms
llm       anthropic/claude-travel         8       0    348.7   4348.7    4348.7    543.6   520.0   610.0   640.0  waited 4000.0 ms for a held loop
workflow  Orchestrator                    3       0     12.0    112.0    2873.4    957.8   700.0  1400.0  1500.0
config    load_settings                   5       0      9.0      9.0       9.0      1.8     1.6     2.0     2.1  4 redundant (6.0 ms)

Where the time goes: the operations' own time is 1876.7 ms (summed over operations, concurrent ones included): tool 1507.0 ms (80%), llm 348.7 ms (19%), workflow 12.0 ms (1%), config 9.0 ms (0%); event loops held 1411.8 ms in all, awaiting operations waited 4000.0 ms for them

Bottlenecks:
- tool `search_flights` takes 80% of the operations' own time (1507.0 ms of 1876.7 ms, over 30 calls, p95 52.0 ms)
- tool `search_flights` held the asyncio event loop for 1411.8 ms (synchronous work or I/O in async code): the tasks awaiting beside it waited 4000.0 ms in all
- config `load_settings` loaded config 5 times; 4 were redundant reloads of an unchanged file (6.0 ms wasted)
- llm `anthropic/claude-travel` has a long tail: p99 640.0 ms against p50 520.0 ms

Slowest traces (1 of 3; ~ in a bar: waited for an event loop other code held):

trace 964c06aa396de33326768f4c6bf25a90  1101.1 ms  4 spans
  start ms      dur ms     self ms   waited ms     path ms  span                          bar
       0.0      1101.1       442.3                   442.3  invoke_workflow Orchestrator  |########################################|
     516.7       369.1         1.2       300.0         1.2    chat claude-travel          |                  ###~~~~~~~~~~         |
     557.7        78.8        78.8                     78.8   execute_tool search_flights |                    ###                 |
"""  # noqa: E501


def test_a_possible_report_passes() -> None:
    check_text(GOOD)


def _broken(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new)


PLANTED = {
    # 1: a streamed call charged with holding the loop for its whole duration made the loops' total
    # exceed the run's wall time, and the row's held time its own total.
    "held more than the wall time": (
        _broken("event loops held 1411.8 ms in all", "event loops held 7760.3 ms in all"),
        "more than 1 loop(s) x 4.810 s",
    ),
    "a row held more than its total": (
        _broken("waited 4000.0 ms for a held loop", "held the event loop 4348.8 ms, waited 4000.0 ms for a held loop"),
        "more than its total time",
    ),
    "a row held its loop more than a second a second": (
        GOOD + "\nllm  anthropic/claude-travel  loop held 2246.3 ms/s\n",
        "held its loop 2246.3 ms per second",
    ),
    # 2: a quantile above the sum of all observations.
    "p95 above the sum": (
        _broken("2873.4    957.8   700.0  1400.0  1500.0", "2873.4    957.8   700.0  4400.0  4880.0"),
        "p95 4400 above the sum of all observations 2873.4",
    ),
    "quantiles out of order": (
        _broken("50.1    52.0    53.1", "55.1    52.0    53.1"),
        "p50 55.1 above p95 52",
    ),
    # 3: findings out of cost order, and a table not sorted by the column it shows.
    "a waste before a block": (
        _broken(
            "- tool `search_flights` held the asyncio event loop",
            "- config `load_settings` loaded config 5 times; 4 were redundant reloads of an unchanged file (6.0 ms "
            "wasted)\n- tool `search_flights` held the asyncio event loop",
        ),
        "findings out of cost order: 1411.8 ms after 6.0 ms",
    ),
    "a costed finding after an uncosted one": (
        GOOD.replace(
            "Slowest traces", "- tool `x` held the asyncio event loop for 1.0 ms\n\nSlowest traces", 0
        ).replace(
            "- llm `anthropic/claude-travel` has a long tail: p99 640.0 ms against p50 520.0 ms",
            "- llm `anthropic/claude-travel` has a long tail: p99 640.0 ms against p50 520.0 ms\n"
            "- tool `x` held the asyncio event loop for 1.0 ms",
        ),
        "a finding with a cost after one without",
    ),
    "table not sorted by its column": (
        _broken("     12.0    112.0    2873.4", "   4283.0   4283.0    4283.0"),
        "the table is not sorted by own ms",
    ),
    "table without its order": (
        _broken("Operations by own ms:", "Operations, ranked by self time:"),
        "the table does not say what it is sorted by",
    ),
    "shares of no whole": (
        _broken("(80%), llm 348.7 ms (19%)", "(80%), llm 16817.3 ms (19%)"),
        "the kinds add up to",
    ),
    "a share above 100%": (_broken("takes 80% of", "takes 180% of"), "a share above 100%"),
    # 4: rows no one can act on.
    "a machine path in a row": (
        _broken("tool      search_flights     ", "code      _legacy//home/u/tools.py"),
        "a machine path in the row name code _legacy//home/u/tools.py",
    ),
    "a row named -": (_broken("config    load_settings", "config    -            "), "a config row named '-'"),
    "a row with no calls": (
        _broken("load_settings                   5", "load_settings                   0"),
        "has no calls",
    ),
    "_OTHER in a row": (
        _broken("config    load_settings", "history   trips_of/_OTHER"),
        "_OTHER in the row name history trips_of/_OTHER",
    ),
    "code named by its path": (
        _broken(
            "Slowest traces",
            "Code outside operations that held the event loop:\n"
            "- _path_stat/<frozen importlib> held it 81.0 ms\n\nSlowest traces",
        ),
        "code outside operations not named module:function: _path_stat/<frozen importlib>",
    ),
    "_OTHER in a span name": (
        _broken("execute_tool search_flights", "history__OTHER TripHistory"),
        "_OTHER in the span name history__OTHER TripHistory",
    ),
}


@pytest.mark.parametrize("case", list(PLANTED))
def test_each_impossible_report_is_caught_and_named(case: str) -> None:
    report, named = PLANTED[case]
    with pytest.raises(Impossible) as caught:
        check_text(report)
    assert named in str(caught.value)


def _operation(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "tool",
        "name": "search_flights",
        "calls": 30,
        "errors": 0,
        "total_seconds": 1.507,
        "self_seconds": 1.507,
        "own_seconds": 1.507,
        "self_known": True,
        "blocked_seconds": 1.4118,
        "quantiles": {"p50": 0.0501, "p95": 0.052, "p99": 0.0531},
        "minimum": 0.049,
        "maximum": 0.0545,
        "cost_usd": None,
        "priced_cost_usd": 0.0,
    }
    return {**base, **changes}


def test_json_reports_are_checked_the_same_way() -> None:
    check_json({"operations": [_operation()], "bottlenecks": []})
    wrong = {
        "calls 30.0": (_operation(calls=30.0), "calls is not a whole number"),
        "unrounded cost": (_operation(priced_cost_usd=7.500000000000001e-05), "priced_cost_usd is not rounded"),
        "p99 above max": (
            _operation(quantiles={"p50": 0.05, "p95": 0.052, "p99": 0.06}),
            "p99 0.06 outside [min 0.049, max 0.0545]",
        ),
        "held more than total": (_operation(blocked_seconds=2.0), "more than its total time"),
    }
    for operation, named in wrong.values():
        with pytest.raises(Impossible) as caught:
            check_json(json.loads(json.dumps({"operations": [operation], "bottlenecks": []})))
        assert named in str(caught.value)
    with pytest.raises(Impossible, match="more than 1 loop"):
        check_json({"operations": [_operation()], "bottlenecks": []}, wall=1.0)


REQUEST_LEAD = """Requests: latency, and where a request's wall time goes along its critical path (ms per request):
- agent `planner`: 16 requests, p50 472.2 ms, p95 665.2 ms, mean 473.3 ms: tool search_flights 131.1 ms (28%), \
code app:main 118.5 ms (25%), tool geocode 87.4 ms (18%), llm openai/gpt-4o-mini 70.8 ms (15%), agent planner 29.0 ms \
(6%), tool preferences 21.4 ms (5%), 2 other operations 15.1 ms (3%)"""

COMPARE = """workflow `SalesPipeline`: significant (p = 0.0051, Mann-Whitney U over per-request latencies (6 vs 6))
  p50: 75.0 → 375.0 ms (+300.0 ms)
  mean: 74.1 → 379.6 ms (+305.5 ms), 6 → 6 requests
  causes (Δ critical-path time per request; they and the residual add up to the mean's Δ):
    llm openai/scorer-pro → openai/throttle-2-150-scorer-pro: +315.3 ms (97%) [9.6 → 324.8 ms on the path]
      retry and backoff time per call (c₁·Δr): +314.4 ms
      residual: +0.9 ms
    llm openai/slow-15-outreach-writer: -5.6 ms (2%) [27.6 → 21.9 ms on the path]
    workflow SalesPipeline: -4.2 ms (1%) [2.6 → 0.8 ms on the path]
    residual: +0.0 ms"""


def test_request_leads_and_comparisons_are_checked() -> None:
    """A request's parts add up to its mean and to 100%; a comparison's causes and residual to its change."""
    check_text(REQUEST_LEAD)
    check_compare_text(COMPARE)
    wrong = {
        "a share too many": (REQUEST_LEAD.replace("(28%)", "(29%)"), "shares add up to 101%"),
        "a part too long": (REQUEST_LEAD.replace("131.1 ms", "151.1 ms"), "adds up to 493.3"),
        "not most first": (REQUEST_LEAD.replace("87.4 ms", "187.4 ms"), "not most first"),
        "p95 under p50": (REQUEST_LEAD.replace("p95 665.2", "p95 465.2"), "p50 472.2 above p95 465.2"),
    }
    for text, named in wrong.values():
        with pytest.raises(Impossible, match=re.escape(named)):
            check_text(text)
    with pytest.raises(Impossible, match=re.escape("not the Δ 305.5 ms")):
        check_compare_text(COMPARE.replace("+315.3 ms (97%)", "+335.3 ms (97%)"))
    with pytest.raises(Impossible, match="sums could not be read"):
        check_compare_text(COMPARE.replace("  mean:", "  average:"))
