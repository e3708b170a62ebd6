"""The live view and the bottleneck sentences: windows between real scrapes, counter resets, tmux."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import CollectorRegistry, generate_latest

from otel_agentperf.conventions import buckets, names
from otel_agentperf.conventions.instruments import catalogue
from otel_agentperf.views import scrape, top
from otel_agentperf.views.insights import bottlenecks
from otel_agentperf.views.rows import CounterReset, window
from otel_agentperf.views.top import View
from tests import tmux
from tests.http_fixtures import serving


class Pipeline:
    """A real SDK meter with a Prometheus reader on its own registry: record, then scrape."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=self.registry)])
        meter = self.provider.get_meter(names.SCOPE_NAME)
        specs = catalogue(False).durations
        self.histograms = {
            kind: meter.create_histogram(
                spec.name, unit=spec.unit, explicit_bucket_boundaries_advisory=list(spec.boundaries)
            )
            for kind, spec in specs.items()
        }
        self.tokens = meter.create_histogram(names.CLIENT_TOKEN_USAGE, unit=names.UNIT_TOKENS)
        self.cost = meter.create_counter(names.LLM_COST, unit=names.UNIT_USD)

    def scrape(self) -> str:
        return generate_latest(self.registry).decode()


LLM = {names.GEN_AI_PROVIDER_NAME: "openai", names.GEN_AI_REQUEST_MODEL: "m1"}


def test_window_between_two_scrapes_gives_the_second_batch_only() -> None:
    pipeline = Pipeline()
    first = [0.02 + 0.3 * i / 100 for i in range(100)]
    for value in first:
        pipeline.histograms[names.KIND_LLM].record(value, LLM)
    before = scrape.parse(pipeline.scrape())
    second = [0.64 + 0.64 * (i + 0.5) / 400 for i in range(400)]  # uniform inside one bucket
    for value in second:
        pipeline.histograms[names.KIND_LLM].record(value, LLM)
    pipeline.tokens.record(120, {**LLM, names.GEN_AI_TOKEN_TYPE: "input"})
    pipeline.tokens.record(30, {**LLM, names.GEN_AI_TOKEN_TYPE: "output"})
    pipeline.cost.add(0.0125, LLM)
    after = scrape.parse(pipeline.scrape())

    (row,) = window(before, after)
    assert (row.kind, row.name, row.calls) == ("llm", "openai/m1", 400)
    assert row.total_seconds == pytest.approx(sum(second))
    assert row.quantiles["p50"] == pytest.approx(statistics.median(second), abs=0.002)
    assert (row.tokens, row.cost_usd) == (150, pytest.approx(0.0125))


def test_a_restarted_app_is_a_counter_reset_not_a_negative_rate() -> None:
    old, new = Pipeline(), Pipeline()
    for _ in range(10):
        old.histograms[names.KIND_TOOL].record(0.1, {names.GEN_AI_TOOL_NAME: "search"})
    new.histograms[names.KIND_TOOL].record(0.1, {names.GEN_AI_TOOL_NAME: "search"})
    with pytest.raises(CounterReset):
        window(scrape.parse(old.scrape()), scrape.parse(new.scrape()))
    view = View("http://app/metrics")
    view.refresh(scrape.parse(old.scrape()), 0.0, None)
    view.refresh(scrape.parse(new.scrape()), 2.0, 0.0)
    assert "counters reset" in view.message
    assert view.seconds is None and view.rows[0].calls == 1


def test_bottleneck_sentences() -> None:
    pipeline = Pipeline()
    config = {names.CONFIG_LOADER: "load_config", names.CONFIG_FORMAT: "yaml"}
    pipeline.histograms[names.KIND_CONFIG].record(0.004, {**config, names.CONFIG_REDUNDANT: "false"})
    for _ in range(3):
        pipeline.histograms[names.KIND_CONFIG].record(
            0.004, {**config, names.CONFIG_REDUNDANT: "true", names.BLOCKING_EVENT_LOOP: "true"}
        )
    for _ in range(30):
        pipeline.histograms[names.KIND_LLM].record(0.3, LLM)
    pipeline.histograms[names.KIND_LLM].record(40.0, {**LLM, names.ERROR_TYPE: "APITimeoutError"})
    said = bottlenecks(scrape.parse(pipeline.scrape()))
    assert said[0].startswith("llm `openai/m1` takes 100% of the time")
    assert (
        "config `load_config` loaded config 4 times; 3 were redundant reloads of an unchanged file (12.0 ms wasted)"
        in said
    )
    assert "config `load_config` blocked the asyncio event loop 3 times (synchronous I/O)" in said
    assert "llm `openai/m1` failed 1 of 31 calls (3%)" in said


def test_history_latency_growing_with_size_is_called_out() -> None:
    pipeline = Pipeline()
    view = View("http://app/metrics")
    sizes = pipeline.provider.get_meter(names.SCOPE_NAME).create_histogram(
        names.HISTORY_SIZE_RECORDS,
        unit=names.UNIT_RECORDS,
        explicit_bucket_boundaries_advisory=list(buckets.RECORDS),
    )
    store = {names.HISTORY_STORE: "HistoryManager", names.HISTORY_OPERATION: "search"}
    view.refresh(scrape.parse(pipeline.scrape()), 0.0, None)
    for step, records in enumerate((10, 100, 1000, 10000), start=1):
        for _ in range(20):
            pipeline.histograms[names.KIND_HISTORY].record(records * 2e-6, store)
            sizes.record(records, store)
        view.refresh(scrape.parse(pipeline.scrape()), float(step), float(step - 1))
    (sentence,) = view.growing()
    assert sentence.startswith("history `HistoryManager/search` p95 grows with history size")
    assert "at 100 records" in sentence and "at 10000 (a linear scan?)" in sentence


_tmux = tmux.tmux
_screen, _wait_for = tmux.screen, tmux.wait_for


@pytest.mark.parametrize("width", [40, 80, 200])
def test_header_is_one_line_cut_at_the_terminal_width_whatever_the_label(width: int) -> None:
    """A long label (a command run from a deep checkout) is cut with an ellipsis; what the view shows and its
    window stay whole on the first line, and the table is not the header's width."""
    from rich.console import Console

    label = f"{'/very/deep/checkout' * 12}/.venv/bin/python {'/very/deep/checkout' * 12}/app.py --flag"
    view = View(label)
    view.refresh([], 0.0, None)
    view.seconds = 1.0
    terminal = Console(width=width, record=True, color_system=None)
    terminal.print(top.render(view))
    lines = terminal.export_text().splitlines()
    assert lines[0].startswith("otel-agentperf top (last 1.0s)  /very/")
    assert lines[0].endswith("…") and len(lines[0]) == width
    assert not any("checkout" in line for line in lines[1:])


def test_live_view_in_a_real_terminal() -> None:
    tmux = _tmux()
    pipeline = Pipeline()
    for _ in range(5):
        pipeline.histograms[names.KIND_AGENT].record(1.5, {names.GEN_AI_AGENT_NAME: "Planner"})
        pipeline.histograms[names.KIND_TOOL].record(0.05, {names.GEN_AI_TOOL_NAME: "search"})
    first = pipeline.scrape()
    restarted = Pipeline()
    restarted.histograms[names.KIND_AGENT].record(1.5, {names.GEN_AI_AGENT_NAME: "Planner"})
    command = str(Path(sys.executable).parent / "otel-agentperf")
    session = f"agentperf-{uuid.uuid4().hex[:8]}"
    with serving([first.encode(), first.encode(), restarted.scrape().encode()]) as url:
        subprocess.run(
            [
                tmux,
                "new-session",
                "-d",
                "-s",
                session,
                "-x",
                "200",
                "-y",
                "40",
                f"env -u COLUMNS -u LINES {command} top --url {url} --interval 1; sleep 30",
            ],
            check=True,
        )
        try:
            screen = _wait_for(tmux, session, "otel-agentperf top")
            assert "since start" in screen
            assert "Planner" in screen and "search" in screen, screen
            assert "sort: time" in screen
            _wait_for(tmux, session, "otel-agentperf top (last ")  # the second frame is a window
            subprocess.run([tmux, "send-keys", "-t", session, "s"], check=True)
            _wait_for(tmux, session, "sort: rate")
            subprocess.run([tmux, "send-keys", "-t", session, "f"], check=True)
            _wait_for(tmux, session, "kind: agent")
            _wait_for(tmux, session, "counters reset")
            subprocess.run([tmux, "send-keys", "-t", session, "q"], check=True)
            time.sleep(1.0)
            screen = _screen(tmux, session)
            assert "Traceback" not in screen
        finally:
            subprocess.run([tmux, "kill-session", "-t", session], capture_output=True)


def test_top_exits_with_a_message_when_the_endpoint_is_unreachable() -> None:
    command = str(Path(sys.executable).parent / "otel-agentperf")
    with serving([b"x"]) as url:
        pass
    result = subprocess.run([command, "top", "--url", url, "--frames", "1"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.startswith("otel-agentperf: cannot read")
    assert "Traceback" not in result.stderr


def test_top_piped_uses_a_wide_table_not_80_columns() -> None:
    pipeline = Pipeline()
    pipeline.histograms[names.KIND_AGENT].record(1.5, {names.GEN_AI_AGENT_NAME: "SupportAgentWithALongName"})
    command = str(Path(sys.executable).parent / "otel-agentperf")
    env = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "LINES")}
    with serving([pipeline.scrape().encode()]) as url:
        piped = subprocess.run(
            [command, "top", "--url", url, "--frames", "1"], capture_output=True, text=True, timeout=30, env=env
        )
        narrow = subprocess.run(
            [command, "top", "--url", url, "--frames", "1"],
            capture_output=True,
            text=True,
            timeout=30,
            env={**env, "COLUMNS": "100"},
        )
    assert piped.returncode == 0, piped.stderr
    (header,) = [line for line in piped.stdout.splitlines() if "operation" in line]
    assert "tokens/s" in header and "$/min" in header and "notes" in header  # one line: nothing folded
    assert 80 < max(len(line) for line in piped.stdout.splitlines()) <= top.PIPED_WIDTH
    assert "SupportAgentWithALongName" in piped.stdout
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 100  # COLUMNS still rules when set


def test_each_diagnosis_has_its_top_line() -> None:
    """A window's rows with every #29 diagnosis: each is in its row's notes per second of the window (or its
    sentence), and the slow import (once per process, at start) under the table from the totals."""
    from rich.console import Console

    from otel_agentperf.views.rows import Row

    rows = [
        Row("agent", "Planner.plan", calls=10, total_seconds=5.0, recoverable_seconds=1.2, sequential_calls=30),
        Row(
            "llm",
            "openai/coach",
            calls=5,
            total_seconds=4.0,
            later_turns=4,
            turn_distance=10,
            first_turn_tokens=400,
            excess_tokens=500,
            excess_seconds=0.6,
        ),
        Row("tool", "lookup", calls=20, total_seconds=2.0, repeated_calls=5, repeated_seconds=0.5),
        Row("llm", "openai/m", calls=10, total_seconds=3.0, connection_wait_calls=4, connection_wait_seconds=0.8),
        Row("tool", "score", calls=10, total_seconds=1.0, hotspots={"app.rank:score:12": 0.3, "app.rank:io:3": 0.1}),
        Row("import", "heavy_lib", calls=1, total_seconds=0.42),
    ]
    view = View("http://app/metrics")
    view.refresh(rows, 0.0, None)
    view.seconds = 2.0  # as if the rows were a 2-second window
    terminal = Console(width=400, record=True, color_system=None)
    terminal.print(top.render(view))
    text = terminal.export_text()
    assert "600.0 ms/s recoverable (calls one after another)" in text
    assert "5 repeats, 250.0 ms/s" in text
    assert "prompt growth 300.0 ms/s" in text
    assert "waited for a connection 400.0 ms/s" in text
    assert "CPU at app.rank:score:12 75%" in text
    assert "Slow import at cold start, per process: `heavy_lib` 420.0 ms" in text
