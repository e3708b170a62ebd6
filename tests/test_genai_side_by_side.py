"""OpenTelemetry's own GenAI instrumentation and ours, side by side on the same OpenAI calls.

What python-genai's OpenAI instrumentation (``opentelemetry-instrumentation-openai-v2`` on
``opentelemetry-util-genai``, installed by scripts/test.sh into ``.venv/contrib``) emits is what a
dashboard built on the official packages reads. Each runs alone, captured with in-memory SDK exporters, on
the same calls to the local model server (examples/local_llm.py); what it emits must be in ours with the
same span names and kinds, attribute values, metric names, instruments, units and bucket boundaries. Ours
may add to it, and exactly what it adds is asserted, so a new difference is a decision, not an accident.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import Histogram, InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_agentperf.instrumentation.llm.openai_sdk import OpenAIInstrumentor
from tests.conftest import Recorded

CONTRIB = Path(sys.prefix) / "contrib"
MESSAGES = [{"role": "user", "content": "why is my agent slow"}]
# What ours adds to every GenAI client span: its own measurements, the call site, where the call went, and
# the cache-read tokens the conventions define (0 when the provider reports none).
SPAN_EXTRAS = {
    "agentperf.operation.kind",
    "agentperf.operation.self_time",
    "code.function.name",
    "server.address",
    "server.port",
    "gen_ai.usage.cache_read.input_tokens",
}
# The streamed call: whether it streamed, its time to first chunk, and the finish reason contrib leaves out
# of a stream.
STREAM_EXTRAS = {"gen_ai.request.stream", "gen_ai.response.time_to_first_chunk", "gen_ai.response.finish_reasons"}
# Metrics only ours records: the conventions' chunk timings (newer python-genai records them too, under
# the same names) and its own self time, in-flight gauge and unpriced-call count.
METRIC_EXTRAS = {
    "gen_ai.client.operation.time_to_first_chunk",
    "gen_ai.client.operation.time_per_output_chunk",
    "agentperf.operation.self_time",
    "agentperf.operations.active",
    "agentperf.llm.unpriced",
}
# The package's own cost is timed on one operation in 64 of the process (``recording/overhead.py``): present
# or not here by how many operations the process ran before, an addition either way.
SAMPLED_EXTRAS = {"agentperf.overhead"}
# Ours adds where the call went to every GenAI metric point (recommended by the conventions).
METRIC_ATTRIBUTE_EXTRAS = {"server.address", "server.port"}


@dataclass(frozen=True)
class Capture:
    """What one instrumentation emitted for the calls: spans in start order, and each metric."""

    spans: list[tuple[str, str, dict[str, Any]]]
    metrics: dict[str, Any]


def _capture(exporter: InMemorySpanExporter, reader: InMemoryMetricReader) -> Capture:
    spans = sorted(exporter.get_finished_spans(), key=lambda span: span.start_time or 0)
    data = reader.get_metrics_data()
    metrics = {
        metric.name: metric
        for resource in (data.resource_metrics if data else [])
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    return Capture([(span.name, span.kind.name, dict(span.attributes or {})) for span in spans], metrics)


def _calls(server: Any) -> None:
    """One plain chat call and one streamed, each answered in full."""
    client = openai.OpenAI(base_url=server.base_url, api_key="local")
    client.chat.completions.create(model="m1", messages=MESSAGES)
    stream = client.chat.completions.create(
        model="m1", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    for _ in stream:
        pass


@pytest.fixture
def contrib_capture(server: Any) -> Iterator[Capture]:
    """python-genai's OpenAI instrumentation alone, on its own in-memory providers."""
    assert (CONTRIB / "opentelemetry" / "instrumentation" / "openai_v2").is_dir(), (
        f"opentelemetry-instrumentation-openai-v2 is missing from {CONTRIB}: run scripts/test.sh"
    )
    sys.path.insert(0, str(CONTRIB))
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer_provider, meter_provider = TracerProvider(), MeterProvider(metric_readers=[reader])
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as ContribInstrumentor

        instrumentor = ContribInstrumentor()
        instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
        try:
            _calls(server)
        finally:
            instrumentor.uninstrument()
        yield _capture(exporter, reader)
    finally:
        sys.path.remove(str(CONTRIB))
        meter_provider.shutdown()
        tracer_provider.shutdown()


def _ours(recorded: Recorded, server: Any) -> Capture:
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    try:
        _calls(server)
    finally:
        instrumentor.uninstrument()
    return _capture(recorded.exporter, recorded.reader)


def test_spans_match_python_genai_with_exactly_our_additions(
    contrib_capture: Capture, recorded: Recorded, server: Any
) -> None:
    ours = _ours(recorded, server)
    assert [(name, kind) for name, kind, _ in contrib_capture.spans] == [("chat m1", "CLIENT")] * 2
    assert [(name, kind) for name, kind, _ in ours.spans] == [("chat m1", "CLIENT")] * 2
    for (_, _, theirs), (_, _, mine), extras in zip(
        contrib_capture.spans, ours.spans, (SPAN_EXTRAS, SPAN_EXTRAS | STREAM_EXTRAS), strict=True
    ):
        assert set(mine) - set(theirs) == extras
        assert set(theirs) <= set(mine)
        # The same values, but the response id the server makes up per call.
        shared = set(theirs) - {"gen_ai.response.id"}
        assert {key: mine[key] for key in shared} == {key: theirs[key] for key in shared}
    assert ours.spans[0][2]["gen_ai.usage.input_tokens"] == contrib_capture.spans[0][2]["gen_ai.usage.input_tokens"] > 0


def test_metrics_match_python_genai_with_exactly_our_additions(
    contrib_capture: Capture, recorded: Recorded, server: Any
) -> None:
    ours = _ours(recorded, server)
    assert set(contrib_capture.metrics) == {"gen_ai.client.operation.duration", "gen_ai.client.token.usage"}
    assert set(ours.metrics) - set(contrib_capture.metrics) - SAMPLED_EXTRAS == METRIC_EXTRAS
    for name, theirs in contrib_capture.metrics.items():
        mine = ours.metrics[name]
        assert (mine.unit, type(mine.data)) == (theirs.unit, type(theirs.data)) == (mine.unit, Histogram), name
        their_points = sorted(theirs.data.data_points, key=lambda point: sorted(point.attributes.items()))
        my_points = sorted(mine.data.data_points, key=lambda point: sorted(point.attributes.items()))
        assert len(my_points) == len(their_points), name
        for their_point, my_point in zip(their_points, my_points, strict=True):
            assert [float(b) for b in my_point.explicit_bounds] == [float(b) for b in their_point.explicit_bounds]
            assert set(my_point.attributes) - set(their_point.attributes) == METRIC_ATTRIBUTE_EXTRAS, name
            assert {key: my_point.attributes[key] for key in their_point.attributes} == dict(their_point.attributes)
            assert my_point.count == their_point.count == 2  # both calls
            if name == "gen_ai.client.token.usage":  # the figure itself: the same tokens counted
                assert my_point.sum == their_point.sum > 0
