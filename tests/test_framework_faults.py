"""LangGraph, Agents SDK, DSPy and Agent Framework agents whose model fails: the app sees what it sees uninstrumented.

The model is the local server under a fault (500, an exhausted 429, a hang past the client's timeout, a
cut stream, a body that is not JSON); each agent runs once uninstrumented and once with the framework's
and the OpenAI SDK's instrumentors, as under the launcher: same exception (type and message), the
agent's span and the model's span are errors of that type, nothing is left in flight.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable
from typing import Any

import agent_framework
import dspy
import openai
import pytest
from agent_framework.openai import OpenAIChatCompletionClient
from agents import Agent, OpenAIChatCompletionsModel, Runner
from langchain_openai import ChatOpenAI
from opentelemetry.trace import StatusCode

from otel_agentperf.conventions import names
from otel_agentperf.instrumentation.frameworks.agent_framework_runs import AgentFrameworkInstrumentor
from otel_agentperf.instrumentation.frameworks.dspy_programs import DSPyInstrumentor
from otel_agentperf.instrumentation.frameworks.langchain_runnables import LangChainInstrumentor
from otel_agentperf.instrumentation.frameworks.langgraph_runs import LangGraphInstrumentor
from otel_agentperf.instrumentation.frameworks.openai_agents import OpenAIAgentsInstrumentor
from otel_agentperf.instrumentation.llm.openai_sdk import OpenAIInstrumentor
from tests.conftest import Recorded, instrumented_by

QUESTION = "why is my agent slow"


def lookup(topic: str) -> str:
    """Look a topic up."""
    return f"notes on {topic}"


def _langgraph(server: Any, model: str) -> Callable[[], Any]:
    from langgraph.prebuilt import create_react_agent

    chat = ChatOpenAI(
        model=model,
        base_url=server.base_url,
        api_key="sk-local",
        max_retries=0,
        timeout=0.5,
        streaming=model.startswith("cut-"),
        http_async_client=openai.DefaultAsyncHttpxClient(),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated for langchain.agents.create_agent, which we do not install
        agent = create_react_agent(chat, [lookup], name="researcher")
    return lambda: agent.invoke({"messages": [("user", QUESTION)]})


def _agents_sdk(server: Any, model: str) -> Callable[[], Any]:
    def run() -> Any:
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-local", max_retries=0, timeout=0.5)
        agent = Agent(name="researcher", instructions="Research.", model=OpenAIChatCompletionsModel(model, client))
        if model.startswith("cut-"):

            async def streamed() -> Any:
                result = Runner.run_streamed(agent, QUESTION)
                async for _ in result.stream_events():
                    pass
                return result.final_output

            return asyncio.run(streamed())
        return asyncio.run(Runner.run(agent, QUESTION)).final_output

    return run


class Research(dspy.Signature):
    """Answer a question from the sources."""

    question: str = dspy.InputField()
    answer: str = dspy.OutputField()


def _dspy(server: Any, model: str, engine: str = "auto") -> Callable[[], Any]:
    def run() -> Any:
        lm = dspy.LM(
            f"openai/{model}",
            api_base=server.base_url,
            api_key="sk-local",
            cache=False,
            num_retries=0,
            timeout=0.5,
            engine=engine,
        )
        with dspy.context(lm=lm):
            return dspy.ReAct(Research, tools=[lookup], max_iters=2)(question=QUESTION)

    return run


def _agent_framework_agent(server: Any, model: str, timeout: float | None = 0.5) -> agent_framework.Agent:
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-local", max_retries=0, timeout=timeout)
    chat = OpenAIChatCompletionClient(model=model, async_client=client)
    return agent_framework.Agent(chat, "Research.", name="researcher", tools=[agent_framework.tool(lookup)])


def _agent_framework(server: Any, model: str) -> Callable[[], Any]:
    async def run() -> Any:
        agent = _agent_framework_agent(server, model)
        if model.startswith("cut-"):
            updates = agent.run(QUESTION, stream=True)
            async for _ in updates:
                pass
            return await updates.get_final_response()
        return await agent.run(QUESTION)

    return lambda: asyncio.run(run())


FRAMEWORKS: dict[str, tuple[Callable[[Any, str], Callable[[], Any]], Callable[[], list[Any]]]] = {
    "langgraph": (_langgraph, lambda: [LangChainInstrumentor(), LangGraphInstrumentor(), OpenAIInstrumentor()]),
    "agents-sdk": (_agents_sdk, lambda: [OpenAIAgentsInstrumentor(), OpenAIInstrumentor()]),
    "dspy": (_dspy, lambda: [DSPyInstrumentor(), OpenAIInstrumentor()]),
    "dspy-litellm": (
        lambda server, model: _dspy(server, model, engine="litellm"),
        lambda: [DSPyInstrumentor(), OpenAIInstrumentor()],
    ),
    "agent-framework": (_agent_framework, lambda: [AgentFrameworkInstrumentor(), OpenAIInstrumentor()]),
}
# DSPy does not stream a ReAct step (no cut stream); its native engine ignores the timeout (no hang there).
CASES = [
    (framework, fault)
    for framework in FRAMEWORKS
    for fault in ("error", "ratelimit-9", "hang", "cut", "malformed")
    if not (framework.startswith("dspy") and fault == "cut") and (framework, fault) != ("dspy", "hang")
]


def _failure(run: Callable[[], Any]) -> BaseException:
    with pytest.raises(Exception) as raised:
        run()
    return raised.value


@pytest.mark.parametrize(("framework", "fault"), CASES, ids=[f"{f}-{fault}" for f, fault in CASES])
def test_a_failing_model_fails_the_agent_exactly_as_uninstrumented(
    recorded: Recorded, server: Any, framework: str, fault: str
) -> None:
    make, instrumentors = FRAMEWORKS[framework]
    model = f"{fault}-researcher"
    server.requests.pop(model, None)  # the server counts requests per model for the whole session
    bare = _failure(make(server, model))
    with instrumented_by(*instrumentors()):
        instrumented = _failure(make(server, model))
    assert (type(instrumented), str(instrumented)) == (type(bare), str(bare))
    spans = recorded.spans()
    agent = [span for span in spans if span.name.startswith("invoke_agent ")]
    chats = [span for span in spans if span.attributes.get(names.GEN_AI_OPERATION_NAME) == "chat"]
    assert len(agent) == 1 and agent[0].status.status_code is StatusCode.ERROR
    last = max(chats, key=lambda span: span.start_time or 0)  # earlier turns may have answered
    assert last.status.status_code is StatusCode.ERROR
    active = recorded.metrics()[names.OPERATIONS_ACTIVE].data.data_points
    assert all(point.value == 0 for point in active), [(p.attributes, p.value) for p in active]


async def _cancelled_mid_run(events: Any) -> bool:
    """Consume ``events`` on a task, cancel it after the first event: True when it ended cancelled."""
    seen = asyncio.Event()

    async def consume() -> None:
        async for _ in events:
            seen.set()

    task = asyncio.ensure_future(consume())
    await asyncio.wait_for(seen.wait(), 10)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        return True
    return False


def _langgraph_events(server: Any) -> Any:
    from langgraph.prebuilt import create_react_agent

    chat = ChatOpenAI(
        model="slow-30-researcher",
        base_url=server.base_url,
        api_key="sk-local",
        max_retries=0,
        streaming=True,
        http_async_client=openai.DefaultAsyncHttpxClient(),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        agent = create_react_agent(chat, [lookup], name="researcher")
    return agent.astream({"messages": [("user", QUESTION)]}, stream_mode="messages")


def _agents_sdk_events(server: Any) -> Any:
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-local", max_retries=0)
    agent = Agent(name="researcher", instructions="Research.", model=OpenAIChatCompletionsModel("slow-30-r", client))
    return Runner.run_streamed(agent, QUESTION).stream_events()


def _agent_framework_events(server: Any) -> Any:
    return _agent_framework_agent(server, "slow-30-researcher", timeout=None).run(QUESTION, stream=True)


EVENTS = {"langgraph": _langgraph_events, "agents-sdk": _agents_sdk_events, "agent-framework": _agent_framework_events}


@pytest.mark.parametrize("framework", list(EVENTS))
def test_a_run_cancelled_mid_stream_is_cancelled_and_leaves_nothing_in_flight(
    recorded: Recorded, server: Any, framework: str
) -> None:
    events = EVENTS[framework]

    async def run() -> bool:
        cancelled = await _cancelled_mid_run(events(server))
        await asyncio.sleep(0.3)  # what the framework finishes on its own after the cancellation
        return cancelled

    bare = asyncio.run(run())
    with instrumented_by(*FRAMEWORKS[framework][1]()):
        instrumented = asyncio.run(run())
    assert instrumented is bare is True
    assert [span for span in recorded.spans() if span.name.startswith("invoke_agent ")]
    active = recorded.metrics()[names.OPERATIONS_ACTIVE].data.data_points
    assert all(point.value == 0 for point in active), [(p.attributes, p.value) for p in active]
