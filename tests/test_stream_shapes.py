"""Acceptance of issue #26's corpus: every streaming API shape, beside a planted loop holder, under ``run``.

Each app under ``tests/apps/streams/`` streams four answers of one API shape (the OpenAI SDK's
``create(stream=True)`` and ``stream()`` helpers for chat and responses, Anthropic's likewise and its
helper's ``get_final_message()``, LiteLLM, LangChain, LangGraph, the Agents SDK, the Agent Framework) from
the local server (``examples/local_llm.py``), concurrently with ``fares.check_all_fares``: an ``async def``
tool, ``search_fares``, whose synchronous client holds the event loop 100 ms a call (two 50 ms requests),
30 calls 10 ms apart. The streams (``slow-50-``: 0.45 s of answer, 0.7-0.9 s beside the tool) start with
it, so each is open across several of its holds and waits through them. The apps are written as users
write them: a script with ``async def main()``, the tool declared a target in the folder's
``pyproject.toml``, nothing of otel-agentperf imported.

Each app first checks that the model server answers, with one streamed call on the model
``readiness-check`` through its library's synchronous API (the agent frameworks': the OpenAI client's
under them), before its event loop starts. The SDKs' first call builds models and imports enough to hold a
loop for real (the Responses API's stream event models 0.6-1.5 s, measured without instrumentation), which
on the loop would be a true finding bigger than the planted one. Off the loop it is still that call's own
time, so the tool holds the loop 3 s in all: more than any readiness check took, and more than four
LiteLLM streams' own time on a machine whose two cores two CPU burners and a second test run share (2.1 s
seen there with 2 s of holding: LiteLLM's per-chunk work is slow and concurrent streams' own times add up).

Each app runs under ``otel-agentperf run`` (the real launcher and receiver); the test reads the text
report ``run`` prints and the JSON of the saved run, and asserts:

- the first bottleneck names ``tool `search_fares``` with the time it held the loop within ±25% of what
  the app measured with ``perf_counter`` around the synchronous client (``FARES_TIMINGS``);
- no LLM row is charged with holding the loop for more than 10% of its duration: a stream, however
  its API wraps it (a coroutine, an async iterator, a context manager returned by a plain method), holds
  the loop only while its own code runs between awaits, and the tool's holds are the tool's;
- the streams were recorded, one LLM call each, so the holding check is never vacuous or diluted.

A second test checks both reports with ``tests/invariants.py``, as every report the suite produces is;
each app runs once for the two tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import invariants
from tests.test_planted_bottlenecks import culprit_cost_seconds, first_bottleneck

# Once, not twice, under `--count 2` (CI time, see scripts/test.sh): what these tests check runs in processes
# they start afresh; all they share in this process is the session's local model server.
pytestmark = pytest.mark.repeat(1)

STREAMS = Path(__file__).parent / "apps" / "streams"
CLI = str(Path(sys.executable).parent / "otel-agentperf")
CULPRIT = "tool `search_fares`"
TOLERANCE = 0.25
HELD_SHARE = 0.10
STREAM_MODEL = "slow-50-trip-writer"  # the model the apps stream their four answers from
STREAMED_CALLS = 4

SHAPES = [
    "openai_chat_create",
    "openai_chat_helper",
    "openai_responses_create",
    "openai_responses_helper",
    "anthropic_create",
    "anthropic_helper_text",
    "anthropic_helper_final",
    "litellm_acompletion",
    "langchain_astream",
    "langgraph_astream",
    "openai_agents_streamed",
    "agent_framework_stream",
]


def _env(server: Any, timings: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "OPENAI_", "ANTHROPIC_"))}
    env.update(
        OTEL_SERVICE_NAME="stream-shapes",
        OPENAI_BASE_URL=server.base_url,
        OPENAI_API_KEY="local",
        ANTHROPIC_BASE_URL=server.root_url,
        ANTHROPIC_API_KEY="local",
        LITELLM_LOCAL_MODEL_COST_MAP="true",  # LiteLLM would fetch its cost map from the internet
        FARES_TIMINGS=str(timings),
    )
    return env


@dataclass(frozen=True)
class Run:
    """One app's run: the text report ``run`` printed, the saved run's JSON report, what the app measured."""

    report: str
    data: dict[str, Any]
    measured_seconds: float


@pytest.fixture(scope="module")
def run_app(server: Any, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Run]:
    """Run a shape's app under ``otel-agentperf run`` the first time a test asks for it."""
    runs: dict[str, Run] = {}

    def run(shape: str) -> Run:
        if shape not in runs:
            folder = tmp_path_factory.mktemp(shape)
            saved, timings = folder / "run.otlp", folder / "fares.json"
            result = subprocess.run(
                [CLI, "run", "--save", str(saved), "--slowest", "1", "--", sys.executable, f"{shape}.py"],
                cwd=STREAMS,
                env=_env(server, timings),
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert result.returncode == 0, result.stdout + result.stderr
            as_json = subprocess.run(
                [CLI, "report", "--file", str(saved), "--format", "json"], capture_output=True, text=True, timeout=60
            )
            assert as_json.returncode == 0, as_json.stderr
            report = result.stdout.split("otel-agentperf run: ", 1)[1]
            measured = json.loads(timings.read_text())["held_seconds"]
            runs[shape] = Run(report, json.loads(as_json.stdout), measured)
        return runs[shape]

    return run


@pytest.mark.parametrize("shape", SHAPES)
def test_the_blocking_tool_is_the_first_bottleneck_and_no_stream_holds_the_loop(
    shape: str, run_app: Callable[[str], Run]
) -> None:
    run = run_app(shape)
    llm_rows = [row for row in run.data["operations"] if row["kind"] == "llm"]
    print(run.report)
    print(f"{shape}: the app measured {run.measured_seconds * 1000:.1f} ms held by the tool")
    for row in llm_rows:
        print(
            f"{shape}: llm {row['name']}: {row['calls']:g} calls, held {row['blocked_seconds'] * 1000:.1f} ms "
            f"of {row['total_seconds'] * 1000:.1f} ms"
        )

    streams = [row for row in llm_rows if row["name"].endswith(f"/{STREAM_MODEL}")]
    assert [row["calls"] for row in streams] == [STREAMED_CALLS], (
        f"the streams were not recorded once each:\n{run.report}"
    )
    line = first_bottleneck(run.report)
    assert CULPRIT in line, f"the first bottleneck is not {CULPRIT}: {line}"
    cost = culprit_cost_seconds(line, CULPRIT)
    assert abs(cost - run.measured_seconds) <= TOLERANCE * run.measured_seconds, (
        f"the report says {cost * 1000:.1f} ms, the app measured {run.measured_seconds * 1000:.1f} ms: {line}"
    )
    for row in llm_rows:
        assert row["blocked_seconds"] <= HELD_SHARE * row["total_seconds"], (
            f"llm {row['name']} is charged {row['blocked_seconds'] * 1000:.1f} ms of holding the loop in "
            f"{row['total_seconds'] * 1000:.1f} ms"
        )


@pytest.mark.parametrize("shape", SHAPES)
def test_the_reports_are_possible(shape: str, run_app: Callable[[str], Run]) -> None:
    run = run_app(shape)
    invariants.check_text(run.report)
    invariants.check_json(run.data)
