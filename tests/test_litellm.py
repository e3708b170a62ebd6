"""LiteLLM: the real package against the local server, with the OpenAI SDK instrumented too.

LiteLLM 1.110 posts through the OpenAI client (``client.post``), so the SDK instrumentor never sees its
calls; a custom provider that calls the SDK's ``create`` (what older LiteLLM releases do) shows the inner
SDK call folding into LiteLLM's. With DSPy instrumented, DSPy's LM call stays the one operation.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import dspy
import litellm
import openai
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from otel_agentperf.conventions import names
from otel_agentperf.instrumentation.frameworks.dspy_programs import DSPyInstrumentor
from otel_agentperf.instrumentation.llm import litellm_calls
from otel_agentperf.instrumentation.llm.litellm_calls import LiteLLMInstrumentor
from otel_agentperf.instrumentation.llm.openai_sdk import OpenAIInstrumentor
from tests.conftest import Recorded, instrumented_by, trees

MESSAGES = [{"role": "user", "content": "why is my agent slow"}]
# The local server counts words: one input word, the nine words of its canned answer.
USAGE = {names.GEN_AI_USAGE_INPUT_TOKENS: 5, names.GEN_AI_USAGE_OUTPUT_TOKENS: 9}


@pytest.fixture(autouse=True)
def _fresh_clients() -> None:
    """No OpenAI client LiteLLM cached in another test (it would keep that test's wrappers)."""
    litellm.in_memory_llm_clients_cache.flush_cache()


@pytest.fixture
def instrumented(recorded: Recorded) -> Iterator[Recorded]:
    with instrumented_by(LiteLLMInstrumentor(), OpenAIInstrumentor()):
        yield recorded


def _kwargs(server: Any, **extra: Any) -> dict[str, Any]:
    return {"messages": MESSAGES, "api_base": server.base_url, "api_key": "sk-local", "num_retries": 0, **extra}


def _only_span(recorded: Recorded) -> Any:
    spans = recorded.spans()
    assert [(span.name, span.parent) for span in spans] == [(spans[0].name, None)], [s.name for s in spans]
    return spans[0]


def _answer(response: Any) -> tuple[str, str, Any, Any]:
    return (type(response).__name__, response.choices[0].message.content, response.usage.prompt_tokens, response.model)


def test_completion_is_one_client_span_with_usage_cost_and_server(instrumented: Recorded, server: Any) -> None:
    response = litellm.completion(model="openai/gpt-4o-mini", **_kwargs(server, temperature=0.5))
    span = _only_span(instrumented)
    assert span.name == "chat gpt-4o-mini" and span.kind is SpanKind.CLIENT
    attributes = dict(span.attributes)
    assert {key: attributes[key] for key in USAGE} == USAGE
    assert attributes[names.GEN_AI_PROVIDER_NAME] == names.PROVIDER_OPENAI
    assert attributes[names.CODE_FUNCTION] == "litellm.completion"
    assert attributes[names.GEN_AI_REQUEST_TEMPERATURE] == 0.5
    port = server.server_address[1]
    assert (attributes[names.SERVER_ADDRESS], attributes[names.SERVER_PORT]) == ("127.0.0.1", port)
    assert attributes[names.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert attributes[names.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini"
    # Our price table: gpt-4o-mini at $0.15 / $0.60 per million tokens.
    assert attributes[names.LLM_COST] == pytest.approx((5 * 0.15 + 9 * 0.60) / 1e6)
    assert instrumented.counter(names.LLM_COST) == pytest.approx(attributes[names.LLM_COST])
    assert (instrumented.tokens("input"), instrumented.tokens("output")) == (5, 9)
    point = instrumented.histogram_point(names.CLIENT_OPERATION_DURATION)
    assert point.count == 1 and point.attributes[names.GEN_AI_PROVIDER_NAME] == names.PROVIDER_OPENAI
    assert names.GEN_AI_INPUT_MESSAGES not in attributes and names.GEN_AI_OUTPUT_MESSAGES not in attributes
    assert response.choices[0].message.content == "Latency comes from slow model calls and repeated work."


def test_the_host_gets_what_it_gets_uninstrumented(recorded: Recorded, server: Any) -> None:
    def run() -> tuple[Any, ...]:
        sync = _answer(litellm.completion(model="openai/gpt-4o-mini", **_kwargs(server)))
        chunks = [
            chunk.choices[0].delta.content if chunk.choices else None
            for chunk in litellm.completion(model="openai/gpt-4o-mini", **_kwargs(server, stream=True))
        ]
        awaited = _answer(asyncio.run(litellm.acompletion(model="openai/gpt-4o-mini", **_kwargs(server))))
        with pytest.raises(litellm.InternalServerError) as raised:
            litellm.completion(model="openai/error-gpt-4o-mini", **_kwargs(server))
        return sync, chunks, awaited, type(raised.value)

    plain = run()
    with instrumented_by(LiteLLMInstrumentor(), OpenAIInstrumentor()):
        assert run() == plain
        assert len(recorded.spans()) == 4
    assert litellm.completion is litellm.chat_completions.dispatch.completion  # uninstrumented: the original again


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_stream_is_one_operation_timed_to_its_first_chunk(instrumented: Recorded, server: Any, mode: str) -> None:
    kwargs = _kwargs(server, stream=True, stream_options={"include_usage": True})

    async def consume() -> list[Any]:
        stream = await litellm.acompletion(model="openai/gpt-4o-mini", **kwargs)
        return [chunk async for chunk in stream]

    if mode == "sync":
        chunks = list(litellm.completion(model="openai/gpt-4o-mini", **kwargs))
    else:
        chunks = asyncio.run(consume())
    assert len(chunks) == 11  # nine words, the finish chunk, the usage chunk
    span = _only_span(instrumented)
    attributes = dict(span.attributes)
    assert attributes[names.GEN_AI_REQUEST_STREAM] is True
    assert attributes[names.CODE_FUNCTION] == f"litellm.{'a' if mode == 'async' else ''}completion"
    assert {key: attributes[key] for key in USAGE} == USAGE
    assert 0 < attributes[names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] <= (span.end_time - span.start_time) / 1e9
    assert instrumented.histogram_point(names.CLIENT_TIME_TO_FIRST_CHUNK).count == 1
    assert instrumented.histogram_point(names.CLIENT_TIME_PER_OUTPUT_CHUNK).count == 9  # after the first of ten


def test_a_stream_closed_early_ends_its_operation(instrumented: Recorded, server: Any) -> None:
    stream = litellm.completion(model="openai/slow-20-gpt-4o-mini", **_kwargs(server, stream=True))
    first = next(stream)
    assert instrumented.spans() == []  # still streaming
    stream.close()
    span = _only_span(instrumented)
    assert first.choices[0].delta.content == "Latency"
    assert span.status.status_code is StatusCode.UNSET and names.GEN_AI_USAGE_OUTPUT_TOKENS not in span.attributes


def test_a_stream_cut_by_the_server_is_an_error(instrumented: Recorded, server: Any) -> None:
    stream = litellm.completion(model="openai/cut-gpt-4o-mini", **_kwargs(server, stream=True))
    with pytest.raises(Exception) as raised:
        list(stream)
    span = _only_span(instrumented)
    assert span.attributes[names.ERROR_TYPE] == type(raised.value).__qualname__
    assert span.status.status_code is StatusCode.ERROR


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_embeddings(instrumented: Recorded, server: Any, mode: str) -> None:
    kwargs = {"model": "openai/text-embedding-3-small", "input": ["slow agents", "fast tools"]}
    kwargs.update(api_base=server.base_url, api_key="sk-local", num_retries=0)
    response = litellm.embedding(**kwargs) if mode == "sync" else asyncio.run(litellm.aembedding(**kwargs))
    assert len(response.data) == 2
    span = _only_span(instrumented)
    assert span.name == "embeddings text-embedding-3-small"
    assert span.attributes[names.GEN_AI_USAGE_INPUT_TOKENS] == response.usage.prompt_tokens == 4
    assert span.attributes[names.GEN_AI_OPERATION_NAME] == names.OP_EMBEDDINGS
    assert instrumented.histogram_point(names.CLIENT_OPERATION_DURATION).count == 1


def test_an_error_is_its_error_type_and_the_same_exception(instrumented: Recorded, server: Any) -> None:
    with pytest.raises(litellm.InternalServerError):
        litellm.completion(model="openai/error-gpt-4o-mini", **_kwargs(server))
    span = _only_span(instrumented)
    assert span.attributes[names.ERROR_TYPE] == "InternalServerError"
    point = instrumented.histogram_point(names.CLIENT_OPERATION_DURATION)
    assert point.attributes[names.ERROR_TYPE] == "InternalServerError"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_router_call_is_one_operation_whatever_its_retries(instrumented: Recorded, server: Any, mode: str) -> None:
    model = f"ratelimit-2-router-{uuid.uuid4().hex[:8]}"  # the server rate-limits a model's first two requests
    deployment = {"model": f"openai/{model}", "api_base": server.base_url, "api_key": "sk-local", "max_retries": 0}
    router = litellm.Router(model_list=[{"model_name": "fast", "litellm_params": deployment}], num_retries=3)
    router.retry_after = 0
    before = server.requests[model]
    if mode == "sync":
        response = router.completion(model="fast", messages=MESSAGES)
    else:
        response = asyncio.run(router.acompletion(model="fast", messages=MESSAGES))
    assert server.requests[model] - before == 3  # two 429s, then the answer
    span = _only_span(instrumented)
    assert span.name == "chat fast"
    attributes = dict(span.attributes)
    assert attributes[names.CODE_FUNCTION] == f"Router.{'a' if mode == 'async' else ''}completion"
    assert attributes[names.LLM_ROUTER_RETRIES] == 2
    assert attributes[names.GEN_AI_PROVIDER_NAME] == names.PROVIDER_OPENAI  # from the deployment's attempt
    assert attributes[names.GEN_AI_RESPONSE_MODEL] == response.model == model
    assert names.ERROR_TYPE not in attributes
    assert instrumented.histogram_point(names.CLIENT_OPERATION_DURATION).count == 1


def test_provider_from_prefix_explicit_provider_or_litellm_model_table(
    instrumented: Recorded, capsys: pytest.CaptureFixture[str]
) -> None:
    assert litellm_calls.provider_and_model({"model": "azure/my-deployment"}) == ("azure.ai.openai", "my-deployment")
    assert litellm_calls.provider_and_model({"model": "bedrock/amazon.nova"}) == ("aws.bedrock", "amazon.nova")
    assert litellm_calls.provider_and_model({"model": "ollama/llama3"}) == ("ollama", "llama3")
    assert litellm_calls.provider_and_model({"model": "gpt-4o-mini"}) == ("openai", "gpt-4o-mini")
    explicit = {"model": "meta-llama/Llama-3", "custom_llm_provider": "together_ai"}
    assert litellm_calls.provider_and_model(explicit) == ("together_ai", "meta-llama/Llama-3")
    assert litellm_calls.provider_and_model({"model": "no-such-model-anywhere"}) == ("", "no-such-model-anywhere")
    assert capsys.readouterr() == ("", "")  # nothing printed for a model LiteLLM cannot place


class _SDKCreate(litellm.CustomLLM):  # type: ignore[misc]
    """A provider that calls the OpenAI SDK's ``create``, as LiteLLM releases before 1.108.1 do."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.client = openai.OpenAI(base_url=base_url, api_key="sk-local")

    def completion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> Any:
        answer = self.client.chat.completions.create(model=model, messages=messages)
        return litellm.ModelResponse(**answer.model_dump())


def test_an_sdk_create_inside_litellm_folds_into_its_operation(instrumented: Recorded, server: Any) -> None:
    litellm.custom_provider_map = [{"provider": "sdkcreate", "custom_handler": _SDKCreate(server.base_url)}]
    try:
        response = litellm.completion(model="sdkcreate/gpt-4o-mini", messages=MESSAGES)
    finally:
        litellm.custom_provider_map = []
    assert response.choices[0].message.content
    span = _only_span(instrumented)
    assert span.attributes[names.CODE_FUNCTION] == "litellm.completion"
    assert span.attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS] == 9
    assert instrumented.histogram_point(names.CLIENT_OPERATION_DURATION).count == 1
    assert instrumented.tokens("output") == 9  # counted once


def test_with_dspy_instrumented_dspy_call_is_the_one_operation(recorded: Recorded, server: Any) -> None:
    lm = dspy.LM("openai/gpt-4o-mini", api_base=server.base_url, api_key="sk-local", cache=False, engine="litellm")
    with instrumented_by(DSPyInstrumentor(), LiteLLMInstrumentor(), OpenAIInstrumentor()), dspy.context(lm=lm):
        assert dspy.Predict("question -> answer")(question="why").answer
    assert list(trees(recorded.spans()).values()) == [("chat gpt-4o-mini",)]
    (span,) = recorded.spans()
    assert span.attributes[names.CODE_FUNCTION] == "LM.__call__"
    assert recorded.histogram_point(names.CLIENT_OPERATION_DURATION).count == 1
    assert recorded.tokens("output") == span.attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS]


def test_content_only_with_the_capture_switch(
    instrumented: Recorded, server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    from otel_agentperf.runtime import settings

    settings.reload()
    litellm.completion(model="openai/gpt-4o-mini", **_kwargs(server))
    span = _only_span(instrumented)
    assert "why is my agent slow" in span.attributes[names.GEN_AI_INPUT_MESSAGES]
    assert "Latency comes from" in span.attributes[names.GEN_AI_OUTPUT_MESSAGES]


def test_the_entry_point_names_the_instrumentor() -> None:
    from importlib.metadata import entry_points

    (entry,) = [ep for ep in entry_points(group="opentelemetry_instrumentor") if ep.name == "otel_agentperf_litellm"]
    assert entry.load() is LiteLLMInstrumentor
    assert "litellm" in sys.modules  # this module imported it; tests/test_import.py checks the package does not
