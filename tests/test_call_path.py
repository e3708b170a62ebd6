"""``benchmarks/call_path.py``, the review's measure of the hot path, works and holds its ceiling.

The figures are what one warmed sync OpenAI call enters of the package (docs/architecture.md, "LLM
calls, beside contrib's openai-v2"). The ceiling is today's path: a change that lengthens it fails here,
and each step toward the goal (8 files, 4 crossings) lowers it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.doc_blocks import ROOT

FILES_CEILING = 14
CROSSINGS_CEILING = 14
LAYERS = {"conventions", "runtime", "recording", "wrapping", "api", "instrumentation"}


def test_one_warmed_openai_call_stays_within_the_path_ceiling() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    result = subprocess.run(
        [sys.executable, "call_path.py", "--list"],
        cwd=ROOT / "benchmarks",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    summary = re.search(
        r"(\d+) package functions \((\d+) entries\) in (\d+) files, (\d+) layer crossings \(([\w ]+)\)",
        result.stdout,
    )
    assert summary, result.stdout
    functions, entries, files, crossings = (int(summary.group(i)) for i in range(1, 5))
    listed = [line.strip() for line in result.stdout.splitlines() if line.startswith("  ")]
    assert len(listed) == functions <= entries
    # the call is recorded: it starts the operation, records its duration and reads the response
    assert {
        "otel_agentperf.recording.telemetry:Telemetry.start",
        "otel_agentperf.recording.recorder:Recorder.duration",
        "otel_agentperf.instrumentation.llm.extractors:set_response",
    } <= set(listed)
    assert set(summary.group(5).split()) <= LAYERS
    assert files <= FILES_CEILING
    assert crossings <= CROSSINGS_CEILING
