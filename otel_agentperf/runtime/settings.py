"""User settings, read once into a frozen :class:`Settings` snapshot: environment variables and a TOML file.

Every layer reads :func:`current`; nothing else in the package reads the environment. The snapshot is made
on first use (under the launcher, by its pre-instrument hook, before any instrumentor runs) and kept for
the life of the process; :func:`reload` makes a new one (tests, or an application that changes its
environment on purpose).

Environment variables (all optional):

- ``OTEL_AGENTPERF_ENABLED``: ``false`` turns every decorator, segment and target into a pass-through.
- ``OTEL_AGENTPERF_TARGETS``: comma-separated ``module:Qualified.name=kind`` entries.
- ``OTEL_AGENTPERF_MEMORY``: ``rss``, ``tracemalloc``, or ``both`` (also ``rss,tracemalloc``); off by default.
- ``OTEL_AGENTPERF_CONFIG_FILES`` / ``OTEL_AGENTPERF_HISTORY_FILES``: comma-separated file-name patterns
  that make a ``json.load``/``json.dump`` file a config load or a history operation (defaults below).
- ``OTEL_AGENTPERF_CONFIG``: path of a TOML file with the same settings; without it,
  ``[tool.otel-agentperf]`` in the nearest ``pyproject.toml`` is read: the working directory's, else its
  parent's and so on, stopping at a version-control root (a folder with ``.git``, ``.hg`` or ``.svn``) or
  the filesystem root, as a script started from a sub-folder of its project expects. The file whose
  settings are used is logged (info).
- ``OTEL_AGENTPERF_PRICES``: a TOML price file (see ``recording.prices``).
- ``OTEL_AGENTPERF_CAPTURE_FILE_PATHS``: ``true`` puts a config or history file's full path on its span.
- ``OTEL_AGENTPERF_CONTENT_MAX_LENGTH``: characters kept of each captured message part (default 4096).
- ``OTEL_AGENTPERF_CONFIGURE_SDK``, ``OTEL_AGENTPERF_FLUSH_ON_SIGTERM``: ``false`` leaves the SDK set-up,
  or SIGTERM, alone (see ``launcher`` and ``shutdown``).
- ``OTEL_AGENTPERF_LOOP_MONITOR``: ``false`` switches the asyncio loop monitor off;
  ``OTEL_AGENTPERF_LOOP_BLOCK_MS``: how long an operation must hold the loop to count as blocking it
  (default 20 ms; the monitor looks every quarter of that).
- ``OTEL_AGENTPERF_CPU_PROFILE``: ``true`` samples the stacks of running operations (about 100 a second)
  for their CPU hotspots (docs/metrics.md); off by default, and then nothing is started.
- ``OTEL_AGENTPERF_IMPORT_SPANS``: ``true`` also exports the cold start's slowest imports as spans (a trace
  of their own); off by default, as the table and the metric say the same.
- ``OTEL_AGENTPERF_SLOW_MS``: when an operation is slow enough for a log record: ``kind=ms`` pairs
  (``llm=5000,tool=500``) over the defaults in ``DEFAULT_SLOW_MS``, one number for every kind, or ``off``.
- ``OTEL_AGENTPERF_KEEP_COST_USD``: a request whose model calls cost more (US dollars) carries the keep hint
  ``costly`` (default 0.10; ``off`` never).

Read from the standard variables too: ``OTEL_SDK_DISABLED``, ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS``,
``OTEL_SEMCONV_STABILITY_OPT_IN``, ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` and
``OTEL_EXPORTER_OTLP_TIMEOUT``.

TOML keys: ``enabled`` (bool), ``memory`` (string or list), ``targets`` (list of entries, or a table
mapping ``"module:Qualified.name"`` to a kind), ``config_files`` and ``history_files`` (lists of
patterns), ``prices`` (a table of model prices, or the path of a price file; see ``prices``).
Environment variables win over the file; target lists are merged, the environment deciding the kind
of an entry named in both.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Any, NamedTuple

from otel_agentperf.runtime import failures, forksafe

ENABLED_ENV = "OTEL_AGENTPERF_ENABLED"
TARGETS_ENV = "OTEL_AGENTPERF_TARGETS"
MEMORY_ENV = "OTEL_AGENTPERF_MEMORY"
CONFIG_ENV = "OTEL_AGENTPERF_CONFIG"
CONFIG_FILES_ENV = "OTEL_AGENTPERF_CONFIG_FILES"
HISTORY_FILES_ENV = "OTEL_AGENTPERF_HISTORY_FILES"
PRICES_ENV = "OTEL_AGENTPERF_PRICES"
CAPTURE_PATHS_ENV = "OTEL_AGENTPERF_CAPTURE_FILE_PATHS"
CPU_PROFILE_ENV = "OTEL_AGENTPERF_CPU_PROFILE"
IMPORT_SPANS_ENV = "OTEL_AGENTPERF_IMPORT_SPANS"
MAX_LENGTH_ENV = "OTEL_AGENTPERF_CONTENT_MAX_LENGTH"
CONFIGURE_SDK_ENV = "OTEL_AGENTPERF_CONFIGURE_SDK"
FLUSH_ON_SIGTERM_ENV = "OTEL_AGENTPERF_FLUSH_ON_SIGTERM"
LOOP_MONITOR_ENV = "OTEL_AGENTPERF_LOOP_MONITOR"
LOOP_BLOCK_MS_ENV = "OTEL_AGENTPERF_LOOP_BLOCK_MS"
DEFAULT_LOOP_BLOCK_MS = 20.0
SLOW_MS_ENV = "OTEL_AGENTPERF_SLOW_MS"
KEEP_COST_ENV = "OTEL_AGENTPERF_KEEP_COST_USD"
DEFAULT_KEEP_COST_USD = 0.10
# Past these, an operation is logged as slow (milliseconds): generous, for what is slow for each kind.
DEFAULT_SLOW_MS: dict[str, float] = {
    "agent": 60_000.0,
    "create_agent": 1_000.0,
    "tool": 10_000.0,
    "llm": 30_000.0,
    "workflow": 300_000.0,
    "config": 500.0,
    "history": 1_000.0,
    "segment": 10_000.0,
    "mcp": 10_000.0,
}
CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
OPT_IN_ENV = "OTEL_SEMCONV_STABILITY_OPT_IN"
LATEST_EXPERIMENTAL = "gen_ai_latest_experimental"
TIMEOUT_ENV = "OTEL_EXPORTER_OTLP_TIMEOUT"
DEFAULT_CONFIG_FILES = ("*config*", "*settings*", "*.conf.json")
DEFAULT_HISTORY_FILES = ("*history*", "*.jsonl", "*conversation*", "*transcript*", "*messages*", "*checkpoint*")
DEFAULT_MAX_LENGTH = 4096
DEFAULT_TIMEOUT_S = 10.0  # the OTLP exporters' default timeout
MEMORY_MODES = ("rss", "tracemalloc")
MEMORY_BOTH = "both"  # every mode in MEMORY_MODES
VCS_MARKERS = (".git", ".hg", ".svn")  # a folder holding one is a repository's root: the search stops there
PYPROJECT_TABLE = "otel-agentperf"
ENTRY_POINT_NAME = "otel_agentperf"  # the core instrumentor's entry point: also the package's off switch

_FALSE = frozenset({"false", "0", "no", "off"})
_TRUE = frozenset({"true", "1", "yes", "on"})
# The GenAI capture switch's own values: content goes on spans (no events are emitted).
_CAPTURE_ON = frozenset({"true", "span_only", "span_and_event"})
_CAPTURE_OFF = frozenset({"", "false", "no_content", "event_only"})
# "budgets" is read by otel-agentperf check, not the app: known, so that the app does not warn about it.
_KNOWN_KEYS = {"enabled", "memory", "targets", "config_files", "history_files", "prices", "budgets"}


DEFAULT_SLOW_THRESHOLDS_S = tuple((kind, ms / 1000) for kind, ms in DEFAULT_SLOW_MS.items())


class Settings(NamedTuple):
    """Everything every layer needs to know from the user, merged from the file and the environment.

    A NamedTuple, as the package's other value records: made at import in every process start-up, where a
    frozen dataclass of this size costs about 1 ms to create, a NamedTuple 0.15 ms.
    """

    enabled: bool = True
    memory: frozenset[str] = frozenset()
    targets: tuple[str, ...] = ()
    config_files: tuple[str, ...] = DEFAULT_CONFIG_FILES
    history_files: tuple[str, ...] = DEFAULT_HISTORY_FILES
    latest_experimental: bool = False
    capture_content: bool = False
    content_max_length: int = DEFAULT_MAX_LENGTH
    capture_file_paths: bool = False
    cpu_profile: bool = False  # sample running operations' stacks for their CPU hotspots
    import_spans: bool = False  # export the cold start's slowest imports as spans too
    configure_sdk: bool = True
    sdk_disabled: bool = False  # OTEL_SDK_DISABLED=true: the SDK is off, so nothing of ours sets it up
    flush_on_sigterm: bool = True
    exporter_timeout_s: float = DEFAULT_TIMEOUT_S
    loop_monitor: bool = True
    loop_block_threshold_s: float = DEFAULT_LOOP_BLOCK_MS / 1000
    # (kind, seconds) pairs: an operation of that kind taking longer is logged as slow.
    slow_thresholds_s: tuple[tuple[str, float], ...] = DEFAULT_SLOW_THRESHOLDS_S
    keep_cost_usd: float = DEFAULT_KEEP_COST_USD  # a request costing more is hinted ``costly``; inf: never
    prices: Any = None  # the settings file's ``prices`` models table, or None
    prices_source: str = ""  # where that table came from, for warnings
    prices_file: str | None = None  # OTEL_AGENTPERF_PRICES
    file: str = ""  # the settings file read, "" when none


_current: Settings | None = None
_lock = forksafe.lock()


def current() -> Settings:
    """The snapshot; made from the environment and the settings file on first use."""
    found = _current
    return found if found is not None else reload(only_if_missing=True)


def reload(only_if_missing: bool = False) -> Settings:
    """Read the environment and the settings file again into a new snapshot, and use it from now on."""
    global _current
    with _lock:
        if only_if_missing and _current is not None:
            return _current
        _current = _load(os.environ)
        return _current


def _flag(environ: os._Environ[str] | dict[str, str], name: str, default: bool) -> bool:
    """A boolean variable: true/1/yes/on or false/0/no/off; anything else keeps the default, with a warning."""
    value = environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in _TRUE or value in _FALSE:
        return value in _TRUE
    failures.warn_once(
        f"flag:{name}:{value}",
        "otel-agentperf: %s=%r is not true/false; using %s",
        name,
        value,
        "true" if default else "false",
    )
    return default


def _sdk_disabled(environ: os._Environ[str] | dict[str, str]) -> bool:
    return environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def _disabled_by_opentelemetry(environ: os._Environ[str] | dict[str, str]) -> bool:
    """``OTEL_SDK_DISABLED=true``, or ``otel_agentperf`` (or ``*``) in ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS``.

    Either turns the whole package off: no decorator, target or library instrumentor installs a wrapper.
    Only the first also leaves the SDK unconfigured: disabling our instrumentations is not disabling the
    SDK, which the app's own spans and other instrumentations still need (``launcher``).
    """
    if _sdk_disabled(environ):
        return True
    disabled = {name.strip() for name in environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "").split(",")}
    return ENTRY_POINT_NAME in disabled or "*" in disabled


def _capture(environ: os._Environ[str] | dict[str, str]) -> bool:
    value = environ.get(CAPTURE_ENV, "").strip().lower()
    if value in _CAPTURE_ON:
        return True
    if value not in _CAPTURE_OFF:
        failures.warn_once(
            f"capture:{value}", "otel-agentperf: %s=%r is not recognised; content is not captured", CAPTURE_ENV, value
        )
    elif value == "event_only":
        failures.warn_once("capture:event_only", "otel-agentperf: content events are not emitted; nothing captured")
    return False


def _max_length(environ: os._Environ[str] | dict[str, str]) -> int:
    value = environ.get(MAX_LENGTH_ENV, "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    if value:
        failures.warn_once(
            f"max-length:{value}", "otel-agentperf: %s=%r is not a positive integer", MAX_LENGTH_ENV, value
        )
    return DEFAULT_MAX_LENGTH


def _timeout(environ: os._Environ[str] | dict[str, str]) -> float:
    """The exporter timeout the user configured for the SDK (seconds), which bounds our exit flush too."""
    value = environ.get(TIMEOUT_ENV, "")
    try:
        return float(value) if value else DEFAULT_TIMEOUT_S
    except ValueError:
        return DEFAULT_TIMEOUT_S


def _block_threshold(environ: os._Environ[str] | dict[str, str]) -> float:
    """How long (seconds) an operation must hold the event loop to count as blocking it."""
    value = environ.get(LOOP_BLOCK_MS_ENV, "").strip()
    try:
        milliseconds = float(value) if value else DEFAULT_LOOP_BLOCK_MS
    except ValueError:
        milliseconds = -1.0
    if milliseconds <= 0:
        failures.warn_once(
            f"block-ms:{value}",
            "otel-agentperf: %s=%r is not a positive number of milliseconds; using %g",
            LOOP_BLOCK_MS_ENV,
            value,
            DEFAULT_LOOP_BLOCK_MS,
        )
        milliseconds = DEFAULT_LOOP_BLOCK_MS
    return milliseconds / 1000


def _slow_thresholds(environ: os._Environ[str] | dict[str, str]) -> tuple[tuple[str, float], ...]:
    """Per kind, how long (seconds) an operation may take before it is logged as slow."""
    value = environ.get(SLOW_MS_ENV, "").strip()
    thresholds = dict(DEFAULT_SLOW_MS)
    if value.lower() in _FALSE:
        return ()
    for item in (part.strip() for part in value.split(",") if part.strip()):
        kind, _, number = item.rpartition("=")
        kinds = [kind.strip()] if kind else list(thresholds)
        try:
            milliseconds = float(number)
        except ValueError:
            milliseconds = -1.0
        if milliseconds <= 0 or any(k not in thresholds for k in kinds):
            failures.warn_once(
                f"slow-ms:{item}",
                "otel-agentperf: ignoring %r in %s: use kind=milliseconds with kind one of %s, or one number",
                item,
                SLOW_MS_ENV,
                ", ".join(thresholds),
            )
            continue
        thresholds.update(dict.fromkeys(kinds, milliseconds))
    return tuple((kind, milliseconds / 1000) for kind, milliseconds in thresholds.items())


def _keep_cost(environ: os._Environ[str] | dict[str, str]) -> float:
    """US dollars a request's model calls must cost past for its keep hint ``costly`` (inf: off)."""
    value = environ.get(KEEP_COST_ENV, "").strip()
    if not value:
        return DEFAULT_KEEP_COST_USD
    if value.lower() in _FALSE:
        return math.inf
    try:
        dollars = float(value)
    except ValueError:
        dollars = -1.0
    if dollars < 0 or math.isnan(dollars):
        failures.warn_once(
            f"keep-cost:{value}",
            "otel-agentperf: %s=%r is not a number of US dollars (or off); using %g",
            KEEP_COST_ENV,
            value,
            DEFAULT_KEEP_COST_USD,
        )
        return DEFAULT_KEEP_COST_USD
    return dollars


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
        if mode == MEMORY_BOTH:
            modes.update(MEMORY_MODES)
        elif mode in MEMORY_MODES:
            modes.add(mode)
        else:
            failures.warn_once(
                f"memory:{mode}",
                "otel-agentperf: unknown memory mode %r in %s (use %s or %s)",
                mode,
                source,
                ", ".join(MEMORY_MODES),
                MEMORY_BOTH,
            )
    return frozenset(modes)


def _patterns(environ: os._Environ[str] | dict[str, str], name: str) -> tuple[str, ...] | None:
    value = environ.get(name)
    return None if value is None else tuple(p.strip() for p in value.split(",") if p.strip())


def _load(environ: os._Environ[str] | dict[str, str]) -> Settings:
    """Merge the TOML file (if any) with the environment; bad entries are warned about and skipped."""
    found: dict[str, Any] = {}
    try:
        found = _from_file(environ)
    except Exception as exc:  # never let a settings mistake stop the launcher loading instrumentors
        failures.report("reading the otel-agentperf settings file", exc)
    enabled = _flag(environ, ENABLED_ENV, True)
    found["enabled"] = found.get("enabled", True) and enabled and not _disabled_by_opentelemetry(environ)
    if environ.get(MEMORY_ENV):
        found["memory"] = _parse_memory(environ[MEMORY_ENV], MEMORY_ENV)
    env_targets = tuple(entry.strip() for entry in environ.get(TARGETS_ENV, "").split(",") if entry.strip())
    found["targets"] = (*found.get("targets", ()), *env_targets)
    for name, key in ((CONFIG_FILES_ENV, "config_files"), (HISTORY_FILES_ENV, "history_files")):
        patterns = _patterns(environ, name)
        if patterns is not None:
            found[key] = patterns
    tokens = {token.strip() for token in environ.get(OPT_IN_ENV, "").split(",")}
    return Settings(
        **found,
        latest_experimental=LATEST_EXPERIMENTAL in tokens,
        capture_content=_capture(environ),
        content_max_length=_max_length(environ),
        capture_file_paths=_flag(environ, CAPTURE_PATHS_ENV, False),
        cpu_profile=_flag(environ, CPU_PROFILE_ENV, False),
        import_spans=_flag(environ, IMPORT_SPANS_ENV, False),
        configure_sdk=_flag(environ, CONFIGURE_SDK_ENV, True),
        sdk_disabled=_sdk_disabled(environ),
        flush_on_sigterm=_flag(environ, FLUSH_ON_SIGTERM_ENV, True),
        exporter_timeout_s=_timeout(environ),
        loop_monitor=_flag(environ, LOOP_MONITOR_ENV, True),
        loop_block_threshold_s=_block_threshold(environ),
        slow_thresholds_s=_slow_thresholds(environ),
        keep_cost_usd=_keep_cost(environ),
        prices_file=environ.get(PRICES_ENV) or None,
    )


def _from_file(environ: os._Environ[str] | dict[str, str]) -> dict[str, Any]:
    """The settings file's options: each bad one is warned about, by file and key, and skipped."""
    table, source = _read_file(environ)
    found: dict[str, Any] = {"file": source}
    for key in sorted(set(table) - _KNOWN_KEYS):
        failures.warn_once(f"key:{source}:{key}", "otel-agentperf: unknown option %r in %s; ignored", key, source)
    if "enabled" in table:
        if isinstance(table["enabled"], bool):
            found["enabled"] = table["enabled"]
        else:
            failures.warn_once(f"enabled:{source}", "otel-agentperf: 'enabled' in %s must be true or false", source)
    if "memory" in table:
        found["memory"] = _parse_memory(table["memory"], source)
    found["targets"] = tuple(_file_targets(table.get("targets", []), source))
    for key in ("config_files", "history_files"):
        if key in table:
            value = table[key]
            if isinstance(value, list) and all(isinstance(item, str) for item in value):
                found[key] = tuple(value)
            else:
                failures.warn_once(
                    f"{key}:{source}", "otel-agentperf: %r in %s must be a list of patterns", key, source
                )
    value = table.get("prices")
    if isinstance(value, str):  # the path of a price file, relative to the settings file
        path = Path(source).parent / value
        data = read_toml(path)
        found["prices"], found["prices_source"] = (data.get("models", data) if data is not None else None), str(path)
    elif value is not None:
        found["prices"], found["prices_source"] = value, f"{source} (prices)"
    return found


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


def nearest_pyproject(start: Path) -> Path | None:
    """The ``pyproject.toml`` in ``start`` or the closest folder above it, not above a repository's root."""
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
        if any((folder / marker).exists() for marker in VCS_MARKERS):
            return None
    return None


def _read_file(environ: os._Environ[str] | dict[str, str]) -> tuple[dict[str, Any], str]:
    explicit = environ.get(CONFIG_ENV)
    found = Path(explicit) if explicit else nearest_pyproject(Path.cwd())
    if found is None:
        return {}, ""
    path = found
    data = read_toml(path)
    if data is None:
        return {}, str(path)
    tool = data.get("tool")
    if explicit:
        table = tool.get(PYPROJECT_TABLE, data) if isinstance(tool, dict) else data
    elif isinstance(tool, dict) and PYPROJECT_TABLE in tool:
        table = tool[PYPROJECT_TABLE]
    else:
        return {}, str(path)  # the nearest pyproject.toml has no settings of ours: nothing used, nothing said
    if not isinstance(table, dict):
        failures.warn_once(f"table:{path}", "otel-agentperf: settings in %s are not a table", path)
        return {}, str(path)
    failures.logger.info("otel-agentperf: settings from %s", path)
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
