"""OpenAI SDK instrumentation: the real SDK against the local OpenAI-compatible server on loopback."""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import openai
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from otel_agentperf import names
from otel_agentperf.instrumentation.openai_sdk import OpenAIInstrumentor
from tests.conftest import Recorded

MESSAGES = [{"role": "user", "content": "why is my agent slow"}]


def _local_llm() -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "examples" / "local_llm.py"
    spec = importlib.util.spec_from_file_location("local_llm", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("local_llm", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    with _local_llm().running() as local:
        yield local


@pytest.fixture
def llm(recorded: Recorded) -> Iterator[Recorded]:
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    yield recorded
    instrumentor.uninstrument()


def _client(server: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="sk-local-secret", max_retries=3)


def _tokens(recorded: Recorded, token_type: str) -> float:
    return sum(
        p.sum
        for p in recorded.histogram_points("gen_ai.client.token.usage")
        if p.attributes.get(names.GEN_AI_TOKEN_TYPE) == token_type
    )


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
    assert (_tokens(llm, "input"), _tokens(llm, "output")) == (5, 9)
    token_point = llm.histogram_points("gen_ai.client.token.usage")[0]
    assert list(token_point.explicit_bounds) == list(names.TOKEN_BUCKETS)


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
    assert (_tokens(llm, "input"), _tokens(llm, "output")) == (5, 9)
    assert llm.histogram_point("gen_ai.client.operation.time_to_first_chunk").count == 1
    assert llm.histogram_point("gen_ai.client.operation.time_per_output_chunk").count == 9  # 10 chunks with choices


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
    assert (_tokens(llm, "input"), _tokens(llm, "output")) == (10, 18)


def test_retries_are_inside_one_operation_and_errors_keep_their_type(llm: Recorded, server: Any) -> None:
    client = _client(server)
    client.chat.completions.create(model="ratelimit-2-m3", messages=MESSAGES)
    assert server.requests["ratelimit-2-m3"] == 3
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="error-m3", messages=MESSAGES)
    assert caught.value.status_code == 500
    ok = llm.span("chat ratelimit-2-m3")
    assert ok.status.status_code is StatusCode.UNSET
    failed = llm.span("chat error-m3")
    assert failed.attributes[names.ERROR_TYPE] == "InternalServerError"
    point = llm.histogram_point("gen_ai.client.operation.duration", **{names.ERROR_TYPE: "InternalServerError"})
    assert point.count == 1


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
