"""The files a Grafana + Prometheus setup needs: dashboards, provisioning and alert rules.

``otel-agentperf grafana DIR`` writes them (for a ``pip install`` user); the repository's
``grafana/`` folder holds the same output, checked by a test. Paths are relative to that folder.
"""

from __future__ import annotations

from pathlib import Path

from otel_agentperf.stack import alerts, dashboards

DASHBOARDS_DIR = "dashboards"
RULES_FILE = "prometheus/agentperf-alerts.yml"
# Where Grafana finds what it is given, as the repository's docker-compose.yml has it: the service names
# on the compose network and the folder the compose file mounts the dashboards at. Options of the command.
PROMETHEUS_URL = "http://prometheus:9090"
TEMPO_URL = "http://tempo:3200"
GRAFANA_DASHBOARDS_PATH = "/var/lib/grafana/dashboards"

DATASOURCES = """\
# Grafana datasources for otel-agentperf: Prometheus (metrics, exemplars linked to Tempo) and Tempo
# (traces, linked back to Prometheus). The URLs are otel-agentperf grafana's --prometheus-url and --tempo-url
# (by default the docker-compose service names).
apiVersion: 1
datasources:
  - name: Prometheus
    uid: prometheus
    type: prometheus
    access: proxy
    url: {prometheus_url}
    isDefault: true
    jsonData:
      timeInterval: 15s
      exemplarTraceIdDestinations:
        - name: trace_id
          datasourceUid: tempo
  - name: Tempo
    uid: tempo
    type: tempo
    access: proxy
    url: {tempo_url}
    jsonData:
      serviceMap:
        datasourceUid: prometheus
      nodeGraph:
        enabled: true
      tracesToMetrics:
        datasourceUid: prometheus
"""

DASHBOARD_PROVIDER = """\
# Loads every dashboard JSON from where Grafana sees the dashboards folder: otel-agentperf grafana's
# --dashboards-path (by default where the compose file mounts it).
apiVersion: 1
providers:
  - name: otel-agentperf
    orgId: 1
    folder: otel-agentperf
    folderUid: otel-agentperf
    type: file
    disableDeletion: false
    editable: true
    options:
      path: {dashboards_path}
"""


def files(
    prometheus_url: str = PROMETHEUS_URL, tempo_url: str = TEMPO_URL, dashboards_path: str = GRAFANA_DASHBOARDS_PATH
) -> dict[str, str]:
    """Every file by its path relative to the output folder, for Grafana reaching its sources at those places."""
    found = {f"{DASHBOARDS_DIR}/{name}": dashboards.render(board) for name, board in dashboards.dashboards().items()}
    found["provisioning/datasources/datasources.yml"] = DATASOURCES.format(
        prometheus_url=prometheus_url, tempo_url=tempo_url
    )
    found["provisioning/dashboards/dashboards.yml"] = DASHBOARD_PROVIDER.format(dashboards_path=dashboards_path)
    found[RULES_FILE] = alerts.rules()
    return found


def write(folder: Path, **places: str) -> list[Path]:
    """Write :func:`files` (``places``: its URLs and path) under ``folder``; returns the paths written."""
    written = []
    for relative, text in files(**places).items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written
