"""The README's main job, end to end: the example app under opentelemetry-instrument, scraped and reported."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from otel_agentperf.views import scrape
from tests import invariants
from tests.doc_blocks import block, commands
from tests.test_launcher import _free_port

# Once, not twice, under `--count 2` (CI time, see scripts/test.sh): what these tests check runs in processes
# they start afresh; all they share in this process is the session's local model server.
pytestmark = pytest.mark.repeat(1)

ROOT = Path(__file__).resolve().parent.parent


def test_main_job_runs_the_example_and_reports_every_operation_kind() -> None:
    """The README's first command, run as written from the checkout (its Prometheus port moved)."""
    main_job, tests = commands(block("readme-commands").text)
    assert main_job == "./scripts/demo.sh"
    # The second is the whole suite (this test among it): CI runs it, as .ci/run, and it is not run here.
    assert tests == "./scripts/test.sh" and "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env["OTEL_EXPORTER_PROMETHEUS_PORT"] = str(_free_port())
    result = subprocess.run(["bash", "-c", main_job], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "app | answered 12 questions" in result.stdout
    invariants.check_text(result.stdout)
    rows = {(row.kind, row.name): row for row in scrape.parse((ROOT / "demo-metrics.prom").read_text())}
    # 3 rounds x 4 questions; each answer makes 2 model calls, appends once and reads history twice.
    assert rows[("agent", "ResearchAgent")].calls == 12
    assert rows[("create_agent", "ResearchAgent")].calls == 12
    assert rows[("workflow", "Orchestrator")].calls == 3
    model = rows[("llm", "openai/slow-20-assistant-small")]  # real OpenAI SDK calls to the local server
    assert model.calls == 24
    # The server counts words. Per round: plan prompts "plan: <q>" = 4 + 17 words, answer prompts
    # "answer: <q> with 5 notes" = 17 + 4 * 4 words, and 8 answers of 9 words: 126 tokens, 3 rounds.
    assert model.tokens == 3 * (21 + 33 + 8 * 9)
    # Priced by the example's own price table (agentperf.toml): $0.15 / $0.60 per million tokens.
    assert model.cost_usd == pytest.approx(3 * ((21 + 33) * 0.15 + 8 * 9 * 0.60) / 1e6)
    # The triage model rate-limits its first two requests: the first call fails after the SDK's one retry.
    triage = rows[("llm", "openai/ratelimit-2-cached-4-triage-mini")]
    assert (triage.calls, triage.errors, triage.retries, triage.retried_calls) == (3, 1, 1, 1)
    assert triage.retry_reasons == {"429": 1} and 0 < triage.retry_seconds < triage.total_seconds
    assert rows[("tool", "calculate")].errors == 3  # "1/0" once per round
    # The LangGraph review step, recorded by the framework instrumentors: one graph run per round, the
    # ReAct agent inside it, its two tool calls and three model calls through ChatOpenAI (one span each).
    assert rows[("workflow", "review")].calls == 3
    assert rows[("agent", "fact_checker")].calls == 3
    assert rows[("tool", "check_claim")].calls == rows[("tool", "count_sources")].calls == 3
    assert rows[("llm", "openai/tools-2-reviewer")].calls == 9
    # Each history method is a row of its own, named by its qualified name (no name given in the targets).
    assert rows[("history", "HistoryStore.append/append")].calls == 12
    assert rows[("history", "HistoryStore.get_by_id/read")].calls == 12
    assert rows[("history", "HistoryStore.recent/read")].calls == 12
    config = rows[("config", "load_settings")]
    assert config.calls == 13  # once per agent, once for the orchestrator: tomllib.load folded in
    assert config.redundant == 12  # the same unchanged settings.toml, again and again
    # Agents are built inside the orchestrator's coroutine, but a TOML read and a JSONL append take far
    # less than the blocking threshold: measured, neither blocks the loop by itself (a load can be on the
    # stack while the loop is held, and is charged that part).
    assert config.blocking == 0 and config.blocked_seconds < 0.02
    assert rows[("history", "HistoryStore.append/append")].blocking == 0
    # The synchronous summariser, called from the agents' coroutines, holds the loop for all its time.
    summarize = rows[("tool", "summarize")]
    assert summarize.total_seconds * 0.75 <= summarize.blocked_seconds <= summarize.total_seconds * 1.1
    assert "tool `summarize` held the asyncio event loop for" in result.stdout
    assert "12 redundant (" in result.stdout  # and the milliseconds they wasted
    assert (
        "llm `openai/ratelimit-2-cached-4-triage-mini` was retried by its SDK: 1 HTTP request retried (429 x1)"
        in result.stdout
    )
    assert "first chunk p50 " in result.stdout  # the answers stream
    assert "config `load_settings` loaded config 13 times; 12 were redundant reloads" in result.stdout
    assert "llm `openai/slow-20-assistant-small` takes" in result.stdout.split("Bottlenecks:")[1]
    assert "ResearchAgent" in result.stdout.split("Recorded by otel-agentperf")[1]
