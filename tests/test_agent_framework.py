"""Microsoft Agent Framework: real agents, tools and workflows over its OpenAI client, the real OpenAI SDK
and the local server; with the framework's own OpenTelemetry on (its default) and off."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from agent_framework import Agent, FunctionTool, WorkflowBuilder, observability, tool, workflow
from agent_framework.exceptions import ChatClientException
from agent_framework.openai import OpenAIChatCompletionClient
from opentelemetry.trace import StatusCode

from otel_agentperf.conventions import names
from otel_agentperf.instrumentation.frameworks import agent_framework_runs
from otel_agentperf.instrumentation.frameworks.agent_framework_runs import AgentFrameworkInstrumentor
from otel_agentperf.instrumentation.llm.openai_sdk import OpenAIInstrumentor
from otel_agentperf.runtime import failures
from tests.apps.agent_framework_app import count_sources, lookup
from tests.conftest import Recorded, instrumented_by, live_operations, trees

ROOT = Path(__file__).resolve().parent.parent
ANSWER = "Latency comes from slow model calls and repeated work."


RESEARCH = (
    "invoke_agent researcher",
    ("chat tools-2-researcher",),
    ("execute_tool lookup",),
    ("chat tools-2-researcher",),
    ("execute_tool count_sources",),
    ("chat tools-2-researcher",),
)
WRITE = ("invoke_agent writer", ("chat writer",))
# Content attributes: only the capture switch may put these on a span.
CONTENT = {"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions"}


def _client(server: Any, model: str) -> OpenAIChatCompletionClient:
    sdk = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-local", max_retries=0)
    return OpenAIChatCompletionClient(model=model, async_client=sdk)


def _researcher(server: Any, model: str = "tools-2-researcher") -> Agent:
    return Agent(_client(server, model), "Research.", name="researcher", tools=[lookup, count_sources])


def _writer(server: Any) -> Agent:
    return Agent(_client(server, "writer"), "Write.", name="writer")


async def _run(runnable: Any, stream: bool) -> Any:
    """An agent's or a workflow's run, awaited, or streamed to its end and its final response."""
    if not stream:
        return await runnable.run("why is my agent slow")
    updates = runnable.run("why is my agent slow", stream=True)
    async for _ in updates:
        pass
    return await updates.get_final_response()


def _outcome(response: Any) -> tuple[Any, ...]:
    """What the host app gets back, without the ids the framework makes up per run."""
    messages = [
        (message.role, [(content.type, content.text, getattr(content, "name", None)) for content in message.contents])
        for message in response.messages
    ]
    return response.text, messages, response.usage_details


def _ours(recorded: Recorded) -> list[Any]:
    return [span for span in recorded.spans() if span.instrumentation_scope.name == names.SCOPE_NAME]


@pytest.fixture
def framework_otel(recorded: Recorded, monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], None]:
    """Switch the framework's own OpenTelemetry on or off (restored after the test); its spans go to this
    test's provider, as they would to a global one."""
    settings = observability.OBSERVABILITY_SETTINGS
    for private in ("_user_disabled", "_enable_instrumentation", "_enable_sensitive_data"):
        monkeypatch.setattr(settings, private, getattr(settings, private))
    monkeypatch.setattr(observability, "get_tracer", lambda *_a, **_k: recorded.tracer_provider.get_tracer("af"))

    def switch(on: bool) -> None:
        if on:
            observability.enable_instrumentation(force=True)
        else:
            observability.disable_instrumentation()

    switch(True)
    return switch


@pytest.fixture
def instrumented(recorded: Recorded, framework_otel: Callable[[bool], None]) -> Iterator[Recorded]:
    """The framework and the OpenAI SDK instrumented, as under ``opentelemetry-instrument``; the framework's
    own telemetry on, as it is by default."""
    with instrumented_by(AgentFrameworkInstrumentor(), OpenAIInstrumentor()):
        yield recorded


@pytest.mark.parametrize("stream", [False, True], ids=["run", "stream"])
def test_agent_with_two_tools_is_one_exact_tree_with_counts_and_metrics(
    instrumented: Recorded, server: Any, stream: bool
) -> None:
    researcher = _researcher(server)
    assert asyncio.run(_run(researcher, stream)).text == ANSWER
    spans = instrumented.spans()
    assert list(trees(spans).values()) == [RESEARCH]
    assert spans == _ours(instrumented)  # the framework's own spans gave way to ours
    chats = [span for span in spans if span.name.startswith("chat")]
    # One LLM operation per model call: the framework's, with the SDK's call folded in (its usage, its id).
    assert {span.attributes[names.CODE_FUNCTION] for span in chats} == {"OpenAIChatCompletionClient.get_response"}
    assert all(span.attributes[names.GEN_AI_PROVIDER_NAME] == "openai" for span in chats)
    assert all(span.attributes[names.GEN_AI_RESPONSE_ID] == "chatcmpl-local" for span in chats)
    assert [span.attributes[names.GEN_AI_RESPONSE_FINISH_REASONS] for span in chats] == [
        ("tool_calls",),
        ("tool_calls",),
        ("stop",),
    ]
    assert all(span.attributes[names.SERVER_ADDRESS] == "127.0.0.1" for span in chats)
    if stream:
        assert all(span.attributes[names.GEN_AI_REQUEST_STREAM] is True for span in chats)
        assert all(span.attributes[names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0 for span in chats)
        assert instrumented.histogram_points(names.CLIENT_TIME_TO_FIRST_CHUNK)[0].count == 3
    assert instrumented.tokens("output") == sum(span.attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS] for span in chats)
    agent = instrumented.span("invoke_agent researcher")
    assert (agent.attributes[names.AGENT_LLM_CALLS], agent.attributes[names.AGENT_TOOL_CALLS]) == (3, 2)
    assert agent.attributes[names.GEN_AI_PROVIDER_NAME] == "openai"
    assert agent.attributes[names.GEN_AI_AGENT_ID] == researcher.id
    tools = [span for span in spans if span.name.startswith("execute_tool")]
    assert [span.attributes[names.GEN_AI_TOOL_CALL_ID] for span in tools] == ["call_0", "call_1"]
    assert {span.attributes[names.GEN_AI_TOOL_TYPE] for span in tools} == {"function"}
    assert not any(CONTENT & set(span.attributes) for span in spans)
    assert instrumented.histogram_point(names.AGENT_DURATION).count == 1
    tool_point = instrumented.histogram_point(names.TOOL_DURATION, **{names.GEN_AI_TOOL_NAME: "lookup"})
    assert tool_point.count == 1 and tool_point.attributes[names.GEN_AI_AGENT_NAME] == "researcher"
    assert instrumented.histogram_point(names.INVOKE_AGENT_INFERENCE_CALLS).sum == 3
    assert instrumented.histogram_point(names.INVOKE_AGENT_TOOL_CALLS).sum == 2
    llm = instrumented.histogram_point(names.CLIENT_OPERATION_DURATION)
    assert llm.count == 3 and llm.attributes[names.GEN_AI_REQUEST_MODEL] == "tools-2-researcher"


@pytest.mark.parametrize("stream", [False, True], ids=["run", "stream"])
def test_without_the_sdk_instrumented_chat_calls_are_recorded_from_the_framework_alone(
    recorded: Recorded, server: Any, stream: bool
) -> None:
    with instrumented_by(AgentFrameworkInstrumentor()):
        asyncio.run(_run(_researcher(server), stream))
    spans = recorded.spans()
    assert list(trees(spans).values()) == [RESEARCH]
    chats = [span for span in spans if span.name.startswith("chat")]
    # Usage from the framework's response (its stream's usage update), the id and model it reports.
    assert [span.attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS] for span in chats] == [9, 9, 9]
    assert all(span.attributes[names.GEN_AI_RESPONSE_MODEL] == "tools-2-researcher" for span in chats)
    assert all(span.attributes[names.GEN_AI_RESPONSE_ID] == "chatcmpl-local" for span in chats)
    reasons = [span.attributes[names.GEN_AI_RESPONSE_FINISH_REASONS] for span in chats]
    assert reasons == [("tool_calls",), ("tool_calls",), ("stop",)]
    assert recorded.tokens("output") == 27
    assert recorded.histogram_point(names.CLIENT_OPERATION_DURATION).count == 3


@pytest.mark.parametrize("stream", [False, True], ids=["run", "stream"])
def test_host_results_are_identical_with_and_without_instrumentation(
    recorded: Recorded, framework_otel: Callable[[bool], None], server: Any, stream: bool
) -> None:
    bare = _outcome(asyncio.run(_run(_researcher(server), stream)))
    with instrumented_by(AgentFrameworkInstrumentor(), OpenAIInstrumentor()):
        recorded_run = _outcome(asyncio.run(_run(_researcher(server), stream)))
    assert recorded_run == bare
    assert bare[0] == ANSWER and len(bare[1]) == 5  # call, result, call, result, answer


@pytest.mark.parametrize("framework_first", [True, False], ids=["framework-otel-first", "ours-first"])
def test_framework_otel_in_either_order_leaves_one_span_per_operation_and_our_metrics(
    recorded: Recorded, framework_otel: Callable[[bool], None], server: Any, framework_first: bool
) -> None:
    framework_otel(False)
    instrumentors = (AgentFrameworkInstrumentor(), OpenAIInstrumentor())
    if framework_first:
        framework_otel(True)
        observability.enable_sensitive_telemetry()  # its content would go on its spans: ours carry none
    with instrumented_by(*instrumentors):
        if not framework_first:
            framework_otel(True)
            observability.enable_sensitive_telemetry()
        asyncio.run(_run(_researcher(server), stream=False))
        asyncio.run(_run(_researcher(server), stream=True))
    assert sorted(trees(recorded.spans()).values()) == [RESEARCH, RESEARCH]
    assert recorded.spans() == _ours(recorded)
    assert not any(CONTENT & set(span.attributes) for span in recorded.spans())
    assert recorded.histogram_point(names.AGENT_DURATION).count == 2
    assert recorded.histogram_point(names.CLIENT_OPERATION_DURATION).count == 6
    assert recorded.histogram_point(names.INVOKE_AGENT_INFERENCE_CALLS).sum == 6


def test_framework_otel_alone_records_its_own_spans_and_off_ours_are_the_same(
    recorded: Recorded, framework_otel: Callable[[bool], None], server: Any
) -> None:
    """The control for the test above: uninstrumented, the framework's spans reach this test's provider."""
    asyncio.run(_run(_researcher(server), stream=False))
    assert [str(tree[0]) for tree in trees(recorded.spans()).values()] == ["invoke_agent researcher"]
    assert _ours(recorded) == [] and len(recorded.spans()) == 6
    recorded.exporter.clear()
    framework_otel(False)
    with instrumented_by(AgentFrameworkInstrumentor(), OpenAIInstrumentor()):
        asyncio.run(_run(_researcher(server), stream=True))
    assert list(trees(recorded.spans()).values()) == [RESEARCH]
    assert recorded.histogram_point(names.INVOKE_AGENT_TOOL_CALLS).sum == 2


@pytest.mark.parametrize("framework_on", [False, True], ids=["framework-otel-off", "framework-otel-on"])
@pytest.mark.parametrize("stream", [False, True], ids=["run", "stream"])
def test_workflow_of_two_agents_nests_both_in_one_invoke_workflow(
    instrumented: Recorded, framework_otel: Callable[[bool], None], server: Any, framework_on: bool, stream: bool
) -> None:
    framework_otel(framework_on)
    researcher = _researcher(server, "tools-1-researcher")
    writer = _writer(server)
    workflow = WorkflowBuilder(name="research", start_executor=researcher).add_edge(researcher, writer).build()
    instrumented.exporter.clear()  # building is the framework's span, not an operation of ours

    outputs = asyncio.run(_run(workflow, stream)).get_outputs()
    if stream:  # each agent's updates
        assert len(outputs) > 2
    else:
        assert [output.text for output in outputs] == [ANSWER, ANSWER]
    research = ("invoke_agent researcher", *[(name,) for name in ("chat tools-1-researcher", "execute_tool lookup")])
    research = (*research, ("chat tools-1-researcher",))
    if framework_on:  # the framework's executor, edge and message spans, under ours
        tree: tuple[Any, ...] = (
            "invoke_workflow research",
            ("edge_group.process InternalEdgeGroup",),
            ("executor.process researcher", research, ("message.send",)),
            ("edge_group.process SingleEdgeGroup",),
            ("executor.process writer", WRITE, ("message.send",)),
        )
    else:
        tree = ("invoke_workflow research", research, WRITE)
    assert [_names(found) for found in trees(instrumented.spans()).values()] == [tree]
    point = instrumented.histogram_point(names.WORKFLOW_DURATION)
    assert point.count == 1 and point.attributes[names.GEN_AI_WORKFLOW_NAME] == "research"
    assert instrumented.histogram_point(names.AGENT_DURATION, **{names.GEN_AI_AGENT_NAME: "writer"}).count == 1


@pytest.mark.filterwarnings(r"ignore:\[FUNCTIONAL_WORKFLOWS\]")  # the framework marks them experimental
def test_a_functional_workflow_calling_two_agents_is_one_invoke_workflow(instrumented: Recorded, server: Any) -> None:
    researcher, writer = _researcher(server, "tools-1-researcher"), _writer(server)

    @workflow
    async def report(question: str) -> str:
        notes = await researcher.run(question)
        return (await writer.run(notes.text)).text

    assert asyncio.run(report.build().run("why is my agent slow")).get_outputs() == [ANSWER]
    research = ("invoke_agent researcher", ("chat tools-1-researcher",), ("execute_tool lookup",))
    tree = ("invoke_workflow report", (*research, ("chat tools-1-researcher",)), WRITE)
    assert list(trees(instrumented.spans()).values()) == [tree]
    assert instrumented.histogram_point(names.WORKFLOW_DURATION).attributes[names.GEN_AI_WORKFLOW_NAME] == "report"


def _names(tree: tuple[Any, ...]) -> tuple[Any, ...]:
    """A tree with the framework's span names (``str`` enum members) as plain strings."""
    return (str(getattr(tree[0], "value", tree[0])), *[_names(child) for child in tree[1:]])


def test_four_concurrent_runs_each_form_their_own_exact_tree(instrumented: Recorded, server: Any) -> None:
    researcher, writer = _researcher(server), _writer(server)

    async def main() -> list[Any]:
        runs = [_run(researcher, False), _run(writer, False), _run(researcher, True), _run(writer, True)]
        return await asyncio.gather(*runs)

    responses = asyncio.run(main())
    assert [response.text for response in responses] == [ANSWER] * 4
    assert sorted(trees(instrumented.spans()).values()) == [RESEARCH, RESEARCH, WRITE, WRITE]
    agents = [span for span in instrumented.spans() if span.name.startswith("invoke_agent")]
    counts = sorted(
        (span.name, span.attributes[names.AGENT_LLM_CALLS], span.attributes[names.AGENT_TOOL_CALLS]) for span in agents
    )
    assert counts == [("invoke_agent researcher", 3, 2)] * 2 + [("invoke_agent writer", 1, 0)] * 2
    tools = instrumented.histogram_point(names.TOOL_DURATION, **{names.GEN_AI_TOOL_NAME: "count_sources"})
    assert tools.count == 2 and tools.attributes[names.GEN_AI_AGENT_NAME] == "researcher"


@pytest.mark.parametrize("stream", [False, True], ids=["run", "stream"])
def test_a_failing_model_call_is_an_error_on_the_llm_and_agent_spans_and_the_host_sees_the_same_exception(
    recorded: Recorded, framework_otel: Callable[[bool], None], server: Any, stream: bool
) -> None:
    def failure() -> BaseException:
        with pytest.raises(ChatClientException) as raised:
            asyncio.run(_run(_researcher(server, "error-researcher"), stream))
        return raised.value

    bare = failure()
    with instrumented_by(AgentFrameworkInstrumentor(), OpenAIInstrumentor()):
        seen = failure()
    assert (type(seen), str(seen), type(seen.__cause__)) == (type(bare), str(bare), type(bare.__cause__))
    ours = _ours(recorded)
    assert [span.name for span in ours] == ["chat error-researcher", "invoke_agent researcher"]
    for span in ours:
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes[names.ERROR_TYPE] == "ChatClientException"
    point = recorded.histogram_point(names.CLIENT_OPERATION_DURATION)
    assert point.attributes[names.ERROR_TYPE] == "ChatClientException"


def test_a_failure_inside_the_instrumentation_is_logged_once_and_the_run_is_unchanged(
    recorded: Recorded,
    framework_otel: Callable[[bool], None],
    server: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bare = [_outcome(asyncio.run(_run(_researcher(server), stream))) for stream in (False, True)]

    def fail(_client: Any) -> str:
        raise RuntimeError("instrumentation bug")

    monkeypatch.setattr(agent_framework_runs, "_provider", fail)
    monkeypatch.setattr(failures, "_seen", set())
    recorded.exporter.clear()
    with instrumented_by(AgentFrameworkInstrumentor(), OpenAIInstrumentor()):
        seen = [_outcome(asyncio.run(_run(_researcher(server), stream))) for stream in (False, True) * 2]
    assert seen == bare * 2
    # Agent runs and chat calls go unrecorded by us: the framework's spans stay, with the SDK's calls (ours)
    # under its chat spans and the tools (ours) under its agent span.
    framework_chat = ("chat tools-2-researcher", ("chat tools-2-researcher",))
    research = ("invoke_agent researcher", *[(name,) for name in ("execute_tool lookup", "execute_tool count_sources")])
    found = [_names(tree) for tree in trees(recorded.spans()).values()]
    assert found == [(research[0], framework_chat, research[1], framework_chat, research[2], framework_chat)] * 4
    assert sum("instrumentation bug" in record.getMessage() for record in caplog.records) == 2  # agent, chat


def test_a_failing_tool_is_an_error_and_the_run_goes_on(instrumented: Recorded, server: Any) -> None:
    @tool
    def broken(topic: str) -> str:
        """A tool that fails."""
        raise ValueError(f"no notes on {topic}")

    agent = Agent(_client(server, "researcher"), "Research.", name="researcher", tools=[broken])
    assert asyncio.run(_run(agent, stream=False)).text == ANSWER
    failed = instrumented.span("execute_tool broken")
    assert failed.status.status_code is StatusCode.ERROR and failed.attributes[names.ERROR_TYPE] == "ValueError"
    assert instrumented.span("invoke_agent researcher").status.status_code is StatusCode.UNSET


# The framework's own coroutine behind a stream nobody reads is never awaited, instrumented or not.
@pytest.mark.filterwarnings("ignore:coroutine 'RawAgent.run.<locals>._run_streaming' was never awaited")
def test_runs_leave_no_operation_behind_and_an_unread_stream_ends_when_collected(
    instrumented: Recorded, server: Any
) -> None:
    agent = _researcher(server)

    async def main() -> None:
        for stream in (False, True) * 5:
            await _run(agent, stream)

    asyncio.run(main())
    before = live_operations()
    asyncio.run(main())
    assert live_operations() <= before  # none added (one the first round left referenced may be freed since)
    unread = agent.run("why is my agent slow", stream=True)
    del unread
    gc.collect()
    assert len([span for span in instrumented.spans() if span.name == "invoke_agent researcher"]) == 21


def test_under_opentelemetry_instrument_each_operation_is_one_span(server: Any) -> None:
    """The launcher loads every entry point before the app imports the framework, whose telemetry (on by
    default) then exports to the same global provider: still one span per operation."""
    launcher = Path(sys.executable).parent / "opentelemetry-instrument"
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env.update(OTEL_TRACES_EXPORTER="console", OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none")
    app = ROOT / "tests" / "apps" / "agent_framework_app.py"
    command = [str(launcher), sys.executable, str(app), server.base_url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines.count(ANSWER) == 2  # the app's own output, whenever the console exporter wrote
    exported = "\n".join(line for line in lines if line != ANSWER)
    spans = [json.loads(chunk) for chunk in re.split(r"(?m)^(?=\{$)", exported) if chunk.strip()]
    found = sorted(span["name"] for span in spans)
    assert found == sorted([RESEARCH[0], *[child[0] for child in RESEARCH[1:]]] * 2)
    agents = [span for span in spans if span["name"] == "invoke_agent researcher"]
    assert {span["attributes"][names.AGENT_LLM_CALLS] for span in agents} == {3}


def test_uninstrument_restores_the_framework_and_its_own_spans(
    recorded: Recorded, framework_otel: Callable[[bool], None], server: Any
) -> None:
    originals = (vars(Agent)["run"], vars(observability)["_get_span"], vars(FunctionTool)["invoke"])
    instrumentor = AgentFrameworkInstrumentor()
    instrumentor.instrument()
    assert vars(Agent)["run"] is not originals[0]
    instrumentor.uninstrument()
    assert (vars(Agent)["run"], vars(observability)["_get_span"], vars(FunctionTool)["invoke"]) == originals
    asyncio.run(_run(_researcher(server), stream=True))
    assert _ours(recorded) == [] and len(recorded.spans()) == 6


def test_the_entry_point_names_the_instrumentor() -> None:
    from importlib.metadata import entry_points

    group = entry_points(group="opentelemetry_instrumentor")
    (entry,) = [point for point in group if point.name == "otel_agentperf_agent_framework"]
    assert entry.load() is AgentFrameworkInstrumentor
    assert AgentFrameworkInstrumentor().instrumentation_dependencies() == ("agent-framework-core >= 1.22",)
