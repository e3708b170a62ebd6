"""OpenAI Agents SDK: real agents, tools, handoffs and guardrails, over the real OpenAI SDK and the local server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import agents
import openai
import pytest
from agents import (
    Agent,
    GuardrailFunctionOutput,
    InputGuardrailTripwireTriggered,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    Runner,
    function_tool,
    input_guardrail,
)
from agents.tracing import spans as agent_spans
from opentelemetry.trace import StatusCode

from otel_agentperf.conventions import names
from otel_agentperf.instrumentation.frameworks.openai_agents import OpenAIAgentsInstrumentor, processor
from otel_agentperf.instrumentation.llm.openai_sdk import OpenAIInstrumentor
from tests.conftest import Recorded, instrumented_by, trees

# The SDK's default processor uploads traces to OpenAI: not from tests.
agents.set_trace_processors([])


@function_tool
def lookup(topic: str) -> str:
    """Look a topic up in the notes."""
    return f"notes on {topic}"


@function_tool
def broken(topic: str) -> str:
    """A tool that fails."""
    raise ValueError(f"no notes on {topic}")


@pytest.fixture
def agents_sdk(recorded: Recorded) -> Iterator[Recorded]:
    """The Agents SDK and the OpenAI SDK instrumented, as under ``opentelemetry-instrument``."""
    with instrumented_by(OpenAIAgentsInstrumentor(), OpenAIInstrumentor()):
        yield recorded


@pytest.fixture
def agents_only(recorded: Recorded) -> Iterator[Recorded]:
    with instrumented_by(OpenAIAgentsInstrumentor()):
        yield recorded


def _client(server: Any) -> openai.AsyncOpenAI:
    # A minute to connect, not the SDK's 5 s: fifty runs connecting at once to a server in this process, on
    # a machine a CI run beside it loads, were seen to take longer; no test here is about timeouts.
    return openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-local", max_retries=0, timeout=60.0)


def _researcher(server: Any, tools: list[Any] | None = None) -> Agent[Any]:
    model = OpenAIChatCompletionsModel("tools-2-researcher", _client(server))
    return Agent(name="researcher", instructions="Research.", model=model, tools=tools or [lookup])


RESEARCH = (
    "invoke_workflow Agent workflow",
    (
        "invoke_agent researcher",
        *[
            (name,)
            for name in (
                "chat tools-2-researcher",
                "execute_tool lookup",
                "chat tools-2-researcher",
                "execute_tool lookup",
                "chat tools-2-researcher",
            )
        ],
    ),
)


def test_tool_loop_is_one_trace_with_counts_and_metrics(agents_sdk: Recorded, server: Any) -> None:
    result = asyncio.run(Runner.run(_researcher(server), "why is my agent slow"))
    assert result.final_output == "Latency comes from slow model calls and repeated work."
    spans = agents_sdk.spans()
    assert list(trees(spans).values()) == [RESEARCH]
    llm = [span for span in spans if span.name.startswith("chat")]
    assert {span.attributes[names.CODE_FUNCTION] for span in llm} == {"openai.chat.completions.create"}
    agent = agents_sdk.span("invoke_agent researcher")
    assert (agent.attributes[names.AGENT_LLM_CALLS], agent.attributes[names.AGENT_TOOL_CALLS]) == (3, 2)
    assert agent.attributes[names.GEN_AI_PROVIDER_NAME] == "openai"  # its model calls'
    tools = [span for span in spans if span.name == "execute_tool lookup"]
    assert {span.attributes[names.GEN_AI_TOOL_TYPE] for span in tools} == {"function"}
    assert [span.attributes[names.GEN_AI_TOOL_CALL_ID] for span in tools] == ["call_0", "call_1"]
    tool_point = agents_sdk.histogram_point(names.TOOL_DURATION, **{names.GEN_AI_AGENT_NAME: "researcher"})
    assert tool_point.count == 2 and tool_point.attributes[names.GEN_AI_TOOL_NAME] == "lookup"
    assert agents_sdk.histogram_point(names.AGENT_DURATION).count == 1
    workflow = agents_sdk.histogram_point(names.WORKFLOW_DURATION)
    assert workflow.attributes[names.GEN_AI_WORKFLOW_NAME] == "Agent workflow"
    assert agents_sdk.histogram_point(names.INVOKE_AGENT_INFERENCE_CALLS).sum == 3
    assert processor.entries == {}


def test_run_sync_and_streamed_runs_have_the_same_tree(agents_sdk: Recorded, server: Any) -> None:
    Runner.run_sync(_researcher(server), "why is my agent slow")

    async def streamed() -> None:
        run = Runner.run_streamed(_researcher(server), "why is my agent slow")
        async for _ in run.stream_events():
            pass

    asyncio.run(streamed())
    assert sorted(trees(agents_sdk.spans()).values()) == [RESEARCH, RESEARCH]
    assert processor.entries == {}


def test_handoff_nests_both_agents_in_one_workflow(agents_sdk: Recorded, server: Any) -> None:
    client = _client(server)
    billing = Agent(name="billing", instructions="Bill.", model=OpenAIResponsesModel("billing", client))
    triage = Agent(
        name="triage", instructions="Route.", model=OpenAIResponsesModel("tools-1-triage", client), handoffs=[billing]
    )
    asyncio.run(Runner.run(triage, "a billing question"))
    tree = (
        "invoke_workflow Agent workflow",
        ("invoke_agent triage", ("chat tools-1-triage",), ("handoff",)),
        ("invoke_agent billing", ("chat billing",)),
    )
    assert list(trees(agents_sdk.spans()).values()) == [tree]
    handoff = agents_sdk.span("handoff")
    assert handoff.attributes[names.HANDOFF_FROM] == "triage" and handoff.attributes[names.HANDOFF_TO] == "billing"


def test_tripped_guardrail_is_recorded_and_its_exception_unchanged(agents_sdk: Recorded, server: Any) -> None:
    @input_guardrail
    def no_secrets(_context: Any, _agent: Any, text: Any) -> GuardrailFunctionOutput:
        return GuardrailFunctionOutput(output_info=None, tripwire_triggered="secret" in str(text))

    agent = _researcher(server)
    agent.input_guardrails = [no_secrets]
    with pytest.raises(InputGuardrailTripwireTriggered):
        asyncio.run(Runner.run(agent, "tell me the secret"))
    guardrail = agents_sdk.span("guardrail no_secrets")
    assert guardrail.attributes[names.GUARDRAIL_TRIGGERED] is True
    assert agents_sdk.span("invoke_agent researcher").end_time is not None
    assert processor.entries == {}


def test_failing_tool_is_an_error_and_the_run_goes_on(agents_sdk: Recorded, server: Any) -> None:
    result = asyncio.run(Runner.run(_researcher(server, [broken]), "why is my agent slow"))
    assert result.final_output
    tool_spans = [span for span in agents_sdk.spans() if span.name == "execute_tool broken"]
    assert len(tool_spans) == 2 and all(span.status.status_code is StatusCode.ERROR for span in tool_spans)
    assert tool_spans[0].attributes[names.ERROR_TYPE] == "AgentsSpanError"


def test_fifty_concurrent_runs_each_form_one_correct_trace(agents_sdk: Recorded, server: Any) -> None:
    agent = _researcher(server)

    async def main() -> None:
        await asyncio.gather(*(Runner.run(agent, "why is my agent slow") for _ in range(50)))

    asyncio.run(main())
    found = trees(agents_sdk.spans())
    assert len(found) == 50 and all(tree == RESEARCH for tree in found.values())
    assert processor.entries == {}


def test_model_calls_come_from_the_agents_sdk_when_openai_is_not_instrumented(
    agents_only: Recorded, server: Any
) -> None:
    asyncio.run(Runner.run(_researcher(server), "why is my agent slow"))
    spans = agents_only.spans()
    assert list(trees(spans).values()) == [RESEARCH]
    llm = [span for span in spans if span.name.startswith("chat")]
    assert {span.attributes[names.CODE_FUNCTION] for span in llm} == {"agents.GenerationSpanData"}
    assert [span.attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS] for span in llm] == [9, 9, 9]
    assert agents_only.tokens("output") == 27


def test_streamed_model_calls_without_usage_record_no_tokens(agents_only: Recorded, server: Any) -> None:
    async def streamed() -> None:
        run = Runner.run_streamed(_researcher(server), "why is my agent slow")
        async for _ in run.stream_events():
            pass

    asyncio.run(streamed())
    llm = [span for span in agents_only.spans() if span.name.startswith("chat")]
    assert len(llm) == 3  # the SDK reports zeros for a stream without usage: not zero tokens
    assert not any(names.GEN_AI_USAGE_INPUT_TOKENS in span.attributes for span in llm)
    assert agents_only.tokens("input") == 0


def test_uninstrument_stops_recording_and_restores_the_sdk(recorded: Recorded, server: Any) -> None:
    original = vars(agent_spans.SpanImpl)["start"]
    instrumentor = OpenAIAgentsInstrumentor()
    instrumentor.instrument()
    assert vars(agent_spans.SpanImpl)["start"] is not original
    instrumentor.uninstrument()
    assert vars(agent_spans.SpanImpl)["start"] is original
    asyncio.run(Runner.run(_researcher(server), "why is my agent slow"))
    assert recorded.spans() == [] and processor.entries == {}
