"""The SDK pipeline every benchmark records through: spans batched and dropped, metrics aggregated."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import otel_agentperf


class DropExporter(SpanExporter):
    """Exports nothing, so a benchmark measures the recording, not an exporter."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def providers() -> tuple[TracerProvider, MeterProvider]:
    """Fresh providers, also bound to otel-agentperf: the realistic setup of an instrumented app."""
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(DropExporter(), max_queue_size=8192))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    otel_agentperf.configure(tracer_provider, meter_provider)
    return tracer_provider, meter_provider
