"""Cold start broken down: an app under the real launcher whose one heavy import is named in the report's
imports table with the time the app measured for it (±25%) and its share of the time to the first agent,
the module keeping its own loader."""

from __future__ import annotations

import importlib
import itertools
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from opentelemetry import trace

from otel_agentperf.conventions import names
from otel_agentperf.recording import imports, state
from otel_agentperf.views import report, scrape
from tests.conftest import Recorded
from tests.test_launcher import _env, _free_port, _launcher

pytestmark = pytest.mark.repeat(1)  # the app runs in a process of its own

APP = Path(__file__).parent / "apps" / "cold_start"


def test_the_heavy_import_leads_the_imports_table_with_its_time_and_share(tmp_path: Path) -> None:
    port, out = _free_port(), tmp_path / "measured.json"
    env = _env(OTEL_METRICS_EXPORTER="prometheus", OTEL_EXPORTER_PROMETHEUS_PORT=str(port), PYTHONPATH=str(APP))
    env["OTEL_AGENTPERF_TARGETS"] = "assistant:answer=agent"
    process = subprocess.Popen(
        [_launcher(), sys.executable, str(APP / "app.py"), str(out)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready", process.stderr
        with urllib.request.urlopen(f"http://localhost:{port}/metrics", timeout=10) as response:
            text = response.read().decode()
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=20)
    measured = json.loads(out.read_text())
    assert measured["loaders"] == ["SourceFileLoader", "SourceFileLoader"]  # the module's own, not ours
    rows = scrape.parse(text)
    rendered = report.render_table(rows, []).splitlines()
    print("\n".join(rendered))
    start = rendered.index(next(s for s in rendered if s.startswith("Imports until the first agent")))
    table = rendered[start : start + 1] + list(
        itertools.takewhile(lambda line: line.startswith("  "), rendered[start + 1 :])
    )
    first = table[1].split()
    assert first[0] == "heavy_model", table
    assert float(first[1]) / 1000 == pytest.approx(measured["heavy_seconds"], rel=0.25)
    (startup,) = [row for row in rows if row.kind == "startup" and row.name == "first_agent"]
    assert startup.mean_seconds is not None
    assert first[3] == f"{100 * float(first[1]) / 1000 / startup.mean_seconds:.0f}%"
    assert "light_util" in [line.split()[0] for line in table[2:]]
    seconds = report.as_dict(rows, [])["import_seconds"]
    assert seconds["heavy_model"] == pytest.approx(measured["heavy_seconds"], rel=0.25)


def test_the_timer_gives_each_package_a_point_and_a_span_in_a_trace_of_its_own(
    recorded: Recorded, tmp_path: Path
) -> None:
    (tmp_path / "slow_pkg").mkdir()
    (tmp_path / "slow_pkg" / "__init__.py").write_text("import time\ntime.sleep(0.05)\nfrom slow_pkg import part\n")
    (tmp_path / "slow_pkg" / "part.py").write_text("VALUE = 1\n")
    timer = imports.ImportTimer()
    sys.path.insert(0, str(tmp_path))
    try:
        with trace.get_tracer("test").start_as_current_span("current"):  # not the import spans' parent
            timer.start()
            importlib.import_module("slow_pkg")
            timer.record(state.telemetry().recorder, state.telemetry().tracer, time.perf_counter())
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("slow_pkg", None)
        sys.modules.pop("slow_pkg.part", None)
    assert timer not in sys.meta_path
    (point,) = recorded.metrics()[names.IMPORT_DURATION].data.data_points
    assert point.attributes == {names.IMPORT_MODULE: "slow_pkg"} and 0.05 <= point.sum < 0.5
    spans = {span.name: span for span in recorded.spans()}
    parent, child = spans[names.IMPORTS_SPAN], spans["import slow_pkg"]
    assert parent.parent is None and child.parent is not None and child.parent.span_id == parent.context.span_id
    assert child.attributes[names.IMPORT_CUMULATIVE] == pytest.approx(point.sum)


def test_the_timer_leaves_at_its_bound_and_the_imports_after_it_load_as_without_it(
    recorded: Recorded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("early_pkg", "late_pkg", "last_pkg"):
        (tmp_path / f"{name}.py").write_text(f"NAME = {name!r}\n")
    monkeypatch.setattr(imports, "LIMIT_IMPORTS", 1)  # a process that never starts an agent, one import on
    timer = imports.ImportTimer()
    sys.path.insert(0, str(tmp_path))
    try:
        timer.start()
        importlib.import_module("early_pkg")  # timed
        assert list(timer.cumulative) == ["early_pkg"]
        late = importlib.import_module("late_pkg")  # past the bound: the finder leaves, the import goes on
        assert timer not in sys.meta_path and timer.cumulative == {}
        assert type(late.__loader__).__name__ == "SourceFileLoader" and late.NAME == "late_pkg"
        assert importlib.import_module("last_pkg").NAME == "last_pkg"  # no finder was skipped
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module("no_such_pkg_anywhere")
        timer.record(state.telemetry().recorder, state.telemetry().tracer, time.perf_counter())
    finally:
        timer.stop()
        sys.path.remove(str(tmp_path))
        for name in ("early_pkg", "late_pkg", "last_pkg"):
            sys.modules.pop(name, None)
    assert names.IMPORT_DURATION not in recorded.metrics()  # a breakdown cut short is not the cold start's
    assert not [span for span in recorded.spans() if span.name == names.IMPORTS_SPAN]


def test_the_timer_leaves_at_its_time_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "after_bound.py").write_text("VALUE = 2\n")
    monkeypatch.setattr(imports, "LIMIT_SECONDS", 0.0)  # any import after the start is past it
    timer = imports.ImportTimer()
    sys.path.insert(0, str(tmp_path))
    try:
        timer.start()
        assert importlib.import_module("after_bound").VALUE == 2
        assert timer not in sys.meta_path and timer.cumulative == {}
    finally:
        timer.stop()
        sys.path.remove(str(tmp_path))
        sys.modules.pop("after_bound", None)
