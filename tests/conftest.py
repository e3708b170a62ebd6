"""Fresh in-memory tracer and meter providers per test, bound to otel-agentperf's recording primitive."""

from __future__ import annotations

import gc
import importlib.util
import io
import json
import signal
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, NumberDataPoint
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import otel_agentperf
from otel_agentperf.api.instrumentor import AgentPerfInstrumentor
from otel_agentperf.recording import state
from otel_agentperf.recording.invocations import AgentInvocation, Invocation
from otel_agentperf.runtime import failures, settings
from tests import invariants, regression_runs
from tests.regression_runs import Pair


def pytest_configure(config: pytest.Config) -> None:
    """Take SIGINT back when the session started with it ignored, as a background job of a non-interactive
    shell does: every process a test starts would inherit the ignoring, and a test that stops its app with
    SIGINT (a server's master, ``run``'s forwarding) would wait for an app that can no longer hear it."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@dataclass
class Recorded:
    """What one test recorded: finished spans and collected metric points."""

    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        matching = [span for span in self.spans() if span.name == name]
        assert len(matching) == 1, f"expected one span {name!r}, got {[s.name for s in self.spans()]}"
        return matching[0]

    def metrics(self) -> dict[str, Any]:
        data = self.reader.get_metrics_data()
        found: dict[str, Any] = {}
        if data is None:
            return found
        for resource_metrics in data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    found[metric.name] = metric
        return found

    def histogram_points(self, name: str) -> list[HistogramDataPoint]:
        metric = self.metrics().get(name)
        return [] if metric is None else list(metric.data.data_points)

    def histogram_point(self, name: str, **attributes: Any) -> HistogramDataPoint:
        points = [
            p for p in self.histogram_points(name) if all(p.attributes.get(k) == v for k, v in attributes.items())
        ]
        assert len(points) == 1, f"expected one {name} point with {attributes}, got {self.histogram_points(name)}"
        return points[0]

    def tokens(self, token_type: str) -> float:
        """Tokens of one type (``input``/``output``) recorded in ``gen_ai.client.token.usage``."""
        points = self.histogram_points("gen_ai.client.token.usage")
        return sum(p.sum for p in points if p.attributes.get("gen_ai.token.type") == token_type)

    def counter(self, name: str, **attributes: Any) -> float:
        """The sum of a counter's points matching ``attributes`` (0 when it recorded nothing)."""
        metric = self.metrics().get(name)
        points = [] if metric is None else metric.data.data_points
        return sum(p.value for p in points if all(p.attributes.get(k) == v for k, v in attributes.items()))

    def gauge(self, name: str, **attributes: Any) -> int | float:
        metric = self.metrics()[name]
        points: list[NumberDataPoint] = [
            p for p in metric.data.data_points if all(p.attributes.get(k) == v for k, v in attributes.items())
        ]
        assert len(points) == 1
        return points[0].value


def _new_recorded(memory: frozenset[str]) -> Recorded:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    otel_agentperf.configure(tracer_provider, meter_provider, memory=memory)
    return Recorded(exporter, reader, tracer_provider, meter_provider)


MakeRecorded = Callable[..., Recorded]


@pytest.fixture
def make_recorded() -> Iterator[MakeRecorded]:
    """Bind the primitive to new in-memory providers (as often as a test likes); all undone after the test.

    Undone: the package's telemetry state, the providers, and tracemalloc when memory tracking started it.
    """
    made: list[Recorded] = []
    tracing_before = tracemalloc.is_tracing()

    def make(memory: frozenset[str] = frozenset()) -> Recorded:
        made.append(_new_recorded(memory))
        return made[-1]

    yield make
    state.configure()
    for each in made:
        each.meter_provider.shutdown()
        each.tracer_provider.shutdown()
    if tracemalloc.is_tracing() and not tracing_before:
        tracemalloc.stop()


@pytest.fixture
def recorded(make_recorded: MakeRecorded) -> Recorded:
    return make_recorded()


@pytest.fixture
def instrumentor() -> Iterator[AgentPerfInstrumentor]:
    instance = AgentPerfInstrumentor()
    yield instance
    if instance.is_instrumented_by_opentelemetry:
        instance.uninstrument()


@pytest.fixture(autouse=True)
def _every_report_is_possible(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every report a test renders in this process is checked by tests/invariants.py as it is rendered
    (the table, Markdown, JSON, waterfalls and the live view's frames; reports made in other processes are
    checked by the tests that start them)."""
    from otel_agentperf.command import cli
    from otel_agentperf.views import report, waterfall

    def checked(render: Callable[..., str], check: Callable[[str], None]) -> Callable[..., str]:
        def rendering(*args: Any, **kwargs: Any) -> str:
            text = render(*args, **kwargs)
            check(text)
            return text

        return rendering

    renderers = {
        "render_table": invariants.check_text,
        "render_markdown": invariants.check_text,
        "render_json": lambda text: invariants.check_json(json.loads(text)),
    }
    for name, check in renderers.items():
        monkeypatch.setattr(report, name, checked(getattr(report, name), check))
    monkeypatch.setattr(waterfall, "render", checked(waterfall.render, invariants.check_text))
    formats = {"table": report.render_table, "markdown": report.render_markdown, "json": report.render_json}
    monkeypatch.setattr(cli, "_RENDERERS", formats)
    from rich.console import Console

    from otel_agentperf.views import top

    def frame(view: top.View) -> Any:
        drawn = render_frame(view)
        screen = Console(width=top.PIPED_WIDTH, record=True, file=io.StringIO())
        screen.print(drawn)
        invariants.check_text(screen.export_text())
        return drawn

    render_frame = top.render
    monkeypatch.setattr(top, "render", frame)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start without any otel-agentperf or semconv settings from the outer environment."""
    for key in (
        "OTEL_AGENTPERF_ENABLED",
        "OTEL_AGENTPERF_TARGETS",
        "OTEL_AGENTPERF_MEMORY",
        "OTEL_AGENTPERF_CONFIG",
        "OTEL_SEMCONV_STABILITY_OPT_IN",
        "OTEL_AGENTPERF_PRICES",
        "OTEL_AGENTPERF_CONTENT_MAX_LENGTH",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
    ):
        monkeypatch.delenv(key, raising=False)
    # LiteLLM (DSPy's engine) would fetch its model cost map from the internet; this machine has none.
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "true")
    failures.forget()
    settings.reload()  # the snapshot of this test's environment (a test that changes it reloads again)


def _local_llm() -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "examples" / "local_llm.py"
    spec = importlib.util.spec_from_file_location("local_llm", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("local_llm", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def server() -> Iterator[Any]:
    """The local OpenAI- and Anthropic-compatible server from examples/, on loopback."""
    with _local_llm().running() as local:
        yield local


def trees(spans: list[ReadableSpan]) -> dict[int, tuple[Any, ...]]:
    """Each trace as nested (span name, children...) tuples, children in start order: a tree's shape."""
    children: dict[int | None, list[ReadableSpan]] = {}
    for span in spans:
        children.setdefault(span.parent.span_id if span.parent else None, []).append(span)

    def shape(span: ReadableSpan) -> tuple[Any, ...]:
        kids = sorted(children.get(span.context.span_id, []), key=lambda s: s.start_time or 0)
        return (span.name, *[shape(kid) for kid in kids])

    return {root.context.trace_id: shape(root) for root in children.get(None, [])}


def run_queue_seconds() -> float:
    """This thread's time waiting for a CPU so far (Linux's schedstat; 0 elsewhere). The loop monitor takes
    a wait out of what it charges only once the wait is over (``recording/run_queue.py``): on a loaded
    machine a look during one charges it, which a test's tolerance allows for by this measure."""
    try:
        with open("/proc/thread-self/schedstat", encoding="ascii") as stat:
            return int(stat.read().split()[1]) / 1e9
    except OSError:
        return 0.0


def live_operations() -> tuple[int, int]:
    """Operations, and agent runs among them, still in memory after a full collection.

    A test compares before and after its runs: an earlier test's finished operation may still be
    referenced (a traceback a library kept), but runs must not add any.
    """
    gc.collect()
    objects = gc.get_objects()
    operations = [obj for obj in objects if isinstance(obj, Invocation)]
    return len(operations), sum(isinstance(obj, AgentInvocation) for obj in operations)


@contextmanager
def instrumented_by(*instrumentors: Any) -> Iterator[None]:
    """Instrument, then uninstrument even when the body fails: no test leaves a wrapper behind."""
    for instrumentor in instrumentors:
        instrumentor.instrument()
    try:
        yield
    finally:
        for instrumentor in instrumentors:
            instrumentor.uninstrument()


@pytest.fixture(scope="session")
def regression_pair(server: Any, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, int], Pair]:
    """``regression_pair(case, concurrency)``: the case's v1 and v2 saved runs and what the app measured.

    Every case runs on the session's first use (``regression_runs.pairs``: minutes of runs) and is kept for
    the session, so ``test_regressions.py`` and ``test_compare.py`` read the same runs.
    """
    pairs = regression_runs.pairs(server, tmp_path_factory.mktemp("regressions"))
    return lambda name, concurrency: pairs[(name, concurrency)]
