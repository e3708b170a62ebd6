"""The report: quantiles from real exporter output checked against the raw values, and the CLI's errors."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import CollectorRegistry, generate_latest

from otel_agentperf.command import cli
from otel_agentperf.conventions import buckets, names
from otel_agentperf.conventions.instruments import catalogue
from otel_agentperf.recording.recorder import Recorder
from otel_agentperf.views import report, scrape
from otel_agentperf.views import rows as rows_module
from otel_agentperf.views.insights import bottlenecks
from tests.http_fixtures import serving


def _exposition(values_by_tool: dict[str, list[float]], errors: dict[str, int] | None = None) -> str:
    """Record values into the real tool histogram and return the real Prometheus exposition text."""
    registry = CollectorRegistry()
    provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry)])
    spec = catalogue(False).durations[names.KIND_TOOL]
    histogram = provider.get_meter(names.SCOPE_NAME).create_histogram(
        spec.name, unit=spec.unit, explicit_bucket_boundaries_advisory=list(spec.boundaries)
    )
    for tool, values in values_by_tool.items():
        for value in values:
            histogram.record(value, {names.GEN_AI_TOOL_NAME: tool})
    for tool, count in (errors or {}).items():
        for _ in range(count):
            histogram.record(0.5, {names.GEN_AI_TOOL_NAME: tool, names.ERROR_TYPE: "TimeoutError"})
    text = generate_latest(registry).decode()
    provider.shutdown()
    return text


def test_quantiles_from_buckets_match_the_recorded_values() -> None:
    # Uniform within each bucket, so the linear interpolation Prometheus uses is exact up to one step.
    values = [0.16 + 0.16 * (i + 0.5) / 1000 for i in range(1000)]  # 0.16 .. 0.32: one bucket
    values += [0.32 + 0.32 * (i + 0.5) / 1000 for i in range(1000)]  # 0.32 .. 0.64: the next
    rows = scrape.parse(_exposition({"search": values}))
    assert len(rows) == 1
    row = rows[0]
    assert (row.kind, row.name, row.calls, row.errors) == ("tool", "search", 2000, 0)
    assert row.total_seconds == pytest.approx(sum(values))
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    assert row.quantiles["p50"] == pytest.approx(cuts[49], abs=0.001)
    assert row.quantiles["p95"] == pytest.approx(cuts[94], abs=0.001)
    assert row.quantiles["p99"] == pytest.approx(cuts[98], abs=0.001)


def test_rows_are_sorted_by_total_time_and_count_errors() -> None:
    text = _exposition({"fast": [0.01] * 10, "slow": [2.0] * 3}, errors={"fast": 2})
    rows = scrape.parse(text)
    assert [row.name for row in rows] == ["slow", "fast"]
    fast = rows[1]
    assert (fast.calls, fast.errors) == (12, 2)


def test_quantile_in_the_overflow_bucket_is_the_highest_bound() -> None:
    rows = scrape.parse(_exposition({"stuck": [500.0] * 4}))
    assert rows[0].quantiles["p50"] == buckets.CLIENT_DURATION[-1]


def test_quantiles_never_contradict_the_mean_or_the_buckets() -> None:
    """Tool buckets start at 10 ms: a 0.1 ms tool is "< 0.2 ms", not an interpolated 5 ms."""
    rows = {row.name: row for row in scrape.parse(_exposition({"fast": [0.0001] * 50, "spawn": [0.234]}))}
    fast = rows["fast"]
    assert fast.quantile_text("p50") == "< 0.2"  # at most twice the mean, whatever the buckets say
    for key, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        low, high = fast.bounds[key]
        assert low <= fast.quantiles[key] <= high <= 0.0001 / (1 - q) + 1e-12  # type: ignore[operator]
    spawn = rows["spawn"]  # one observation: every quantile is that value
    assert [spawn.quantile_text(key) for key in ("p50", "p95", "p99")] == ["234.0"] * 3


@pytest.mark.parametrize(
    ("values", "tail"),
    [
        # p99 4x p50 (not a tail), but at the top and the bottom of their buckets: interpolated, 9.7x.
        ([0.0199] * 90 + [0.0801] * 10, False),
        ([0.005] * 90 + [2.0] * 10, True),  # a real one
    ],
    ids=["bucket-edge", "real-tail"],
)
def test_the_long_tail_rule_is_not_fooled_by_bucket_edges(values: list[float], tail: bool) -> None:
    from otel_agentperf.views.insights import bottlenecks

    said = bottlenecks(scrape.parse(_exposition({"search": values})))
    assert any("long tail" in sentence for sentence in said) is tail


def test_renderers_show_every_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scrape = tmp_path / "scrape.prom"
    scrape.write_text(_exposition({"alpha": [0.05], "beta": [0.2, 0.3]}))
    assert cli.main(["report", "--file", str(scrape), "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert markdown.splitlines()[0] == "Operations by total ms (the app did not export self time)"
    assert markdown.splitlines()[2].startswith("| kind | operation | calls | errors | own ms | self ms | total ms |")
    assert "| tool | beta | 2 | 0 | - | - | 500.0 |" in markdown  # no self time in this scrape: not shown as 0
    assert cli.main(["report", "--file", str(scrape), "--format", "json"]) == 0
    assert '"name": "alpha"' in capsys.readouterr().out


def test_unreachable_url_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with serving([b""]) as url:
        pass  # the server is gone: its port now refuses connections
    assert cli.main(["report", "--url", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"otel-agentperf: cannot read {url}")
    assert "Traceback" not in err


def test_non_prometheus_response_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with serving([b"<html><body>{not: metrics}</body></html>"], "text/html") as url:
        assert cli.main(["report", "--url", url]) == 2
    assert "not Prometheus exposition text" in capsys.readouterr().err


def test_endpoint_without_our_metrics_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    with serving([b"# TYPE up gauge\nup 1\n"]) as url:
        assert cli.main(["report", "--url", url]) == 1
    assert "no otel-agentperf metrics" in capsys.readouterr().err


def test_missing_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["report", "--file", str(tmp_path / "absent.prom")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_self_time_puts_the_culprit_first_not_the_agent_that_waited_for_it(make_recorded: Any) -> None:
    """The agent's total includes its slow tool; by self time the report and its first sentence name the tool."""
    import otel_agentperf as ap
    from otel_agentperf.recording import state
    from otel_agentperf.views.insights import bottlenecks

    registry = CollectorRegistry()
    recorded = make_recorded()  # spans in memory; metrics through the real Prometheus reader below
    meter_provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry)])
    state.configure(recorded.tracer_provider, meter_provider)

    @ap.tool
    def fetch_page(url: str) -> None:
        time.sleep(0.05)

    @ap.agent(name="planner")
    def plan() -> None:
        time.sleep(0.01)
        fetch_page("/flights")  # two pages, not one asked for twice (that would be a repeated call)
        fetch_page("/hotels")

    for _ in range(3):
        plan()
    rows = scrape.parse(generate_latest(registry).decode())
    meter_provider.shutdown()
    assert [(row.kind, row.name) for row in rows][:2] == [("tool", "fetch_page"), ("agent", "planner")]
    tool, agent = rows[0], rows[1]
    assert agent.total_seconds > tool.total_seconds  # by total time the agent would come first
    assert agent.self_seconds == pytest.approx(agent.total_seconds - tool.total_seconds, abs=1e-6)
    assert bottlenecks(rows)[0].startswith("tool `fetch_page` takes")
    # Every second of the agents' time is someone's own time, once: the span attributes add up to it.
    own = sum(span.attributes[names.SELF_TIME] for span in recorded.spans())
    assert own == pytest.approx(agent.total_seconds, abs=1e-6)


def test_children_awaited_together_leave_the_parent_no_negative_self_time(recorded: Any) -> None:
    import asyncio

    import otel_agentperf as ap

    @ap.tool
    async def lookup() -> None:
        await asyncio.sleep(0.03)

    @ap.agent(name="fan_out")
    async def fan_out() -> None:
        await asyncio.gather(lookup(), lookup(), lookup())

    asyncio.run(fan_out())
    agent = recorded.span("invoke_agent fan_out")
    assert agent.attributes[names.SELF_TIME] == 0.0  # 3 x 30 ms of children in about 30 ms: none of its own
    assert recorded.counter(names.SELF_TIME, **{names.OPERATION_KIND: "tool"}) == pytest.approx(
        sum(span.attributes[names.SELF_TIME] for span in recorded.spans() if span.name == "execute_tool lookup")
    )


def test_redundant_loads_are_counted_in_time_and_streams_by_their_first_chunk() -> None:
    registry = CollectorRegistry()
    provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry)])
    recorder = Recorder(provider.get_meter(names.SCOPE_NAME), catalogue(False))
    config = {names.GEN_AI_OPERATION_NAME: names.OP_LOAD_CONFIG, names.CONFIG_LOADER: "yaml.safe_load"}
    recorder.duration(names.KIND_CONFIG, 0.004, {**config, names.CONFIG_REDUNDANT: "false"})
    for _ in range(3):
        recorder.duration(names.KIND_CONFIG, 0.006, {**config, names.CONFIG_REDUNDANT: "true"})
    model = {
        names.GEN_AI_OPERATION_NAME: names.OP_CHAT,
        names.GEN_AI_PROVIDER_NAME: names.PROVIDER_OPENAI,
        names.GEN_AI_REQUEST_MODEL: "m1",
    }
    for _ in range(4):
        recorder.duration(names.KIND_LLM, 1.0, model)
        recorder.self_time(names.KIND_LLM, 1.0, model)
        recorder.chunks(0.3, (), model)
    recorder.self_time(names.KIND_CONFIG, 0.022, {**config, names.CONFIG_REDUNDANT: "true"})
    rows = {(row.kind, row.name): row for row in scrape.parse(generate_latest(registry).decode())}
    loads = rows[("config", "yaml.safe_load")]
    assert loads.redundant == 3 and loads.redundant_seconds == pytest.approx(0.018)
    said = bottlenecks(list(rows.values()))
    assert any("3 were redundant reloads of an unchanged file (18.0 ms wasted)" in sentence for sentence in said)
    chat = rows[("llm", "openai/m1")]
    first_chunk = chat.first_chunk_p50()
    assert first_chunk is not None and 0.16 <= first_chunk.value <= 0.32  # its bucket, as the mean allows
    table = report.render_table(list(rows.values()), said)
    assert f"first chunk p50 {first_chunk.value * 1000:.1f} ms" in table
    assert "3 redundant (18.0 ms)" in table
    assert (
        "Where the time goes: the operations' own time is 4022.0 ms (summed over operations, concurrent ones "
        "included): llm 4000.0 ms (99%), config 22.0 ms (1%)"
    ) in table
    assert json.loads(report.render_json(list(rows.values()), said))["own_seconds_by_kind"] == pytest.approx(
        {"llm": 4.0, "config": 0.022}
    )


def test_the_report_says_what_sdk_retries_cost_as_measured_by_the_client(server: Any) -> None:
    import httpx
    import openai
    from opentelemetry.sdk.trace import TracerProvider

    import otel_agentperf as ap
    from otel_agentperf.instrumentation.llm.openai_sdk import OpenAIInstrumentor

    registry = CollectorRegistry()
    meter_provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry)])
    ap.configure(TracerProvider(), meter_provider)
    model = "ratelimit-3-report"
    server.requests.pop(model, None)
    sent: list[float] = []  # the application's own view: when each HTTP request left (httpx event hooks)
    http_client = httpx.Client(event_hooks={"request": [lambda request: sent.append(time.perf_counter())]})
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-local", max_retries=3, http_client=http_client)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    try:
        for _ in range(4):
            client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    finally:
        instrumentor.uninstrument()
    assert len(sent) == 7  # 3 rate-limited requests and their retry, then 3 plain calls
    measured = sent[3] - sent[0]  # the first call: from its first request to its last
    rows = {(row.kind, row.name): row for row in scrape.parse(generate_latest(registry).decode())}
    row = rows[("llm", f"openai/{model}")]
    assert (row.retries, row.retried_calls, row.calls, row.retry_reasons) == (3, 1, 4, {"429": 3})
    assert row.retry_seconds == pytest.approx(measured, rel=0.1)
    (sentence,) = [s for s in bottlenecks(list(rows.values())) if "retried by its SDK" in s]
    assert sentence.startswith(f"llm `openai/{model}` was retried by its SDK: 3 HTTP requests retried (429 x3)")
    assert f"in 1 of 4 calls, {row.retry_seconds * 1000:.1f} ms spent" in sentence


def test_tokens_are_read_from_the_newest_layouts_counters() -> None:
    registry = CollectorRegistry()
    provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry)])
    recorder = Recorder(provider.get_meter(names.SCOPE_NAME), catalogue(True))
    model = {
        names.GEN_AI_OPERATION_NAME: names.OP_CHAT,
        names.GEN_AI_PROVIDER_NAME: names.PROVIDER_OPENAI,
        names.GEN_AI_REQUEST_MODEL: "m1",
    }
    recorder.duration(names.KIND_LLM, 1.0, model)
    recorder.tokens(5, 9, 2, None, model, failed=False)
    recorder.duration(names.KIND_LLM, 1.0, {**model, names.ERROR_TYPE: "APIError"})
    recorder.tokens(3, 0, None, None, model, failed=True)  # a failed call's usage: counted, not on the histograms
    text = generate_latest(registry).decode()
    assert "gen_ai_client_token_usage" not in text
    chat = {(row.kind, row.name): row for row in scrape.parse(text)}[("llm", "openai/m1")]
    assert (chat.calls, chat.errors, chat.tokens) == (2, 1, 17)


def test_the_report_and_top_show_memory_per_call_when_tracking_is_on() -> None:
    from opentelemetry.sdk.trace import TracerProvider

    import otel_agentperf as ap
    from otel_agentperf.views import top

    registry = CollectorRegistry()
    meter_provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry)])
    ap.configure(TracerProvider(), meter_provider, memory=frozenset({"tracemalloc"}))

    @ap.tool
    def load_embeddings() -> int:
        block = bytearray(2 * 1024 * 1024)  # 2 MiB allocated and let go within the call: its peak
        return len(block)

    for _ in range(3):
        assert load_embeddings() == 2 * 1024 * 1024
    rows = {(row.kind, row.name): row for row in scrape.parse(generate_latest(registry).decode())}
    row = rows[("tool", "load_embeddings")]
    assert row.memory_peak_calls == 3
    memory = row.mean_memory
    assert memory is not None and memory[0] == "peak"
    # tracemalloc traces the whole process: what another thread or a garbage collection frees during the call
    # is taken from its peak (64 KiB is far more than this test's process frees in a call).
    assert 2 * 1024 * 1024 - 64 * 1024 <= memory[1] < 2.5 * 1024 * 1024
    assert f"memory peak {memory[1] / 1024 / 1024:.1f} MiB per call (process-wide)" in report.notes(row)
    view = top.View("test")
    view.refresh(list(rows.values()), 0.0, None)
    console_text = _rendered(top.render(view))
    assert f"memory peak {memory[1] / 1024 / 1024:.1f} MiB/call" in console_text


def _rendered(renderable: Any) -> str:
    from rich.console import Console

    console = Console(width=400, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


@pytest.mark.parametrize("latest", [False, True])
def test_cost_has_significant_digits_unpriced_models_say_so_and_tokens_are_split(latest: bool) -> None:
    registry = CollectorRegistry()
    provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry)])
    recorder = Recorder(provider.get_meter(names.SCOPE_NAME), catalogue(latest))

    def model(name: str) -> dict[str, Any]:
        return {
            names.GEN_AI_OPERATION_NAME: names.OP_CHAT,
            names.GEN_AI_PROVIDER_NAME: names.PROVIDER_OPENAI,
            names.GEN_AI_REQUEST_MODEL: name,
        }

    recorder.duration(names.KIND_LLM, 1.0, model("cheap"))
    recorder.tokens(100, 33, None, None, model("cheap"), failed=False)
    recorder.cost(0.000035, model("cheap"))
    for _ in range(2):
        recorder.duration(names.KIND_LLM, 1.0, model("home-made"))
        recorder.tokens(7, 4, None, None, model("home-made"), failed=False)
        recorder.unpriced(model("home-made"))
    rows = {row.name: row for row in scrape.parse(generate_latest(registry).decode())}
    provider.shutdown()
    cheap, unpriced = rows["openai/cheap"], rows["openai/home-made"]
    assert (cheap.input_tokens, cheap.output_tokens, cheap.tokens) == (100, 33, 133)
    assert report.notes(cheap) == "100 in + 33 out tokens, $0.000035"
    assert report.notes(unpriced) == "14 in + 8 out tokens, 2 unpriced"
    table = report.render_table([cheap, unpriced], [])
    assert "$0.000035" in table and "2 unpriced" in table
    by_name = {item["name"]: item for item in json.loads(report.render_json([cheap, unpriced], []))["operations"]}
    assert by_name["openai/cheap"]["cost_usd"] == pytest.approx(0.000035)
    assert by_name["openai/home-made"]["cost_usd"] is None
    assert (by_name["openai/home-made"]["unpriced"], by_name["openai/home-made"]["priced_cost_usd"]) == (2, 0.0)
    item = by_name["openai/cheap"]
    assert (item["input_tokens"], item["output_tokens"], item["tokens"]) == (100, 33, 133)


def test_json_counts_are_whole_numbers_and_costs_are_rounded() -> None:
    """Counters arrive as floats and sums of float prices carry noise: JSON says 3 calls and $0.000075."""
    registry = CollectorRegistry()
    provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry)])
    recorder = Recorder(provider.get_meter(names.SCOPE_NAME), catalogue(False))
    attributes = {
        names.GEN_AI_OPERATION_NAME: names.OP_CHAT,
        names.GEN_AI_PROVIDER_NAME: names.PROVIDER_OPENAI,
        names.GEN_AI_REQUEST_MODEL: "cheap",
    }
    for _ in range(3):
        recorder.duration(names.KIND_LLM, 0.5, attributes)
        recorder.tokens(10, 5, None, None, attributes, failed=False)
        recorder.cost(0.000025, attributes)
    rows = scrape.parse(generate_latest(registry).decode())
    provider.shutdown()
    assert sum(row.cost_usd for row in rows) != 0.000075  # the float sum's noise, which JSON must not carry
    text = report.render_json(rows, [])
    (item,) = json.loads(text)["operations"]
    assert (item["cost_usd"], item["priced_cost_usd"]) == (0.000075, 0.000075)
    assert "7.500000000000001e-05" not in text
    counts = ("calls", "errors", "redundant", "blocking", "input_tokens", "output_tokens", "tokens", "unpriced")
    for count in (*counts, "retries", "retried_calls", "first_chunk_count", "size_records", "size_observations"):
        assert type(item[count]) is int, count
    assert (item["calls"], item["errors"], item["input_tokens"], item["tokens"]) == (3, 0, 30, 45)


@pytest.mark.parametrize(
    ("value", "text"), [(0.000035, "$0.000035"), (0.0123, "$0.012"), (0.5, "$0.50"), (1.234, "$1.23"), (42.0, "$42.00")]
)
def test_dollars_keep_two_significant_digits(value: float, text: str) -> None:
    assert rows_module.usd(value) == text


def test_a_reader_that_stops_early_ends_the_report_quietly(tmp_path: Path) -> None:
    saved = tmp_path / "scrape.txt"
    saved.write_text(_exposition({f"tool_{i}": [0.01] for i in range(2000)}))
    command = str(Path(sys.executable).parent / "otel-agentperf")
    process = subprocess.Popen(
        [command, "report", "--file", str(saved)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # as `| head` does once it has its lines: every write now fails
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == cli.BROKEN_PIPE
    assert stderr == ""


def test_version_and_help_in_plain_text() -> None:
    from otel_agentperf import __version__

    command = str(Path(sys.executable).parent / "otel-agentperf")
    version = subprocess.run([command, "--version"], capture_output=True, text=True, timeout=30)
    assert (version.returncode, version.stdout) == (0, f"otel-agentperf {__version__}\n")
    for sub in ([], ["run"], ["report"], ["traces"], ["top"], ["grafana"]):
        shown = subprocess.run([command, *sub, "--help"], capture_output=True, text=True, timeout=30)
        assert shown.returncode == 0 and "usage: otel-agentperf" in shown.stdout
        assert "`" not in shown.stdout, shown.stdout  # no reStructuredText markup leaks into help


def test_only_what_otel_agentperf_recorded_is_counted_when_another_instrumentation_records_the_same_metric() -> None:
    """A framework's own GenAI instrumentation (the Agent Framework's) or contrib's records the same
    ``gen_ai.client.operation.duration`` for the same calls: counted too, every call would be two."""
    from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from otel_agentperf.views import otlp

    registry, memory = CollectorRegistry(), InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry), memory])
    model = {
        names.GEN_AI_OPERATION_NAME: names.OP_CHAT,
        names.GEN_AI_PROVIDER_NAME: names.PROVIDER_OPENAI,
        names.GEN_AI_REQUEST_MODEL: "m1",
    }
    ours = Recorder(provider.get_meter(names.SCOPE_NAME), catalogue(False))
    theirs = Recorder(provider.get_meter("agent_framework"), catalogue(False))
    for _ in range(4):
        ours.duration(names.KIND_LLM, 0.5, model)
        theirs.duration(names.KIND_LLM, 0.5, model)
    scraped = {(row.kind, row.name): row for row in scrape.parse(generate_latest(registry).decode())}
    received = {(row.kind, row.name): row for row in otlp.rows([encode_metrics(memory.get_metrics_data())])}
    for found in (scraped, received):
        chat = found[("llm", "openai/m1")]
        assert (chat.calls, chat.total_seconds) == (4, pytest.approx(2.0))
