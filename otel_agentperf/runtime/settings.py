"""User settings: environment variables and an optional TOML file.

Environment variables (all optional):

- ``OTEL_AGENTPERF_ENABLED``: ``false`` turns every decorator, segment and target into a pass-through.
- ``OTEL_AGENTPERF_TARGETS``: comma-separated ``module:Qualified.name=kind`` entries.
- ``OTEL_AGENTPERF_MEMORY``: ``rss``, ``tracemalloc`` or both (comma-separated); off by default.
- ``OTEL_AGENTPERF_CONFIG_FILES`` / ``OTEL_AGENTPERF_HISTORY_FILES``: comma-separated file-name patterns
  that make a ``json.load``/``json.dump`` file a config load or a history operation (defaults below).
- ``OTEL_AGENTPERF_CONFIG``: path of a TOML file with the same settings; without it,
  ``[tool.otel-agentperf]`` in the working directory's ``pyproject.toml`` is read.

TOML keys: ``enabled`` (bool), ``memory`` (string or list), ``targets`` (list of entries, or a table
mapping ``"module:Qualified.name"`` to a kind), ``config_files`` and ``history_files`` (lists of
patterns), ``prices`` (a table of model prices, or the path of a price file; see ``prices``).
Environment variables win over the file; target lists are merged, the environment deciding the kind
of an entry named in both.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from otel_agentperf.recording import memory
from otel_agentperf.runtime import failures

ENABLED_ENV = "OTEL_AGENTPERF_ENABLED"
TARGETS_ENV = "OTEL_AGENTPERF_TARGETS"
MEMORY_ENV = "OTEL_AGENTPERF_MEMORY"
CONFIG_ENV = "OTEL_AGENTPERF_CONFIG"
CONFIG_FILES_ENV = "OTEL_AGENTPERF_CONFIG_FILES"
HISTORY_FILES_ENV = "OTEL_AGENTPERF_HISTORY_FILES"
DEFAULT_CONFIG_FILES = ("*config*", "*settings*", "*.conf.json")
DEFAULT_HISTORY_FILES = ("*history*", "*.jsonl", "*conversation*", "*transcript*", "*messages*", "*checkpoint*")
PYPROJECT_TABLE = "otel-agentperf"
OPT_IN_ENV = "OTEL_SEMCONV_STABILITY_OPT_IN"
LATEST_EXPERIMENTAL = "gen_ai_latest_experimental"
ENTRY_POINT_NAME = "otel_agentperf"  # the core instrumentor's entry point: also the package's off switch

_FALSE = {"false", "0", "no", "off"}
_TRUE = {"true", "1", "yes", "on"}
_KNOWN_KEYS = {"enabled", "memory", "targets", "config_files", "history_files", "prices"}


def disabled_by_opentelemetry() -> bool:
    """``OTEL_SDK_DISABLED=true``, or ``otel_agentperf`` (or ``*``) in ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS``.

    Either turns the whole package off: no decorator, target or library instrumentor installs a wrapper.
    """
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return True
    disabled = {name.strip() for name in os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "").split(",")}
    return ENTRY_POINT_NAME in disabled or "*" in disabled


def latest_experimental() -> bool:
    """True when the user opted in to the newest GenAI conventions (``OTEL_SEMCONV_STABILITY_OPT_IN``)."""
    tokens = os.environ.get(OPT_IN_ENV, "")
    return LATEST_EXPERIMENTAL in {token.strip() for token in tokens.split(",")}


def enabled() -> bool:
    """Read on every decoration so the switch works without re-importing anything."""
    value = os.environ.get(ENABLED_ENV, "").strip().lower()
    if value and value not in _FALSE | _TRUE:
        failures.warn_once(
            f"enabled:{value}", "otel-agentperf: %s=%r is not true/false; staying enabled", ENABLED_ENV, value
        )
    return value not in _FALSE and not disabled_by_opentelemetry()


def memory_modes() -> frozenset[str]:
    """The memory measurements switched on by ``OTEL_AGENTPERF_MEMORY`` (none by default)."""
    return _parse_memory(os.environ.get(MEMORY_ENV, ""), MEMORY_ENV)


def _parse_memory(value: object, source: str) -> frozenset[str]:
    if isinstance(value, str):
        items: list[object] = list(value.split(","))
    elif isinstance(value, list):
        items = value
    else:
        failures.warn_once(
            f"memory-type:{source}", "otel-agentperf: 'memory' in %s must be a string or a list; ignored", source
        )
        return frozenset()
    modes: set[str] = set()
    for item in items:
        mode = str(item).strip().lower()
        if not mode or mode in {"off", "false", "none"}:
            continue
        if mode in memory.MODES:
            modes.add(mode)
        else:
            failures.warn_once(
                f"memory:{mode}",
                "otel-agentperf: unknown memory mode %r in %s (use %s)",
                mode,
                source,
                ", ".join(memory.MODES),
            )
    return frozenset(modes)


@dataclass
class Settings:
    """Everything the instrumentor needs, merged from the file and the environment."""

    enabled: bool = True
    memory: frozenset[str] = frozenset()
    targets: list[str] = field(default_factory=list)
    config_files: tuple[str, ...] = DEFAULT_CONFIG_FILES
    history_files: tuple[str, ...] = DEFAULT_HISTORY_FILES


def load() -> Settings:
    """Merge the TOML file (if any) with the environment; bad entries are warned about and skipped."""
    result = Settings()
    try:
        _apply_file(result)
    except Exception as exc:  # never let a settings mistake stop the launcher loading instrumentors
        failures.report("reading the otel-agentperf settings file", exc)
    result.enabled = result.enabled and enabled()
    if os.environ.get(MEMORY_ENV):
        result.memory = memory_modes()
    result.targets += [entry.strip() for entry in os.environ.get(TARGETS_ENV, "").split(",") if entry.strip()]
    for env, key in ((CONFIG_FILES_ENV, "config_files"), (HISTORY_FILES_ENV, "history_files")):
        if os.environ.get(env) is not None:
            setattr(result, key, tuple(p.strip() for p in os.environ[env].split(",") if p.strip()))
    return result


def _apply_file(result: Settings) -> None:
    """The settings file's options onto ``result``: each bad one is warned about, by file and key, and skipped."""
    table, source = _read_file()
    for key in sorted(set(table) - _KNOWN_KEYS):
        failures.warn_once(f"key:{source}:{key}", "otel-agentperf: unknown option %r in %s; ignored", key, source)
    if "enabled" in table:
        if isinstance(table["enabled"], bool):
            result.enabled = table["enabled"]
        else:
            failures.warn_once(f"enabled:{source}", "otel-agentperf: 'enabled' in %s must be true or false", source)
    if "memory" in table:
        result.memory = _parse_memory(table["memory"], source)
    result.targets = _file_targets(table.get("targets", []), source)
    for key in ("config_files", "history_files"):
        if key in table:
            value = table[key]
            if isinstance(value, list) and all(isinstance(item, str) for item in value):
                setattr(result, key, tuple(value))
            else:
                failures.warn_once(
                    f"{key}:{source}", "otel-agentperf: %r in %s must be a list of patterns", key, source
                )


def price_overrides() -> tuple[Any, str]:
    """The settings file's ``prices``: its models table (read from the file it names), or None."""
    table, source = _read_file()
    value = table.get("prices")
    if not isinstance(value, str):
        return value, f"{source} (prices)"
    path = Path(source).parent / value
    data = read_toml(path)
    return (data.get("models", data) if data is not None else None), str(path)


def read_toml(path: Path) -> dict[str, Any] | None:
    """A TOML file read with our own instrumentation suppressed; None (and one warning) if unreadable."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10
        import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    try:
        with suppress_instrumentation(), path.open("rb") as handle:  # our own read is not the app's load
            return tomllib.load(handle)
    except (OSError, ValueError) as exc:  # ValueError: not TOML, or not UTF-8
        failures.warn_once(f"file:{path}", "otel-agentperf: cannot read %s: %s", path, exc)
        return None


def _read_file() -> tuple[dict[str, Any], str]:
    explicit = os.environ.get(CONFIG_ENV)
    path = Path(explicit) if explicit else Path.cwd() / "pyproject.toml"
    if not explicit and not path.is_file():
        return {}, ""
    data = read_toml(path)
    if data is None:
        return {}, str(path)
    tool = data.get("tool")
    if explicit:
        table = tool.get(PYPROJECT_TABLE, data) if isinstance(tool, dict) else data
    else:
        table = tool.get(PYPROJECT_TABLE, {}) if isinstance(tool, dict) else {}
    if not isinstance(table, dict):
        failures.warn_once(f"table:{path}", "otel-agentperf: settings in %s are not a table", path)
        return {}, str(path)
    return table, str(path)


def _file_targets(value: Any, source: str) -> list[str]:
    if isinstance(value, dict):
        return [f"{path}={kind}" for path, kind in value.items()]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    failures.warn_once(
        f"targets:{source}", "otel-agentperf: 'targets' in %s must be a list of strings or a table; ignored", source
    )
    return []
