"""Zero-code use: a target app run under the real ``opentelemetry-instrument``, scraped and received for real."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from otel_agentperf.conventions import buckets, names
from otel_agentperf.views import report, scrape
from tests.otlp_receiver import grpc_receiver, http_receiver

APP_DIR = Path(__file__).parent / "apps"
# One method given a name, one named by its qualified name: two agents, two rows.
TARGETS = ",".join(
    f"launcher_agents:{entry}" for entry in ("Coach.process_message=agent:Coach", "Coach.reflect=agent", "lookup=tool")
)


def _launcher() -> str:
    found = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent)) or shutil.which(
        "opentelemetry-instrument"
    )
    assert found, "opentelemetry-instrument is not installed: install the package with its dependencies"
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env.update(
        PYTHONPATH=str(APP_DIR),
        OTEL_AGENTPERF_TARGETS=TARGETS,
        OTEL_SERVICE_NAME="launcher-test",
        OTEL_TRACES_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_METRICS_EXPORTER="none",
    )
    env.update(extra)
    return env


@contextmanager
def _lingering_app(env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [_launcher(), sys.executable, str(APP_DIR / "launcher_app.py"), "--linger"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip() == "ready", f"app did not start: {line!r} {process.stderr.read() if process.stderr else ''}"
        yield process
    finally:
        if process.stdin:
            process.stdin.close()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://localhost:{port}/metrics", timeout=10) as response:
        return str(response.read().decode())


def _samples(text: str, name: str) -> list[tuple[str, dict[str, str], float]]:
    return [
        (sample.name, dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith(name)
    ]


def _run_app(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the app to completion under the launcher; it must succeed and do its work."""
    result = subprocess.run(
        [_launcher(), sys.executable, str(APP_DIR / "launcher_app.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ready"
    return result


def _bucket_le_strings(boundaries: tuple[float, ...]) -> list[str]:
    return [str(float(b)) for b in boundaries] + ["+Inf"]


@pytest.mark.parametrize(
    "launcher_env",
    [
        pytest.param({}, id="with-opentelemetry-distro"),
        # No configurator runs (as without opentelemetry-distro): our pre-instrument hook configures the SDK.
        pytest.param({"OTEL_PYTHON_CONFIGURATOR": "absent", "OTEL_PYTHON_DISTRO": "absent"}, id="no-configurator"),
    ],
)
def test_prometheus_endpoint_serves_agent_histogram_with_semconv_buckets(launcher_env: dict[str, str]) -> None:
    port = _free_port()
    env = _env(OTEL_METRICS_EXPORTER="prometheus", OTEL_EXPORTER_PROMETHEUS_PORT=str(port), **launcher_env)
    launched = time.time()
    with _lingering_app(env):
        ready = time.time() - launched  # the app printed "ready": it was instrumented and ran its agents
        text = _scrape(port)

    # Cold start, once per process: instrumented, then the first agent began, both before "ready".
    startup = {
        labels["agentperf_startup_phase"]: value
        for _, labels, value in _samples(text, "agentperf_startup_duration_seconds_sum")
    }
    counts = {
        labels["agentperf_startup_phase"]: value
        for _, labels, value in _samples(text, "agentperf_startup_duration_seconds_count")
    }
    assert counts == {"instrumented": 1, "first_agent": 1}
    tick = 1 / os.sysconf("SC_CLK_TCK")  # the process start is known to a clock tick
    assert 0 < startup["instrumented"] <= startup["first_agent"] + tick <= ready + 2 * tick
    (line,) = [s for s in report.render_table(scrape.parse(text), []).splitlines() if s.startswith("Cold start")]
    assert f"instrumented {startup['instrumented'] * 1000:.1f} ms" in line

    samples = [s for s in _samples(text, "gen_ai_invoke_agent_duration_seconds_bucket")]

    def agent_buckets(name: str) -> dict[str, float]:
        found = [(labels["le"], value) for _, labels, value in samples if labels.get("gen_ai_agent_name") == name]
        assert [le for le, _ in found] == _bucket_le_strings(buckets.AGENT_DURATION)
        return dict(found)

    coach, reflect = agent_buckets("Coach"), agent_buckets("Coach.reflect")
    assert (coach["0.1"], coach["0.2"], coach["+Inf"]) == (0, 3, 3)  # three 150 ms messages
    assert (reflect["0.1"], reflect["+Inf"]) == (3, 3)  # three 10 ms reflections
    tool_counts = [
        value
        for sample, labels, value in _samples(text, "gen_ai_execute_tool_duration_seconds_count")
        if labels.get("gen_ai_tool_name") == "lookup"
    ]
    assert tool_counts == [3]


def test_disabled_instrumentation_is_honoured() -> None:
    port = _free_port()
    env = _env(
        OTEL_METRICS_EXPORTER="prometheus",
        OTEL_EXPORTER_PROMETHEUS_PORT=str(port),
        OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="requests, otel_agentperf",
    )
    with _lingering_app(env):
        text = _scrape(port)
    assert "python_gc_objects_collected_total" in text  # the SDK configured the Prometheus reader
    assert _samples(text, "gen_ai_invoke_agent_duration_seconds") == []


@pytest.mark.parametrize(("protocol", "receiver"), [("grpc", grpc_receiver), ("http/protobuf", http_receiver)])
def test_otlp_export_reaches_a_real_receiver(protocol: str, receiver: object) -> None:
    with receiver() as (endpoint, received):  # type: ignore[operator]
        env = _env(
            OTEL_METRICS_EXPORTER="otlp",
            OTEL_TRACES_EXPORTER="otlp",
            OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        )
        _run_app(env)
        agent_metrics = received.metrics()[names.AGENT_DURATION]
        spans = received.spans()

    points = [p for metric in agent_metrics for p in metric.histogram.data_points]
    assert list(points[-1].explicit_bounds) == list(buckets.AGENT_DURATION)
    assert sum(p.count for p in points) == 6
    span_names = sorted(span.name for span in spans)
    assert span_names.count("invoke_agent Coach") == 3
    assert span_names.count("invoke_agent Coach.reflect") == 3
    assert span_names.count("execute_tool lookup") == 3


def test_an_unreachable_exporter_costs_the_app_nothing_but_log_lines() -> None:
    dead = f"http://127.0.0.1:{_free_port()}"
    env = _env(
        OTEL_METRICS_EXPORTER="otlp",
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT=dead,
        OTEL_EXPORTER_OTLP_TIMEOUT="2",
    )
    started = time.monotonic()
    result = _run_app(env)
    elapsed = time.monotonic() - started
    assert "Traceback" not in result.stderr
    print(f"app with a dead exporter exited in {elapsed:.1f}s")
