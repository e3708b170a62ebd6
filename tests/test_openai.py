"""OpenAI SDK instrumentation: the real SDK against the local OpenAI-compatible server on loopback."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pydantic
import pytest
from opentelemetry.trace import SpanKind, StatusCode

import otel_agentperf
from otel_agentperf.conventions import buckets, names
from otel_agentperf.instrumentation.llm.openai_sdk import OpenAIInstrumentor
from otel_agentperf.recording import state
from otel_agentperf.runtime import settings
from tests.conftest import MakeRecorded, Recorded, instrumented_by

MESSAGES = [{"role": "user", "content": "why is my agent slow"}]
# APIs newer than the oldest supported SDK (openai 1.40: no parse, .stream() helpers or responses).
# scripts/test.sh runs this module again against openai 1.40 without them.
NEWER_SDK = pytest.mark.newer_openai


@pytest.fixture
def llm(recorded: Recorded) -> Iterator[Recorded]:
    with instrumented_by(OpenAIInstrumentor()):
        yield recorded


def _client(server: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="sk-local-secret", max_retries=3)


def test_chat_completion_span_metrics_and_exact_tokens(llm: Recorded, server: Any) -> None:
    result = _client(server).chat.completions.create(model="m1", messages=MESSAGES, temperature=0.2)
    assert type(result) is openai.types.chat.ChatCompletion
    span = llm.span("chat m1")
    assert span.kind is SpanKind.CLIENT
    attributes = dict(span.attributes)
    assert attributes[names.GEN_AI_PROVIDER_NAME] == "openai"
    assert attributes[names.GEN_AI_REQUEST_MODEL] == "m1"
    assert attributes[names.GEN_AI_RESPONSE_MODEL] == "m1"
    assert attributes[names.GEN_AI_RESPONSE_ID] == "chatcmpl-local"
    assert attributes[names.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert attributes[names.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert attributes[names.SERVER_ADDRESS] == "127.0.0.1"
    assert attributes[names.SERVER_PORT] == server.server_address[1]
    assert (attributes[names.GEN_AI_USAGE_INPUT_TOKENS], attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS]) == (5, 9)
    assert "why is my agent slow" not in str(attributes) and "sk-local-secret" not in str(attributes)
    point = llm.histogram_point("gen_ai.client.operation.duration")
    assert point.attributes[names.GEN_AI_RESPONSE_MODEL] == "m1"
    assert (llm.tokens("input"), llm.tokens("output")) == (5, 9)
    token_point = llm.histogram_points("gen_ai.client.token.usage")[0]
    assert list(token_point.explicit_bounds) == list(buckets.TOKENS)


def test_raw_response_is_read_and_the_caller_parses_the_same_result(llm: Recorded, server: Any) -> None:
    raw = _client(server).chat.completions.with_raw_response.create(model="m1", messages=MESSAGES)
    assert raw.http_response.status_code == 200
    parsed = raw.parse()
    assert parsed is raw.parse() and parsed.usage is not None
    attributes = dict(llm.span("chat m1").attributes)
    assert (attributes[names.GEN_AI_USAGE_INPUT_TOKENS], attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS]) == (5, 9)
    assert attributes[names.GEN_AI_RESPONSE_ID] == "chatcmpl-local"


def test_sdk_call_inside_a_decorated_llm_function_is_one_operation(llm: Recorded, server: Any) -> None:
    @otel_agentperf.llm
    def ask() -> str:
        result = _client(server).chat.completions.create(model="m1", messages=MESSAGES)
        return str(result.choices[0].message.content)

    assert ask()
    (span,) = llm.spans()  # the decorated function's operation, with what the SDK call learnt
    assert span.attributes[names.CODE_FUNCTION].endswith("ask")
    assert span.attributes[names.GEN_AI_REQUEST_MODEL] == "m1"
    assert span.attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS] == 9
    assert llm.tokens("output") == 9
    assert sum(point.count for point in llm.histogram_points("gen_ai.client.operation.duration")) == 1


def test_stream_keeps_its_type_and_ends_when_consumed(llm: Recorded, server: Any) -> None:
    stream = _client(server).chat.completions.create(
        model="m1", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    assert type(stream) is openai.Stream
    assert llm.spans() == []
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text.startswith("Latency comes from")
    span = llm.span("chat m1")
    assert span.attributes[names.GEN_AI_REQUEST_STREAM] is True
    assert span.attributes[names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    assert (llm.tokens("input"), llm.tokens("output")) == (5, 9)
    assert llm.histogram_point("gen_ai.client.operation.time_to_first_chunk").count == 1
    assert llm.histogram_point("gen_ai.client.operation.time_per_output_chunk").count == 9  # 10 chunks with choices


def test_chunk_timings_are_recorded_while_a_long_stream_goes_on(llm: Recorded, server: Any) -> None:
    """The stream names its model in its first chunk, so its timings are recorded in batches as the chunks
    arrive: a long stream never holds its reader (and its event loop) at its end for all of them at once."""
    stream = _client(server).chat.completions.create(
        model="long-200-m1", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = iter(stream)
    for _ in range(100):
        next(chunks)
    assert llm.spans() == []  # the call is still going on
    first = llm.histogram_point("gen_ai.client.operation.time_to_first_chunk")
    assert first.count == 1 and first.attributes[names.GEN_AI_RESPONSE_MODEL] == "long-200-m1"
    assert llm.histogram_point("gen_ai.client.operation.time_per_output_chunk").count == 64  # one batch
    assert sum(1 for _ in chunks) > 0
    gaps = llm.histogram_point("gen_ai.client.operation.time_per_output_chunk")
    assert gaps.count == 200  # 200 words and the finish, a chunk each: every one after the first
    duration = llm.histogram_point("gen_ai.client.operation.duration")
    assert dict(gaps.attributes) == dict(duration.attributes)
    span = llm.span("chat long-200-m1")
    assert span.attributes[names.GEN_AI_RESPONSE_MODEL] == "long-200-m1"
    assert span.attributes[names.GEN_AI_RESPONSE_ID] == "chatcmpl-local"
    assert span.attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS] == 200


def test_the_exemplars_of_a_streamed_call_inside_an_agent_name_the_call_s_span(llm: Recorded, server: Any) -> None:
    """Duration, tokens and chunk timing are recorded as the stream ends, inside the agent: their exemplars
    still lead to the model call's span."""

    @otel_agentperf.agent(name="writer")
    def write() -> int:
        stream = _client(server).chat.completions.create(
            model="m1", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        return sum(1 for _ in stream)

    assert write() > 0
    call = llm.span("chat m1")
    assert call.parent is not None and call.parent.span_id == llm.span("invoke_agent writer").context.span_id
    collected = llm.metrics()  # once: the SDK hands each exemplar out in one collection only
    for metric in (
        "gen_ai.client.operation.duration",
        "gen_ai.client.token.usage",
        "gen_ai.client.operation.time_to_first_chunk",
        "gen_ai.client.operation.time_per_output_chunk",
    ):
        points = collected[metric].data.data_points
        assert points, metric
        assert {exemplar.span_id for point in points for exemplar in point.exemplars} == {call.context.span_id}, metric


def test_stream_closed_early_or_abandoned_still_records(llm: Recorded, server: Any) -> None:
    client = _client(server)
    with client.chat.completions.create(model="m1", messages=MESSAGES, stream=True) as stream:
        next(iter(stream))
    abandoned = client.chat.completions.create(model="m1", messages=MESSAGES, stream=True)
    next(abandoned)
    del abandoned
    gc.collect()
    spans = [s for s in llm.spans() if s.name == "chat m1"]
    assert len(spans) == 2
    assert all(s.status.status_code is StatusCode.UNSET for s in spans)
    assert llm.histogram_point("gen_ai.client.operation.duration").count == 2
    assert llm.histogram_points("gen_ai.client.token.usage") == []  # usage was not requested: none recorded


def test_async_calls_and_async_streams(llm: Recorded, server: Any) -> None:
    async def main() -> str:
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="local")
        result = await client.chat.completions.create(model="m2", messages=MESSAGES)
        stream = await client.chat.completions.create(
            model="m2", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        assert type(stream) is openai.AsyncStream
        parts = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
        return str(result.choices[0].message.content) + "|" + "".join(parts)

    answer = asyncio.run(main())
    assert answer.split("|")[0] == answer.split("|")[1]
    assert llm.histogram_point("gen_ai.client.operation.duration").count == 2
    assert (llm.tokens("input"), llm.tokens("output")) == (10, 18)


def test_retries_are_inside_one_operation_and_errors_keep_their_type(llm: Recorded, server: Any) -> None:
    client = _client(server)
    limited = "ratelimit-2-m3"
    server.requests.pop(limited, None)  # the server counts requests per model for the whole session
    client.chat.completions.create(model=limited, messages=MESSAGES)
    assert server.requests[limited] == 3
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="error-m3", messages=MESSAGES)
    assert caught.value.status_code == 500
    ok = llm.span(f"chat {limited}")
    assert ok.status.status_code is StatusCode.UNSET
    failed = llm.span("chat error-m3")
    assert failed.attributes[names.ERROR_TYPE] == "InternalServerError"
    point = llm.histogram_point("gen_ai.client.operation.duration", **{names.ERROR_TYPE: "InternalServerError"})
    assert point.count == 1
    # What the SDK hid: three HTTP requests, two of them 429s, then one call's 500s retried three times.
    assert ok.attributes[names.LLM_HTTP_ATTEMPTS] == 3
    assert [e.attributes[names.HTTP_RESPONSE_STATUS_CODE] for e in ok.events if e.name == names.LLM_RETRY_EVENT] == [
        429,
        429,
    ]
    assert failed.attributes[names.LLM_HTTP_ATTEMPTS] == 4
    assert llm.counter(names.LLM_RETRIES, **{names.GEN_AI_REQUEST_MODEL: limited}) == 2
    assert llm.counter(names.LLM_RETRIES, **{names.HTTP_RESPONSE_STATUS_CODE: 429}) == 2
    assert llm.counter(names.LLM_RETRIES, **{names.HTTP_RESPONSE_STATUS_CODE: 500}) == 3
    retry_time = llm.histogram_point(names.LLM_RETRY_DURATION, **{names.GEN_AI_REQUEST_MODEL: limited})
    assert retry_time.count == 1 and retry_time.sum == pytest.approx(ok.attributes[names.LLM_RETRY_TIME])
    # The SDK's backoff is real time: at least its waits, never more than the whole call.
    assert 0 < retry_time.sum < ((ok.end_time or 0) - (ok.start_time or 0)) / 1e9


def test_async_retries_and_connection_errors_are_attempts_too(llm: Recorded, server: Any) -> None:
    limited = "ratelimit-1-m4"
    server.requests.pop(limited, None)
    dead = openai.AsyncOpenAI(base_url="http://127.0.0.1:9/v1", api_key="sk-local", max_retries=1, timeout=2)

    async def main() -> str:
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-local-secret", max_retries=2)
        result = await client.chat.completions.create(model=limited, messages=MESSAGES)
        with pytest.raises(openai.APIConnectionError):
            await dead.chat.completions.create(model="m4", messages=MESSAGES)
        return str(result.choices[0].message.content)

    assert asyncio.run(main())
    assert llm.span(f"chat {limited}").attributes[names.LLM_HTTP_ATTEMPTS] == 2
    unreachable = llm.span("chat m4")
    assert unreachable.attributes[names.ERROR_TYPE] == "APIConnectionError"
    assert unreachable.attributes[names.LLM_HTTP_ATTEMPTS] == 2
    assert llm.counter(names.LLM_RETRIES, **{names.GEN_AI_REQUEST_MODEL: "m4", names.ERROR_TYPE: "ConnectError"}) == 1


def test_a_call_that_is_not_retried_has_no_retry_telemetry(llm: Recorded, server: Any) -> None:
    _client(server).chat.completions.create(model="m1", messages=MESSAGES)
    span = llm.span("chat m1")
    assert names.LLM_HTTP_ATTEMPTS not in span.attributes and not span.events
    assert names.LLM_RETRIES not in llm.metrics() and names.LLM_RETRY_DURATION not in llm.metrics()


def test_with_raw_response_still_works(llm: Recorded, server: Any) -> None:
    raw = _client(server).chat.completions.with_raw_response.create(model="m1", messages=MESSAGES, stream=True)
    stream = raw.parse()
    assert type(stream) is openai.Stream
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert len(llm.spans()) == 1


def test_uninstrument_restores_the_sdk(recorded: Recorded) -> None:
    originals = {name: vars(openai.Stream)[name] for name in ("__next__", "__iter__", "close")}
    create = vars(openai.resources.chat.completions.Completions)["create"]
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    assert vars(openai.Stream)["__iter__"] is not originals["__iter__"]
    instrumentor.uninstrument()
    assert {name: vars(openai.Stream)[name] for name in originals} == originals
    assert vars(openai.resources.chat.completions.Completions)["create"] is create


def test_a_wrapped_method_kept_by_the_application_stops_recording_on_uninstrument(
    recorded: Recorded, server: Any
) -> None:
    """``with_raw_response`` keeps the bound ``create`` it was made from (LiteLLM caches such clients)."""
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    raw = _client(server).chat.completions.with_raw_response
    raw.create(model="m1", messages=MESSAGES)
    instrumentor.uninstrument()
    assert raw.create(model="m1", messages=MESSAGES).parse().choices[0].message.content
    assert [span.name for span in recorded.spans()] == ["chat m1"]


class Answer(pydantic.BaseModel):
    text: str


@NEWER_SDK
def test_parse_is_one_chat_operation(llm: Recorded, server: Any) -> None:
    client = _client(server)
    with pytest.raises(pydantic.ValidationError):  # the canned answer is not JSON: the SDK's own error passes through
        client.chat.completions.parse(model="m1", messages=MESSAGES, response_format=Answer)
    span = llm.span("chat m1")
    assert span.attributes[names.ERROR_TYPE] == "ValidationError"
    assert span.attributes[names.CODE_FUNCTION] == "openai.chat.completions.parse"


@NEWER_SDK
def test_stream_helper_records_once_and_ends_with_its_block(llm: Recorded, server: Any) -> None:
    client = _client(server)
    with client.chat.completions.stream(model="m1", messages=MESSAGES) as stream:
        deltas = [event.delta for event in stream if event.type == "content.delta"]
        final = stream.get_final_completion()
    assert "".join(deltas) == final.choices[0].message.content
    assert llm.span("chat m1").attributes[names.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    with client.chat.completions.stream(model="m9", messages=MESSAGES) as early:
        next(iter(early))
        assert llm.spans()[-1].name == "chat m1"  # still open inside the block
    assert llm.spans()[-1].name == "chat m9"  # ended by the block's exit, while `early` is still referenced
    assert early is not None
    assert llm.histogram_point("gen_ai.client.operation.duration", **{names.GEN_AI_REQUEST_MODEL: "m9"}).count == 1


@NEWER_SDK
def test_responses_create_plain_and_streamed(llm: Recorded, server: Any) -> None:
    client = _client(server)
    response = client.responses.create(model="cached-2-m4", input="why is my agent slow", max_output_tokens=50)
    assert type(response) is openai.types.responses.Response
    assert response.output_text == "Latency comes from slow model calls and repeated work."
    span = llm.span("chat cached-2-m4")
    assert span.attributes[names.GEN_AI_REQUEST_MAX_TOKENS] == 50
    assert span.attributes[names.GEN_AI_RESPONSE_ID] == "resp_local"
    assert span.attributes[names.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 2
    assert llm.counter("agentperf.llm.cached_input_tokens") == 2
    assert (span.attributes[names.GEN_AI_USAGE_INPUT_TOKENS], span.attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS]) == (
        5,
        9,
    )
    stream = client.responses.create(model="m5", input="why is my agent slow", stream=True)
    assert type(stream) is openai.Stream
    kinds = [event.type for event in stream]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    streamed = llm.span("chat m5")
    assert streamed.attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS] == 9
    point = llm.histogram_point("gen_ai.client.operation.time_per_output_chunk", **{names.GEN_AI_REQUEST_MODEL: "m5"})
    assert point.count == 8  # nine text deltas
    with client.responses.stream(model="m6", input="why is my agent slow") as helper:
        assert helper.get_final_response().output_text.startswith("Latency")
    assert llm.span("chat m6").attributes[names.GEN_AI_USAGE_INPUT_TOKENS] == 5
    assert (llm.tokens("input"), llm.tokens("output")) == (15, 27)


@NEWER_SDK
def test_async_responses_and_embeddings(llm: Recorded, server: Any) -> None:
    async def main() -> int:
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="local")
        stream = await client.responses.create(model="m7", input="hello there", stream=True)
        assert type(stream) is openai.AsyncStream
        events = [event async for event in stream]
        async with client.responses.stream(model="m7", input="hello there") as helper:
            await helper.get_final_response()
        embedded = await client.embeddings.create(model="emb", input=["one two three", "four"], dimensions=8)
        return len(events) + len(embedded.data)

    assert asyncio.run(main()) > 2
    assert llm.histogram_point("gen_ai.client.operation.duration", **{names.GEN_AI_REQUEST_MODEL: "m7"}).count == 2
    embeddings = llm.span("embeddings emb")
    assert embeddings.attributes[names.GEN_AI_OPERATION_NAME] == "embeddings"
    assert embeddings.attributes[names.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 8
    assert embeddings.attributes[names.GEN_AI_USAGE_INPUT_TOKENS] == 4
    assert names.GEN_AI_USAGE_OUTPUT_TOKENS not in embeddings.attributes
    point = llm.histogram_point("gen_ai.client.operation.duration", **{names.GEN_AI_OPERATION_NAME: "embeddings"})
    assert point.count == 1


def test_embeddings_have_their_own_histogram_in_the_latest_conventions(
    monkeypatch: pytest.MonkeyPatch, server: Any, make_recorded: MakeRecorded
) -> None:
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    settings.reload()
    recorded = make_recorded()
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    try:
        client = _client(server)
        client.embeddings.create(model="emb", input="one two")
        client.chat.completions.create(model="m1", messages=MESSAGES)
    finally:
        instrumentor.uninstrument()
        state.configure()
    assert recorded.histogram_point("gen_ai.client.embeddings.duration").count == 1
    assert recorded.histogram_point("gen_ai.client.inference.duration").count == 1


def test_cost_from_the_price_table_and_unpriced_models_counted(
    llm: Recorded, server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prices_file = tmp_path / "prices.toml"
    prices_file.write_text('[models."cached-2-m8"]\ninput = 3.0\ncached_input = 0.5\noutput = 20.0\n')
    monkeypatch.setenv("OTEL_AGENTPERF_PRICES", str(prices_file))
    settings.reload()
    client = _client(server)
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    client.chat.completions.create(model="cached-2-m8", messages=MESSAGES)
    client.chat.completions.create(model="unknown-model", messages=MESSAGES)
    client.chat.completions.create(model="nousage-model", messages=MESSAGES)
    packaged = (5 * 0.15 + 9 * 0.60) / 1e6  # packaged gpt-4o-mini prices per million tokens
    override = (3 * 3.0 + 2 * 0.5 + 9 * 20.0) / 1e6  # 5 input tokens, 2 of them cached
    assert llm.counter("agentperf.llm.cost", **{names.GEN_AI_REQUEST_MODEL: "gpt-4o-mini"}) == pytest.approx(packaged)
    assert llm.counter("agentperf.llm.cost", **{names.GEN_AI_REQUEST_MODEL: "cached-2-m8"}) == pytest.approx(override)
    assert llm.span("chat cached-2-m8").attributes["agentperf.llm.cost"] == pytest.approx(override)
    assert llm.counter("agentperf.llm.cost", **{names.GEN_AI_REQUEST_MODEL: "unknown-model"}) == 0
    assert llm.counter("agentperf.llm.unpriced") == 1  # the call without usage is neither priced nor counted
    assert llm.metrics()["agentperf.llm.cost"].data.is_monotonic


def test_content_is_captured_only_when_asked_and_capped(
    llm: Recorded, server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _client(server)
    client.chat.completions.create(model="quiet", messages=MESSAGES)
    quiet = llm.span("chat quiet").attributes
    assert names.GEN_AI_INPUT_MESSAGES not in quiet and names.GEN_AI_OUTPUT_MESSAGES not in quiet
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    monkeypatch.setenv("OTEL_AGENTPERF_CONTENT_MAX_LENGTH", "12")
    settings.reload()
    client.chat.completions.create(model="loud", messages=MESSAGES)
    stream = client.chat.completions.create(model="loud-stream", messages=MESSAGES, stream=True)
    for _ in stream:
        pass
    loud = llm.span("chat loud").attributes
    assert json.loads(str(loud[names.GEN_AI_INPUT_MESSAGES])) == [
        {"role": "user", "parts": [{"type": "text", "content": "why is my ag"}]}
    ]
    output = json.loads(str(loud[names.GEN_AI_OUTPUT_MESSAGES]))
    assert output == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Latency come"}], "finish_reason": "stop"}
    ]
    streamed = json.loads(str(llm.span("chat loud-stream").attributes[names.GEN_AI_OUTPUT_MESSAGES]))
    assert streamed[0]["parts"][0]["content"] == "Latency come"
    assert all("sk-local-secret" not in str(span.attributes) for span in llm.spans())


LOOKUP_TOOL = {
    "type": "function",
    "function": {
        "name": "lookup_order",
        "parameters": {"type": "object", "properties": {"order": {"type": "string"}}},
    },
}


def test_captured_tool_calls_and_results_keep_the_conventions_parts(
    llm: Recorded, server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    settings.reload()
    client = _client(server)
    asked = client.chat.completions.create(model="agent-m", messages=MESSAGES, tools=[LOOKUP_TOOL])
    (call,) = asked.choices[0].message.tool_calls or []
    conversation: list[Any] = [
        *MESSAGES,
        asked.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "order 7: shipped"},
    ]
    client.chat.completions.create(model="agent-m", messages=conversation, tools=[LOOKUP_TOOL])
    first, second = (span for span in llm.spans() if span.name == "chat agent-m")
    tool_call = {"type": "tool_call", "id": call.id, "name": "lookup_order", "arguments": {"order": "latency"}}
    assert json.loads(str(first.attributes[names.GEN_AI_OUTPUT_MESSAGES])) == [
        {"role": "assistant", "parts": [tool_call], "finish_reason": "tool_calls"}
    ]
    stream = client.chat.completions.create(model="agent-m", messages=MESSAGES, tools=[LOOKUP_TOOL], stream=True)
    for _ in stream:
        pass
    streamed = [span for span in llm.spans() if span.name == "chat agent-m"][-1]
    assert json.loads(str(streamed.attributes[names.GEN_AI_OUTPUT_MESSAGES])) == [
        {"role": "assistant", "parts": [tool_call], "finish_reason": "tool_calls"}
    ]
    assert json.loads(str(second.attributes[names.GEN_AI_INPUT_MESSAGES])) == [
        {"role": "user", "parts": [{"type": "text", "content": "why is my agent slow"}]},
        {"role": "assistant", "parts": [tool_call]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": call.id, "response": "order 7: shipped"}]},
    ]


@NEWER_SDK
def test_captured_responses_function_calls_and_outputs_keep_the_conventions_parts(
    llm: Recorded, server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    settings.reload()
    client = _client(server)
    tool = {"type": "function", **LOOKUP_TOOL["function"]}
    asked = client.responses.create(model="agent-r", input="why is my agent slow", tools=[tool])
    (call,) = [item for item in asked.output if item.type == "function_call"]
    items: list[Any] = [
        {"role": "user", "content": "why is my agent slow"},
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "order 7: shipped"},
    ]
    client.responses.create(model="agent-r", input=items, tools=[tool])
    first, second = (span for span in llm.spans() if span.name == "chat agent-r")
    tool_call = {"type": "tool_call", "id": call.call_id, "name": "lookup_order", "arguments": {"order": "latency"}}
    assert json.loads(str(first.attributes[names.GEN_AI_OUTPUT_MESSAGES]))[0]["parts"] == [tool_call]
    assert json.loads(str(second.attributes[names.GEN_AI_INPUT_MESSAGES]))[1:] == [
        {"role": "assistant", "parts": [tool_call]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": call.call_id, "response": "order 7: shipped"}]},
    ]


def test_timeouts_and_cut_streams_are_errors_with_their_type(llm: Recorded, server: Any) -> None:
    client = openai.OpenAI(base_url=server.base_url, api_key="local", max_retries=0, timeout=0.3)
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="hang-m", messages=MESSAGES)
    assert llm.span("chat hang-m").attributes[names.ERROR_TYPE] == "APITimeoutError"
    stream = client.chat.completions.create(model="cut-m", messages=MESSAGES, stream=True)
    with pytest.raises(Exception) as caught:
        for _ in stream:
            pass
    cut = llm.span("chat cut-m")
    assert cut.attributes[names.ERROR_TYPE] == type(caught.value).__name__
    assert cut.status.status_code is StatusCode.ERROR
    assert llm.histogram_point("gen_ai.client.operation.time_to_first_chunk", **{names.GEN_AI_REQUEST_MODEL: "cut-m"})


def test_a_method_missing_from_the_sdk_is_named_in_one_warning(
    recorded: Recorded, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delattr(openai.resources.embeddings.Embeddings, "create")
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    instrumentor.uninstrument()
    warnings = [r.getMessage() for r in caplog.records if "Embeddings.create not found" in r.getMessage()]
    assert len(warnings) == 1 and "openai >= 1.40" in warnings[0]


@pytest.mark.parametrize("value", ["event_only", "everything"])
def test_capture_values_that_record_nothing_are_warned_about_once(
    llm: Recorded, server: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", value)
    settings.reload()
    client = _client(server)
    for _ in range(2):
        client.chat.completions.create(model=f"quiet-{value}", messages=MESSAGES)
    assert all(names.GEN_AI_INPUT_MESSAGES not in span.attributes for span in llm.spans())
    warnings = [r for r in caplog.records if r.name == "otel_agentperf" and "captur" in r.getMessage()]
    assert len(warnings) == 1


def test_azure_client_is_the_azure_openai_provider_and_whole_numbers_stay_doubles(llm: Recorded, server: Any) -> None:
    _client(server).chat.completions.create(model="m1", messages=MESSAGES, temperature=0, top_p=1, seed=3)
    attributes = dict(llm.span("chat m1").attributes)
    assert attributes[names.GEN_AI_PROVIDER_NAME] == "openai"
    assert type(attributes[names.GEN_AI_REQUEST_TEMPERATURE]) is float  # the app passed 0: a double, 0.0
    assert type(attributes[names.GEN_AI_REQUEST_TOP_P]) is float
    assert type(attributes[names.GEN_AI_REQUEST_SEED]) is int
    # The local server has no Azure deployment routes: the call fails, after the span has its provider.
    azure = openai.AzureOpenAI(base_url=server.base_url, api_key="local", api_version="2024-10-21", max_retries=0)
    with pytest.raises(openai.NotFoundError):
        azure.chat.completions.create(model="m2", messages=MESSAGES)
    span = llm.span("chat m2")
    assert span.attributes[names.GEN_AI_PROVIDER_NAME] == "azure.ai.openai"
    assert span.status.status_code is StatusCode.ERROR
    point = llm.histogram_point("gen_ai.client.operation.duration", **{names.GEN_AI_REQUEST_MODEL: "m2"})
    assert point.attributes[names.GEN_AI_PROVIDER_NAME] == "azure.ai.openai"


def test_stream_chunk_metrics_carry_the_response_model(llm: Recorded, server: Any) -> None:
    stream = _client(server).chat.completions.create(
        model="m1", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    assert len(list(stream)) > 2
    first = llm.histogram_point("gen_ai.client.operation.time_to_first_chunk")
    assert first.count == 1 and first.attributes[names.GEN_AI_RESPONSE_MODEL] == "m1"
    gaps = llm.histogram_point("gen_ai.client.operation.time_per_output_chunk")
    assert gaps.count >= 1 and gaps.attributes[names.GEN_AI_RESPONSE_MODEL] == "m1"
    assert gaps.attributes[names.SERVER_ADDRESS] == "127.0.0.1"


def test_latest_conventions_split_token_usage_by_direction_under_their_schema(
    monkeypatch: pytest.MonkeyPatch, server: Any, make_recorded: MakeRecorded
) -> None:
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    settings.reload()
    recorded = make_recorded()
    with instrumented_by(OpenAIInstrumentor()):
        _client(server).chat.completions.create(model="cached-2-m1", messages=MESSAGES)
        with pytest.raises(openai.InternalServerError):
            openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0).chat.completions.create(
                model="error-m1", messages=MESSAGES
            )
    assert recorded.histogram_points("gen_ai.client.token.usage") == []
    inputs = recorded.histogram_point("gen_ai.client.inference.operation.input_tokens")
    outputs = recorded.histogram_point("gen_ai.client.inference.operation.output_tokens")
    assert (inputs.sum, outputs.sum) == (5, 9)
    assert list(inputs.explicit_bounds) == list(buckets.TOKENS)
    unknown = {names.GEN_AI_TOKEN_MODALITY: "unknown"}
    assert recorded.counter("gen_ai.client.inference.usage.input_tokens", **unknown) == 5
    assert recorded.counter("gen_ai.client.inference.usage.output_tokens", **unknown) == 9
    assert recorded.counter("gen_ai.client.inference.usage.cache_read.input_tokens", **unknown) == 2
    span = recorded.span("chat cached-2-m1")
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.schema_url == "https://opentelemetry.io/schemas/gen-ai-dev/1.42.0-dev"
    assert recorded.span("chat error-m1").attributes[names.ERROR_TYPE] == "InternalServerError"
