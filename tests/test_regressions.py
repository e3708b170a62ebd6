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

Each runs under ``otel-agentperf run --save`` (6 requests one at a time, 24 with 8 in flight) and writes
what it measured itself with ``perf_counter``: per request its latency (from getting a slot to its end,
not its wait in the queue) and what the planted code cost it (``appkit.charge``: seconds, and tokens and
dollars where they apply), in both versions. The code charged is the case's: the answering model's calls,
the tutor model's calls, the time the geocoder held the loop (0 in v1: its client never holds it), the
draft's time to first chunk, the scorer's retries, the research fan-out.

What this module asserts until ``compare`` exists: the saved runs load, v2's mean request latency is
above v1's, and the difference is the planted cost within ±25%. The planted costs are hundreds of
milliseconds per request of waiting (server delays, retries' backoff, a held loop), not CPU, so a loaded
machine (two CPU burners and a second test run on 2 cores) slows both versions' other work alike and
moves the difference by far less than the margin; each app's other work is a few short calls (the tutor
grades a lesson once, not every turn: at 8 in flight under load, four more calls a request moved the
difference by a third of the planted cost). With 8 in flight a held loop delays every request waiting
beside it, so there the blocking tool's latency difference is at least its own held time (several times
it, in practice), not equal to it. ``compare`` charges those waits to the blocker, so its Δ is to match
``measured.latency_seconds``, the difference in mean request latency, in every case.

``regression_pair(case, concurrency)`` (a fixture) gives ``(base_saved_path, new_saved_path, measured)``
for a case. The 24 runs are made once per module, for every test that asks, in batches (CI time: each
process spends seconds of CPU importing the SDKs, so two cases' four processes start together) and
gated: the apps wait after their readiness check (``--go-on-stdin``), and then one case at a time, v1 and
v2 take their requests side by side, under the same load and while none of this module's other processes
imports anything. Ungated, four runs at once let one app's imports land in another's requests: the
difference moved by up to 150 ms with 8 in flight.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from otel_agentperf.receiving import received
from otel_agentperf.views import otlp

# Once, not twice, under `--count 2` (CI time, see scripts/test.sh): what these tests check runs in processes
# they start afresh; all they share in this process is the session's local model server.
pytestmark = pytest.mark.repeat(1)

REGRESSIONS = Path(__file__).parent / "apps" / "regressions"
CLI = str(Path(sys.executable).parent / "otel-agentperf")
REQUESTS = {1: 6, 8: 24}  # per run, by how many are in flight (three rounds of 8)
TOLERANCE = 0.25
CASES_AT_ONCE = 2  # started together: four processes importing the SDKs at once on 2 cores


@dataclass(frozen=True)
class Case:
    app: str  # the package under tests/apps/regressions/, run as ``python -m <app>.main`` from its folder
    v1: dict[str, str]  # the environment that selects each version
    v2: dict[str, str]
    costs_tokens: bool = False  # the regression costs tokens and dollars too, not only time
    holds_the_loop: bool = False  # with requests in flight, it delays the others too
    targets: str = ""  # OTEL_AGENTPERF_TARGETS, for an app without targets in its pyproject.toml


CASES = {
    "extra-llm-call": Case(
        "helpdesk_bot", {"HELPDESK_VERIFY_ANSWERS": "0"}, {"HELPDESK_VERIFY_ANSWERS": "1"}, costs_tokens=True
    ),
    "growing-prompt": Case("tutor_chat", {"TUTOR_HISTORY": "window"}, {"TUTOR_HISTORY": "full"}, costs_tokens=True),
    "blocking-tool": Case(
        "travel_desk",
        {"TRAVEL_DESK_GEOCODER_CLIENT": "async"},
        {"TRAVEL_DESK_GEOCODER_CLIENT": "sync"},
        holds_the_loop=True,
    ),
    "slow-first-token": Case(
        "doc_writer",
        {"DOC_WRITER_SETTINGS": str(REGRESSIONS / "doc_writer" / "writer.toml")},
        {"DOC_WRITER_SETTINGS": str(REGRESSIONS / "doc_writer" / "writer-xl.toml")},
    ),
    "rate-limited-model": Case(
        "sales_assistant",
        {"SALES_SCORING_TIER": "dedicated"},
        {"SALES_SCORING_TIER": "shared"},
        targets=",".join(
            [
                "sales_assistant.pipeline:process_lead=workflow:SalesPipeline",
                "sales_assistant.agents:Enricher.enrich=agent",
                "sales_assistant.agents:Scorer.score=agent",
                "sales_assistant.agents:Outreach.draft=agent",
                "sales_assistant.tools:crm_lookup=tool",
                "sales_assistant.tools:dedupe=tool",
            ]
        ),
    ),
    "serialized-calls": Case("research_brief", {"RESEARCH_FANOUT": "parallel"}, {"RESEARCH_FANOUT": "sequential"}),
}


@dataclass(frozen=True)
class Measured:
    """v2 less v1, per request, as the apps measured themselves (means over each run's requests)."""

    latency_seconds: float  # mean request latency: what ``compare``'s explanation has to add up to
    planted_seconds: float  # what the planted code cost a request
    input_tokens: float  # of the planted code's model calls (0 where the regression costs no tokens)
    output_tokens: float
    usd: float


class Pair(NamedTuple):
    base: Path  # v1's saved run (``run --save``)
    new: Path  # v2's
    measured: Measured


def _env(case: Case, version: dict[str, str], server: Any) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "OPENAI_", "ANTHROPIC_"))}
    env.update(
        PYTHONPATH=str(REGRESSIONS),
        OTEL_SERVICE_NAME=case.app,
        OPENAI_BASE_URL=server.base_url,
        OPENAI_API_KEY="local",
        ANTHROPIC_BASE_URL=server.root_url,
        ANTHROPIC_API_KEY="local",
        **version,
    )
    if case.targets:
        env["OTEL_AGENTPERF_TARGETS"] = case.targets
    return env


@dataclass
class _Started:
    """One version of an app under ``run --save``, started, ready, waiting for the word to take requests."""

    label: str
    process: subprocess.Popen[str]
    saved: Path
    measure: Path
    errors: Path

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.close()

    def finish(self) -> tuple[Path, list[dict[str, float]]]:
        """Its saved run and the app's own measurements, once ``run`` has reported and exited."""
        assert self.process.stdout is not None
        stdout = self.process.stdout.read()  # to its end: run's report, once the app and run have exited
        assert self.process.wait(timeout=60) == 0, f"{self.label}:\n{stdout}\n{self.errors.read_text()}"
        return self.saved, json.loads(self.measure.read_text(encoding="utf-8"))


def _start(case: Case, version: str, concurrency: int, server: Any, folder: Path) -> _Started:
    folder.mkdir(parents=True)
    saved, measure, errors = folder / f"{version}.otlp", folder / f"{version}.json", folder / f"{version}.err"
    command = [CLI, "run", "--save", str(saved), "--slowest", "0", "--"]
    command += [sys.executable, "-m", f"{case.app}.main", "--measure", str(measure), "--go-on-stdin"]
    command += ["--requests", str(REQUESTS[concurrency]), "--concurrency", str(concurrency)]
    with errors.open("w") as stderr:
        process = subprocess.Popen(
            command,
            cwd=REGRESSIONS / case.app,
            env=_env(case, case.v1 if version == "v1" else case.v2, server),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    return _Started(f"{case.app} {version} at {concurrency} in flight", process, saved, measure, errors)


def _wait_until_ready(started: _Started) -> None:
    assert started.process.stdout is not None
    for line in started.process.stdout:  # the app's output comes through run untouched
        if line.strip() == "ready":
            return
    raise AssertionError(f"{started.label} ended before it was ready:\n{started.errors.read_text()}")


def _measured(before: list[dict[str, float]], after: list[dict[str, float]]) -> Measured:
    def delta(key: str) -> float:
        return statistics.fmean(request[key] for request in after) - statistics.fmean(r[key] for r in before)

    return Measured(*(delta(key) for key in ("wall_seconds", "seconds", "input_tokens", "output_tokens", "usd")))


def _pairs(server: Any, root: Path) -> dict[tuple[str, int], Pair]:
    """Every case's v1 and v2 runs, in batches: a batch's apps start (and import) together; then, one case
    at a time, v1 and v2 take their requests side by side, alone, and report before the next case goes."""
    cases = [(name, concurrency) for name in CASES for concurrency in REQUESTS]
    pairs: dict[tuple[str, int], Pair] = {}
    for first in range(0, len(cases), CASES_AT_ONCE):
        batch = cases[first : first + CASES_AT_ONCE]
        started = {
            (name, concurrency, version): _start(
                CASES[name], version, concurrency, server, root / f"{name}-{concurrency}" / version
            )
            for name, concurrency in batch
            for version in ("v1", "v2")
        }
        try:
            for each in started.values():
                _wait_until_ready(each)
            for name, concurrency in batch:
                base, new = started[(name, concurrency, "v1")], started[(name, concurrency, "v2")]
                base.go()
                new.go()
                (base_saved, before), (new_saved, after) = base.finish(), new.finish()
                pairs[(name, concurrency)] = Pair(base_saved, new_saved, _measured(before, after))
        finally:
            for each in started.values():
                if each.process.poll() is None:
                    each.process.kill()
                    each.process.wait()
    return pairs


@pytest.fixture(scope="module")
def regression_pair(server: Any, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, int], Pair]:
    """``regression_pair(case, concurrency)``: the case's v1 and v2 saved runs and what the app measured.

    Every case runs on the module's first use (see ``_pairs``) and is kept for the module.
    """
    pairs = _pairs(server, tmp_path_factory.mktemp("regressions"))
    return lambda name, concurrency: pairs[(name, concurrency)]


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
