"""The files a Grafana + Prometheus setup needs: dashboards, provisioning and alert rules.

``otel-agentperf grafana DIR`` writes them (for a ``pip install`` user); the repository's
``grafana/`` folder holds the same output, checked by a test. Paths are relative to that folder.
"""

from __future__ import annotations

from pathlib import Path

from otel_agentperf.stack import alerts, dashboards

DASHBOARDS_DIR = "dashboards"
RULES_FILE = "prometheus/agentperf-alerts.yml"

DATASOURCES = """\
# Grafana datasources for otel-agentperf: Prometheus (metrics, exemplars linked to Tempo) and Tempo
# (traces, linked back to Prometheus). The URLs are the docker-compose service names.
apiVersion: 1
datasources:
  - name: Prometheus
    uid: prometheus
    type: prometheus
    access: proxy
    url: http://prometheus:9090
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
    url: http://tempo:3200
    jsonData:
      serviceMap:
        datasourceUid: prometheus
      nodeGraph:
        enabled: true
      tracesToMetrics:
        datasourceUid: prometheus
"""

DASHBOARD_PROVIDER = """\
# Loads every dashboard JSON from the folder the compose file mounts at /var/lib/grafana/dashboards.
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
      path: /var/lib/grafana/dashboards
"""


def files() -> dict[str, str]:
    """Every file by its path relative to the output folder."""
    found = {f"{DASHBOARDS_DIR}/{name}": dashboards.render(board) for name, board in dashboards.dashboards().items()}
    found["provisioning/datasources/datasources.yml"] = DATASOURCES
    found["provisioning/dashboards/dashboards.yml"] = DASHBOARD_PROVIDER
    found[RULES_FILE] = alerts.rules()
    return found


def write(folder: Path) -> list[Path]:
    """Write :func:`files` under ``folder``; returns the paths written."""
    written = []
    for relative, text in files().items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written
