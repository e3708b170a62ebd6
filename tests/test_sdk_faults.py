"""The OpenAI and Anthropic SDKs under faults: the app sees exactly what it sees uninstrumented.

Each fault is a real response from the local server (500, an exhausted 429, a hang past the client's
timeout, a stream cut mid-body, a body that is not JSON, JSON of the wrong shape with absurd usage) or a
task cancelled mid-stream. Each call runs once uninstrumented and once instrumented: same value or same
exception (type and message), one LLM span, ``error.type`` when it raised, nothing left in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import openai
import pytest

from otel_agentperf.conventions import names
from otel_agentperf.instrumentation.llm.anthropic_sdk import AnthropicInstrumentor
from otel_agentperf.instrumentation.llm.openai_sdk import OpenAIInstrumentor
from tests.conftest import Recorded, instrumented_by

MESSAGES = [{"role": "user", "content": "why is my agent slow"}]
# (model prefix, streamed): a cut connection is a streaming fault only.
FAULTS = [
    (fault, stream) for fault in ("error", "ratelimit-9", "hang", "malformed", "garbled") for stream in (False, True)
]
FAULTS.append(("cut", True))


def _summary(value: Any) -> Any:
    """What the app gets back, comparable between two runs (an SDK object's identity differs)."""
    if isinstance(value, list):
        return [_summary(item) for item in value]
    dump = getattr(value, "model_dump", None)
    return (type(value).__name__, dump(warnings=False) if dump else value)


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "returned", _summary(call())
    except Exception as exc:
        return type(exc).__qualname__, str(exc)


def _openai(server: Any, model: str, stream: bool) -> Callable[[], Any]:
    client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0, timeout=0.5)

    def call() -> Any:
        if stream:
            return list(client.chat.completions.create(model=model, messages=MESSAGES, stream=True))  # type: ignore[arg-type]
        return client.chat.completions.create(model=model, messages=MESSAGES)  # type: ignore[arg-type]

    return call


def _anthropic(server: Any, model: str, stream: bool) -> Callable[[], Any]:
    client = anthropic.Anthropic(base_url=server.root_url, api_key="k", max_retries=0, timeout=0.5)

    def call() -> Any:
        if stream:
            return list(client.messages.create(model=model, max_tokens=64, messages=MESSAGES, stream=True))  # type: ignore[arg-type]
        return client.messages.create(model=model, max_tokens=64, messages=MESSAGES)  # type: ignore[arg-type]

    return call


PROVIDERS: dict[str, tuple[Callable[[Any, str, bool], Callable[[], Any]], type]] = {
    "openai": (_openai, OpenAIInstrumentor),
    "anthropic": (_anthropic, AnthropicInstrumentor),
}


@pytest.fixture(autouse=True)
def _quiet_sdk_retries(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    with caplog.at_level(logging.ERROR, logger="otel_agentperf"):
        yield


@pytest.mark.parametrize(("fault", "stream"), FAULTS, ids=[f"{f}-{'stream' if s else 'call'}" for f, s in FAULTS])
@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_a_fault_reaches_the_app_exactly_as_uninstrumented(
    recorded: Recorded, server: Any, provider: str, fault: str, stream: bool, caplog: pytest.LogCaptureFixture
) -> None:
    make, instrumentor = PROVIDERS[provider]
    model = f"{fault}-m"
    server.requests.pop(model, None)  # the server counts requests per model for the whole session
    bare = _outcome(make(server, model, stream))
    with instrumented_by(instrumentor()):
        instrumented = _outcome(make(server, model, stream))
    assert instrumented == bare
    spans = [span for span in recorded.spans() if span.attributes.get(names.GEN_AI_OPERATION_NAME) == "chat"]
    assert len(spans) == 1
    if bare[0] != "returned":
        assert spans[0].attributes[names.ERROR_TYPE] == bare[0]
    assert all(
        point.value == 0
        for point in recorded.metrics()[names.OPERATIONS_ACTIVE].data.data_points
        if point.attributes[names.OPERATION_KIND] == "llm"
    )
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_a_task_cancelled_mid_stream_is_cancelled_and_its_operation_ends(
    recorded: Recorded, server: Any, provider: str
) -> None:
    async def consume(instrumented: bool) -> tuple[int, bool]:
        if provider == "openai":
            client: Any = openai.AsyncOpenAI(base_url=server.base_url, api_key="k", max_retries=0)
            stream = await client.chat.completions.create(model="slow-50-m", messages=MESSAGES, stream=True)
        else:
            client = anthropic.AsyncAnthropic(base_url=server.root_url, api_key="k", max_retries=0)
            stream = await client.messages.create(model="slow-50-m", max_tokens=64, messages=MESSAGES, stream=True)
        seen = 0

        async def read() -> None:
            nonlocal seen
            async for _ in stream:
                seen += 1

        task = asyncio.ensure_future(read())
        while seen == 0:
            await asyncio.sleep(0.005)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return seen, True
        return seen, False

    bare = asyncio.run(consume(False))
    with instrumented_by(PROVIDERS[provider][1]()):
        instrumented = asyncio.run(consume(True))
    assert instrumented[1] is bare[1] is True  # cancelled, as uninstrumented
    (span,) = [span for span in recorded.spans() if span.attributes.get(names.GEN_AI_OPERATION_NAME) == "chat"]
    assert span.attributes[names.ERROR_TYPE] == "CancelledError"
    active = recorded.metrics()[names.OPERATIONS_ACTIVE].data.data_points
    assert all(point.value == 0 for point in active if point.attributes[names.OPERATION_KIND] == "llm")
