"""The planted-regression runs (issue #27), made once per test session for every module that asks.

``tests/test_regressions.py`` says what the six apps plant and how they are run; ``conftest.py``'s
``regression_pair`` fixture (session-scoped: the 24 runs take minutes, and both ``test_regressions.py``
and ``test_compare.py`` read them) calls :func:`pairs` once.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

REGRESSIONS = Path(__file__).parent / "apps" / "regressions"
CLI = str(Path(sys.executable).parent / "otel-agentperf")
# Per run, by how many are in flight (three rounds of 8). Ten one at a time: with six, the rank test's smallest
# p (no overlap at all) is 0.005, so one request slowed by a loaded machine took a planted change to 0.013.
REQUESTS = {1: 10, 8: 24}
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
        self.process.stdin.flush()

    def handled(self) -> None:
        """Wait until the app has handled its requests (it then waits for its stdin to end to exit)."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("handled "):
                return
        raise AssertionError(f"{self.label} ended before its requests were handled:\n{self.errors.read_text()}")

    def finish(self) -> tuple[Path, list[dict[str, float]]]:
        """Its saved run and the app's own measurements, once the app has exited and ``run`` has reported."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
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


def _side_by_side(*versions: _Started) -> None:
    """The versions take their requests at once; none exits (and its ``run`` reports, seconds of CPU) until
    all have handled theirs: the version done first would otherwise load the other's last requests."""
    for each in versions:
        each.go()
    for each in versions:
        each.handled()


def pairs(server: Any, root: Path) -> dict[tuple[str, int], Pair]:
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
                _side_by_side(base, new)
                (base_saved, before), (new_saved, after) = base.finish(), new.finish()
                pairs[(name, concurrency)] = Pair(base_saved, new_saved, _measured(before, after))
        finally:
            for each in started.values():
                if each.process.poll() is None:
                    each.process.kill()
                    each.process.wait()
    return pairs


def same_version_twice(name: str, concurrency: int, server: Any, root: Path) -> Pair:
    """Two runs of a case's v1, started and taking requests side by side as a v1/v2 pair does: a pair with
    no change, whose differences are the machine's noise."""
    case = CASES[name]
    started = [_start(case, "v1", concurrency, server, root / f"{name}-{concurrency}-{each}") for each in (1, 2)]
    try:
        for each in started:
            _wait_until_ready(each)
        _side_by_side(*started)
        (base_saved, before), (new_saved, after) = started[0].finish(), started[1].finish()
    finally:
        for each in started:
            if each.process.poll() is None:
                each.process.kill()
                each.process.wait()
    return Pair(base_saved, new_saved, _measured(before, after))
