"""The committed grafana/ folder is what the generators produce, the CLI writes it, promtool accepts it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from otel_agentperf.stack import bundle, dashboards
from otel_agentperf.views import cli

ROOT = Path(__file__).resolve().parent.parent
GRAFANA = ROOT / "grafana"


def _promtool() -> str:
    path = shutil.which("promtool")
    assert path is not None, "promtool is missing: install Debian's prometheus package (scripts/test.sh does)"
    return path


def test_committed_files_are_current() -> None:
    for relative, text in bundle.files().items():
        committed = GRAFANA / relative
        assert committed.is_file(), f"{committed} is missing: run otel-agentperf grafana grafana"
        assert committed.read_text() == text, f"{committed} is stale: run otel-agentperf grafana grafana"


def test_dashboards_have_stable_unique_uids_and_the_template_variables() -> None:
    boards = dashboards.dashboards()
    assert len({board["uid"] for board in boards.values()}) == len(boards) == 5
    for board in boards.values():
        variables = {variable["name"] for variable in board["templating"]["list"]}
        assert {"datasource", "service"} <= variables
        for panel in board["panels"]:
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["targets"], panel["title"]
    assert "agent" in {v["name"] for v in boards["agents-and-tools.json"]["templating"]["list"]}
    assert "model" in {v["name"] for v in boards["llm.json"]["templating"]["list"]}


def test_cli_writes_the_packaged_files(tmp_path: Path) -> None:
    assert cli.main(["grafana", str(tmp_path / "out")]) == 0
    written = {str(path.relative_to(tmp_path / "out")) for path in (tmp_path / "out").rglob("*") if path.is_file()}
    assert written == set(bundle.files())
    json.loads((tmp_path / "out" / "dashboards" / "llm.json").read_text())


def test_promtool_accepts_the_rules_and_their_unit_tests_fire_and_clear_every_alert() -> None:
    rules = GRAFANA / bundle.RULES_FILE
    check = subprocess.run([_promtool(), "check", "rules", str(rules)], capture_output=True, text=True)
    assert check.returncode == 0 and "SUCCESS: 8 rules found" in check.stdout, check.stdout + check.stderr
    unit_tests = ROOT / "tests" / "prometheus" / "alerts_test.yml"
    tested = subprocess.run([_promtool(), "test", "rules", str(unit_tests)], capture_output=True, text=True)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    alerts = {line.split(":", 1)[1].strip() for line in rules.read_text().splitlines() if "- alert:" in line}
    covered = {line.split(":", 1)[1].strip() for line in unit_tests.read_text().splitlines() if "alertname:" in line}
    assert alerts == covered
