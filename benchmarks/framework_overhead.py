"""Per-invocation overhead of the framework instrumentors: LangGraph, Agents SDK, DSPy and Agent Framework agents.

    python benchmarks/framework_overhead.py [--runs 100] [--rounds 10]

Each agent makes two model calls (the first asks for one tool call) and one tool call per invocation,
through the real OpenAI SDK on ``httpx.MockTransport`` (in-process, no network). Compared in one run,
in rotation: uninstrumented, and instrumented with the framework's instrumentor plus the OpenAI SDK's
(as ``opentelemetry-instrument`` would), so each invocation records an agent operation (and, for the
Agents SDK, its workflow), two LLM operations and one tool operation. DSPy's ReAct agent runs over an
in-process ``dspy.BaseLM`` (DSPy's own engine has no mock transport) and makes three model calls (step,
step, extraction) and one tool call. The Agent Framework's own telemetry is switched off, so its
uninstrumented runs are the framework alone (with it on, its spans give way to ours).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import warnings
from collections.abc import Callable
from time import perf_counter
from typing import Any

import httpx
import openai
from pipeline import providers

from otel_agentperf.instrumentation.frameworks.agent_framework_runs import AgentFrameworkInstrumentor
from otel_agentperf.instrumentation.frameworks.dspy_programs import DSPyInstrumentor
from otel_agentperf.instrumentation.frameworks.langchain_runnables import LangChainInstrumentor
from otel_agentperf.instrumentation.frameworks.langgraph_runs import LangGraphInstrumentor
from otel_agentperf.instrumentation.frameworks.openai_agents import OpenAIAgentsInstrumentor
from otel_agentperf.instrumentation.llm.openai_sdk import OpenAIInstrumentor

BASE = {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "m1"}
USAGE = {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14}


def handler(request: httpx.Request) -> httpx.Response:
    """One tool call first, then the answer once the conversation holds the tool's result."""
    body = json.loads(request.content)
    if any(message.get("role") == "tool" for message in body["messages"]):
        message: dict[str, Any] = {"role": "assistant", "content": "done"}
        finish = "stop"
    else:
        call = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"topic": "x"}'}}
        message, finish = {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
    choice = {"index": 0, "message": message, "finish_reason": finish}
    return httpx.Response(200, json={**BASE, "choices": [choice], "usage": USAGE})


def lookup(topic: str) -> str:
    """Look a topic up."""
    return f"notes on {topic}"


def langgraph_agent() -> Callable[[], object]:
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI
    from langgraph.prebuilt import create_react_agent

    client = httpx.Client(transport=httpx.MockTransport(handler))
    model = ChatOpenAI(model="m1", api_key="x", base_url="http://llm.local/v1", http_client=client)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        agent = create_react_agent(model, [tool(lookup)], name="bench")
    return lambda: agent.invoke({"messages": [("user", "hi")]})


def agents_sdk_agent(loop: asyncio.AbstractEventLoop) -> Callable[[], object]:
    import agents

    agents.set_trace_processors([])  # no upload to OpenAI; ours is added by the instrumentor
    client = openai.AsyncOpenAI(
        api_key="x",
        base_url="http://llm.local/v1",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )
    model = agents.OpenAIChatCompletionsModel("m1", client)
    agent = agents.Agent(name="bench", instructions="Answer.", model=model, tools=[agents.function_tool(lookup)])
    return lambda: loop.run_until_complete(agents.Runner.run(agent, "hi"))


def _fields(**values: str) -> str:
    """An answer in DSPy's chat-adapter format."""
    blocks = [f"[[ ## {name} ## ]]\n{value}" for name, value in values.items()]
    return "\n\n".join([*blocks, "[[ ## completed ## ]]"])


def dspy_agent() -> Callable[[], object]:
    import dspy

    class Scripted(dspy.BaseLM):
        """Answers DSPy's field prompts: one ``lookup`` step, then ``finish``, then the extraction."""

        def forward(self, prompt: Any = None, messages: Any = None, **kwargs: Any) -> dict[str, Any]:
            last = str(messages[-1]["content"])
            if "next_tool_name" not in last:
                text = _fields(reasoning="ok", answer="done")
            elif "observation_0" in last:
                text = _fields(next_thought="ok", next_tool_name="finish", next_tool_args="{}")
            else:
                text = _fields(next_thought="ok", next_tool_name="lookup", next_tool_args='{"topic": "x"}')
            message = {"role": "assistant", "content": text}
            return {**BASE, "choices": [{"index": 0, "message": message, "finish_reason": "stop"}], "usage": USAGE}

    warnings.filterwarnings("ignore")  # the legacy BaseLM.forward contract is deprecated in DSPy 3.4
    agent = dspy.ReAct("question -> answer", tools=[lookup], max_iters=3)
    lm = Scripted("m1", cache=False)

    def run() -> object:
        with dspy.context(lm=lm, disable_history=True):
            return agent(question="hi")

    return run


def agent_framework_agent(loop: asyncio.AbstractEventLoop) -> Callable[[], object]:
    import agent_framework
    from agent_framework.openai import OpenAIChatCompletionClient

    agent_framework.observability.disable_instrumentation()
    client = openai.AsyncOpenAI(
        api_key="x",
        base_url="http://llm.local/v1",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )
    chat = OpenAIChatCompletionClient(model="m1", async_client=client)
    agent = agent_framework.Agent(chat, "Answer.", name="bench", tools=[agent_framework.tool(lookup)])
    return lambda: loop.run_until_complete(agent.run("hi"))


def measure(run: Callable[[], object], instrumentors: list[Any], runs: int, rounds: int) -> tuple[float, float]:
    """Best seconds per invocation (uninstrumented, instrumented), alternating round by round."""
    best = [float("inf"), float("inf")]
    gc.disable()
    try:
        for _ in range(rounds):
            for index in (0, 1):
                if index:
                    for instrumentor in instrumentors:
                        instrumentor.instrument()
                for _ in range(min(runs, 20)):
                    run()
                started = perf_counter()
                for _ in range(runs):
                    run()
                best[index] = min(best[index], (perf_counter() - started) / runs)
                if index:
                    for instrumentor in instrumentors:
                        instrumentor.uninstrument()
                gc.collect()
    finally:
        gc.enable()
    return best[0], best[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    providers()
    loop = asyncio.new_event_loop()
    cases = {
        # name: (one invocation, instrumentors, operations recorded per invocation)
        "LangGraph ReAct agent (ChatOpenAI)": (
            langgraph_agent(),
            [LangChainInstrumentor(), LangGraphInstrumentor(), OpenAIInstrumentor()],
            4,  # agent, 2 LLM, 1 tool
        ),
        "OpenAI Agents SDK agent": (
            agents_sdk_agent(loop),
            [OpenAIAgentsInstrumentor(), OpenAIInstrumentor()],
            5,  # workflow, agent, 2 LLM, 1 tool
        ),
        "DSPy ReAct agent (in-process LM)": (dspy_agent(), [DSPyInstrumentor()], 5),  # agent, 3 LLM, 1 tool
        "Agent Framework agent": (
            agent_framework_agent(loop),
            [AgentFrameworkInstrumentor(), OpenAIInstrumentor()],
            4,  # agent, 2 LLM, 1 tool
        ),
    }
    print(f"best of {args.rounds} rounds x {args.runs} invocations; 2 (DSPy: 3) model calls and 1 tool call each")
    for name, (run, instrumentors, operations) in cases.items():
        plain, instrumented = measure(run, instrumentors, args.runs, args.rounds)
        overhead = instrumented - plain
        print(
            f"  {name:<36} {plain * 1e3:7.2f} ms -> {instrumented * 1e3:7.2f} ms: "
            f"+{overhead * 1e6:.0f} us per invocation ({overhead / plain:.1%}), "
            f"+{overhead / operations * 1e6:.0f} us per recorded operation"
        )


if __name__ == "__main__":
    main()
