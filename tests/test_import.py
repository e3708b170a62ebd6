"""Importing the package must stay cheap and never import an instrumented library or the SDK."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

INSTRUMENTED = ("yaml", "openai", "anthropic", "langchain_core", "langgraph", "dspy", "agents", "litellm", "mcp")


def test_import_pulls_in_no_instrumented_library_and_no_sdk() -> None:
    installed = [name for name in INSTRUMENTED if importlib.util.find_spec(name) is not None]
    assert "yaml" in installed, "PyYAML is a test dependency: without it this test proves nothing"
    code = (
        "import sys, json, otel_agentperf; "
        f"print(json.dumps([m for m in {list(INSTRUMENTED)!r} + ['opentelemetry.sdk'] if m in sys.modules]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []
