"""Config-loading instrumentation against the real libraries, on real temporary files."""

from __future__ import annotations

import asyncio
import configparser
import io
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import dotenv
import pytest
import tomli
import yaml
from omegaconf import OmegaConf
from pydantic_settings import BaseSettings

import otel_agentperf as ap
from otel_agentperf.conventions import names
from otel_agentperf.instrumentation.config.configparser_files import ConfigParserInstrumentor
from otel_agentperf.instrumentation.config.json_files import JsonFilesInstrumentor
from otel_agentperf.instrumentation.config.omegaconf_loader import OmegaConfInstrumentor
from otel_agentperf.instrumentation.config.pydantic_settings import PydanticSettingsInstrumentor
from otel_agentperf.instrumentation.config.python_dotenv import DotenvInstrumentor
from otel_agentperf.instrumentation.config.pyyaml import PyYAMLInstrumentor
from otel_agentperf.instrumentation.config.toml_loaders import TomliInstrumentor, TomllibInstrumentor
from otel_agentperf.runtime import settings
from otel_agentperf.wrapping.library import LibraryInstrumentor
from tests.conftest import Recorded

CONFIG_METRIC = "agentperf.config.load.duration"
ALL = (
    PyYAMLInstrumentor,
    TomllibInstrumentor,
    TomliInstrumentor,
    JsonFilesInstrumentor,
    DotenvInstrumentor,
    PydanticSettingsInstrumentor,
    ConfigParserInstrumentor,
    OmegaConfInstrumentor,
)


@pytest.fixture
def loaders(recorded: Recorded) -> Iterator[Recorded]:
    instrumentors: list[LibraryInstrumentor] = [cls() for cls in ALL]
    for instrumentor in instrumentors:
        instrumentor.instrument()
    yield recorded
    for instrumentor in instrumentors:
        instrumentor.uninstrument()


def _points(recorded: Recorded, **attributes: str) -> int:
    return sum(
        int(p.count)
        for p in recorded.histogram_points(CONFIG_METRIC)
        if all(p.attributes.get(k) == v for k, v in attributes.items())
    )


@pytest.fixture
def yaml_file(tmp_path: Path) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text("model: small\ntools: [search, calc]\n")
    return path


def test_yaml_file_loads_are_recorded_with_format_source_and_redundancy(loaders: Recorded, yaml_file: Path) -> None:
    for _ in range(4):
        with yaml_file.open() as handle:
            assert yaml.safe_load(handle) == {"model": "small", "tools": ["search", "calc"]}
    assert _points(loaders, **{names.CONFIG_LOADER: "yaml.load", names.CONFIG_FORMAT: "yaml"}) == 4
    assert _points(loaders, **{names.CONFIG_REDUNDANT: "false", names.CONFIG_SOURCE: "file"}) == 1
    assert _points(loaders, **{names.CONFIG_REDUNDANT: "true"}) == 3
    span = loaders.spans()[0]
    assert span.name == "load_config yaml.load"
    assert span.attributes[names.FILE_NAME] == "agent.yaml"
    assert span.attributes[names.FILE_SIZE] == yaml_file.stat().st_size
    assert names.FILE_PATH not in span.attributes
    assert "small" not in str(dict(span.attributes))  # never the contents

    os.utime(yaml_file, ns=(yaml_file.stat().st_atime_ns, yaml_file.stat().st_mtime_ns + 1_000_000_000))
    with yaml_file.open() as handle:
        yaml.safe_load(handle)
    assert _points(loaders, **{names.CONFIG_REDUNDANT: "false"}) == 2  # changed on disk: a real reload


def test_yaml_from_a_string_is_not_a_config_load(loaders: Recorded) -> None:
    assert yaml.safe_load("a: 1") == {"a": 1}
    assert loaders.spans() == []


def test_a_user_loader_around_yaml_is_counted_once(loaders: Recorded, yaml_file: Path) -> None:
    @ap.config
    def load_settings() -> dict[str, object]:
        with yaml_file.open() as handle:
            return dict(yaml.safe_load(handle))

    load_settings()
    load_settings()
    assert [s.name for s in loaders.spans()] == ["load_config load_settings"] * 2
    assert _points(loaders) == 2
    assert _points(loaders, **{names.CONFIG_LOADER: "load_settings", names.CONFIG_FORMAT: "yaml"}) == 2
    assert _points(loaders, **{names.CONFIG_REDUNDANT: "true"}) == 1
    assert loaders.spans()[0].attributes[names.FILE_NAME] == "agent.yaml"


def test_load_all_stays_lazy(loaders: Recorded, tmp_path: Path) -> None:
    path = tmp_path / "docs.yaml"
    path.write_text("a: 1\n---\nb: 2\n")
    with path.open() as handle:
        documents = yaml.safe_load_all(handle)
        assert loaders.spans() == []
        assert next(documents) == {"a": 1}
        assert loaders.spans() == []
        assert list(documents) == [{"b": 2}]
    assert _points(loaders, **{names.CONFIG_LOADER: "yaml.load_all"}) == 1


def test_parse_errors_are_reraised_unchanged_and_recorded(loaders: Recorded, tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("a: [1, 2\n")
    with path.open() as handle, pytest.raises(yaml.YAMLError) as caught:
        yaml.safe_load(handle)
    error_type = type(caught.value).__qualname__
    assert _points(loaders, **{names.ERROR_TYPE: error_type}) == 1
    with pytest.raises(FileNotFoundError):
        OmegaConf.load(tmp_path / "absent.yaml")
    assert _points(loaders, **{names.ERROR_TYPE: "FileNotFoundError", names.CONFIG_LOADER: "OmegaConf.load"}) == 1


def test_instrumentation_never_opens_a_config_file_again(loaders: Recorded, yaml_file: Path) -> None:
    opened: list[str] = []
    watching = [True]

    def audit(event: str, args: tuple[object, ...]) -> None:
        if watching[0] and event == "open" and str(args[0]) == str(yaml_file):
            opened.append(event)

    sys.addaudithook(audit)
    try:
        with yaml_file.open() as handle:
            yaml.safe_load(handle)
        OmegaConf.load(yaml_file)
    finally:
        watching[0] = False
    assert len(opened) == 2  # the app's own open() and OmegaConf's: none of ours
    assert _points(loaders) == 2


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is in the standard library from Python 3.11")
def test_tomllib_and_tomli_loads(loaders: Recorded, tmp_path: Path) -> None:
    import tomllib

    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.x]\nvalue = 3\n")
    with path.open("rb") as handle:
        assert tomllib.load(handle) == {"tool": {"x": {"value": 3}}}
    with path.open("rb") as handle:
        assert tomli.load(handle) == {"tool": {"x": {"value": 3}}}
    assert _points(loaders, **{names.CONFIG_LOADER: "tomllib.load", names.CONFIG_FORMAT: "toml"}) == 1
    assert _points(loaders, **{names.CONFIG_LOADER: "tomli.load", names.CONFIG_REDUNDANT: "true"}) == 1


def test_json_files_are_classified_by_name(loaders: Recorded, tmp_path: Path) -> None:
    config, history, other = tmp_path / "app_config.json", tmp_path / "chat_history.json", tmp_path / "data.json"
    config.write_text('{"model": "m"}')
    history.write_text('[{"role": "user"}, {"role": "assistant"}, {"role": "user"}]')
    other.write_text("[1, 2]")
    for path in (config, history, other):
        with path.open() as handle:
            json.load(handle)
    with history.open("w") as handle:
        json.dump([{"role": "user"}], handle)
    with (tmp_path / "out.json").open("w") as handle:
        json.dump([1], handle)
    assert json.loads('{"a": 1}') == {"a": 1}

    assert _points(loaders, **{names.CONFIG_LOADER: "json.load", names.CONFIG_FORMAT: "json"}) == 1
    read = loaders.histogram_point("agentperf.history.operation.duration", **{names.HISTORY_OPERATION: "read"})
    assert read.attributes[names.HISTORY_STORE] == "json-file"
    write = loaders.histogram_point("agentperf.history.operation.duration", **{names.HISTORY_OPERATION: "write"})
    assert write.count == 1
    records = loaders.histogram_point("agentperf.history.size.records")
    assert (records.count, records.sum) == (1, 3)
    sizes = loaders.histogram_point("agentperf.history.size.bytes", **{names.HISTORY_OPERATION: "read"})
    assert sizes.sum == len('[{"role": "user"}, {"role": "assistant"}, {"role": "user"}]')
    assert len(loaders.spans()) == 3


def test_json_patterns_come_from_settings(recorded: Recorded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_AGENTPERF_CONFIG_FILES", "*.agent.json")
    monkeypatch.setenv("OTEL_AGENTPERF_HISTORY_FILES", "")
    settings.reload()
    instrumentor = JsonFilesInstrumentor()
    instrumentor.instrument()
    try:
        for name in ("planner.agent.json", "app_config.json", "chat_history.json"):
            (tmp_path / name).write_text("{}")
            with (tmp_path / name).open() as handle:
                json.load(handle)
    finally:
        instrumentor.uninstrument()
    assert [s.attributes[names.FILE_NAME] for s in recorded.spans()] == ["planner.agent.json"]


def test_dotenv_pydantic_settings_and_configparser(
    loaders: Recorded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("AGENT_MODEL=big\nAGENT_STEPS=4\n")
    monkeypatch.delenv("AGENT_MODEL", raising=False)
    assert dotenv.load_dotenv(env_file) is True
    assert dotenv.dotenv_values(stream=io.StringIO("X=1\n")) == {"X": "1"}
    assert os.environ["AGENT_MODEL"] == "big"

    class AgentSettings(BaseSettings):
        agent_model: str = "small"
        agent_steps: int = 1

    assert AgentSettings().agent_steps == 4

    ini = tmp_path / "tools.ini"
    ini.write_text("[search]\nlimit = 5\n")
    parser = configparser.ConfigParser()
    assert parser.read(ini) == [str(ini)]

    assert _points(loaders, **{names.CONFIG_LOADER: "dotenv.load_dotenv", names.CONFIG_SOURCE: "file"}) == 1
    assert _points(loaders, **{names.CONFIG_LOADER: "dotenv.dotenv_values", names.CONFIG_SOURCE: "stream"}) == 1
    assert _points(loaders, **{names.CONFIG_LOADER: "AgentSettings", names.CONFIG_SOURCE: "env"}) == 1
    assert _points(loaders, **{names.CONFIG_LOADER: "configparser.read", names.CONFIG_FORMAT: "ini"}) == 1
    span = next(s for s in loaders.spans() if s.name == "load_config dotenv.load_dotenv")
    assert span.attributes[names.FILE_NAME] == ".env"
    assert "big" not in str(dict(span.attributes))


def test_omegaconf_folds_its_inner_yaml_load(loaders: Recorded, yaml_file: Path) -> None:
    assert OmegaConf.load(yaml_file).model == "small"
    assert [s.name for s in loaders.spans()] == ["load_config OmegaConf.load"]
    assert _points(loaders, **{names.CONFIG_FORMAT: "yaml", names.CONFIG_SOURCE: "file"}) == 1


def test_a_quick_sync_load_inside_a_running_loop_is_not_called_blocking(loaders: Recorded, yaml_file: Path) -> None:
    """Blocking is measured: a load that held the loop for far less than the threshold did not block it
    (tests/test_loop_monitor.py has one that did)."""

    def load() -> object:
        with yaml_file.open() as handle:
            return yaml.safe_load(handle)

    async def handler() -> object:
        return load()

    load()
    asyncio.run(handler())
    assert _points(loaders, **{names.BLOCKING_EVENT_LOOP: "false"}) == 2
    assert _points(loaders, **{names.BLOCKING_EVENT_LOOP: "true"}) == 0
    assert all(not span.events for span in loaders.spans())


def test_uninstrument_restores_the_library_functions(recorded: Recorded) -> None:
    original = vars(yaml)["load"]
    instrumentor = PyYAMLInstrumentor()
    instrumentor.instrument()
    assert vars(yaml)["load"] is not original
    instrumentor.uninstrument()
    assert vars(yaml)["load"] is original
