"""docker-compose.yml, checked statically (no Docker engine here): files, ports and names agree across files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from otel_agentperf.stack import bundle

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
# Components of the Collector's contrib distribution used by deploy/otel-collector.yml, from
# opentelemetry-collector-releases distributions/otelcol-contrib/manifest.yaml (v0.115.1). A component
# outside this list would need the manifest checked again.
CONTRIB_COMPONENTS = {
    "receivers": {"otlp", "prometheus", "hostmetrics", "filelog"},
    "processors": {"batch", "memory_limiter", "resource", "attributes", "filter", "transform"},
    "exporters": {"otlp", "otlphttp", "prometheus", "prometheusremotewrite", "debug"},
}


def _mounts(service: str) -> list[tuple[Path, str]]:
    found = []
    for volume in SERVICES[service].get("volumes", []):
        source, target = volume.split(":")[:2]
        found.append(((ROOT / source).resolve(), target))
    return found


def _mounted(service: str, target: str) -> Path:
    return next(source for source, mounted in _mounts(service) if mounted == target)


def test_images_are_pinned_and_ports_bind_to_localhost() -> None:
    for name, service in SERVICES.items():
        image = service["image"]
        assert re.search(r":v?\d+\.\d+\.\d+(-[a-z]+)?$", image), f"{name}: {image} is not pinned"
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond localhost"


def test_every_mounted_file_exists_and_dependencies_are_services() -> None:
    for name, service in SERVICES.items():
        for source, _ in _mounts(name):
            assert source.exists(), f"{name} mounts {source}, which does not exist"
        assert set(service.get("depends_on", [])) <= set(SERVICES), name


def test_collector_config_uses_contrib_components_and_reaches_tempo() -> None:
    config = yaml.safe_load(_mounted("otel-collector", "/etc/otelcol/config.yml").read_text())
    for kind, available in CONTRIB_COMPONENTS.items():
        for component in config[kind]:
            assert component.split("/")[0] in available, f"{kind} {component} is not in the contrib image"
    for pipeline in config["service"]["pipelines"].values():
        for kind in ("receivers", "processors", "exporters"):
            assert set(pipeline[kind]) <= set(config[kind]), pipeline
    tempo_host, tempo_port = config["exporters"]["otlp/tempo"]["endpoint"].split(":")
    tempo = yaml.safe_load(_mounted("tempo", "/etc/tempo.yml").read_text())
    grpc = tempo["distributor"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    assert tempo_host in SERVICES and grpc.endswith(f":{tempo_port}")
    app_endpoint = SERVICES["app"]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"]
    receiver = config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    assert app_endpoint == f"http://otel-collector:{receiver.split(':')[1]}"


def test_prometheus_scrapes_the_collector_and_loads_the_shipped_rules() -> None:
    collector = yaml.safe_load(_mounted("otel-collector", "/etc/otelcol/config.yml").read_text())
    exporter_port = collector["exporters"]["prometheus"]["endpoint"].split(":")[1]
    config = yaml.safe_load(_mounted("prometheus", "/etc/prometheus/prometheus.yml").read_text())
    targets = [t for job in config["scrape_configs"] for group in job["static_configs"] for t in group["targets"]]
    assert f"otel-collector:{exporter_port}" in targets
    rule_file = config["rule_files"][0]
    assert _mounted("prometheus", rule_file) == (ROOT / "grafana" / bundle.RULES_FILE).resolve()
    assert "--enable-feature=exemplar-storage" in SERVICES["prometheus"]["command"]


def test_grafana_provisioning_points_at_the_compose_services() -> None:
    provisioning = _mounted("grafana", "/etc/grafana/provisioning")
    datasources = yaml.safe_load((provisioning / "datasources" / "datasources.yml").read_text())["datasources"]
    urls = {source["type"]: source["url"] for source in datasources}
    assert urls == {"prometheus": "http://prometheus:9090", "tempo": "http://tempo:3200"}
    tempo = yaml.safe_load(_mounted("tempo", "/etc/tempo.yml").read_text())
    assert tempo["server"]["http_listen_port"] == 3200
    provider = yaml.safe_load((provisioning / "dashboards" / "dashboards.yml").read_text())["providers"][0]
    dashboards_dir = _mounted("grafana", provider["options"]["path"])
    assert sorted(p.name for p in dashboards_dir.glob("*.json")) == sorted(
        name.split("/")[1] for name in bundle.files() if name.startswith("dashboards/")
    )
