"""deploy/kubernetes/, the scale-out recipe, checked as far as this machine can (no Kubernetes, no Collector).

Every manifest parses and names what the others expect of it (the Instrumentation's exporter is the
gateway's Service and port, the gateway routes to the sampler tier's headless Service, the Deployment asks
for the Instrumentation and exposes the port Prometheus keeps); the generated files are current; promtool
accepts the rules and the Prometheus config; and the image's build stage runs: its ``pip install`` into a
fresh virtual environment's target folder, merged into what the operator's image holds, then loaded the way
the operator loads it (``PYTHONPATH`` to its ``sitecustomize``) into an app that imports no OpenTelemetry.
The many-replicas test (tests/test_prometheus_replicas.py) evaluates the recording rules.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from otel_agentperf.command import cli
from otel_agentperf.conventions import names
from otel_agentperf.stack import dashboards, kubernetes
from otel_agentperf.views import scrape
from tests.doc_blocks import ROOT, block, commands
from tests.otlp_receiver import http_receiver
from tests.test_compose import CONTRIB_COMPONENTS
from tests.test_launcher import _free_port
from tests.test_stack import _promtool

KUBERNETES = ROOT / "deploy" / "kubernetes"
KEEP_HINT = names.KEEP  # the root span's keep hints
# Beside the components test_compose lists: the two this recipe adds, both in the contrib distribution's
# manifest (opentelemetry-collector-releases distributions/otelcol-contrib/manifest.yaml).
RECIPE_COMPONENTS = {"processors": {"tail_sampling"}, "exporters": {"loadbalancing"}}
UV = shutil.which("uv", path=str(Path(sys.executable).parent))


def _manifests(name: str) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all((KUBERNETES / name).read_text()) if document]


def _collectors() -> dict[str, dict[str, Any]]:
    return {document["metadata"]["name"]: document for document in _manifests("collector-gateway.yml")}


def _env(entries: list[dict[str, str]]) -> dict[str, str]:
    return {entry["name"]: entry["value"] for entry in entries}


def test_every_yaml_file_parses_and_every_manifest_is_named() -> None:
    found = sorted((ROOT / "deploy").rglob("*.yml"))
    assert {path.name for path in found} >= {
        "instrumentation.yml",
        "app-deployment.yml",
        "collector-gateway.yml",
        "prometheus.yml",
        kubernetes.RULES_FILE,
        kubernetes.DASHBOARDS_FILE,
    }
    for path in found:
        documents = [document for document in yaml.safe_load_all(path.read_text()) if document]
        assert documents and all(isinstance(document, dict) for document in documents), path
        for document in documents:
            if "kind" in document:
                assert document["apiVersion"] and document["metadata"]["name"], path
                assert document["metadata"]["namespace"], f"{path}: {document['kind']} without a namespace"


def test_generated_files_are_current_and_the_command_writes_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, text in kubernetes.files().items():
        assert (KUBERNETES / name).read_text() == text, (
            f"{name} is stale: run otel-agentperf kubernetes deploy/kubernetes"
        )
    assert cli.main(["kubernetes", str(tmp_path / "out"), "--namespace", "monitoring"]) == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / "out" / name) for name in kubernetes.files()]
    (configmap,) = yaml.safe_load_all((tmp_path / "out" / kubernetes.DASHBOARDS_FILE).read_text())
    assert configmap["metadata"]["namespace"] == "monitoring"
    (tmp_path / "a-file").write_text("")
    assert cli.main(["kubernetes", str(tmp_path / "a-file")]) == 2
    said = capsys.readouterr()
    assert said.out == "" and said.err == (
        f"otel-agentperf: {tmp_path / 'a-file'} is a file: give a folder to write into (created if missing)\n"
    )


def test_the_configmap_holds_the_packages_dashboards_for_the_sidecar() -> None:
    (configmap,) = _manifests(kubernetes.DASHBOARDS_FILE)
    assert configmap["kind"] == "ConfigMap" and configmap["metadata"]["labels"] == {"grafana_dashboard": "1"}
    assert configmap["data"] == {name: dashboards.render(board) for name, board in dashboards.dashboards().items()}
    # kubectl apply keeps the whole object in an annotation of at most 256 KiB
    assert len((KUBERNETES / kubernetes.DASHBOARDS_FILE).read_bytes()) < 256 * 1024


def test_promtool_accepts_the_rules_and_the_prometheus_config(tmp_path: Path) -> None:
    rules = KUBERNETES / kubernetes.RULES_FILE
    checked = subprocess.run([_promtool(), "check", "rules", str(rules)], capture_output=True, text=True)
    assert checked.returncode == 0 and "SUCCESS: 19 rules found" in checked.stdout, checked.stdout + checked.stderr
    recorded = [rule["record"] for group in yaml.safe_load(rules.read_text())["groups"] for rule in group["rules"]]
    assert all(re.fullmatch(r"[a-z_]+:[a-z_0-9]+:[a-z0-9_]+", name) for name in recorded), recorded
    # Debian's Prometheus is built without Kubernetes discovery: the same config with one static target.
    config = yaml.safe_load((KUBERNETES / "prometheus.yml").read_text())
    assert config["rule_files"] == [kubernetes.RULES_FILE]
    (job,) = config["scrape_configs"]
    assert job.pop("kubernetes_sd_configs")[0]["namespaces"]["names"] == ["agents"]
    job["static_configs"] = [{"targets": ["127.0.0.1:9464"]}]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    shutil.copy(rules, tmp_path / kubernetes.RULES_FILE)
    checked = subprocess.run(
        [_promtool(), "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_manifests_name_each_other() -> None:
    (instrumentation,) = _manifests("instrumentation.yml")
    (deployment,) = _manifests("app-deployment.yml")
    collectors = _collectors()
    gateway, sampler = collectors["agentperf-gateway"], collectors["agentperf-sampler"]
    # The Deployment asks for the Instrumentation of its namespace, and exposes the port it sets.
    template = deployment["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    assert annotations["instrumentation.opentelemetry.io/inject-python"] == instrumentation["metadata"]["name"]
    assert deployment["metadata"]["namespace"] == instrumentation["metadata"]["namespace"]
    python_env = _env(instrumentation["spec"]["python"]["env"])
    port = python_env["OTEL_EXPORTER_PROMETHEUS_PORT"]
    (container,) = template["spec"]["containers"]
    assert annotations["prometheus.io/port"] == port == str(container["ports"][0]["containerPort"])
    assert python_env["OTEL_METRICS_EXPORTER"] == "prometheus" and annotations["prometheus.io/scrape"] == "true"
    # Python exports OTLP/HTTP: the gateway's Service (the operator names it NAME-collector) and HTTP port.
    endpoint = instrumentation["spec"]["exporter"]["endpoint"]
    http = gateway["spec"]["config"]["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    namespace = gateway["metadata"]["namespace"]
    assert endpoint == f"http://agentperf-gateway-collector.{namespace}.svc.cluster.local:{http.rsplit(':', 1)[1]}"
    # The gateway routes by trace id to every pod of the sampler tier (its headless Service), on its gRPC port.
    balancing = gateway["spec"]["config"]["exporters"]["loadbalancing"]
    assert balancing["routing_key"] == "traceID"
    grpc = sampler["spec"]["config"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    assert balancing["resolver"]["dns"] == {
        "hostname": f"agentperf-sampler-collector-headless.{sampler['metadata']['namespace']}.svc.cluster.local",
        "port": int(grpc.rsplit(":", 1)[1]),
    }
    assert sampler["spec"]["mode"] == "statefulset" and sampler["spec"]["replicas"] > 1


def test_the_collectors_use_contrib_components_and_sample_on_the_keep_hints() -> None:
    for collector in _collectors().values():
        assert collector["apiVersion"] == "opentelemetry.io/v1beta1"
        config = collector["spec"]["config"]
        for kind in ("receivers", "processors", "exporters"):
            available = CONTRIB_COMPONENTS[kind] | RECIPE_COMPONENTS.get(kind, set())
            assert {name.split("/")[0] for name in config.get(kind, {})} <= available, (kind, config.get(kind))
        for pipeline in config["service"]["pipelines"].values():
            for kind in ("receivers", "processors", "exporters"):
                assert set(pipeline[kind]) <= set(config[kind]), pipeline
            assert pipeline["processors"][0] == "memory_limiter"
    sampler = _collectors()["agentperf-sampler"]["spec"]["config"]
    assert sampler["service"]["pipelines"]["traces"]["processors"].index("tail_sampling") == 1
    policies = {policy["type"]: policy for policy in sampler["processors"]["tail_sampling"]["policies"]}
    assert policies["ottl_condition"]["ottl_condition"]["span"] == [f'attributes["{KEEP_HINT}"] != nil']
    assert policies["status_code"]["status_code"]["status_codes"] == ["ERROR"]
    assert 0 < policies["probabilistic"]["probabilistic"]["sampling_percentage"] < 100


def _build_stage() -> tuple[list[tuple[str, str]], str]:
    """The Dockerfile's build stage: its COPYs (source in the context, destination) and its pip command."""
    lines = (KUBERNETES / "Dockerfile").read_text().splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("FROM python:"))
    stage = lines[start + 1 : next(index for index in range(start + 1, len(lines)) if lines[index].startswith("FROM"))]
    copies = [tuple(line.split()[1:]) for line in stage if line.startswith("COPY ")]
    (install,) = [line.removeprefix("RUN ") for line in stage if line.startswith("RUN ")]
    return [(source, destination) for source, destination in copies], install


@pytest.mark.repeat(1)  # a new environment each time: once is enough under --count 2
def test_the_image_installs_and_the_operators_injection_records_a_plain_app(server: Any, tmp_path: Path) -> None:
    assert UV is not None, "uv is in the lock; scripts/test.sh installs it"
    copies, install = _build_stage()
    assert install == "pip install --no-cache-dir --no-deps --target /agentperf /src"
    source, target = tmp_path / "src", tmp_path / "agentperf"
    for copied, destination in copies:
        into = source / destination.removeprefix("/src").strip("/")
        if (ROOT / copied).is_dir():
            shutil.copytree(ROOT / copied, into / Path(copied).name if destination.endswith("/") else into)
        else:
            into.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / copied, into)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=120)
    argv = shlex.split(install.replace("/agentperf", str(target)).replace("/src", str(source)))
    built = subprocess.run([venv / "bin" / argv[0], *argv[1:]], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    # the package and its console script only: nothing of what the image already holds
    assert sorted(path.name for path in target.iterdir() if not path.name.endswith(".dist-info")) == [
        "bin",
        "otel_agentperf",
    ]
    # What the operator's image holds in /autoinstrumentation (its requirements.txt's essentials, at the
    # versions of the tag the Dockerfile names), then the final stage's COPY of ours over it.
    tag = re.search(r"autoinstrumentation-python:(\S+)", (KUBERNETES / "Dockerfile").read_text())
    lock = (ROOT / "requirements" / "test.lock").read_text()
    assert tag is not None and f"\nopentelemetry-distro=={tag.group(1)}\n" in lock
    image = tmp_path / "autoinstrumentation"
    operator = ["opentelemetry-distro", "opentelemetry-exporter-otlp-proto-http", "opentelemetry-exporter-prometheus"]
    constraints = ["--constraints", str(ROOT / "requirements" / "test.lock")]
    subprocess.run(
        [UV, "pip", "install", "--quiet", "--python", sys.executable, "--target", image, *constraints, *operator],
        check=True,
        timeout=300,
    )
    shutil.copytree(target, image, dirs_exist_ok=True)

    (instrumentation,) = _manifests("instrumentation.yml")
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "PYTHON"))}
    app = ROOT / "tests" / "apps" / "operator_app"
    with http_receiver() as (endpoint, received):
        env.update(
            {
                **_env(instrumentation["spec"]["python"]["env"]),
                # What the operator adds (its python.go), the endpoint and the host moved to this machine.
                "PYTHONPATH": f"{image}/opentelemetry/instrumentation/auto_instrumentation:{app}:{image}",
                "OTEL_TRACES_EXPORTER": "otlp",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
                "OTEL_SERVICE_NAME": "plain-app",
                "OTEL_EXPORTER_PROMETHEUS_HOST": "127.0.0.1",
                "OTEL_EXPORTER_PROMETHEUS_PORT": str(port),
                "OTEL_BSP_SCHEDULE_DELAY": "100",
                "OTEL_AGENTPERF_TARGETS": "plain_app:lookup=tool",
            }
        )
        process = subprocess.Popen(
            [venv / "bin" / "python", "-c", "import plain_app; plain_app.main()"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None and process.stdout.readline() == "ready\n"
            rows = {(row.kind, row.name): row for row in scrape.parse(scrape.fetch(f"http://127.0.0.1:{port}/metrics"))}
            assert ("tool", "lookup") in rows, sorted(rows)
            assert rows[("tool", "lookup")].calls == 3
            deadline = time.monotonic() + 60
            while len([span for span in received.spans() if span.name.endswith(" lookup")]) < 3:
                assert time.monotonic() < deadline, [span.name for span in received.spans()]
                time.sleep(0.1)
        finally:
            _, errors = process.communicate("", timeout=60)
    assert process.returncode == 0 and "Traceback" not in errors, errors
    assert subprocess.run([venv / "bin" / "python", "-c", "import opentelemetry"], capture_output=True).returncode


def test_the_guide_s_generate_and_check_commands(tmp_path: Path) -> None:
    """docs/replicas.md's block as written, in an empty folder: what it writes is what is committed."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for line in commands(block("kubernetes").text):
        done = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{line}\n{done.stdout}{done.stderr}"
    for name in kubernetes.files():
        assert (tmp_path / "deploy" / "kubernetes" / name).read_text() == (KUBERNETES / name).read_text()
