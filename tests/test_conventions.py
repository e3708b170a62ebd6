"""Every instrumentor's telemetry, validated against the semantic conventions' own model files, in both layouts.

The telemetry is real: the OpenAI and Anthropic SDKs, LangChain, LangGraph, the Agents SDK and DSPy run
against the local OpenAI- and Anthropic-compatible server; the MCP SDK's client talks to a real MCP
server over stdio, streamable HTTP and in process (both ends recorded here); the decorators, the config
loaders and the history stores run the application's own code. The rules come from the vendored YAML (tests/semconv/).
"""

from __future__ import annotations

import asyncio
import json
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import agent_framework
import agents
import anthropic
import dspy
import openai
import pytest
import yaml
from agent_framework.openai import OpenAIChatCompletionClient
from agents import Agent, OpenAIChatCompletionsModel, Runner, function_tool
from langchain_core.chat_history import InMemoryChatMessageHistory
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.memory import InMemorySaver
from opentelemetry.metrics import Meter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import otel_agentperf as ap
from otel_agentperf.instrumentation.config.json_files import JsonFilesInstrumentor
from otel_agentperf.instrumentation.config.pyyaml import PyYAMLInstrumentor
from otel_agentperf.instrumentation.frameworks.agent_framework_runs import AgentFrameworkInstrumentor
from otel_agentperf.instrumentation.frameworks.dspy_programs import DSPyInstrumentor
from otel_agentperf.instrumentation.frameworks.langchain_runnables import LangChainInstrumentor
from otel_agentperf.instrumentation.frameworks.langgraph_runs import LangGraphInstrumentor
from otel_agentperf.instrumentation.frameworks.openai_agents import OpenAIAgentsInstrumentor
from otel_agentperf.instrumentation.history.langchain_history import LangChainHistoryInstrumentor
from otel_agentperf.instrumentation.history.langgraph_checkpoints import LangGraphCheckpointInstrumentor
from otel_agentperf.instrumentation.llm.anthropic_sdk import AnthropicInstrumentor
from otel_agentperf.instrumentation.llm.openai_sdk import OpenAIInstrumentor
from otel_agentperf.instrumentation.tools.mcp_sessions import MCPInstrumentor
from otel_agentperf.runtime import settings
from tests.conftest import MakeRecorded, Recorded, instrumented_by
from tests.semconv.conventions import HERE, Model, Report, Validator
from tests.test_mcp import Server as MCPServerProcess

V141 = HERE / "v1.41"
GENAI = HERE / "genai-1.42.0-dev"
# Which of the model's span types a span is, by its gen_ai.operation.name (and kind where both exist):
# the table the conventions' span definitions are told apart by.
SPAN_TYPES = {
    "chat": "gen_ai.inference.client",
    "text_completion": "gen_ai.inference.client",
    "generate_content": "gen_ai.inference.client",
    "embeddings": "gen_ai.embeddings.client",
    "retrieval": "gen_ai.retrieval.client",
    "create_agent": "gen_ai.create_agent.client",
    "invoke_agent client": "gen_ai.invoke_agent.client",
    "invoke_agent internal": "gen_ai.invoke_agent.internal",
    "execute_tool": "gen_ai.execute_tool.internal",
    "invoke_workflow": "gen_ai.invoke_workflow.internal",
}
# A span with the MCP conventions' required attribute is an MCP span of its kind.
PROTOCOL_SPANS = {"mcp.method.name": {"client": "mcp.client", "server": "mcp.server"}}
# The namespaces besides GenAI whose v1.41 registries the spans and metrics refer to.
NAMESPACES = ("error", "server", "code", "mcp", "network", "jsonrpc", "rpc", "client")
# Of the GenAI repository's files (tests/semconv/README.md), each vendored byte for byte under the commit it
# was read at; "transcribed" holds what no file that could be read defines.
GENAI_METRICS = GENAI / "048366ea" / "model" / "gen-ai" / "metrics.yaml"
GENAI_TOKEN_METRICS = GENAI / "9b2ce3b4" / "model" / "gen-ai" / "token-metrics.yaml"
TRANSCRIBED = GENAI / "transcribed"
# v1.41, with the agent, tool and workflow durations of the GenAI repository's newest metrics model (v1.41's
# own definitions read last, so they win where both define a metric: the inference metrics). The newest
# layout: v1.41's registry and spans with the GenAI repository's metrics (which replace v1.41's) and
# registry changes.
MODELS = {
    "v1.41": lambda: Model(GENAI_METRICS, TRANSCRIBED / "groups.yaml", V141),
    "latest": lambda: Model(
        *(V141 / "model" / "gen-ai" / name for name in ("registry.yaml", "spans.yaml")),
        *(V141 / "model" / namespace for namespace in NAMESPACES),
        V141 / "docs" / "gen-ai" / "mcp.md",
        GENAI_METRICS,
        GENAI_TOKEN_METRICS,
        TRANSCRIBED,
    ),
}
IN_BOTH = (  # the metrics both layouts name alike
    "gen_ai.invoke_agent.duration",
    "gen_ai.execute_tool.duration",
    "mcp.client.operation.duration",
    "mcp.server.operation.duration",
    "mcp.client.session.duration",
    # what v1.41 lacks, named as the newest conventions name it
    "gen_ai.invoke_workflow.duration",
    "gen_ai.invoke_agent.inference_calls",
    "gen_ai.invoke_agent.tool_calls",
)
EXPECTED_METRICS = {
    "v1.41": (
        *IN_BOTH,
        "gen_ai.client.operation.duration",
        "gen_ai.client.token.usage",
        "gen_ai.client.operation.time_to_first_chunk",
        "gen_ai.client.operation.time_per_output_chunk",
    ),
    "latest": (
        *IN_BOTH,
        "gen_ai.client.inference.duration",
        "gen_ai.client.embeddings.duration",
        "gen_ai.client.inference.time_to_first_chunk",
        "gen_ai.client.inference.time_per_output_chunk",
        "gen_ai.client.inference.operation.input_tokens",
        "gen_ai.client.inference.operation.output_tokens",
        "gen_ai.client.inference.usage.input_tokens",
        "gen_ai.client.inference.usage.output_tokens",
        "gen_ai.client.inference.usage.cache_read.input_tokens",
    ),
}
MESSAGES = [{"role": "user", "content": "why is my agent slow"}]

agents.set_trace_processors([])  # the SDK's default processor uploads traces to OpenAI: not from tests


@function_tool
def notes(topic: str) -> str:
    """Look a topic up in the notes."""
    return f"notes on {topic}"


@tool
def lookup(topic: str) -> str:
    """Look a topic up."""
    return f"facts about {topic}"


@tool
def score(points: int) -> int:
    """Score an answer."""
    return points * 2


def count_sources(topic: str) -> int:
    """Count the sources on a topic."""
    return len(topic)


class Answer(dspy.Signature):
    """Answer a question."""

    question: str = dspy.InputField()
    answer: str = dspy.OutputField()


@ap.tool
def search(query: str) -> str:
    return f"results for {query}"


@ap.llm
def hand_written_call(prompt: str) -> str:
    """An LLM call through the app's own client: no provider named."""
    return prompt.upper()


@ap.agent(name="planner")
def planner(server: Any) -> str:
    """An app's own agent over the OpenAI SDK: its provider is the SDK call's."""
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-local", max_retries=0)
    client.chat.completions.create(model="small", messages=MESSAGES, temperature=0, top_p=1)
    search("latency")
    return hand_written_call("summarise")


@ap.create_agent(provider="openai")
class Assistant:
    def __init__(self, name: str) -> None:
        self.name = name


@ap.workflow(name="triage")
def triage(server: Any) -> str:
    return planner(server)


@ap.config
def load_settings(path: Path) -> Any:
    return json.loads(path.read_text())


@ap.history(store="notes")
def read_notes() -> list[str]:
    return ["a", "b"]


def _sdk_calls(server: Any) -> None:
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-local", max_retries=0)
    client.chat.completions.create(model="small", messages=MESSAGES, temperature=1, top_p=0, seed=7, max_tokens=9)
    for _ in client.chat.completions.create(
        model="small", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    ):
        pass
    client.responses.create(model="small", input="hello")
    client.embeddings.create(model="embed-small", input="hello", encoding_format="float")
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="error-small", messages=MESSAGES)
    # An Azure OpenAI client: the local server has no deployment routes, so the call fails (an error span).
    azure = openai.AzureOpenAI(base_url=server.base_url, api_key="local", api_version="2024-10-21", max_retries=0)
    with pytest.raises(openai.NotFoundError):
        azure.chat.completions.create(model="small", messages=MESSAGES)
    claude = anthropic.Anthropic(base_url=server.root_url, api_key="sk-ant-local", max_retries=0)
    claude.messages.create(model="cached-3-claude", max_tokens=64, messages=MESSAGES, stop_sequences=["END"])
    with claude.messages.stream(model="claude-s", max_tokens=64, messages=MESSAGES) as stream:
        stream.until_done()


def _frameworks(server: Any) -> None:
    """LangGraph over ChatOpenAI (the SDK records the call), the Agents SDK, DSPy's ReAct agent."""
    from langgraph.prebuilt import create_react_agent

    model = ChatOpenAI(model="tools-2-researcher", base_url=server.base_url, api_key="sk-local", max_retries=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated for langchain.agents.create_agent, not installed here
        graph = create_react_agent(model, [lookup, score], name="researcher", checkpointer=InMemorySaver())
    graph.invoke({"messages": [HumanMessage("research latency")]}, {"configurable": {"thread_id": "t1"}})
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-local", max_retries=0)
    chat = OpenAIChatCompletionsModel("tools-2-writer", client)
    asyncio.run(Runner.run(Agent(name="writer", instructions="Write.", model=chat, tools=[notes]), "write"))
    litellm = sys.modules.get("litellm")
    if litellm is not None:  # a client LiteLLM cached in an earlier test keeps that test's (switched off) wrapper
        litellm.in_memory_llm_clients_cache.flush_cache()
    lm = dspy.LM("openai/tools-2-analyst", api_base=server.base_url, api_key="sk-local", cache=False)
    with dspy.context(lm=lm):
        dspy.ReAct(Answer, tools=[count_sources], max_iters=3)(question="why is my agent slow")
    _agent_framework(server)


def _agent_framework(server: Any) -> None:
    """An Agent Framework agent with a tool, run and streamed, and a workflow of two agents."""
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-local", max_retries=0)
    chat = OpenAIChatCompletionClient(model="tools-1-editor", async_client=client)
    editor = agent_framework.Agent(chat, "Edit.", name="editor", tools=[agent_framework.tool(count_sources)])
    reviewer = agent_framework.Agent(OpenAIChatCompletionClient(model="small", async_client=client), name="reviewer")
    review = agent_framework.WorkflowBuilder(name="review", start_executor=editor).add_edge(editor, reviewer).build()

    async def main() -> None:
        await editor.run("edit this")
        async for _ in editor.run("edit this", stream=True):
            pass
        await review.run("edit this")

    asyncio.run(main())


def _langchain_alone(server: Any) -> None:
    """ChatOpenAI recorded by LangChain's own path (the OpenAI SDK not instrumented), invoke and stream."""
    model = ChatOpenAI(model="small", base_url=server.base_url, api_key="sk-local", temperature=0, max_retries=0)
    model.invoke("hello")
    for _ in model.stream("hello"):
        pass
    history = InMemoryChatMessageHistory()
    history.add_messages([AIMessage("hi"), HumanMessage("plan my day")])
    assert len(history.messages) == 2


def _mcp_sessions(tmp_path: Path) -> None:
    """A session's requests over stdio and streamable HTTP, and a tool call to an in-process server."""
    from mcp import Client

    from tests.apps.mcp_tools_server import server as tools_server
    from tests.test_mcp import _session_work

    async def over(server: MCPServerProcess) -> None:
        async with server.session() as session:
            await _session_work(session)

    async def in_process() -> None:
        async with Client(tools_server) as client:
            await client.call_tool("add", {"a": 4, "b": 5})

    for transport in ("stdio", "http"):
        server = MCPServerProcess(transport, tmp_path / f"mcp-{transport}-spans.jsonl")
        if transport == "http":
            server.start_http()
        try:
            asyncio.run(over(server))
        finally:
            server.stop()
    asyncio.run(in_process())


def _app_code(server: Any, tmp_path: Path) -> None:
    triage(server)
    Assistant("helper")
    with ap.segment("render"):
        read_notes()
    path = tmp_path / "settings.json"
    path.write_text('{"model": "small"}')
    load_settings(path)
    yaml_path = tmp_path / "agent.yaml"
    yaml_path.write_text("model: small\n")
    with yaml_path.open() as handle:
        yaml.safe_load(handle)
    with path.open() as handle:
        json.load(handle)


@pytest.fixture(params=sorted(MODELS))
def layout(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "latest":
        monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    settings.reload()
    yield request.param
    monkeypatch.delenv("OTEL_SEMCONV_STABILITY_OPT_IN", raising=False)
    settings.reload()


def _capture(make_recorded: MakeRecorded, server: Any, tmp_path: Path) -> Recorded:
    recorded = make_recorded()
    history = (LangChainHistoryInstrumentor(), LangGraphCheckpointInstrumentor())
    with instrumented_by(LangChainInstrumentor(), *history):
        _langchain_alone(server)
    frameworks = (
        LangChainInstrumentor(),
        LangGraphInstrumentor(),
        OpenAIAgentsInstrumentor(),
        DSPyInstrumentor(),
        AgentFrameworkInstrumentor(),
    )
    config = (PyYAMLInstrumentor(), JsonFilesInstrumentor())
    with instrumented_by(MCPInstrumentor()):
        _mcp_sessions(tmp_path)
    with instrumented_by(OpenAIInstrumentor(), AnthropicInstrumentor(), *frameworks, *history, *config):
        _sdk_calls(server)
        _frameworks(server)
        _app_code(server, tmp_path)
    return recorded


def test_every_instrumentor_follows_the_conventions(
    layout: str, make_recorded: MakeRecorded, server: Any, tmp_path: Path
) -> None:
    recorded = _capture(make_recorded, server, tmp_path)
    validator = Validator(MODELS[layout](), SPAN_TYPES, PROTOCOL_SPANS)
    report = Report()
    spans = recorded.spans()
    validator.spans(spans, report)
    validator.metrics(recorded.reader.get_metrics_data(), report)
    print(f"\n{layout}: {report.passed}/{report.checks} checks passed")  # the summary, shown with -s
    # Every kind of telemetry the package emits met its definition, so the checks covered each of them.
    spans_met = {ident.removeprefix("span.") for ident in report.met}
    assert {
        "openai.inference.client",
        "anthropic.inference.client",
        "gen_ai.embeddings.client",
        "gen_ai.create_agent.client",
        "gen_ai.invoke_agent.internal",
        "gen_ai.execute_tool.internal",
        "gen_ai.invoke_workflow.internal",
        "mcp.client",
        "mcp.server",
    } <= spans_met
    assert set(EXPECTED_METRICS[layout]) <= report.met
    assert report.checks > 1000
    assert report.violations == []


def _bad_telemetry(**attributes: Any) -> tuple[InMemorySpanExporter, InMemoryMetricReader]:
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[reader])
    span_attributes = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "m"}
    tracer = tracer_provider.get_tracer("t")
    tracer.start_span("chat m", kind=SpanKind.CLIENT, attributes={**span_attributes, **attributes}).end()
    histogram = meter_provider.get_meter("t").create_histogram("gen_ai.client.operation.duration", unit="ms")
    histogram.record(1.0, {"gen_ai.operation.name": "chat", "code.function.name": "f", **attributes})
    return exporter, reader


def test_the_validator_catches_a_wrong_type_a_missing_attribute_and_a_foreign_one() -> None:
    exporter, reader = _bad_telemetry(**{"gen_ai.request.temperature": 0, "gen_ai.provider.name": "azure"})
    validator = Validator(MODELS["v1.41"](), SPAN_TYPES)
    report = Report()
    validator.spans(exporter.get_finished_spans(), report)
    validator.metrics(reader.get_metrics_data(), report)
    found = "\n".join(report.violations)
    assert "gen_ai.request.temperature=0 is not double" in found  # an int where the conventions say double
    assert "gen_ai.provider.name='azure' is not one of" in found  # LangChain's raw ls_provider
    assert "unit 'ms'" in found
    assert "buckets" in found  # the SDK's default buckets, not the advised ones
    assert "code.function.name is not one of its attributes" in found
    assert report.passed < report.checks


def _violations(layout: str, record: Callable[[Meter], None]) -> str:
    """What the validator of ``layout`` finds in the metrics ``record`` makes."""
    reader = InMemoryMetricReader()
    record(MeterProvider(metric_readers=[reader]).get_meter("t"))
    report = Report()
    Validator(MODELS[layout](), SPAN_TYPES).metrics(reader.get_metrics_data(), report)
    return "\n".join(report.violations)


def test_the_validator_holds_the_newest_layout_to_its_own_metrics() -> None:
    """A float token count and a missing modality are each caught."""
    attributes = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai"}
    found = _violations(
        "latest",
        lambda meter: meter.create_counter("gen_ai.client.inference.usage.input_tokens", unit="{token}").add(
            2.0, attributes
        ),
    )
    assert "'gen_ai.client.inference.usage.input_tokens': 2.0 is not int" in found
    assert "required gen_ai.token.modality missing" in found


@pytest.mark.parametrize("layout", list(MODELS))
def test_the_workflow_durations_old_name_is_no_metric_of_either_layout(layout: str) -> None:
    """python-genai's util-genai records ``gen_ai.invoke_workflow.duration`` whatever the layout, as the
    newest conventions name it; the name before the rename is caught in both."""
    found = _violations(
        layout,
        lambda meter: meter.create_histogram("gen_ai.workflow.duration", unit="s").record(
            2.0, {"gen_ai.workflow.name": "w"}
        ),
    )
    assert "'gen_ai.workflow.duration': not defined by the conventions" in found


def test_the_validator_holds_mcp_telemetry_to_the_mcp_conventions() -> None:
    """A GenAI-style name on an MCP client span, a foreign transport, an error code on a success, and a
    session id on the operation metric (which the conventions leave off it) are each caught."""
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    attributes = {
        "mcp.method.name": "tools/call",
        "gen_ai.tool.name": "add",
        "gen_ai.operation.name": "execute_tool",
        "network.transport": "stdio",
        "rpc.response.status_code": "-32602",
    }
    tracer_provider.get_tracer("t").start_span("execute_tool add", kind=SpanKind.CLIENT, attributes=attributes).end()
    meter = MeterProvider(metric_readers=[reader]).get_meter("t")
    histogram = meter.create_histogram("mcp.client.operation.duration", unit="s")
    histogram.record(0.1, {"mcp.method.name": "tools/call", "mcp.session.id": "abc"})
    report = Report()
    validator = Validator(MODELS["v1.41"](), SPAN_TYPES, PROTOCOL_SPANS)
    validator.spans(exporter.get_finished_spans(), report)
    validator.metrics(reader.get_metrics_data(), report)
    found = "\n".join(report.violations)
    assert "span 'execute_tool add': name, span.mcp.client says '{mcp.method.name} {target}'" in found
    assert "network.transport='stdio' is not one of" in found
    assert "rpc.response.status_code set, but it did not fail" in found
    assert "mcp.session.id is not one of its attributes" in found
    assert "buckets" in found  # the SDK's defaults, not the advised ones
