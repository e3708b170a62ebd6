"""Zero-code use: a target app run under the real ``opentelemetry-instrument``, scraped and received for real."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from otel_agentperf.conventions import buckets, names
from otel_agentperf.runtime import export_watch
from otel_agentperf.views import report, scrape
from tests.otlp_receiver import grpc_receiver, http_receiver

# Once, not twice, under `--count 2` (CI time, see scripts/test.sh): what these tests check runs in processes
# they start afresh; all they share in this process is the session's local model server.
pytestmark = pytest.mark.repeat(1)

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
    assert result.stderr.count("otel-agentperf:") <= 2  # at most our one line per signal (next test)


def test_a_server_exporting_where_nothing_listens_is_told_once_per_signal_while_it_runs() -> None:
    dead = f"http://127.0.0.1:{_free_port()}"
    env = _env(
        OTEL_METRICS_EXPORTER="otlp",
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT=dead,
        OTEL_EXPORTER_OTLP_TIMEOUT="1",
        OTEL_BSP_SCHEDULE_DELAY="100",
        OTEL_METRIC_EXPORT_INTERVAL="300",
    )
    wanted = {export_watch.message(signal) for signal in ("traces", "metrics")}
    lines: list[str] = []
    with _lingering_app(env) as app:  # a server: it never exits while we look
        assert app.stderr is not None
        reader = threading.Thread(target=lambda: lines.extend(app.stderr), daemon=True)  # type: ignore[arg-type]
        reader.start()
        deadline = time.monotonic() + 60
        while not wanted <= {line.rstrip("\n") for line in lines} and time.monotonic() < deadline:
            time.sleep(0.2)
        assert app.poll() is None  # said while the app runs
        time.sleep(1.5)  # more failed exports: still said once
    reader.join(timeout=30)  # the app has ended: its stderr is read to the end
    said = [line.rstrip("\n") for line in lines if line.startswith("otel-agentperf:")]
    assert sorted(said) == sorted(wanted), "".join(lines)


def test_a_reachable_exporter_gets_no_warning() -> None:
    with http_receiver() as (endpoint, received):
        env = _env(
            OTEL_METRICS_EXPORTER="otlp",
            OTEL_TRACES_EXPORTER="otlp",
            OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        )
        result = _run_app(env)
        assert received.spans()
    assert "otel-agentperf" not in result.stderr


def _run_switches_app(tmp_path: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run tests/apps/switches_app.py under the launcher, its traces going to a real OTLP/HTTP receiver."""
    settings_file = tmp_path / "app_settings.yaml"
    settings_file.write_text("model: m1\n")
    with http_receiver() as (endpoint, received):
        base = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
        base.update(
            PYTHONPATH=str(APP_DIR),
            OTEL_TRACES_EXPORTER="otlp",
            OTEL_METRICS_EXPORTER="none",
            OTEL_LOGS_EXPORTER="none",
            OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        )
        result = subprocess.run(
            [_launcher(), sys.executable, str(APP_DIR / "switches_app.py"), str(settings_file)],
            env={**base, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        spans = sorted(span.name for span in received.spans())
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result, spans


NO_DISTRO = {"OTEL_PYTHON_CONFIGURATOR": "absent", "OTEL_PYTHON_DISTRO": "absent"}
OURS = ["execute_tool lookup", "load_config yaml.load"]


@pytest.mark.parametrize("distro", [pytest.param({}, id="distro"), pytest.param(NO_DISTRO, id="no-distro")])
@pytest.mark.parametrize(
    ("switch", "wrapped", "spans"),
    [
        pytest.param({}, "yaml.load,lookup", ["app-span", *OURS], id="nothing-disabled"),
        # The package off: no wrapper of ours, but the SDK is still set up for the app's own span.
        pytest.param({"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "otel_agentperf"}, "-", ["app-span"], id="package"),
        pytest.param({"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "*"}, "-", ["app-span"], id="everything"),
        # One library instrumentor off: the rest of the package records.
        pytest.param(
            {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "otel_agentperf_pyyaml"},
            "lookup",
            ["app-span", "execute_tool lookup"],
            id="pyyaml-only",
        ),
        # The SDK off: nothing is recorded, so nothing is wrapped either.
        pytest.param({"OTEL_SDK_DISABLED": "true"}, "-", [], id="sdk"),
    ],
)
def test_each_off_switch_does_what_the_readme_says(
    tmp_path: Path, distro: dict[str, str], switch: dict[str, str], wrapped: str, spans: list[str]
) -> None:
    result, received = _run_switches_app(tmp_path, {**distro, **switch})
    assert result.stdout == f"wrapped: {wrapped}\n"
    assert received == spans


def _listening() -> socket.socket:
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen()
    return held


@pytest.mark.parametrize("distro", [pytest.param({}, id="distro"), pytest.param(NO_DISTRO, id="no-distro")])
@pytest.mark.parametrize(
    ("setting", "variable"),
    [
        ({"OTEL_METRICS_EXPORTER": "promethus"}, "OTEL_METRICS_EXPORTER=promethus"),
        ({"OTEL_TRACES_EXPORTER": "otlp,jaeger"}, "OTEL_TRACES_EXPORTER=otlp,jaeger"),
        (
            {"OTEL_METRICS_EXPORTER": "prometheus", "OTEL_EXPORTER_PROMETHEUS_PORT": "metrics"},
            "OTEL_EXPORTER_PROMETHEUS_PORT='metrics' is not a port number",
        ),
        ({"OTEL_METRICS_EXPORTER": "prometheus", "OTEL_EXPORTER_PROMETHEUS_PORT": "in-use"}, "cannot be served"),
        (
            {"OTEL_METRICS_EXPORTER": "prometheus", "OTEL_EXPORTER_PROMETHEUS_HOST": "nohost.invalid"},
            "OTEL_EXPORTER_PROMETHEUS_HOST='nohost.invalid' does not resolve",
        ),
        (
            {"OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "http/protobu"},
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL='http/protobu' is not an OTLP protocol",
        ),
    ],
)
def test_a_bad_exporter_setting_is_one_line_and_the_app_still_records(
    tmp_path: Path, distro: dict[str, str], setting: dict[str, str], variable: str
) -> None:
    with _listening() as held:
        if setting.get("OTEL_EXPORTER_PROMETHEUS_PORT") == "in-use":
            setting = {**setting, "OTEL_EXPORTER_PROMETHEUS_PORT": str(held.getsockname()[1])}
        result, spans = _run_switches_app(tmp_path, {**distro, **setting})
    ours = [line for line in result.stderr.splitlines() if line.startswith("otel-agentperf:")]
    assert len(ours) == 1 and variable in ours[0], result.stderr
    assert "Failed" not in result.stderr  # neither configuration nor instrumentation failed
    assert result.stdout == "wrapped: yaml.load,lookup\n"  # the app ran, instrumented
    assert spans == ["app-span", *OURS]  # and the rest of its telemetry arrived


def test_prometheus_metrics_alone_switch_traces_off_and_say_so() -> None:
    port = _free_port()
    env = _env(OTEL_METRICS_EXPORTER="prometheus", OTEL_EXPORTER_PROMETHEUS_PORT=str(port))
    del env["OTEL_TRACES_EXPORTER"]  # as in the quickstart: nothing said about traces
    result = _run_app(env)  # under opentelemetry-distro, which would default traces to OTLP on localhost:4317
    assert "traces are not exported (set OTEL_TRACES_EXPORTER=otlp" in result.stderr
    assert "4317" not in result.stderr and "Traceback" not in result.stderr
    with http_receiver() as (endpoint, received):  # an OTLP endpoint named: traces go there, nothing said
        said = _run_app(
            {**env, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}
        )
        assert "invoke_agent Coach" in {span.name for span in received.spans()}
    assert "otel-agentperf" not in said.stderr
