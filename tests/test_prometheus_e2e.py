"""The shipped dashboards and alert rules against a real Prometheus scraping the instrumented example app.

Prometheus and promtool come from Debian's ``prometheus`` package (scripts/test.sh installs it); the
test fails, not skips, without them. Every panel query of every dashboard is evaluated through the HTTP
API with its template variables set to "All", and must return at least one finite value.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from otel_agentperf.runtime.settings import read_toml
from otel_agentperf.stack import bundle, dashboards
from tests.test_launcher import _free_port

pytestmark = pytest.mark.repeat(1)  # a real Prometheus scraping a real app per layout: once (CI time)

ROOT = Path(__file__).resolve().parent.parent
# A second: a scrape of a busy app must finish within the interval (its timeout), or its series go stale.
SCRAPE_INTERVAL = "1s"
VARIABLES = {"$__rate_interval": "1m", "$service": ".*", "$agent": ".*", "$model": ".*"}


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path is not None, f"{name} is missing: install Debian's prometheus package (scripts/test.sh does)"
    return path


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _query(base: str, expr: str) -> list[dict[str, Any]]:
    answer = _get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


def _wait(predicate: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module", params=["v1.41", "latest"])
def prometheus(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, server: Any) -> Iterator[str]:
    """A real Prometheus scraping the example app (running under opentelemetry-instrument) on loopback.

    Once in each layout: the default (semconv v1.41) and the newest GenAI conventions' (the opt-in), whose
    LLM metrics have other names; one set of dashboards and rules serves both.
    """
    workdir = tmp_path_factory.mktemp("prometheus")
    app_port, prometheus_port = _free_port(), _free_port()
    bundle.write(workdir / "stack")
    config = workdir / "prometheus.yml"
    config.write_text(
        f"global:\n  scrape_interval: {SCRAPE_INTERVAL}\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {workdir / 'stack' / bundle.RULES_FILE}\n"
        f"scrape_configs:\n  - job_name: research-assistant\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{app_port}']\n"
    )
    check = subprocess.run([_tool("promtool"), "check", "config", str(config)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    server_process = subprocess.Popen(
        [
            _tool("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{prometheus_port}"
    # The server counts requests per model for the session: the app's rate-limited triage model must find
    # its first requests refused (retried, then failed), whatever ran against the server before.
    app_settings = read_toml(ROOT / "examples" / "research_assistant" / "settings.toml") or {}
    server.requests.pop(app_settings["triage_model"], None)
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env.update(
        {
            "OTEL_SERVICE_NAME": "research-assistant",
            "OTEL_METRICS_EXPORTER": "prometheus",
            "OTEL_EXPORTER_PROMETHEUS_PORT": str(app_port),
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_AGENTPERF_MEMORY": "rss",  # for the memory panel (tracemalloc slows scrapes past 250 ms)
            "OTEL_AGENTPERF_CONFIG": str(ROOT / "examples" / "research_assistant" / "agentperf.toml"),
            "PYTHONPATH": str(ROOT / "examples"),
            "OPENAI_BASE_URL": server.base_url,
            "OPENAI_API_KEY": "local",
        }
    )
    if request.param == "latest":
        env["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
    # Prometheus first, so it scrapes the app while it works: rates need samples before and after.
    # Its discovery hands new targets to the scraper in batches, seconds after start: wait for the target.
    _wait(lambda: _get(f"{base}/api/v1/targets")["data"]["activeTargets"], 60, "Prometheus to know its target")
    launcher = str(Path(sys.executable).parent / "opentelemetry-instrument")
    app = subprocess.Popen(
        [launcher, sys.executable, "-m", "research_assistant", "--rounds", "6", "--linger"],
        env=env,
        cwd=workdir,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert app.stdout is not None
        assert "ready" in [app.stdout.readline().strip() for _ in range(2)]
        time.sleep(4)  # a few more scrapes after the work
        # The app recorded in the layout asked for: the LLM duration under that layout's name only.
        inference = _query(base, 'count({__name__="gen_ai_client_inference_duration_seconds_count"})')
        operation = _query(base, 'count({__name__="gen_ai_client_operation_duration_seconds_count"})')
        assert (bool(inference), bool(operation)) == (request.param == "latest", request.param != "latest")
        yield base
    finally:
        assert app.stdin is not None
        app.stdin.close()
        app.wait(timeout=30)
        server_process.terminate()
        server_process.wait(timeout=30)


def _panel_queries() -> list[tuple[str, str, str]]:
    found = []
    for file_name, board in dashboards.dashboards().items():
        for panel in board["panels"]:
            for target in panel["targets"]:
                expr = target["expr"]
                for variable, value in VARIABLES.items():
                    expr = expr.replace(variable, value)
                found.append((f"{file_name}: {panel['title']}", expr, target["refId"]))
    return found


@pytest.mark.parametrize(("panel", "expr", "ref"), _panel_queries(), ids=[q[0] + " " + q[2] for q in _panel_queries()])
def test_every_panel_query_returns_data(prometheus: str, panel: str, expr: str, ref: str) -> None:
    result = _query(prometheus, expr)
    values = [float(item["value"][1]) for item in result]
    assert any(math.isfinite(value) for value in values), f"{panel}: no finite value from {expr}: {result}"


def test_every_template_variable_has_values(prometheus: str) -> None:
    for board in dashboards.dashboards().values():
        for variable in board["templating"]["list"]:
            if variable["type"] != "query":
                continue
            definition = variable["definition"].replace("$service", ".*")
            metric, label_name = definition[len("label_values(") : -1].rsplit(", ", 1)
            url = f"{prometheus}/api/v1/label/{label_name}/values?" + urllib.parse.urlencode({"match[]": metric})
            assert _get(url)["data"], f"{board['uid']} variable {variable['name']}: no values"


def test_rules_are_loaded_and_healthy(prometheus: str) -> None:
    groups = _get(f"{prometheus}/api/v1/rules")["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert len(rules) == 8
    assert all(rule["health"] in ("ok", "unknown") for rule in rules), rules
    firing = {rule["name"] for rule in rules if rule["state"] != "inactive"}
    assert "AgentPerfNoData" not in firing
