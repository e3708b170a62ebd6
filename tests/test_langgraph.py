"""LangChain and LangGraph: real graphs, a real ReAct agent and ChatOpenAI against the local server.

The local server answers ``tools-2-*`` models with two tool calls before the final answer, so the agent
really loops: model, tool, model, tool, model.
"""

from __future__ import annotations

import asyncio
import operator
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, TypedDict

import openai
import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import HumanMessage
from langchain_core.tools import BaseTool, tool
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, StateGraph
from langgraph.pregel import Pregel
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import StatusCode

import otel_agentperf
from otel_agentperf.conventions import buckets, names
from otel_agentperf.instrumentation.frameworks import langgraph_runs
from otel_agentperf.instrumentation.frameworks.langchain_runnables import LangChainInstrumentor
from otel_agentperf.instrumentation.frameworks.langgraph_runs import LangGraphInstrumentor
from otel_agentperf.instrumentation.llm import extractors
from otel_agentperf.instrumentation.llm.openai_sdk import OpenAIInstrumentor
from otel_agentperf.runtime import failures
from tests.conftest import Recorded, instrumented_by, live_operations, trees

AGENT_MODEL = "tools-2-researcher"
# The spans under one ReAct agent run, in start order: model, tool, model, tool, model.
AGENT_CHILDREN = [f"chat {AGENT_MODEL}", "execute_tool lookup", f"chat {AGENT_MODEL}", "execute_tool score"]
AGENT_CHILDREN.append(f"chat {AGENT_MODEL}")


@tool
def lookup(topic: str) -> str:
    """Look a topic up in the notes."""
    return f"notes on {topic}"


@tool
def score(points: int) -> int:
    """Score an answer."""
    return points * 2


@tool
def broken(topic: str) -> str:
    """A tool that fails."""
    raise ValueError(f"no notes on {topic}")


def _instrumented(recorded: Recorded, openai_too: bool) -> Iterator[Recorded]:
    instrumentors: list[Any] = [LangChainInstrumentor(), LangGraphInstrumentor()]
    with instrumented_by(*instrumentors, *([OpenAIInstrumentor()] if openai_too else [])):
        yield recorded


@pytest.fixture
def frameworks(recorded: Recorded) -> Iterator[Recorded]:
    """LangChain, LangGraph and the OpenAI SDK instrumented, as under ``opentelemetry-instrument``."""
    yield from _instrumented(recorded, openai_too=True)


@pytest.fixture
def frameworks_only(recorded: Recorded) -> Iterator[Recorded]:
    """LangChain and LangGraph instrumented, the OpenAI SDK not: LangChain records the model calls."""
    yield from _instrumented(recorded, openai_too=False)


def _model(server: Any, model: str = AGENT_MODEL) -> ChatOpenAI:
    """A model with its own async HTTP client: langchain-openai's shared one outlives each test's event loop."""
    return ChatOpenAI(
        model=model,
        base_url=server.base_url,
        api_key="sk-local",
        stream_usage=True,
        max_retries=0,
        http_async_client=openai.DefaultAsyncHttpxClient(),
    )


def _agent(server: Any, tools: list[BaseTool] | Any = None, name: str = "researcher") -> Pregel:
    from langgraph.prebuilt import create_react_agent

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated for langchain.agents.create_agent, which we do not install
        return create_react_agent(_model(server), tools or [lookup, score], name=name)


class Plan(TypedDict):
    messages: Annotated[list[Any], operator.add]
    steps: Annotated[list[str], operator.add]


def _workflow(server: Any) -> Pregel:
    """A two-node workflow: a plain planning step, then the ReAct agent as a subgraph."""

    def plan(state: Plan) -> dict[str, Any]:
        return {"steps": ["plan"]}

    builder = StateGraph(Plan)
    builder.add_node("plan", plan)
    builder.add_node("research", _agent(server))
    builder.add_edge(START, "plan")
    builder.add_edge("plan", "research")
    builder.add_edge("research", END)
    return builder.compile(name="triage")


def _question() -> dict[str, Any]:
    return {"messages": [HumanMessage("why is my agent slow")]}


def _agent_tree(name: str = "researcher") -> tuple[Any, ...]:
    return (f"invoke_agent {name}", *[(child,) for child in AGENT_CHILDREN])


def _run(graph: Pregel, mode: str) -> None:
    """Run ``graph`` once in one of the ways LangGraph offers."""
    if mode == "invoke":
        graph.invoke(_question())
    elif mode == "stream":
        for _ in graph.stream(_question()):
            pass
    elif mode == "stream_messages":
        for _ in graph.stream(_question(), stream_mode="messages"):
            pass
    elif mode == "batch":
        graph.batch([_question()])
    else:

        async def run() -> None:
            if mode == "ainvoke":
                await graph.ainvoke(_question())
            elif mode == "astream":
                async for _ in graph.astream(_question()):
                    pass
            else:
                async for _ in graph.astream_events(_question(), version="v2"):
                    pass

        asyncio.run(run())


MODES = ["invoke", "stream", "stream_messages", "batch", "ainvoke", "astream", "astream_events"]


@pytest.mark.parametrize("mode", MODES)
def test_react_agent_is_one_trace_of_agent_model_and_tool_spans(frameworks: Recorded, server: Any, mode: str) -> None:
    _run(_agent(server), mode)
    spans = frameworks.spans()
    assert list(trees(spans).values()) == [_agent_tree()]
    llm_spans = [span for span in spans if span.attributes[names.OPERATION_KIND] == names.KIND_LLM]
    # The OpenAI SDK's instrumentor records each model call; LangChain adds no second LLM span.
    assert {span.attributes[names.CODE_FUNCTION] for span in llm_spans} == {"openai.chat.completions.create"}
    assert all(span.attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS] == 9 for span in llm_spans)
    agent = frameworks.span("invoke_agent researcher")
    assert agent.attributes[names.AGENT_LLM_CALLS] == 3 and agent.attributes[names.AGENT_TOOL_CALLS] == 2
    assert agent.attributes[names.GEN_AI_PROVIDER_NAME] == "openai"  # its model calls'
    tools = [span for span in spans if span.name.startswith("execute_tool")]
    assert [span.attributes[names.GEN_AI_TOOL_CALL_ID] for span in tools] == ["call_0", "call_1"]


def test_agent_tool_and_call_count_metrics(frameworks: Recorded, server: Any) -> None:
    _run(_agent(server), "invoke")
    agent = frameworks.histogram_point(names.AGENT_DURATION, **{names.GEN_AI_AGENT_NAME: "researcher"})
    assert agent.count == 1 and list(agent.explicit_bounds) == list(buckets.AGENT_DURATION)
    tool_point = frameworks.histogram_point(
        names.TOOL_DURATION, **{names.GEN_AI_TOOL_NAME: "lookup", names.GEN_AI_AGENT_NAME: "researcher"}
    )
    assert tool_point.count == 1 and list(tool_point.explicit_bounds) == list(buckets.CLIENT_DURATION)
    llm_calls = frameworks.histogram_point(
        names.INVOKE_AGENT_INFERENCE_CALLS, **{names.GEN_AI_AGENT_NAME: "researcher"}
    )
    tool_calls = frameworks.histogram_point(names.INVOKE_AGENT_TOOL_CALLS, **{names.GEN_AI_AGENT_NAME: "researcher"})
    assert (llm_calls.count, llm_calls.sum, tool_calls.count, tool_calls.sum) == (1, 3, 1, 2)
    # Tokens are recorded once, by the LLM operations: the agent span carries none.
    spans = frameworks.spans()
    span_tokens = sum(int(span.attributes.get(names.GEN_AI_USAGE_INPUT_TOKENS, 0)) for span in spans)
    assert frameworks.tokens("input") == span_tokens > 0
    assert names.GEN_AI_USAGE_INPUT_TOKENS not in frameworks.span("invoke_agent researcher").attributes


def test_agent_duration_matches_its_span(frameworks: Recorded, server: Any) -> None:
    _run(_agent(server), "invoke")
    span = frameworks.span("invoke_agent researcher")
    assert span.end_time is not None and span.start_time is not None
    point = frameworks.histogram_point(names.AGENT_DURATION)
    # The duration is measured inside the span: never longer (but for the two clocks' reading, 1 ms), and
    # shorter by the finishing work, which a machine shared with CPU burners can pause (seen: 2.6 ms of 50).
    spanned = (span.end_time - span.start_time) / 1e9
    assert 0.9 * spanned - 0.005 <= point.sum <= spanned + 0.001


def test_workflow_with_agent_subgraph(frameworks: Recorded, server: Any) -> None:
    _run(_workflow(server), "invoke")
    assert list(trees(frameworks.spans()).values()) == [("invoke_workflow triage", _agent_tree())]
    point = frameworks.histogram_point(names.WORKFLOW_DURATION, **{names.GEN_AI_WORKFLOW_NAME: "triage"})
    assert list(point.explicit_bounds) == list(buckets.WORKFLOW_DURATION)


def test_fifty_concurrent_async_runs_each_form_one_correct_trace(frameworks: Recorded, server: Any) -> None:
    graph = _workflow(server)

    async def main() -> None:
        await asyncio.gather(*(graph.ainvoke(_question()) for _ in range(50)))

    asyncio.run(main())
    found = trees(frameworks.spans())
    assert len(found) == 50
    assert all(tree == ("invoke_workflow triage", _agent_tree()) for tree in found.values())


def test_concurrent_runs_on_threads_each_form_one_correct_trace(frameworks: Recorded, server: Any) -> None:
    graph = _workflow(server)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: graph.invoke(_question()), range(24)))
    found = trees(frameworks.spans())
    assert len(found) == 24
    assert all(tree == ("invoke_workflow triage", _agent_tree()) for tree in found.values())


def test_agent_copied_by_with_config_is_still_an_agent(frameworks: Recorded, server: Any) -> None:
    _run(_agent(server).with_config(tags=["copy"]), "invoke")
    assert list(trees(frameworks.spans()).values()) == [_agent_tree()]


def test_failing_tool_is_an_error_and_the_agent_goes_on(frameworks: Recorded, server: Any) -> None:
    from langgraph.prebuilt import ToolNode

    result = _agent(server, ToolNode([broken, score], handle_tool_errors=True)).invoke(_question())
    assert "no notes on latency" in str(result["messages"])  # ToolNode returned the error to the model
    span = frameworks.span("execute_tool broken")
    assert span.status.status_code is StatusCode.ERROR and span.attributes[names.ERROR_TYPE] == "ValueError"
    assert frameworks.span("invoke_agent researcher").status.status_code is StatusCode.UNSET
    point = frameworks.histogram_point(names.TOOL_DURATION, **{names.GEN_AI_TOOL_NAME: "broken"})
    assert point.attributes[names.ERROR_TYPE] == "ValueError"


def test_stream_left_early_ends_the_agent_span(frameworks: Recorded, server: Any) -> None:
    stream = _agent(server).stream(_question())
    next(stream)
    stream.close()
    span = frameworks.span("invoke_agent researcher")
    assert span.end_time is not None and span.status.status_code is StatusCode.UNSET
    assert frameworks.histogram_point(names.INVOKE_AGENT_INFERENCE_CALLS).sum == 1


def test_langchain_records_the_model_when_the_sdk_is_not_instrumented(frameworks_only: Recorded, server: Any) -> None:
    model = _model(server, "plain")
    message = model.invoke("why is my agent slow")
    chunks = list(model.stream("why is my agent slow"))
    assert message.content and "".join(str(chunk.content) for chunk in chunks) == message.content
    invoke, stream = frameworks_only.spans()
    assert (invoke.name, stream.name) == ("chat plain", "chat plain")
    assert invoke.attributes[names.CODE_FUNCTION] == "ChatOpenAI.invoke"
    assert stream.attributes[names.CODE_FUNCTION] == "ChatOpenAI.stream"
    for span in (invoke, stream):
        assert span.attributes[names.GEN_AI_PROVIDER_NAME] == "openai"
        assert span.attributes[names.GEN_AI_RESPONSE_MODEL] == "plain"
        assert (
            span.attributes[names.GEN_AI_USAGE_INPUT_TOKENS],
            span.attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS],
        ) == (
            5,
            9,
        )
    assert stream.attributes[names.GEN_AI_REQUEST_STREAM] is True
    assert names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in stream.attributes
    assert frameworks_only.tokens("output") == 18


def test_provider_unknown_to_langchain_over_the_instrumented_sdk_is_one_operation(
    frameworks: Recorded, server: Any
) -> None:
    class ChatProxy(ChatOpenAI):
        """As provider packages built on ChatOpenAI do (langchain-deepseek, langchain-xai): own provider name."""

        def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
            return {**super()._get_ls_params(stop=stop, **kwargs), "ls_provider": "proxy"}

    model = ChatProxy(model="plain", base_url=server.base_url, api_key="sk-local", max_retries=0)
    assert model.invoke("why is my agent slow").content
    (span,) = frameworks.spans()  # LangChain's operation; the OpenAI SDK call inside it folded in
    assert span.attributes[names.CODE_FUNCTION] == "ChatProxy.invoke"
    assert span.attributes[names.GEN_AI_PROVIDER_NAME] == "proxy"
    assert span.attributes[names.SERVER_ADDRESS] == "127.0.0.1"  # learnt by the SDK instrumentor
    assert span.attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS] == 9
    assert frameworks.tokens("output") == 9


def test_agent_without_sdk_instrumentation_has_langchain_model_spans(frameworks_only: Recorded, server: Any) -> None:
    _run(_agent(server), "ainvoke")
    spans = frameworks_only.spans()
    assert list(trees(spans).values()) == [_agent_tree()]
    llm_spans = [span for span in spans if span.name.startswith("chat")]
    assert {span.attributes[names.CODE_FUNCTION] for span in llm_spans} == {"ChatOpenAI.ainvoke"}


def test_a_failure_inside_the_instrumentation_does_not_break_the_call(
    frameworks_only: Recorded, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def fail(_provider: str) -> bool:
        raise RuntimeError("instrumentation bug")

    monkeypatch.setattr(extractors, "sdk_recording", fail)
    monkeypatch.setattr(failures, "_seen", set())
    model = FakeListChatModel(responses=["fine"])
    assert [model.invoke("hi").content, model.invoke("hi").content] == ["fine", "fine"]
    assert frameworks_only.spans() == []
    assert sum("instrumentation bug" in record.getMessage() for record in caplog.records) == 1


def _small_graph() -> Callable[[], Any]:
    """A graph whose node calls a tool and a (fake, in-process) chat model: no HTTP, so 10,000 runs are fast."""
    model = FakeListChatModel(responses=["ok"])

    def step(state: Plan) -> dict[str, Any]:
        lookup.invoke({"topic": "latency"})
        return {"messages": [model.invoke("hi")]}

    builder = StateGraph(Plan)
    builder.add_node("step", step)
    builder.add_edge(START, "step")
    builder.add_edge("step", END)
    graph = builder.compile(name="small")
    return lambda: graph.invoke({"messages": [], "steps": []})


@pytest.mark.repeat(1)  # two thousand runs in one: once is enough under --count 2 (CI time)
def test_two_thousand_runs_leave_no_instrumentation_state(frameworks: Recorded) -> None:
    run = _small_graph()
    otel_agentperf.configure(TracerProvider(), frameworks.meter_provider)  # spans go nowhere: none are kept
    before = live_operations()
    for _ in range(2_000):
        run()
    after = live_operations()
    assert after[0] <= before[0] and after[1] <= before[1]
    assert frameworks.gauge(names.OPERATIONS_ACTIVE, **{names.OPERATION_KIND: "workflow"}) == 0
    assert frameworks.gauge(names.OPERATIONS_ACTIVE, **{names.OPERATION_KIND: "llm"}) == 0
    assert frameworks.histogram_point(names.WORKFLOW_DURATION).count == 2_000
    assert frameworks.histogram_point(names.TOOL_DURATION).count == 2_000
    assert len(langgraph_runs.agent_builders) == 0  # no agent built: nothing remembered


def test_uninstrument_restores_langchain_and_langgraph(recorded: Recorded, server: Any) -> None:
    originals = (vars(Pregel)["stream"], vars(Pregel)["astream"], vars(BaseTool)["run"])
    with instrumented_by(LangChainInstrumentor(), LangGraphInstrumentor()):
        assert vars(Pregel)["stream"] is not originals[0]
    assert (vars(Pregel)["stream"], vars(Pregel)["astream"], vars(BaseTool)["run"]) == originals
    _run(_agent(server), "invoke")
    assert recorded.spans() == []


@pytest.mark.parametrize("openai_too", [True, False])
def test_azure_chat_model_is_the_azure_openai_provider_either_way(
    recorded: Recorded, server: Any, openai_too: bool
) -> None:
    """LangChain's ``ls_provider`` ``azure``, and the Azure client the OpenAI SDK sees, are ``azure.ai.openai``."""
    from langchain_openai import AzureChatOpenAI

    model = AzureChatOpenAI(
        azure_deployment="m1",
        azure_endpoint=server.root_url,
        api_version="2024-10-21",
        api_key="local",
        max_retries=0,
    )
    for _ in _instrumented(recorded, openai_too=openai_too):
        with pytest.raises(openai.NotFoundError):  # the local server has no Azure deployment routes
            model.invoke("hello")
    (span,) = [span for span in recorded.spans() if span.attributes[names.OPERATION_KIND] == names.KIND_LLM]
    assert span.attributes[names.GEN_AI_PROVIDER_NAME] == "azure.ai.openai"
    assert span.status.status_code is StatusCode.ERROR
