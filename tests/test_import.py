"""Importing the package must stay cheap and never import an instrumented library or the SDK."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

INSTRUMENTED = (
    "yaml",
    "openai",
    "anthropic",
    "langchain_core",
    "langgraph",
    "dspy",
    "agents",
    "litellm",
    "mcp",
    "agent_framework",
)


def test_import_pulls_in_no_instrumented_library_and_no_sdk() -> None:
    installed = [name for name in INSTRUMENTED if importlib.util.find_spec(name) is not None]
    assert "yaml" in installed, "PyYAML is a test dependency: without it this test proves nothing"
    code = (
        "import sys, json, otel_agentperf; "
        f"print(json.dumps([m for m in {list(INSTRUMENTED)!r} + ['opentelemetry.sdk'] if m in sys.modules]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []


def test_litellm_and_mcp_instrumentors_are_silent_when_their_library_is_absent() -> None:
    """Instrumenting with the library unimportable logs nothing, and the app's own import fails as before."""
    code = (
        "import sys, logging; logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)\n"
        "sys.modules['litellm'] = None; sys.modules['mcp'] = None\n"
        "from otel_agentperf.instrumentation.llm.litellm_calls import LiteLLMInstrumentor\n"
        "from otel_agentperf.instrumentation.tools.mcp_sessions import MCPInstrumentor\n"
        "LiteLLMInstrumentor().instrument(); MCPInstrumentor().instrument()\n"
        "for name in ('litellm', 'mcp.client.session'):\n"
        "    try:\n"
        "        __import__(name)\n"
        "    except ImportError:\n"
        "        print('ImportError', name)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == ["ImportError litellm", "ImportError mcp.client.session"]
    assert "otel-agentperf" not in result.stderr and "Traceback" not in result.stderr


def test_agent_framework_instrumentor_is_silent_when_the_framework_is_absent() -> None:
    """Importing and instrumenting imports no part of the framework; with it unimportable, nothing is logged."""
    code = (
        "import sys, logging; logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)\n"
        "from otel_agentperf.instrumentation.frameworks.agent_framework_runs import AgentFrameworkInstrumentor\n"
        "AgentFrameworkInstrumentor().instrument()\n"
        "print(sorted(name for name in sys.modules if name.startswith('agent_framework')))\n"
        "sys.modules['agent_framework'] = None\n"
        "try:\n"
        "    import agent_framework\n"
        "except ImportError:\n"
        "    print('ImportError')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == ["[]", "ImportError"]
    assert "otel-agentperf" not in result.stderr and "Traceback" not in result.stderr
