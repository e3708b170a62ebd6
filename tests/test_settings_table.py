"""The settings table: every row read from the environment and from the file, every bad value one warning.

Each row has a sample here (a good value in each form it can come in, the field it gives, and a bad
value), so a row added without one fails ``test_every_row_has_a_sample``. ``settings.load`` is given its
environment directly and a settings file in ``tmp_path``: nothing of the process changes.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from otel_agentperf.recording import prices
from otel_agentperf.runtime import settings
from otel_agentperf.runtime.setting_types import PriceSource

ROOT = Path(__file__).resolve().parent.parent


class Sample(NamedTuple):
    env: str  # a good value of the variable
    env_gives: Any
    toml: str | None  # a good TOML value of the file key (None: the file has no key for it)
    toml_gives: Any
    bad_env: str | None  # a value the variable cannot take (None: every text is a value)
    bad_toml: str | None  # a TOML value the key cannot take


BOTH_MEMORY = frozenset(settings.MEMORY_MODES)
SLOW_LLM_5S = tuple((kind, 5.0 if kind == "llm" else ms / 1000) for kind, ms in settings.DEFAULT_SLOW_MS.items())

SAMPLES: dict[str, Sample] = {
    "enabled": Sample("off", False, "false", False, "zzbad", '"yes"'),
    "targets": Sample("m:f=tool", ("m:f=tool",), '["m:g=agent"]', ("m:g=agent",), None, '"m:g=agent"'),
    "config_file": Sample("", None, None, None, None, None),  # set below to the settings file
    "memory": Sample("both", BOTH_MEMORY, '["rss"]', frozenset({"rss"}), "zzbad", "true"),
    "configure_sdk": Sample("no", False, "false", False, "zzbad", "0"),
    "config_files": Sample("*.cfg", ("*.cfg",), '["*.ini"]', ("*.ini",), None, "[1, 2]"),
    "history_files": Sample("*.log", ("*.log",), '["*.db"]', ("*.db",), None, '"*.db"'),
    "capture_file_paths": Sample("on", True, "true", True, "zzbad", '"on"'),
    "latest_experimental": Sample("gen_ai_latest_experimental", True, None, None, None, None),
    "prices": Sample(
        "/p/env.toml", (PriceSource("/p/env.toml", path="/p/env.toml"),), '"file.toml"', "<file>", None, "5"
    ),
    "capture_content": Sample("span_only", True, None, None, "zzbad", None),
    "content_max_length": Sample("100", 100, "200", 200, "zzbad", "-3"),
    "flush_on_sigterm": Sample("0", False, "false", False, "zzbad", "[]"),
    "loop_block_threshold_s": Sample("50", 0.05, "70", 0.07, "zzbad", "0"),
    "slow_thresholds_s": Sample("llm=5000", SLOW_LLM_5S, "{ llm = 5000 }", SLOW_LLM_5S, None, "[1]"),
    "cpu_profile": Sample("1", True, "true", True, "zzbad", "1"),
    "import_spans": Sample("yes", True, "true", True, "zzbad", '"true"'),
    "loop_monitor": Sample("false", False, "false", False, "zzbad", "{}"),
    "keep_cost_usd": Sample("1.5", 1.5, "2.5", 2.5, "zzbad", "-1"),
    "sdk_disabled": Sample("true", True, None, None, "zzbad", None),
    "ours_disabled": Sample("otel_agentperf", True, None, None, None, None),
    "exporter_timeout_s": Sample("3", 3.0, None, None, "zzbad", None),
}


def _settings_file(tmp_path: Path, body: str) -> dict[str, str]:
    """An environment naming a settings file with ``body``."""
    path = tmp_path / "agentperf.toml"
    path.write_text(body)
    return {settings.CONFIG_ENV: str(path)}


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]


def test_every_row_has_a_sample_and_every_field_a_row() -> None:
    fields = [row.field for row in settings.ROWS]
    assert sorted(fields) == sorted(SAMPLES)
    assert set(settings.Settings._fields) - set(fields) == {"file"}
    assert len({row.env for row in settings.ROWS}) == len(fields)
    keys = [row.key for row in settings.ROWS if row.key]
    assert len(set(keys)) == len(keys)


def test_the_readme_settings_table_is_the_rows() -> None:
    readme = (ROOT / "README.md").read_text()
    assert settings.markdown_table() in readme, "README's settings table differs: paste settings.markdown_table()"


@pytest.mark.parametrize("row", settings.ROWS, ids=lambda row: row.field)
def test_every_row_is_read_from_the_environment(row: settings.Row, tmp_path: Path) -> None:
    sample = SAMPLES[row.field]
    value, expected = sample.env, sample.env_gives
    if row.field == "config_file":
        value = expected = _settings_file(tmp_path, "")[settings.CONFIG_ENV]
    loaded = settings.load({**_settings_file(tmp_path, ""), row.env: value})
    assert getattr(loaded, row.field) == expected


@pytest.mark.parametrize("row", [row for row in settings.ROWS if row.key], ids=lambda row: row.field)
def test_every_row_with_a_key_is_read_from_the_file(row: settings.Row, tmp_path: Path) -> None:
    sample = SAMPLES[row.field]
    loaded = settings.load(_settings_file(tmp_path, f"{row.key} = {sample.toml}\n"))
    expected = sample.toml_gives
    if expected == "<file>":  # a price file named in the settings file is relative to it
        expected = (PriceSource(str(tmp_path / "file.toml"), path=str(tmp_path / "file.toml")),)
    assert getattr(loaded, row.field) == expected


@pytest.mark.parametrize("row", [row for row in settings.ROWS if SAMPLES[row.field].bad_env], ids=lambda r: r.field)
def test_a_bad_variable_is_one_warning_naming_it_and_its_problem_and_not_the_value(
    row: settings.Row, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad = SAMPLES[row.field].bad_env or ""
    environ = {**_settings_file(tmp_path, ""), row.env: bad}
    with caplog.at_level(logging.WARNING, logger="otel_agentperf"):
        loaded = settings.load(environ)
        settings.load(environ)  # read again (a reload): not said again
    ours = [message for message in _warnings(caplog) if row.env in message]
    assert len(ours) == 1 and bad not in ours[0] and ours[0].endswith("ignored")
    assert getattr(loaded, row.field) == getattr(settings.Settings(), row.field)  # the default holds


@pytest.mark.parametrize("row", [row for row in settings.ROWS if SAMPLES[row.field].bad_toml], ids=lambda r: r.field)
def test_a_bad_file_value_is_one_warning_naming_the_key_and_file_and_the_rest_applies(
    row: settings.Row, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    other = "history_files" if row.key != "history_files" else "config_files"
    environ = _settings_file(tmp_path, f'{row.key} = {SAMPLES[row.field].bad_toml}\n{other} = ["*.kept"]\n')
    with caplog.at_level(logging.WARNING, logger="otel_agentperf"):
        loaded = settings.load(environ)
        settings.load(environ)
    (warning,) = _warnings(caplog)
    assert f"{row.key!r} in {environ[settings.CONFIG_ENV]}" in warning
    assert getattr(loaded, row.field) == getattr(settings.Settings(), row.field)
    assert getattr(loaded, other) == ("*.kept",)


def test_the_environment_wins_lists_from_both_apply_and_either_off_switch_is_off(tmp_path: Path) -> None:
    environ = _settings_file(
        tmp_path, 'loop_block_ms = 70\ntargets = ["m:a=tool"]\nprices = { m = { input = 1, output = 2 } }\n'
    )
    loaded = settings.load({**environ, settings.LOOP_BLOCK_MS_ENV: "50", "OTEL_AGENTPERF_TARGETS": "m:b=agent"})
    assert loaded.loop_block_threshold_s == 0.05
    assert loaded.targets == ("m:a=tool", "m:b=agent")  # the environment's last: it decides a kind named twice
    assert [source.models for source in loaded.prices] == [{"m": {"input": 1, "output": 2}}]
    assert settings.load({**environ, "OTEL_AGENTPERF_ENABLED": "true"}).enabled
    off_in_file = _settings_file(tmp_path, "enabled = false\n")
    assert not settings.load({**off_in_file, "OTEL_AGENTPERF_ENABLED": "true"}).enabled
    assert not settings.load({**environ, "OTEL_SDK_DISABLED": "true"}).enabled
    assert not settings.load({**environ, "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "x, otel_agentperf"}).enabled


def test_off_and_partly_bad_values_keep_their_good_parts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    environ = _settings_file(tmp_path, "")
    assert settings.load({**environ, settings.KEEP_COST_ENV: "off"}).keep_cost_usd == math.inf
    assert settings.load({**environ, settings.SLOW_MS_ENV: "off"}).slow_thresholds_s == ()
    with caplog.at_level(logging.WARNING, logger="otel_agentperf"):
        loaded = settings.load({**environ, "OTEL_AGENTPERF_MEMORY": "rss,zzbad", settings.SLOW_MS_ENV: "zz=1,llm=5000"})
    assert loaded.memory == frozenset({"rss"}) and loaded.slow_thresholds_s == SLOW_LLM_5S
    warnings = _warnings(caplog)
    assert len(warnings) == 2 and all("zz" not in warning for warning in warnings)
    assert "OTEL_AGENTPERF_MEMORY has an unknown memory mode (entry 2" in warnings[0]


def test_the_price_table_is_rebuilt_with_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings_file = tmp_path / "agentperf.toml"
    settings_file.write_text('[prices."house-model"]\ninput = 1.0\noutput = 2.0\n')
    monkeypatch.setenv(settings.CONFIG_ENV, str(settings_file))
    settings.reload()
    first = prices.table()
    assert prices.table() is first and first.price("house-model") == prices.Price(1.0, 2.0)
    settings_file.write_text('[prices."house-model"]\ninput = 3.0\noutput = 4.0\n')
    settings.reload()
    assert prices.table().price("house-model") == prices.Price(3.0, 4.0)
