"""The committed grafana/ folder is what the generators produce, the CLI writes it, promtool accepts it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from otel_agentperf.command import cli
from otel_agentperf.stack import bundle, dashboards

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


def test_grafana_places_are_options_with_the_compose_stacks_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:

    out = tmp_path / "out"
    options = ["--prometheus-url", "http://metrics.internal:9090", "--tempo-url", "https://traces.internal"]
    assert cli.main(["grafana", str(out), *options, "--dashboards-path", "/etc/grafana/agentperf"]) == 0
    sources = yaml.safe_load((out / "provisioning/datasources/datasources.yml").read_text())["datasources"]
    assert {source["name"]: source["url"] for source in sources} == {
        "Prometheus": "http://metrics.internal:9090",
        "Tempo": "https://traces.internal",
    }
    provider = yaml.safe_load((out / "provisioning/dashboards/dashboards.yml").read_text())["providers"][0]
    assert provider["options"]["path"] == "/etc/grafana/agentperf"
    with pytest.raises(SystemExit):
        cli.main(["grafana", "--help"])
    shown = " ".join(capsys.readouterr().out.split())  # argparse wraps lines: compare the words
    for default in (bundle.PROMETHEUS_URL, bundle.TEMPO_URL, bundle.GRAFANA_DASHBOARDS_PATH):
        assert f"(default {default})" in shown
    assert "docker-compose" in shown


@pytest.mark.parametrize("target", ["a-file", "a-file/below"])
def test_grafana_into_a_file_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    assert cli.main(["grafana", str(tmp_path / target)]) == 2
    said = capsys.readouterr()
    assert said.out == "" and len(said.err.splitlines()) == 1
    assert said.err.startswith("otel-agentperf: ") and str(tmp_path / target) in said.err and "folder" in said.err


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
