"""With OpenTelemetry contrib's own OpenAI instrumentation active too, each call still has one GenAI span.

The contrib package is installed by scripts/test.sh into ``.venv/contrib`` (outside the environment's
site-packages, so its entry point does not switch it on in the launcher tests).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from opentelemetry.trace import SpanKind

from otel_agentperf.instrumentation.llm.openai_sdk import OpenAIInstrumentor
from tests.conftest import Recorded

CONTRIB = Path(sys.prefix) / "contrib"
MESSAGES = [{"role": "user", "content": "why is my agent slow"}]


@pytest.fixture
def contrib() -> Iterator[Any]:
    assert (CONTRIB / "opentelemetry" / "instrumentation" / "openai_v2").is_dir(), (
        f"opentelemetry-instrumentation-openai-v2 is missing from {CONTRIB}: run scripts/test.sh"
    )
    sys.path.insert(0, str(CONTRIB))
    try:
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as ContribInstrumentor

        yield ContribInstrumentor()
    finally:
        sys.path.remove(str(CONTRIB))


def _genai_client_spans(recorded: Recorded) -> list[str]:
    return [
        f"{span.instrumentation_scope.name}:{span.name}"
        for span in recorded.spans()
        if span.kind is SpanKind.CLIENT and "gen_ai.operation.name" in (span.attributes or {})
    ]


def _call(server: Any) -> None:
    client = openai.OpenAI(base_url=server.base_url, api_key="local")
    client.chat.completions.create(model="m1", messages=MESSAGES)
    stream = client.chat.completions.create(model="m1", messages=MESSAGES, stream=True)
    for _ in stream:
        pass


@pytest.mark.parametrize("contrib_first", [True, False], ids=["contrib-first", "ours-first"])
def test_one_genai_span_per_call_whichever_instruments_first(
    contrib: Any, recorded: Recorded, server: Any, contrib_first: bool, caplog: pytest.LogCaptureFixture
) -> None:
    ours = OpenAIInstrumentor()
    create = vars(openai.resources.chat.completions.Completions)["create"]
    steps = [
        lambda: contrib.instrument(tracer_provider=recorded.tracer_provider, meter_provider=recorded.meter_provider),
        ours.instrument,
    ]
    for step in steps if contrib_first else reversed(steps):
        step()
    try:
        with caplog.at_level(logging.WARNING, logger="otel_agentperf"):
            _call(server)
    finally:
        for instrumentor in (ours, contrib) if contrib_first else (contrib, ours):
            instrumentor.uninstrument()
    # Both orders undo cleanly, although contrib's unwrap leaves our wrapper bound to the class.
    assert vars(openai.resources.chat.completions.Completions)["create"] is create
    spans = _genai_client_spans(recorded)
    assert len(spans) == 2, spans
    assert all(span.startswith("opentelemetry.util.genai.handler:") for span in spans), spans  # contrib's
    assert recorded.histogram_points("agentperf.llm.cost") == []
    if contrib_first:
        assert any(
            "already instrumented by opentelemetry.instrumentation.openai_v2" in r.getMessage() for r in caplog.records
        )
