"""``report``, ``compare``, ``check`` and ``top`` from a real Prometheus scraping three replicas of an agent app.

Three processes of ``tests/apps/replica_app.py`` run under ``opentelemetry-instrument`` with the Prometheus
exporter, each on its own port and with its own load (one on the newest GenAI conventions, as during a
rolling upgrade, so both layouts are read in one deployment). Prometheus (Debian's package, as
test_prometheus_e2e's) scrapes them every second; a second Prometheus federates the first. Two phases: the
same loads twice, the second with a planted slowdown of one replica's ``lookup`` tool. The report from a
server must equal the replicas' own counts, scraped from each one directly.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from otel_agentperf.command import cli
from otel_agentperf.conventions import names
from otel_agentperf.stack import kubernetes
from otel_agentperf.views import prometheus_http, prometheus_window, report, scrape
from otel_agentperf.views.rows import Row
from tests.doc_blocks import block, commands
from tests.http_fixtures import serving
from tests.test_launcher import _free_port
from tests.test_prometheus_e2e import _get, _query, _tool, _wait

pytestmark = pytest.mark.repeat(1)

APP = Path(__file__).resolve().parent / "apps" / "replica_app.py"
LOADS = (3, 5, 8)  # requests per replica in each phase
SLOWED = 1  # the replica whose lookup is slowed in the second phase
FAST_S, SLOW_S = 0.01, 0.5  # the planted 0.49 s on 5 of 16 requests: 0.15 s per request, above a loaded machine's noise
REQUEST_COUNT = "agentperf_request_duration_seconds_count"
RULES = Path(__file__).resolve().parent.parent / "deploy" / "kubernetes" / kubernetes.RULES_FILE


@dataclass
class Deployment:
    """The servers, the replicas' own scrapes after both phases, and the phases' times (unix seconds)."""

    prometheus: str
    federated: str
    started: float
    first_end: float
    second_end: float
    ports: list[int] = field(default_factory=list)
    own: list[list[Row]] = field(default_factory=list)


def _start_prometheus(
    workdir: Path, name: str, scrape: str, rules: Path | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    config = workdir / f"{name}.yml"
    rule_files = f"rule_files:\n  - '{rules}'\n" if rules else ""
    config.write_text(
        f"global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n{rule_files}scrape_configs:\n{scrape}"
    )
    checked = subprocess.run([_tool("promtool"), "check", "config", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    process = subprocess.Popen(
        [
            _tool("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / (name + '-data')}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return process, f"http://127.0.0.1:{port}"


def _requests(base: str) -> float:
    found = _query(base, f"sum({REQUEST_COUNT})")
    return float(found[0]["value"][1]) if found else 0.0


def _phase(replicas: list[subprocess.Popen[str]], delays: list[float], bases: list[str], expected: float) -> float:
    """Run one phase's loads on every replica at once; the time once every server has scraped all of it."""
    for process, count, delay in zip(replicas, LOADS, delays, strict=True):
        assert process.stdin is not None
        process.stdin.write(f"{count} {delay}\n")
        process.stdin.flush()
    for process, count in zip(replicas, LOADS, strict=True):
        assert process.stdout is not None
        assert process.stdout.readline().strip() == f"done {count}"
    for base in bases:
        _wait(lambda base=base: _requests(base) == expected, 60, f"{base} to scrape {expected:g} requests")
    return time.time()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, server: Any) -> Iterator[Deployment]:
    workdir = tmp_path_factory.mktemp("replicas")
    ports = [_free_port() for _ in LOADS]
    targets = ", ".join(f"'127.0.0.1:{port}'" for port in ports)
    first, base = _start_prometheus(
        workdir, "first", f"  - job_name: replicas\n    static_configs:\n      - targets: [{targets}]\n", RULES
    )
    first_port = base.rsplit(":", 1)[1]
    second, federated = _start_prometheus(
        workdir,
        "second",
        "  - job_name: federate\n    honor_labels: true\n    metrics_path: /federate\n"
        "    params:\n      'match[]': ['{job=\"replicas\"}']\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{first_port}']\n",
    )
    started = time.time() - 1
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env.update(
        {
            "OTEL_SERVICE_NAME": "replica",
            "OTEL_METRICS_EXPORTER": "prometheus",
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            "OPENAI_BASE_URL": server.base_url,
            "OPENAI_API_KEY": "local",
        }
    )
    launcher = str(Path(sys.executable).parent / "opentelemetry-instrument")
    replicas = []
    for index, port in enumerate(ports):
        layout = {"OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental"} if index == 0 else {}
        replicas.append(
            subprocess.Popen(
                [launcher, sys.executable, str(APP)],
                env={**env, **layout, "OTEL_EXPORTER_PROMETHEUS_PORT": str(port)},
                cwd=workdir,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    try:
        for process in replicas:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        for url in (base, federated):
            _wait(lambda url=url: _get(f"{url}/api/v1/targets")["data"]["activeTargets"], 60, f"{url}'s targets")
        total = float(sum(LOADS))
        loading = time.time() - 1
        first_end = _phase(replicas, [FAST_S] * len(LOADS), [base, federated], total)
        time.sleep(1)
        delays = [SLOW_S if index == SLOWED else FAST_S for index in range(len(LOADS))]
        _phase(replicas, delays, [base, federated], 2 * total)
        # Both windows as long: the second (first_end, second_end] as long as the first, which holds the first
        # phase from its start (the replicas' series first appear in it: all they count is the phase's).
        second_end = max(time.time(), 2 * first_end - loading) + 1
        time.sleep(max(0.0, second_end - time.time()))
        own = [scrape.parse(scrape.fetch(f"http://127.0.0.1:{port}/metrics")) for port in ports]
        yield Deployment(base, federated, started, first_end, second_end, ports, own)
    finally:
        for process in replicas:
            assert process.stdin is not None
            process.stdin.close()
        for process in replicas:
            process.wait(timeout=30)
        for prometheus in (first, second):
            prometheus.terminate()
            prometheus.wait(timeout=30)


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _summed(own: list[list[Row]]) -> dict[tuple[str, str], dict[str, float]]:
    """Calls, tokens and cost per operation, added up over the replicas' own scrapes."""
    found: dict[tuple[str, str], dict[str, float]] = {}
    for rows in own:
        for row in rows:
            if row.kind in names.KINDS:
                figures = found.setdefault((row.kind, row.name), {"calls": 0, "tokens": 0, "cost": 0.0})
                figures["calls"] += row.calls
                figures["tokens"] += row.tokens
                figures["cost"] += row.cost_usd
    return found


def _whole(deployment: Deployment) -> list[str]:
    seconds = deployment.second_end - deployment.started + 5
    return ["--end", f"{deployment.second_end:.3f}", "--range", f"{round(seconds)}s"]


@pytest.mark.parametrize("which", ["direct", "federated"])
def test_report_sums_the_replicas(deployment: Deployment, capsys: pytest.CaptureFixture[str], which: str) -> None:
    url = deployment.prometheus if which == "direct" else deployment.federated
    code, out, err = _cli(capsys, "report", "--prometheus", url, "--format", "json", *_whole(deployment))
    assert code == 0, err
    rows = report.read_json(json.loads(out))
    got = {(row.kind, row.name): row for row in rows if row.kind in names.KINDS}
    expected = _summed(deployment.own)
    assert set(got) == set(expected) and len(expected) == 3  # the agent, its tool and its model
    for key, figures in expected.items():
        assert got[key].calls == figures["calls"] == 2 * sum(LOADS), key
        assert got[key].tokens == figures["tokens"], key
        assert got[key].cost_usd == pytest.approx(figures["cost"], rel=1e-9), key
    llm = next(row for row in got.values() if row.kind == names.KIND_LLM)
    assert llm.tokens > 0 and llm.cost_usd > 0
    for row in got.values():
        for key, (low, high) in row.bounds.items():
            assert low <= (row.quantiles[key] or 0.0) <= high, (row.name, key)
    requests = json.loads(out)["requests"]
    assert [(item["kind"], item["name"], item["count"]) for item in requests] == [("agent", "Answerer", 32)]


def test_buckets_are_the_replicas_buckets_added(deployment: Deployment) -> None:
    """The server's histogram is the replicas' added bucket by bucket, so its quantiles are a scrape's."""
    server = prometheus_http.connect(deployment.prometheus)
    window = prometheus_window.Window(server, deployment.second_end - deployment.started + 5, deployment.second_end)
    rows = {(row.kind, row.name): row for row in window.rows()}
    for kind_name, row in rows.items():
        if kind_name[0] not in names.KINDS:
            continue
        added: dict[float, float] = {}
        for own in deployment.own:
            for mine in own:
                if (mine.kind, mine.name) == kind_name:
                    for bound, count in mine.buckets.items():
                        added[bound] = added.get(bound, 0.0) + count
        assert row.buckets == added, kind_name
        low, high = row.bounds["p95"]
        assert row.buckets and low < high


def test_compare_two_windows_names_the_slowed_operation(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    seconds = deployment.second_end - deployment.first_end
    code, out, err = _cli(
        capsys,
        "compare",
        "--prometheus",
        deployment.prometheus,
        "--base-end",
        f"{deployment.first_end:.3f}",
        "--new-end",
        f"{deployment.second_end:.3f}",
        "--range",
        f"{round(seconds * 1000)}ms",
        "--format",
        "json",
    )
    assert code == 0, err
    compared = json.loads(out)
    (root,) = compared["roots"]
    assert root["name"] == "Answerer"
    first = root["causes"][0]
    assert (first["kind"], first["name"]) == ("tool", "lookup"), root["causes"]
    # The slowdown per request, over every replica's requests: the slowed replica's share of them.
    planted = (SLOW_S - FAST_S) * LOADS[SLOWED] / sum(LOADS)
    assert first["delta_seconds"] == pytest.approx(planted, rel=0.25)


def _recorded(deployment: Deployment, record: str) -> list[dict[str, Any]]:
    """A recording rule's samples over the last 20 s of the deployment: one series per label set."""
    query = urllib.parse.urlencode({"query": f"{record}[20s]", "time": f"{deployment.second_end:.3f}"})
    answer = _get(f"{deployment.prometheus}/api/v1/query?{query}")
    assert answer["status"] == "success", answer
    found: list[dict[str, Any]] = answer["data"]["result"]
    assert found, f"the rule {record} recorded nothing"
    return found


def test_the_recording_rules_sum_the_replicas(deployment: Deployment) -> None:
    """deploy/kubernetes's rules, evaluated by the first Prometheus: per replica, then summed for the service."""
    base = "agentperf_request_duration_seconds"
    per_replica = _recorded(deployment, f"instance_request:{base}_count:rate5m")
    assert sorted(series["metric"]["instance"] for series in per_replica) == sorted(
        f"127.0.0.1:{port}" for port in deployment.ports
    )
    (service,) = _recorded(deployment, f"job_request:{base}_count:rate5m")
    assert (service["metric"]["job"], service["metric"]["agentperf_request_name"]) == ("replicas", "Answerer")
    assert "instance" not in service["metric"]
    by_time: dict[float, list[float]] = {}
    for series in per_replica:
        for at, value in series["values"]:
            by_time.setdefault(at, []).append(float(value))
    # Rules of one group are evaluated in order at one time: the service's value is exactly its replicas' sum.
    compared = [(float(value), by_time[at]) for at, value in service["values"] if len(by_time.get(at, [])) == 3]
    assert compared and compared[-1][0] > 0
    for value, replicas in compared:
        assert value == pytest.approx(sum(replicas), rel=1e-12)
    # Each replica's mean request latency: the one with the planted slowdown stands out.
    means = {
        series["metric"]["instance"]: float(series["values"][-1][1])
        for series in _recorded(deployment, f"instance_request:{base}:mean5m")
    }
    assert max(means, key=lambda instance: means[instance]) == f"127.0.0.1:{deployment.ports[SLOWED]}", means
    # The model's calls from both conventions layouts (replica 0 is on the newest): one call per request, each
    # replica's scraped at the same times as its requests, so the rates match only if every replica is counted.
    model = "job_model:gen_ai_client_operation_duration_seconds"
    (calls,) = _recorded(deployment, f"{model}_count:rate5m")
    assert calls["metric"]["gen_ai_request_model"] == "gpt-4o-mini"
    requests = dict(service["values"])
    matched = [(float(value), float(requests[at])) for at, value in calls["values"] if at in requests]
    # A scrape that lands between a request's model call ending and the request ending counts the call first:
    # while requests run, the rates can differ by a request in flight per replica over the 300 s window (a
    # missing replica would take a third of the rate away: at the later points, several times that).
    in_flight = 1.1 * len(deployment.ports) / 300
    assert matched and all(abs(value - expected) <= in_flight for value, expected in matched), matched
    assert max(expected for _, expected in matched) > 3 * in_flight  # enough requests for a third to show
    assert float(_recorded(deployment, f"{model}:p95_rate5m")[0]["values"][-1][1]) > 0
    tokens = _recorded(deployment, "job_model_type:gen_ai_client_token_usage_sum:rate5m")
    assert {series["metric"]["gen_ai_token_type"] for series in tokens} == {"input", "output"}
    assert float(_recorded(deployment, "job_model:agentperf_llm_cost:rate5m")[0]["values"][-1][1]) > 0


@contextmanager
def _guarded(upstream: str, authorization: str) -> Iterator[str]:
    """A loopback gateway in front of Prometheus, as a hosted one is: it forwards a GET only with the right
    ``Authorization`` and an ``X-Scope-OrgID`` header, and answers 401 otherwise."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.headers.get("Authorization") != authorization or self.headers.get("X-Scope-OrgID") != "team":
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            with urllib.request.urlopen(upstream + self.path, timeout=30) as response:
                body = response.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    gateway = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=gateway.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{gateway.server_address[1]}"
    finally:
        gateway.shutdown()
        gateway.server_close()


def test_credentials_reach_a_guarded_server(
    deployment: Deployment, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    token, password = tmp_path / "token", tmp_path / "password"
    token.write_text("s3cret\n")
    password.write_text("hunter2\n")
    header = ["--header", "X-Scope-OrgID: team"]
    with _guarded(deployment.prometheus, "Bearer s3cret") as url:
        code, out, err = _cli(
            capsys, "report", "--prometheus", url, "--bearer-token-file", str(token), *header, *_whole(deployment)
        )
        assert code == 0, err
        assert "lookup" in out
        code, out, err = _cli(capsys, "report", "--prometheus", url, *header, *_whole(deployment))
        assert (code, out) == (2, "")
        assert err == f"otel-agentperf: Prometheus at {url} refused the request: HTTP 401 Unauthorized " + (
            "(see --bearer-token-file, --username/--password-file, --header)\n"
        )
    basic = "Basic " + base64.b64encode(b"agent:hunter2").decode()
    with _guarded(deployment.prometheus, basic) as url:
        argv = ["--username", "agent", "--password-file", str(password), *header, *_whole(deployment)]
        code, out, err = _cli(capsys, "report", "--prometheus", url, "--format", "json", *argv)
        assert code == 0, err
        assert json.loads(out)["requests"][0]["count"] == 2 * sum(LOADS)


def test_a_refused_query_is_one_line(deployment: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(capsys, "report", "--prometheus", deployment.prometheus, "--match", '{job=~"("}')
    assert (code, out) == (2, "")
    assert err.startswith(f"otel-agentperf: Prometheus at {deployment.prometheus} refused the request: bad_data: ")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_match_selects_replicas(deployment: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    """``--match`` narrows every query to the replicas it selects: one instance has its own requests only."""
    slowed = f"127.0.0.1:{deployment.ports[SLOWED]}"
    code, out, err = _cli(
        capsys,
        "report",
        "--prometheus",
        deployment.prometheus,
        "--format",
        "json",
        "--match",
        f'{{instance="{slowed}"}}',
        *_whole(deployment),
    )
    assert code == 0, err
    assert json.loads(out)["requests"][0]["count"] == 2 * LOADS[SLOWED]


def test_check_and_top_read_the_server(
    deployment: Deployment, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    budgets = tmp_path / "budgets.toml"
    budgets.write_text('[tool.otel-agentperf.budgets."llm openai/gpt-4o-mini"]\ncalls = 10\n')
    code, out, err = _cli(
        capsys, "check", "--prometheus", deployment.prometheus, "--budgets", str(budgets), *_whole(deployment)
    )
    assert code == 3, err
    assert "openai/gpt-4o-mini" in out and "32" in out
    command = str(Path(sys.executable).parent / "otel-agentperf")
    shown = subprocess.run(
        [command, "top", "--prometheus", deployment.prometheus, "--range", "1h", "--frames", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert "lookup" in shown.stdout and "Answerer" in shown.stdout


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--range", "5 minutes"], "not a Prometheus duration: '5 minutes' (such as 30s, 5m, 1h, 1d)"),
        (["--end", "yesterday"], "not a time: 'yesterday'"),
        (["--end", "2025-06-01T10:00:00"], "a time needs its offset"),
        (["--password-file", "/nonexistent/password", "--username", "u"], "cannot read the password file"),
        (["--header", "no colon"], "not a header: 'no colon'"),
    ],
)
def test_options_that_cannot_be_used(capsys: pytest.CaptureFixture[str], argv: list[str], said: str) -> None:
    code, out, err = _cli(capsys, "report", "--prometheus", "http://127.0.0.1:9", *argv)
    assert (code, out) == (2, "")
    assert err.startswith(f"otel-agentperf: {said}") and err.count("\n") == 1


def test_no_server_there(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    code, out, err = _cli(capsys, "report", "--prometheus", url)
    assert (code, out) == (2, "")
    assert err.startswith(f"otel-agentperf: cannot reach Prometheus at {url}: ") and err.count("\n") == 1
    with serving([b"# an app's /metrics, not a Prometheus server\n"]) as metrics:
        base = metrics.rsplit("/", 1)[0]
        code, out, err = _cli(capsys, "compare", "--prometheus", base, "--base-end", "now")
    assert (code, out) == (2, "")
    assert (
        err
        == f"otel-agentperf: {base} is not a Prometheus HTTP API (no JSON answer at /api/v1/label/__name__/values)\n"
    )


def test_the_guide_s_commands(deployment: Deployment, tmp_path: Path) -> None:
    """docs/replicas.md's block as written, against the deployment (the deploy: the first phase's end)."""
    (tmp_path / "budgets.toml").write_text('[tool.otel-agentperf.budgets."agent Answerer"]\nerror_pct = 0\n')
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",
        PROMETHEUS=deployment.prometheus,
        DEPLOYED_AT=f"{deployment.first_end:.3f}",
    )
    outputs = {}
    for line in commands(block("replicas").text):
        done = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{line}\n{done.stdout}{done.stderr}"
        outputs[line.split()[1]] = done.stdout
    assert "Answerer" in outputs["report"] and "lookup" in outputs["report"]
    assert "lookup" in outputs["compare"]
    assert "error_pct" in outputs["check"]
