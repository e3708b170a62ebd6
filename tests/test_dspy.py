"""DSPy: a real program with a real ReAct agent, over DSPy's own engine and over LiteLLM's OpenAI SDK.

The local server answers DSPy's ``[[ ## field ## ]]`` prompts field by field and tells a ReAct agent on a
``tools-2-*`` model to call its tools twice before ``finish``, so the agent really loops.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import dspy
import pytest
from dspy.utils.dummies import DummyLM
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import StatusCode
from packaging.version import Version

import otel_agentperf
from otel_agentperf.conventions import buckets, names
from otel_agentperf.instrumentation.frameworks import dspy_programs
from otel_agentperf.instrumentation.frameworks.dspy_programs import DSPyInstrumentor
from otel_agentperf.instrumentation.llm.openai_sdk import OpenAIInstrumentor
from otel_agentperf.runtime import failures, settings
from tests.conftest import MakeRecorded, Recorded, instrumented_by, live_operations, trees

MODEL = "tools-2-analyst"
CHAT = f"chat {MODEL}"
# Under the agent: the ReAct step model calls and the two tool calls, then the extraction call.
AGENT_TREE = ("invoke_agent Research", (CHAT,), ("execute_tool count_sources",), (CHAT,))
AGENT_TREE += (("execute_tool rate",), (CHAT,), (CHAT,))
PROGRAM_TREE = ("invoke_workflow Analysis", AGENT_TREE, (CHAT,))


def count_sources(topic: str) -> int:
    """Count the sources on a topic."""
    return len(topic)


def rate(points: int) -> int:
    """Rate an answer."""
    return points * 2


def broken(topic: str) -> str:
    """A tool that fails."""
    raise ValueError(f"no sources on {topic}")


class Research(dspy.Signature):
    """Answer a question from the sources."""

    question: str = dspy.InputField()
    answer: str = dspy.OutputField()


class Analysis(dspy.Module):
    """An application program: a ReAct agent, then a summary step."""

    def __init__(self, tools: list[Any] | None = None) -> None:
        super().__init__()
        self.agent = dspy.ReAct(Research, tools=tools or [count_sources, rate], max_iters=4)
        self.summary = dspy.ChainOfThought("answer -> summary")

    def forward(self, question: str) -> dspy.Prediction:
        return self.summary(answer=self.agent(question=question).answer)

    async def aforward(self, question: str) -> dspy.Prediction:
        answer = (await self.agent.acall(question=question)).answer
        return await self.summary.acall(answer=answer)


@pytest.fixture(autouse=True)
def _offline_and_fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline model metadata (DSPy and LiteLLM would fetch it), and no OpenAI client LiteLLM cached earlier.

    A cached client keeps the ``create`` it was built with: one built while another test had the SDK
    instrumented would keep calling that test's (switched off) wrapper.
    """
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "true")
    litellm = sys.modules.get("litellm")
    if litellm is not None:
        litellm.in_memory_llm_clients_cache.flush_cache()


@pytest.fixture
def instrumented(recorded: Recorded) -> Iterator[Recorded]:
    """DSPy and the OpenAI SDK instrumented, as under ``opentelemetry-instrument``."""
    with instrumented_by(DSPyInstrumentor(), OpenAIInstrumentor()):
        yield recorded


def _lm(server: Any, model: str = MODEL, engine: str = "auto", cache: bool = False, retries: int = 0) -> dspy.LM:
    return dspy.LM(
        f"openai/{model}", api_base=server.base_url, api_key="sk-local", cache=cache, engine=engine, num_retries=retries
    )


def _question() -> dspy.Example:
    return dspy.Example(question="why is my agent slow").with_inputs("question")


def _run(program: Analysis, mode: str, count: int = 1) -> None:
    if mode == "call":
        program(question="why is my agent slow")
    elif mode == "acall":
        asyncio.run(program.acall(question="why is my agent slow"))
    elif mode == "batch":
        program.batch([_question()] * count, num_threads=4, disable_progress_bar=True)
    elif mode == "asyncify":
        asyncio.run(dspy.asyncify(program)(question="why is my agent slow"))
    else:
        listener = dspy.streaming.StreamListener(signature_field_name="summary")
        streamed = dspy.streamify(program, stream_listeners=[listener])

        async def consume() -> list[Any]:
            return [chunk async for chunk in streamed(question="why is my agent slow")]

        chunks = asyncio.run(consume())
        assert any(isinstance(chunk, dspy.streaming.StreamResponse) for chunk in chunks)


@pytest.mark.parametrize("engine", ["auto", "litellm"])
@pytest.mark.parametrize("mode", ["call", "acall", "batch", "asyncify", "streamify"])
def test_program_is_one_trace_of_workflow_agent_model_and_tool_spans(
    instrumented: Recorded, server: Any, mode: str, engine: str
) -> None:
    with dspy.context(lm=_lm(server, engine=engine)):
        _run(Analysis(), mode)
    spans = instrumented.spans()
    assert list(trees(spans).values()) == [PROGRAM_TREE]
    llm_spans = [span for span in spans if span.name == CHAT]
    # One LLM operation per model call, whichever engine: through LiteLLM the OpenAI SDK's call folds into it.
    assert {span.attributes[names.CODE_FUNCTION] for span in llm_spans} == {"LM.__call__"}
    assert {span.attributes[names.GEN_AI_PROVIDER_NAME] for span in llm_spans} == {"openai"}
    assert all(span.attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS] > 0 for span in llm_spans)
    assert instrumented.tokens("output") == sum(span.attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS] for span in llm_spans)
    agent = instrumented.span("invoke_agent Research")
    assert agent.attributes[names.AGENT_LLM_CALLS] == 4 and agent.attributes[names.AGENT_TOOL_CALLS] == 2
    assert agent.attributes[names.GEN_AI_PROVIDER_NAME] == "openai"  # its model calls'
    assert names.GEN_AI_USAGE_INPUT_TOKENS not in agent.attributes
    # The server is on the metrics as well as on the span.
    servers = {
        (point.attributes.get(names.SERVER_ADDRESS), point.attributes.get(names.SERVER_PORT))
        for point in instrumented.histogram_points("gen_ai.client.operation.duration")
    }
    assert servers == {("127.0.0.1", server.server_address[1])}
    streamed = [span.attributes.get(names.GEN_AI_REQUEST_STREAM, False) for span in llm_spans]
    assert streamed == [False] * 4 + [mode == "streamify"]  # DSPy streams only the call a listener listens to


# LiteLLM 1.108.1 and later post chat requests through the OpenAI client (``client.post("/chat/completions")``)
# instead of calling ``chat.completions.create``; found by bisecting LiteLLM's releases.
LITELLM_POSTS_THROUGH_THE_CLIENT = Version(importlib.metadata.version("litellm")) >= Version("1.108.1")


def test_without_dspy_instrumentation_the_openai_sdk_sees_litellm_calls_only_before_1_108_1(
    recorded: Recorded, server: Any
) -> None:
    """What an app calling LiteLLM without DSPy instrumented gets from the OpenAI SDK instrumentor."""
    before = server.requests[MODEL]
    with instrumented_by(OpenAIInstrumentor()), dspy.context(lm=_lm(server, engine="litellm")):
        _run(Analysis(), "call")
    assert server.requests[MODEL] - before == 5  # the program's model calls all happened
    spans = recorded.spans()
    if LITELLM_POSTS_THROUGH_THE_CLIENT:
        assert spans == []  # no LLM telemetry at all from LiteLLM's calls
    else:
        assert [span.name for span in spans] == [CHAT] * 5
        assert {span.attributes[names.CODE_FUNCTION] for span in spans} == {"openai.chat.completions.create"}


def test_metrics_for_workflow_agent_tools_and_call_counts(instrumented: Recorded, server: Any) -> None:
    with dspy.context(lm=_lm(server)):
        _run(Analysis(), "call")
    workflow = instrumented.histogram_point(names.WORKFLOW_DURATION, **{names.GEN_AI_WORKFLOW_NAME: "Analysis"})
    assert workflow.count == 1
    agent = instrumented.histogram_point(names.AGENT_DURATION, **{names.GEN_AI_AGENT_NAME: "Research"})
    assert agent.count == 1 and list(agent.explicit_bounds) == list(buckets.AGENT_DURATION)
    rated = instrumented.histogram_point(
        names.TOOL_DURATION, **{names.GEN_AI_TOOL_NAME: "rate", names.GEN_AI_AGENT_NAME: "Research"}
    )
    assert rated.count == 1
    llm_calls = instrumented.histogram_point(
        names.INVOKE_AGENT_INFERENCE_CALLS, **{names.GEN_AI_AGENT_NAME: "Research"}
    )
    tool_calls = instrumented.histogram_point(names.INVOKE_AGENT_TOOL_CALLS, **{names.GEN_AI_AGENT_NAME: "Research"})
    assert (llm_calls.sum, tool_calls.sum) == (4, 2)
    span = instrumented.spans()[0]
    assert span.attributes[names.SERVER_ADDRESS] == "127.0.0.1"
    assert span.attributes[names.GEN_AI_RESPONSE_MODEL] == MODEL
    assert span.attributes[names.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


def test_provider_comes_from_the_model_prefix(instrumented: Recorded, server: Any) -> None:
    """``anthropic/...`` goes to the Anthropic Messages API through DSPy's own engine."""
    lm = dspy.LM("anthropic/claude-local", api_base=server.base_url, api_key="sk-local", cache=False, num_retries=0)
    with dspy.context(lm=lm):
        assert dspy.Predict("question -> answer")(question="why").answer
    (span,) = instrumented.spans()
    assert span.name == "chat claude-local"
    assert span.attributes[names.GEN_AI_PROVIDER_NAME] == names.PROVIDER_ANTHROPIC
    assert span.attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS] > 0


@pytest.mark.parametrize("latest", [False, True])
def test_top_k_is_a_double_in_v1_41_and_an_int_in_the_newest_conventions(
    server: Any, make_recorded: MakeRecorded, monkeypatch: pytest.MonkeyPatch, latest: bool
) -> None:
    if latest:
        monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    settings.reload()
    recorded = make_recorded()
    lm = dspy.LM(
        "anthropic/claude-local", api_base=server.base_url, api_key="sk-local", cache=False, num_retries=0, top_k=5
    )
    with instrumented_by(DSPyInstrumentor()), dspy.context(lm=lm):
        assert dspy.Predict("question -> answer")(question="why").answer
    top_k = recorded.span("chat claude-local").attributes[names.GEN_AI_REQUEST_TOP_K]
    assert (type(top_k), top_k) == ((int, 5) if latest else (float, 5.0))


def test_fifty_concurrent_async_runs_each_get_their_own_tree(instrumented: Recorded, server: Any) -> None:
    program = Analysis()

    async def main() -> None:
        # DSPy's own retries, as apps run it: its pooled transport does not retry a kept-alive connection the
        # server closed first (seen once in many runs); a retry stays inside the one LLM operation.
        with dspy.context(lm=_lm(server, retries=2)):
            await asyncio.gather(*(program.acall(question=f"question {index}") for index in range(50)))

    asyncio.run(main())
    assert list(trees(instrumented.spans()).values()) == [PROGRAM_TREE] * 50


def test_batch_threads_stay_under_the_callers_span(instrumented: Recorded, server: Any) -> None:
    @otel_agentperf.workflow(name="evaluation")
    def evaluate(program: Analysis) -> None:
        _run(program, "batch", count=24)

    with dspy.context(lm=_lm(server)):
        evaluate(Analysis())
    assert list(trees(instrumented.spans()).values()) == [("invoke_workflow evaluation", *[PROGRAM_TREE] * 24)]


def test_failing_tool_is_an_error_span_and_the_agent_goes_on(instrumented: Recorded, server: Any) -> None:
    with dspy.context(lm=_lm(server)):
        result = Analysis(tools=[broken])(question="why")
    assert result.summary
    failed = [span for span in instrumented.spans() if span.name == "execute_tool broken"]
    assert len(failed) == 2
    assert all(span.status.status_code is StatusCode.ERROR for span in failed)
    assert {span.attributes[names.ERROR_TYPE] for span in failed} == {"ValueError"}
    assert instrumented.span("invoke_agent Research").status.status_code is StatusCode.UNSET


@pytest.mark.parametrize("engine", ["auto", "litellm"])
def test_failing_model_call_raises_what_it_raises_without_instrumentation(
    recorded: Recorded, server: Any, engine: str
) -> None:
    def failure() -> BaseException:
        lm = _lm(server, model="error-analyst", engine=engine)
        with dspy.context(lm=lm), pytest.raises(Exception) as raised:
            dspy.Predict("question -> answer")(question="why")
        return raised.value

    plain = failure()
    with instrumented_by(DSPyInstrumentor(), OpenAIInstrumentor()):
        instrumented = failure()
    assert type(instrumented) is type(plain) and str(instrumented) == str(plain)
    (span,) = recorded.spans()
    assert span.name == "chat error-analyst" and span.status.status_code is StatusCode.ERROR
    assert span.attributes[names.ERROR_TYPE] == type(plain).__qualname__


def test_cache_hit_is_a_call_without_tokens(instrumented: Recorded, server: Any) -> None:
    question = f"cached {uuid.uuid4()}"  # unique per run: DSPy's cache is on disk
    with dspy.context(lm=_lm(server, model="analyst", cache=True)):
        first = dspy.Predict("question -> answer")(question=question)
        second = dspy.Predict("question -> answer")(question=question)
    assert first.answer == second.answer
    miss, hit = instrumented.spans()
    assert miss.attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
    assert names.GEN_AI_USAGE_OUTPUT_TOKENS not in hit.attributes
    assert instrumented.tokens("output") == miss.attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS]


def _small_program() -> Analysis:
    """A program whose step calls a tool and a predictor over an in-process LM: 10,000 runs stay fast."""

    class Small(dspy.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tool = dspy.Tool(count_sources)
            self.answer = dspy.Predict("question -> answer")

        def forward(self, question: str) -> dspy.Prediction:
            self.tool(topic=question)
            return self.answer(question=question)

    return Small()  # type: ignore[return-value]


@pytest.mark.repeat(1)  # two thousand runs in one: once is enough under --count 2 (CI time)
def test_two_thousand_runs_leave_no_instrumentation_state(instrumented: Recorded) -> None:
    program = _small_program()
    otel_agentperf.configure(TracerProvider(), instrumented.meter_provider)  # spans go nowhere: none are kept
    callbacks = list(dspy.settings.callbacks)
    before = live_operations()
    with dspy.context(lm=DummyLM({"why": {"answer": "ok"}}), disable_history=True):
        for _ in range(2_000):
            program(question="why")
    after = live_operations()
    assert after[0] <= before[0] and after[1] <= before[1]
    assert dspy.settings.callbacks == callbacks  # no callback handler registered
    assert instrumented.gauge(names.OPERATIONS_ACTIVE, **{names.OPERATION_KIND: "workflow"}) == 0
    assert instrumented.gauge(names.OPERATIONS_ACTIVE, **{names.OPERATION_KIND: "llm"}) == 0
    assert instrumented.histogram_point(names.WORKFLOW_DURATION).count == 2_000
    assert instrumented.histogram_point(names.TOOL_DURATION).count == 2_000


def test_a_failure_inside_the_instrumentation_does_not_break_the_program(
    instrumented: Recorded, server: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def fail(_cls: type) -> str:
        raise RuntimeError("instrumentation bug")

    monkeypatch.setattr(dspy_programs, "_module_kind", fail)
    monkeypatch.setattr(failures, "_seen", set())
    with dspy.context(lm=_lm(server)):
        results = [Analysis()(question="why").summary for _ in range(2)]
    assert results == [sys.modules["local_llm"].ANSWER] * 2  # the local server's canned answer
    # Modules go unrecorded; their tools and LM calls are still recorded, under no workflow or agent.
    assert {span.name for span in instrumented.spans()} == {CHAT, "execute_tool count_sources", "execute_tool rate"}
    assert sum("instrumentation bug" in record.getMessage() for record in caplog.records) == 1


def test_instrumenting_imports_nothing_until_the_application_imports_dspy() -> None:
    code = (
        "import sys; from otel_agentperf.instrumentation.frameworks.dspy_programs import DSPyInstrumentor; "
        "DSPyInstrumentor().instrument(); print(any(m == 'dspy' or m.startswith('dspy.') for m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False" and result.stderr == ""


def test_uninstrument_restores_dspy(recorded: Recorded, server: Any) -> None:
    from dspy.clients import execution
    from dspy.primitives.module import Module

    originals = (vars(Module)["__call__"], execution.execute, vars(dspy.Tool)["acall"])
    instrumentor = DSPyInstrumentor()
    instrumentor.instrument()
    assert vars(Module)["__call__"] is not originals[0]
    instrumentor.uninstrument()
    assert (vars(Module)["__call__"], execution.execute, vars(dspy.Tool)["acall"]) == originals
    with dspy.context(lm=_lm(server)):
        _run(Analysis(), "call")
    assert recorded.spans() == []
