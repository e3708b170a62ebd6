"""Acceptance of issue #26's corpus: every streaming API shape, beside a planted loop holder, under ``run``.

Each app under ``tests/apps/streams/`` streams three answers of one API shape (the OpenAI SDK's
``create(stream=True)`` and ``stream()`` helpers for chat and responses, Anthropic's likewise and its
helper's ``get_final_message()``, LiteLLM, LangChain, LangGraph, the Agents SDK, the Agent Framework) from
the local server (``examples/local_llm.py``), concurrently with ``fares.check_all_fares``: an ``async def``
tool, ``search_fares``, whose synchronous client holds the event loop 50 ms a call, 20 calls 10 ms apart.
The streams (``slow-150-``: about 1.4 s each) are open through all of the tool's calls, so every hold
lands in the middle of them. The apps are written as users write them: a script with ``async def
main()``, the tool declared a target in the folder's ``pyproject.toml``, nothing of otel-agentperf
imported. Each app first checks that the model server answers, with one streamed call of its
library's synchronous API (the agent frameworks: of the OpenAI client's under them) on the model
``readiness-check``, before its event loop starts: the SDKs' first call builds
models and imports enough to hold a loop for real (the Responses API's event models 0.6-1.5 s, measured
without instrumentation), which would otherwise outweigh the planted tool on any loop it ran on.

Each app runs under ``otel-agentperf run`` (the real launcher and receiver); the test reads the text
report ``run`` prints and the JSON of the saved run, and asserts:

- the first bottleneck names ``tool `search_fares``` with the time it held the loop within ±25% of what
  the app measured with ``perf_counter`` around the synchronous client (``FARES_TIMINGS``);
- no LLM row is charged with holding the loop for more than 10% of its duration: a stream, however
  its API wraps it (a coroutine, an async iterator, a context manager returned by a plain method), holds
  the loop only while its own code runs between awaits, and the tool's holds are the tool's;
- the streams were recorded, one LLM call each, so the holding check is never vacuous or diluted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.test_planted_bottlenecks import culprit_cost_seconds, first_bottleneck

# Once, not twice, under `--count 2` (CI time, see scripts/test.sh): what these tests check runs in processes
# they start afresh; all they share in this process is the session's local model server.
pytestmark = pytest.mark.repeat(1)

STREAMS = Path(__file__).parent / "apps" / "streams"
CLI = str(Path(sys.executable).parent / "otel-agentperf")
CULPRIT = "tool `search_fares`"
TOLERANCE = 0.25
HELD_SHARE = 0.10
STREAM_MODEL = "slow-150-trip-writer"  # the model the apps stream their three answers from
STREAMED_CALLS = 3

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


@pytest.mark.parametrize("shape", SHAPES)
def test_the_blocking_tool_is_the_first_bottleneck_and_no_stream_holds_the_loop(
    shape: str, server: Any, tmp_path: Path
) -> None:
    saved, timings = tmp_path / "run.otlp", tmp_path / "fares.json"
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
    report = result.stdout.split("otel-agentperf run: ", 1)[1]
    as_json = subprocess.run(
        [CLI, "report", "--file", str(saved), "--format", "json"], capture_output=True, text=True, timeout=60
    )
    assert as_json.returncode == 0, as_json.stderr
    llm_rows = [row for row in json.loads(as_json.stdout)["operations"] if row["kind"] == "llm"]
    measured = json.loads(timings.read_text())["held_seconds"]
    print(report)
    print(f"{shape}: the app measured {measured * 1000:.1f} ms held by the tool")
    for row in llm_rows:
        print(
            f"{shape}: llm {row['name']}: {row['calls']:g} calls, held {row['blocked_seconds'] * 1000:.1f} ms "
            f"of {row['total_seconds'] * 1000:.1f} ms"
        )

    streams = [row for row in llm_rows if row["name"].endswith(f"/{STREAM_MODEL}")]
    assert [row["calls"] for row in streams] == [STREAMED_CALLS], f"the streams were not recorded once each:\n{report}"
    line = first_bottleneck(report)
    assert CULPRIT in line, f"the first bottleneck is not {CULPRIT}: {line}"
    cost = culprit_cost_seconds(line, CULPRIT)
    assert abs(cost - measured) <= TOLERANCE * measured, (
        f"the report says {cost * 1000:.1f} ms, the app measured {measured * 1000:.1f} ms: {line}"
    )
    for row in llm_rows:
        assert row["blocked_seconds"] <= HELD_SHARE * row["total_seconds"], (
            f"llm {row['name']} is charged {row['blocked_seconds'] * 1000:.1f} ms of holding the loop in "
            f"{row['total_seconds'] * 1000:.1f} ms"
        )
