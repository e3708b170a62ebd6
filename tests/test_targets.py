"""Declarative targets through the real instrumentor: good, bad, not-yet-imported, files, uninstrument."""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
import textwrap
import time
import uuid
from pathlib import Path
from types import ModuleType

import pytest
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry, generate_latest

from otel_agentperf.api.instrumentor import AgentPerfInstrumentor
from otel_agentperf.api.targets import TargetPatcher, parse, parse_all
from otel_agentperf.conventions import names
from otel_agentperf.runtime import settings
from otel_agentperf.views import scrape
from tests.conftest import MakeRecorded, Recorded

APP_SOURCE = textwrap.dedent(
    """
    class Coach:
        def __init__(self, tone="calm"):
            self.tone = tone

        def process_message(self, text):
            return f"{self.tone}:{text}"

        async def aprocess(self, text):
            return text[::-1]

        @staticmethod
        def count(text):
            return len(text)

        @classmethod
        def build(cls):
            return cls("built")

    class SubCoach(Coach):
        pass

    class HistoryManager:
        def __init__(self):
            self.rows = {1: "a", 2: "b"}

        def get_execution_by_id(self, key):
            return self.rows[key]

    def load_config(path):
        return {"path": path}
    """
)


@pytest.fixture
def app_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, not yet imported module name for a realistic little app."""
    name = f"targetapp_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(APP_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def _targets(module: str, *entries: str) -> str:
    return ",".join(f"{module}:{entry}" for entry in entries)


def _exercise(module: ModuleType) -> None:
    coach = module.Coach()
    assert coach.process_message("hi") == "calm:hi"
    assert asyncio.run(coach.aprocess("abc")) == "cba"
    assert module.Coach.count("four") == 4
    assert module.Coach.build().tone == "built"
    assert module.HistoryManager().get_execution_by_id(2) == "b"
    assert module.load_config("app.yaml") == {"path": "app.yaml"}


ALL = (
    "Coach.process_message=agent",
    "Coach.aprocess=agent",
    "Coach.count=tool",
    "Coach.build=workflow:Builder",
    "Coach=create_agent",
    "HistoryManager.get_execution_by_id=history",
    "load_config=config",
)


def _assert_all_recorded(recorded: Recorded) -> None:
    # Each operation is named by its qualified name unless its entry gives one (the workflow's Builder).
    spans = [s.name for s in recorded.spans()]
    assert spans.count("invoke_agent Coach.process_message") == 1
    assert spans.count("invoke_agent Coach.aprocess") == 1
    assert "execute_tool Coach.count" in spans
    assert "invoke_workflow Builder" in spans
    assert spans.count("create_agent Coach") == 2  # Coach() and cls("built") inside Coach.build()
    assert "history_read HistoryManager.get_execution_by_id" in spans
    assert "load_config load_config" in spans
    agents = {
        point.attributes[names.GEN_AI_AGENT_NAME]: point.count
        for point in recorded.histogram_points("gen_ai.invoke_agent.duration")
    }
    assert agents == {"Coach.process_message": 1, "Coach.aprocess": 1}


def test_targets_apply_to_an_already_imported_module(
    recorded: Recorded, instrumentor: AgentPerfInstrumentor, app_module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = importlib.import_module(app_module)
    monkeypatch.setenv("OTEL_AGENTPERF_TARGETS", _targets(app_module, *ALL))
    settings.reload()
    instrumentor.instrument()
    assert instrumentor.applied_targets == len(ALL)
    _exercise(module)
    _assert_all_recorded(recorded)


def test_targets_wait_for_a_module_imported_later(
    recorded: Recorded, instrumentor: AgentPerfInstrumentor, app_module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_AGENTPERF_TARGETS", _targets(app_module, *ALL))
    settings.reload()
    instrumentor.instrument()
    assert app_module not in sys.modules
    assert instrumentor.applied_targets == 0
    module = importlib.import_module(app_module)
    assert instrumentor.applied_targets == len(ALL)
    _exercise(module)
    _assert_all_recorded(recorded)


def test_bad_entries_each_warn_once_by_name_and_the_rest_still_apply(
    recorded: Recorded,
    instrumentor: AgentPerfInstrumentor,
    app_module: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad = [
        "not a target",
        f"{app_module}:Coach.process_message=robot",
        f"{app_module}:Coach.missing_method=agent",
        f"{app_module}:Coach=agent",
        f"{app_module}.nope:thing=tool",
    ]
    good = f"{app_module}:load_config=config"
    monkeypatch.setenv("OTEL_AGENTPERF_TARGETS", ",".join([*bad, good]))
    settings.reload()
    with caplog.at_level(logging.WARNING, logger="otel_agentperf"):
        instrumentor.instrument()
        module = importlib.import_module(app_module)
        assert module.load_config("x") == {"path": "x"}
        assert module.Coach().process_message("still works") == "calm:still works"
        instrumentor._patcher._warn_never_imported()
    messages = [r.getMessage() for r in caplog.records]
    for entry in bad:
        assert sum(entry.strip() in message for message in messages) == 1, (entry, messages)
    assert any("unknown kind 'robot'" in m for m in messages)
    assert any("only create_agent applies to a class" in m for m in messages)
    assert any("was never imported" in m for m in messages)
    assert [s.name for s in recorded.spans()] == ["load_config load_config"]


def test_a_module_never_imported_is_said_while_the_app_runs_and_main_says_why(
    recorded: Recorded,
    app_module: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    patcher = TargetPatcher(import_grace_s=0.3)
    missing = f"{app_module}_misspelt:load_config=config"
    script = f"{app_module}_script:main=agent"
    monkeypatch.setattr(sys.modules["__main__"], "__file__", str(tmp_path / f"{app_module}_script.py"))
    caplog.set_level(logging.WARNING, logger="otel_agentperf")
    try:
        patcher.apply(parse_all([missing, script, f"{app_module}:load_config=config"]))
        importlib.import_module(app_module)
        deadline = time.monotonic() + 10
        while len(caplog.records) < 2 and time.monotonic() < deadline:  # the app still runs: no exit yet
            time.sleep(0.05)
        messages = sorted(r.getMessage() for r in caplog.records)
        assert len(messages) == 2, messages
        assert f"ignoring target {missing!r}" in messages[0] and "is not imported 0.3 s after start" in messages[0]
        assert f"ignoring target {script!r}" in messages[1] and "runs as the __main__ script" in messages[1]
        patcher._warn_never_imported()  # at exit: each was said once already
        assert len(caplog.records) == 2
    finally:
        patcher.remove()


def test_uninstrument_restores_originals_and_instrument_is_idempotent(
    recorded: Recorded, instrumentor: AgentPerfInstrumentor, app_module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = importlib.import_module(app_module)
    originals = {key: vars(module.Coach)[key] for key in ("process_message", "count", "build", "__init__")}
    original_config = module.load_config
    monkeypatch.setenv("OTEL_AGENTPERF_TARGETS", _targets(app_module, *ALL, "SubCoach=create_agent"))
    settings.reload()
    instrumentor.instrument()
    instrumentor.instrument()
    assert instrumentor.applied_targets == len(ALL) + 1
    module.Coach().process_message("once")
    assert [s.name for s in recorded.spans()].count("invoke_agent Coach.process_message") == 1

    instrumentor.uninstrument()
    instrumentor.uninstrument()
    for key, original in originals.items():
        assert vars(module.Coach)[key] is original
    assert "__init__" not in vars(module.SubCoach)
    assert module.load_config is original_config
    before = len(recorded.spans())
    _exercise(module)
    assert len(recorded.spans()) == before


def test_targets_from_a_toml_file_and_from_pyproject(
    recorded: Recorded,
    instrumentor: AgentPerfInstrumentor,
    app_module: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings_file = tmp_path / "agentperf.toml"
    settings_file.write_text(f'targets = ["{app_module}:Coach.process_message=agent:Coach"]\nsampling = "all"\n')
    monkeypatch.setenv("OTEL_AGENTPERF_CONFIG", str(settings_file))
    settings.reload()
    with caplog.at_level(logging.WARNING, logger="otel_agentperf"):
        instrumentor.instrument()
    assert any("unknown option 'sampling'" in r.getMessage() for r in caplog.records)
    module = importlib.import_module(app_module)
    module.Coach().process_message("x")
    assert recorded.span("invoke_agent Coach")
    instrumentor.uninstrument()

    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        f'[tool.otel-agentperf.targets]\n"{app_module}:load_config" = "config:settings loader"\n'
    )
    monkeypatch.delenv("OTEL_AGENTPERF_CONFIG")
    monkeypatch.chdir(project)
    settings.reload()
    instrumentor.instrument()
    module.load_config("y")
    assert recorded.span("load_config settings loader")


def test_the_nearest_pyproject_up_from_a_sub_folder_is_read_and_named(
    recorded: Recorded,
    instrumentor: AgentPerfInstrumentor,
    app_module: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    project = tmp_path / "project"
    started_in = project / "src" / "scripts"
    started_in.mkdir(parents=True)
    (project / ".git").mkdir()
    pyproject = project / "pyproject.toml"
    pyproject.write_text(f'[tool.otel-agentperf.targets]\n"{app_module}:load_config" = "config"\n')
    # Above the repository's root: never read, even with the project's own file gone.
    (tmp_path / "pyproject.toml").write_text('[tool.otel-agentperf]\nmemory = "rss"\n')
    monkeypatch.delenv("OTEL_AGENTPERF_CONFIG", raising=False)
    monkeypatch.delenv("OTEL_AGENTPERF_MEMORY", raising=False)
    monkeypatch.chdir(started_in)
    caplog.set_level(logging.INFO, logger="otel_agentperf")
    loaded = settings.reload()
    assert loaded.file == str(pyproject)
    assert f"otel-agentperf: settings from {pyproject}" in [r.getMessage() for r in caplog.records]
    instrumentor.instrument()
    importlib.import_module(app_module).load_config("y")
    assert recorded.span("load_config load_config")
    instrumentor.uninstrument()

    pyproject.unlink()
    assert (settings.reload().file, settings.current().memory) == ("", frozenset())


def test_memory_both_means_rss_and_tracemalloc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.otel-agentperf]\nmemory = "both"\n')
    monkeypatch.chdir(tmp_path)
    assert settings.reload().memory == frozenset({"rss", "tracemalloc"})
    for value in ("both", "rss,tracemalloc", "BOTH"):
        monkeypatch.setenv("OTEL_AGENTPERF_MEMORY", value)
        assert settings.reload().memory == frozenset({"rss", "tracemalloc"})
    monkeypatch.setenv("OTEL_AGENTPERF_MEMORY", "rss")
    assert settings.reload().memory == frozenset({"rss"})


def test_disabled_switch_applies_no_target(
    recorded: Recorded, instrumentor: AgentPerfInstrumentor, app_module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_AGENTPERF_TARGETS", _targets(app_module, *ALL))
    monkeypatch.setenv("OTEL_AGENTPERF_ENABLED", "false")
    settings.reload()
    instrumentor.instrument()
    module = importlib.import_module(app_module)
    _exercise(module)
    assert instrumentor.applied_targets == 0
    assert recorded.spans() == []


def test_instrument_with_explicit_providers_routes_targets_there(
    instrumentor: AgentPerfInstrumentor, app_module: str, monkeypatch: pytest.MonkeyPatch, make_recorded: MakeRecorded
) -> None:
    other = make_recorded()
    monkeypatch.setenv("OTEL_AGENTPERF_TARGETS", _targets(app_module, "load_config=config"))
    settings.reload()
    instrumentor.instrument(tracer_provider=other.tracer_provider, meter_provider=other.meter_provider)
    importlib.import_module(app_module).load_config("z")
    assert other.span("load_config load_config").attributes[names.CONFIG_LOADER] == "load_config"


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("pkg.mod:Class.method", "expected"),
        ("pkg.mod=agent", "expected"),
        ("pkg.mod:f=segment", "unknown kind"),
        (":f=agent", "expected"),
    ],
)
def test_parse_rejects_malformed_entries(entry: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse(entry)


def test_parse_reads_module_path_and_kind() -> None:
    target = parse(" myapp.agents : Coach.process_message = agent ")
    assert (target.module, target.path, target.kind) == ("myapp.agents", "Coach.process_message", "agent")


def test_parse_reads_a_given_name() -> None:
    target = parse("myapp.agents:Coach.process_message=agent: Lead Planner ")
    assert (target.path, target.kind, target.operation_name) == ("Coach.process_message", "agent", "Lead Planner")
    assert parse("myapp.agents:Coach.process_message=agent").operation_name == "Coach.process_message"
    with pytest.raises(ValueError, match="expected"):
        parse("myapp.agents:Coach.process_message=agent:")


def test_parse_reads_a_history_operation_and_refuses_an_unknown_one() -> None:
    assert parse("trips:TripHistory.trips_of=history:search")[2:] == (
        "history",
        "trips:TripHistory.trips_of=history:search",
        None,
        "search",
    )
    stated = parse("trips:TripHistory.trips_of=history: search : Trips")
    assert (stated.operation, stated.operation_name) == ("search", "Trips")
    named = parse("trips:TripHistory.trips_of=history:TripStore")  # not a lowercase word: the name, as before
    assert (named.operation, named.operation_name) == (None, "TripStore")
    with pytest.raises(ValueError, match=r"unknown history operation 'serach' .*read, append, write, search, delete"):
        parse("trips:TripHistory.trips_of=history:serach")
    with pytest.raises(ValueError, match="only history takes an operation"):
        parse("trips:Planner.run=agent:search:Planner")


TRIPS_SOURCE = textwrap.dedent(
    """
    class TripHistory:
        def __init__(self):
            self.trips = [{"user": i % 3, "city": "Oslo"} for i in range(30)]

        def trips_of(self, user):
            return [trip for trip in self.trips if trip["user"] == user]

        def tally(self):
            return len(self.trips)

        def nearest(self, city):
            return [trip for trip in self.trips if trip["city"] == city][:1]
    """
)


def test_a_history_target_states_its_operation_and_no_name_shows_other(
    instrumentor: AgentPerfInstrumentor,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    make_recorded: MakeRecorded,
) -> None:
    """``=history:search`` names the operation; a method of no known verb has none in its span or row."""
    name = f"tripsapp_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(TRIPS_SOURCE)
    (tmp_path / "pyproject.toml").write_text(
        "[tool.otel-agentperf.targets]\n"
        f'"{name}:TripHistory.trips_of" = "history:search"\n'
        f'"{name}:TripHistory.tally" = "history"\n'
        f'"{name}:TripHistory.nearest" = "history:serach"\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    recorded = make_recorded()
    registry = CollectorRegistry()
    meter_provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry)])
    settings.reload()
    try:
        with caplog.at_level(logging.WARNING, logger="otel_agentperf"):
            instrumentor.instrument(tracer_provider=recorded.tracer_provider, meter_provider=meter_provider)
            trips = importlib.import_module(name).TripHistory()
            assert len(trips.trips_of(1)) == 10
            assert trips.tally() == 30
            assert trips.nearest("Oslo") == [{"user": 0, "city": "Oslo"}]  # the bad entry leaves it unwrapped
        instrumentor.uninstrument()
        rows = scrape.parse(generate_latest(registry).decode())
    finally:
        meter_provider.shutdown()
        sys.modules.pop(name, None)
    assert [span.name for span in recorded.spans()] == [
        "history_search TripHistory.trips_of",
        "history TripHistory.tally",
    ]
    assert not any(names.OTHER in span.name for span in recorded.spans())
    search, tally = recorded.spans()
    assert search.attributes[names.HISTORY_OPERATION] == "search"
    assert tally.attributes[names.HISTORY_OPERATION] == names.OTHER  # metric values stay bounded
    history = sorted((row.name, row.calls) for row in rows if row.kind == names.KIND_HISTORY)
    assert history == [("TripHistory.tally", 1), ("TripHistory.trips_of/search", 1)]
    warned = [r.getMessage() for r in caplog.records if "serach" in r.getMessage()]
    assert len(warned) == 1
    assert f"{name}:TripHistory.nearest=history:serach" in warned[0] and "unknown history operation" in warned[0]


STORE_SOURCE = textwrap.dedent(
    """
    class Store:
        def __init__(self):
            self.rows = [{"id": i} for i in range(50)]

        def read(self, key):
            return next(row for row in self.rows if row["id"] == key)

        def read_recent(self):
            return self.rows[-3:]
    """
)


def test_two_methods_of_one_class_are_two_report_rows_unless_named_alike(
    instrumentor: AgentPerfInstrumentor, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    name = f"storeapp_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(STORE_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        for entries, expected in (
            (("Store.read=history", "Store.read_recent=history"), {"Store.read", "Store.read_recent"}),
            (("Store.read=history:Store", "Store.read_recent=history:Store"), {"Store"}),
        ):
            registry = CollectorRegistry()
            meter_provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry)])
            monkeypatch.setenv("OTEL_AGENTPERF_TARGETS", _targets(name, *entries))
            settings.reload()
            instrumentor.instrument(tracer_provider=TracerProvider(), meter_provider=meter_provider)
            store = importlib.import_module(name).Store()
            assert store.read(7) == {"id": 7}
            assert store.read_recent() == [{"id": 47}, {"id": 48}, {"id": 49}]
            instrumentor.uninstrument()
            rows = scrape.parse(generate_latest(registry).decode())
            meter_provider.shutdown()
            history = [row for row in rows if row.kind == names.KIND_HISTORY]
            assert {row.name.split("/")[0] for row in history} == expected
            assert sum(row.calls for row in history) == 2
            sys.modules.pop(name, None)
    finally:
        sys.modules.pop(name, None)
