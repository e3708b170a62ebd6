"""Anthropic SDK instrumentation: the real SDK against the local Anthropic-compatible server on loopback."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from otel_agentperf.conventions import names
from otel_agentperf.instrumentation.llm.anthropic_sdk import AnthropicInstrumentor
from otel_agentperf.runtime import settings
from tests.conftest import Recorded

MESSAGES = [{"role": "user", "content": "why is my agent slow"}]


@pytest.fixture
def llm(recorded: Recorded) -> Iterator[Recorded]:
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument()
    yield recorded
    instrumentor.uninstrument()


def _client(server: Any, recorded: Recorded, **options: Any) -> anthropic.Anthropic:
    # The SDK's own API-call spans go to the test's provider, to check how they nest under ours.
    telemetry = {"tracer_provider": recorded.tracer_provider}
    return anthropic.Anthropic(base_url=server.root_url, api_key="sk-ant-secret", open_telemetry=telemetry, **options)


def test_message_span_tokens_with_cache_reads(llm: Recorded, server: Any) -> None:
    message = _client(server, llm).messages.create(
        model="cached-3-claude", max_tokens=64, messages=MESSAGES, stop_sequences=["END"]
    )
    assert type(message) is anthropic.types.Message
    span = llm.span("chat cached-3-claude")
    assert span.kind is SpanKind.CLIENT
    attributes = dict(span.attributes)
    assert attributes[names.GEN_AI_PROVIDER_NAME] == "anthropic"
    assert attributes[names.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert attributes[names.GEN_AI_REQUEST_STOP_SEQUENCES] == ("END",)
    assert attributes[names.GEN_AI_RESPONSE_FINISH_REASONS] == ("end_turn",)
    assert attributes[names.GEN_AI_RESPONSE_ID] == "msg_local"
    # The server reports 2 uncached + 3 cache-read input tokens; the conventions want their sum.
    assert attributes[names.GEN_AI_USAGE_INPUT_TOKENS] == 5
    assert attributes[names.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 3
    assert attributes[names.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == 0
    assert "sk-ant-secret" not in str([s.attributes for s in llm.spans()])
    assert (llm.tokens("input"), llm.tokens("output")) == (5, 9)


SDK_SCOPE = "com.anthropic.sdk.python"  # the installed SDK's own tracing (anthropic/_tracing.py)


def _every_call_shape(server: Any, recorded: Recorded) -> list[str]:
    """One call of each shape, sync and async: create, create(stream=True), messages.stream(); the texts."""
    telemetry = {"tracer_provider": recorded.tracer_provider}
    client = _client(server, recorded)
    texts = [str(client.messages.create(model="one-claude", max_tokens=64, messages=MESSAGES).content[0].text)]
    stream = client.messages.create(model="one-claude-s", max_tokens=64, messages=MESSAGES, stream=True)
    texts.append("".join(event.delta.text for event in stream if event.type == "content_block_delta"))
    with client.messages.stream(model="one-claude-h", max_tokens=64, messages=MESSAGES) as helper:
        texts.append("".join(helper.text_stream))

    async def main() -> list[str]:
        aclient = anthropic.AsyncAnthropic(base_url=server.root_url, api_key="local", open_telemetry=telemetry)
        message = await aclient.messages.create(model="one-claude-a", max_tokens=64, messages=MESSAGES)
        found = [str(message.content[0].text)]
        astream = await aclient.messages.create(model="one-claude-as", max_tokens=64, messages=MESSAGES, stream=True)
        found.append("".join([event.delta.text async for event in astream if event.type == "content_block_delta"]))
        async with aclient.messages.stream(model="one-claude-ah", max_tokens=64, messages=MESSAGES) as ahelper:
            found.append("".join([text async for text in ahelper.text_stream]))
        return found

    return texts + asyncio.run(main())


MODELS = ("one-claude", "one-claude-s", "one-claude-h", "one-claude-a", "one-claude-as", "one-claude-ah")


def test_each_call_is_one_span_ours_while_we_record_it(llm: Recorded, server: Any) -> None:
    """The SDK's own API-call span gives way to ours, whatever the call's shape; every call is a trace of one."""
    texts = _every_call_shape(server, llm)
    assert len(set(texts)) == 1 and texts[0].startswith("Latency comes from")
    spans = llm.spans()
    assert [span.instrumentation_scope.name for span in spans] == [names.SCOPE_NAME] * 6
    assert sorted(span.name for span in spans) == sorted(f"chat {model}" for model in MODELS)
    assert all(span.parent is None for span in spans)
    assert len({span.context.trace_id for span in spans}) == 6
    assert all(span.attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS] == 9 for span in spans)


def test_the_sdk_spans_calls_we_do_not_record(recorded: Recorded, server: Any) -> None:
    """Uninstrumented, and for SDK calls we do not record, the SDK's own span is there as the SDK makes it."""
    _every_call_shape(server, recorded)
    spans = recorded.spans()
    assert [(span.instrumentation_scope.name, span.name) for span in spans] == [
        (SDK_SCOPE, "anthropic.messages.create")
    ] * 6
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument()
    try:
        with pytest.raises(anthropic.NotFoundError):  # the local server has no count_tokens: a 404, spanned
            _client(server, recorded).messages.count_tokens(model="one-claude", messages=MESSAGES)
    finally:
        instrumentor.uninstrument()
    assert [span.name for span in recorded.spans()[6:]] == ["anthropic.messages.count_tokens"]


def test_streaming_create_keeps_the_sdk_stream(llm: Recorded, server: Any) -> None:
    stream = _client(server, llm).messages.create(model="claude-s", max_tokens=64, messages=MESSAGES, stream=True)
    assert type(stream) is anthropic.Stream
    text = "".join(event.delta.text for event in stream if event.type == "content_block_delta")
    assert text.startswith("Latency comes from")
    span = llm.span("chat claude-s")
    assert span.attributes[names.GEN_AI_REQUEST_STREAM] is True
    assert (span.attributes[names.GEN_AI_USAGE_INPUT_TOKENS], span.attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS]) == (
        5,
        9,
    )
    assert llm.histogram_point("gen_ai.client.operation.time_per_output_chunk").count == 8


def test_a_long_stream_records_its_chunk_timings_as_it_goes(llm: Recorded, server: Any) -> None:
    """message_start names the model, so the timings are recorded in batches while the stream goes on."""
    stream = _client(server, llm).messages.create(
        model="long-80-claude-s", max_tokens=64, messages=MESSAGES, stream=True
    )
    events = iter(stream)
    deltas = 0
    while deltas < 70:
        deltas += next(events).type == "content_block_delta"
    gaps = llm.histogram_point("gen_ai.client.operation.time_per_output_chunk")
    assert gaps.count == 64 and gaps.attributes[names.GEN_AI_RESPONSE_MODEL] == "long-80-claude-s"
    assert sum(1 for _ in events) > 0
    assert llm.histogram_point("gen_ai.client.operation.time_per_output_chunk").count == 79
    assert llm.span("chat long-80-claude-s").attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS] == 80


def test_stream_helper_from_call_to_block_exit(llm: Recorded, server: Any) -> None:
    client = _client(server, llm)
    with client.messages.stream(model="claude-h", max_tokens=64, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert type(stream) is anthropic.lib.streaming.MessageStream
    assert final.content[0].text == text
    span = llm.span("chat claude-h")
    assert span.attributes[names.GEN_AI_REQUEST_STREAM] is True
    assert span.attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS] == 9
    with client.messages.stream(model="claude-e", max_tokens=64, messages=MESSAGES) as early:
        next(iter(early))
    assert llm.span("chat claude-e").status.status_code is StatusCode.UNSET  # ended at the block's exit
    manager = client.messages.stream(model="claude-never", max_tokens=64, messages=MESSAGES)
    del manager
    gc.collect()
    assert llm.span("chat claude-never").end_time is not None  # never entered, collected: still ended


def test_async_create_and_async_stream_helper(llm: Recorded, server: Any) -> None:
    async def main() -> str:
        client = anthropic.AsyncAnthropic(base_url=server.root_url, api_key="local")
        message = await client.messages.create(model="claude-a", max_tokens=64, messages=MESSAGES)
        async with client.messages.stream(model="claude-a", max_tokens=64, messages=MESSAGES) as stream:
            parts = [text async for text in stream.text_stream]
        return str(message.content[0].text) + "|" + "".join(parts)

    first, second = asyncio.run(main()).split("|")
    assert first == second
    assert llm.histogram_point("gen_ai.client.operation.duration").count == 2
    assert (llm.tokens("input"), llm.tokens("output")) == (10, 18)


def test_retries_inside_one_operation_and_errors_keep_their_type(llm: Recorded, server: Any) -> None:
    client = _client(server, llm, max_retries=3)
    for model in ("ratelimit-2-claude", "ratelimit-9-claude"):
        server.requests.pop(model, None)  # the server counts requests per model for the whole session
    client.messages.create(model="ratelimit-2-claude", max_tokens=64, messages=MESSAGES)
    assert server.requests["ratelimit-2-claude"] == 3
    with pytest.raises(anthropic.RateLimitError):
        _client(server, llm, max_retries=0).messages.create(
            model="ratelimit-9-claude", max_tokens=64, messages=MESSAGES
        )
    with pytest.raises(anthropic.InternalServerError):
        _client(server, llm, max_retries=0).messages.create(model="error-claude", max_tokens=64, messages=MESSAGES)
    assert llm.span("chat ratelimit-2-claude").status.status_code is StatusCode.UNSET
    assert llm.span("chat ratelimit-9-claude").attributes[names.ERROR_TYPE] == "RateLimitError"
    assert llm.span("chat error-claude").attributes[names.ERROR_TYPE] == "InternalServerError"
    retried = llm.span("chat ratelimit-2-claude")
    assert retried.attributes[names.LLM_HTTP_ATTEMPTS] == 3
    assert llm.counter(names.LLM_RETRIES, **{names.HTTP_RESPONSE_STATUS_CODE: 429}) == 2
    assert llm.histogram_point(names.LLM_RETRY_DURATION).count == 1  # the calls without retries add none


def test_cost_uses_cache_prices(llm: Recorded, server: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    prices_file = tmp_path / "prices.toml"
    prices_file.write_text('[models."cached-3-claude-p"]\ninput = 3.0\ncached_input = 0.3\noutput = 15.0\n')
    monkeypatch.setenv("OTEL_AGENTPERF_PRICES", str(prices_file))
    settings.reload()
    _client(server, llm).messages.create(model="cached-3-claude-p", max_tokens=64, messages=MESSAGES)
    expected = (2 * 3.0 + 3 * 0.3 + 9 * 15.0) / 1e6
    assert llm.counter("agentperf.llm.cost") == pytest.approx(expected)


def test_uninstrument_restores_the_sdk(recorded: Recorded) -> None:
    messages = anthropic.resources.messages.Messages
    originals = {name: vars(messages)[name] for name in ("create", "stream")}
    iterate = vars(anthropic.Stream)["__iter__"]
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument()
    assert vars(messages)["create"] is not originals["create"]
    instrumentor.uninstrument()
    assert {name: vars(messages)[name] for name in originals} == originals
    assert vars(anthropic.Stream)["__iter__"] is iterate


def test_captured_tool_use_and_tool_result_blocks_keep_the_conventions_parts(
    llm: Recorded, server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:

    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    settings.reload()
    conversation: list[Any] = [
        *MESSAGES,
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "toolu_1", "name": "lookup_order", "input": {"order": 7}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "shipped"}]}
            ],
        },
    ]
    _client(server, llm).messages.create(model="tools-claude", max_tokens=64, messages=conversation)
    captured = llm.span("chat tools-claude").attributes[names.GEN_AI_INPUT_MESSAGES]
    assert json.loads(str(captured))[1:] == [
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": "Let me look."},
                {"type": "tool_call", "id": "toolu_1", "name": "lookup_order", "arguments": {"order": 7}},
            ],
        },
        {"role": "user", "parts": [{"type": "tool_call_response", "id": "toolu_1", "response": "shipped"}]},
    ]
