"""User settings: one declarative table, read once into a frozen :class:`Settings` snapshot.

Every setting is one :class:`Row` of :data:`ROWS`: the field of the snapshot, the environment variable,
the key in the settings file, the type (one parser per type, ``setting_types``), the default and what it
does. The README's settings table is :func:`markdown_table` of these rows (a test holds them equal).

A value is read from the environment and from the settings file: ``OTEL_AGENTPERF_CONFIG`` names a TOML
file, or else ``[tool.otel-agentperf]`` in the nearest ``pyproject.toml`` is read (the working directory's,
else its parent's and so on, stopping at a version-control root, a folder with ``.git``, ``.hg`` or
``.svn``, or the filesystem root, as a script started from a sub-folder of its project expects). The
environment wins over the file; targets and price tables from both apply (the environment's last), and
the package is on only if neither turns it off. Every bad value is one warning naming the variable, or
the file and key, and what is wrong with it (never the value); the rest applies. The standard
OpenTelemetry variables are read by OpenTelemetry's own rules.

Every layer reads :func:`current`; nothing else in the package reads the environment. The snapshot is made
on first use (under the launcher, by its pre-instrument hook, before any instrumentor runs) and kept for
the life of the process; :func:`reload` makes a new one (tests, or an application that changes its
environment on purpose), and whatever is built from the settings (the price table) is rebuilt with it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from otel_agentperf.runtime import failures, forksafe
from otel_agentperf.runtime import setting_types as types
from otel_agentperf.runtime.setting_types import DEFAULT_SLOW_MS, MEMORY_MODES, PriceSource

__all__ = ["DEFAULT_SLOW_MS", "MEMORY_MODES", "PriceSource"]

CONFIG_ENV = "OTEL_AGENTPERF_CONFIG"
CAPTURE_PATHS_ENV = "OTEL_AGENTPERF_CAPTURE_FILE_PATHS"
LOOP_MONITOR_ENV = "OTEL_AGENTPERF_LOOP_MONITOR"
LOOP_BLOCK_MS_ENV = "OTEL_AGENTPERF_LOOP_BLOCK_MS"
SLOW_MS_ENV = "OTEL_AGENTPERF_SLOW_MS"
KEEP_COST_ENV = "OTEL_AGENTPERF_KEEP_COST_USD"
DEFAULT_LOOP_BLOCK_MS = 20.0
DEFAULT_KEEP_COST_USD = 0.10
DEFAULT_CONFIG_FILES = ("*config*", "*settings*", "*.conf.json")
DEFAULT_HISTORY_FILES = ("*history*", "*.jsonl", "*conversation*", "*transcript*", "*messages*", "*checkpoint*")
DEFAULT_MAX_LENGTH = 4096
DEFAULT_TIMEOUT_S = 10.0  # the OTLP exporters' default timeout
DEFAULT_SLOW_THRESHOLDS_S = tuple((kind, ms / 1000) for kind, ms in DEFAULT_SLOW_MS.items())
VCS_MARKERS = (".git", ".hg", ".svn")  # a folder holding one is a repository's root: the search stops there
PYPROJECT_TABLE = "otel-agentperf"
# Read by otel-agentperf check, not the app: known, so that the app does not warn about it.
OTHER_FILE_KEYS = frozenset({"budgets"})


class Settings(NamedTuple):
    """Everything every layer needs to know from the user: one field per row of :data:`ROWS`, and ``file``.

    A NamedTuple, as the package's other value records: made at import in every process start-up, where a
    frozen dataclass of this size costs about 1 ms to create, a NamedTuple 0.15 ms.
    """

    enabled: bool = True
    ours_disabled: bool = False  # OTEL_PYTHON_DISABLED_INSTRUMENTATIONS names the package (folded into enabled)
    sdk_disabled: bool = False  # OTEL_SDK_DISABLED=true: the SDK is off, so nothing of ours sets it up
    config_file: str | None = None  # OTEL_AGENTPERF_CONFIG
    targets: tuple[str, ...] = ()
    memory: frozenset[str] = frozenset()
    config_files: tuple[str, ...] = DEFAULT_CONFIG_FILES
    history_files: tuple[str, ...] = DEFAULT_HISTORY_FILES
    capture_file_paths: bool = False
    latest_experimental: bool = False
    prices: tuple[PriceSource, ...] = ()  # applied in order over the packaged table (recording.prices)
    capture_content: bool = False
    content_max_length: int = DEFAULT_MAX_LENGTH
    configure_sdk: bool = True
    flush_on_sigterm: bool = True
    exporter_timeout_s: float = DEFAULT_TIMEOUT_S
    loop_monitor: bool = True
    loop_block_threshold_s: float = DEFAULT_LOOP_BLOCK_MS / 1000
    # (kind, seconds) pairs: an operation of that kind taking longer is logged as slow.
    slow_thresholds_s: tuple[tuple[str, float], ...] = DEFAULT_SLOW_THRESHOLDS_S
    cpu_profile: bool = False  # sample running operations' stacks for their CPU hotspots
    import_spans: bool = False  # export the cold start's slowest imports as spans too
    keep_cost_usd: float = DEFAULT_KEEP_COST_USD  # a request costing more is hinted ``costly``; inf: never
    file: str = ""  # the settings file read, "" when none


_DEFAULTS = Settings()


def _file_wins_unless_env(default: Any, from_file: Any, from_env: Any) -> Any:
    """The environment's value, else the file's, else the default."""
    return from_env if from_env is not _UNSET else from_file if from_file is not _UNSET else default


def _both_apply(default: Any, from_file: Any, from_env: Any) -> Any:
    """The file's entries, then the environment's (targets: the environment decides a kind named in both)."""
    return (*(() if from_file is _UNSET else from_file), *(() if from_env is _UNSET else from_env)) or default


def _both_allow(default: Any, from_file: Any, from_env: Any) -> Any:
    """On only if neither says off."""
    return all(value for value in (default, from_file, from_env) if value is not _UNSET)


class Row(NamedTuple):
    """One setting: where it is read from, its type, its default, and what it does (the README's words)."""

    field: str  # of Settings
    env: str
    key: str | None  # in the settings file; None for a variable the file cannot set
    type: types.Type
    shown: str  # the default, as the README shows it
    doc: str
    merge: Callable[[Any, Any, Any], Any] = _file_wins_unless_env


_UNSET: Any = object()  # a source that did not set the setting

ROWS: tuple[Row, ...] = (
    Row("enabled", "OTEL_AGENTPERF_ENABLED", "enabled", types.FLAG, "`true`",
        "`false` turns every decorator, segment and target into a pass-through", _both_allow),
    Row("targets", "OTEL_AGENTPERF_TARGETS", "targets", types.TARGETS, "",
        "comma-separated targets (in the file, a list or a table of `\"module:path\" = \"kind\"`; the file's "
        "and the environment's are merged, the environment deciding the kind of one named in both)", _both_apply),
    Row("config_file", CONFIG_ENV, None, types.PATH, "",
        "a TOML file with the settings below (its keys at the top, or under `[tool.otel-agentperf]`); without "
        "it, `[tool.otel-agentperf]` in the nearest `pyproject.toml`"),
    Row("memory", "OTEL_AGENTPERF_MEMORY", "memory", types.MEMORY, "off",
        "`rss`, `tracemalloc` or `both`: per-operation memory attributes and histograms"),
    Row("configure_sdk", "OTEL_AGENTPERF_CONFIGURE_SDK", "configure_sdk", types.FLAG, "`true`",
        "configure the SDK under the launcher when no configurator did"),
    Row("config_files", "OTEL_AGENTPERF_CONFIG_FILES", "config_files", types.PATTERNS, "see docs/metrics.md",
        "file-name patterns that make a `json.load` file a config load"),
    Row("history_files", "OTEL_AGENTPERF_HISTORY_FILES", "history_files", types.PATTERNS, "see docs/metrics.md",
        "file-name patterns that make a `json.load`/`json.dump` file a history operation"),
    Row("capture_file_paths", CAPTURE_PATHS_ENV, "capture_file_paths", types.FLAG, "`false`",
        "record full file paths, not just base names (and the file of code outside operations that held an "
        "event loop)"),
    Row("latest_experimental", "OTEL_SEMCONV_STABILITY_OPT_IN", None, types.OPT_IN, "",
        "`gen_ai_latest_experimental` selects the newest GenAI conventions (semantic-conventions-genai, schema "
        "`gen-ai-dev/1.42.0-dev`): inference, embeddings and chunk metrics renamed, token usage split by "
        "direction, `cache_write`, `top_k` an int. The default is what python-genai's util-genai emits "
        "(docs/metrics.md)"),
    Row("prices", "OTEL_AGENTPERF_PRICES", "prices", types.PRICES, "",
        'TOML price file (`[models."name"]` with `input`, `output`, `cached_input`, `cache_write` in USD per '
        "million tokens) over the packaged table; in the file, a table of models or a path relative to it (the "
        "variable's file is applied last)", _both_apply),
    Row("capture_content", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", None, types.CAPTURE, "`false`",
        "`true` records prompt and completion text on LLM spans"),
    Row("content_max_length", "OTEL_AGENTPERF_CONTENT_MAX_LENGTH", "content_max_length", types.POSITIVE_INT,
        "`4096`", "characters kept per captured text part (an attribute keeps at most 16 times that)"),
    Row("flush_on_sigterm", "OTEL_AGENTPERF_FLUSH_ON_SIGTERM", "flush_on_sigterm", types.FLAG, "`true`",
        "under the launcher, when the app has no SIGTERM handler: flush queued telemetry on SIGTERM, then end "
        "by SIGTERM as the default would"),
    Row("loop_block_threshold_s", LOOP_BLOCK_MS_ENV, "loop_block_ms", types.MILLISECONDS, "`20`",
        "how long an operation (or code outside any) must hold an asyncio event loop to count as blocking it; "
        "the loop monitor looks every quarter of it"),
    Row("slow_thresholds_s", SLOW_MS_ENV, "slow_ms", types.SLOW_MS,
        "per kind: " + ", ".join(f"{kind} {ms:g}" for kind, ms in DEFAULT_SLOW_MS.items()),
        "an operation taking longer emits one OpenTelemetry log record (WARN, in its trace, with duration and "
        "self time; at most one per operation every 10 s): `kind=ms` pairs (`llm=5000,tool=500`; in the file, "
        "also a table), one number for every kind, or `off`"),
    Row("cpu_profile", "OTEL_AGENTPERF_CPU_PROFILE", "cpu_profile", types.FLAG, "`false`",
        "`true` samples running operations' stacks 100 times a second for their CPU hotspots (docs/metrics.md, "
        '"CPU hotspots")'),
    Row("import_spans", "OTEL_AGENTPERF_IMPORT_SPANS", "import_spans", types.FLAG, "`false`",
        "`true` also exports the cold start's slowest imports as spans, a trace of their own (docs/metrics.md, "
        '"Cold start broken down")'),
    Row("loop_monitor", LOOP_MONITOR_ENV, "loop_monitor", types.FLAG, "`true`",
        "`false` switches the asyncio loop monitor (loop lag, blocked time by operation) off"),
    Row("keep_cost_usd", KEEP_COST_ENV, "keep_cost_usd", types.DOLLARS_OR_OFF, "`0.10`",
        "a request whose model calls cost more carries the keep hint `costly` (docs/metrics.md, keep hints); "
        "`off` never"),
    Row("sdk_disabled", "OTEL_SDK_DISABLED", None, types.OTEL_FLAG, "`false`",
        "`true` turns the SDK, and with it the whole package, off (nothing of ours sets the SDK up)"),
    Row("ours_disabled", "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", None, types.INSTRUMENTATION_NAMES, "",
        "`otel_agentperf` (or `*`) among the names turns the whole package off; the SDK is still set up"),
    Row("exporter_timeout_s", "OTEL_EXPORTER_OTLP_TIMEOUT", None, types.SECONDS, "`10`",
        "the exporters' timeout (seconds), which also bounds the flush at exit"),
)  # fmt: skip
FILE_KEYS = frozenset(row.key for row in ROWS if row.key is not None) | OTHER_FILE_KEYS

_current: Settings | None = None
_lock = forksafe.lock()
_forget: list[Callable[[], None]] = []  # what each new snapshot makes stale (the price table)


def on_reload(forget: Callable[[], None]) -> None:
    """Call ``forget`` whenever a new snapshot is made: what was built from the old one is rebuilt from it.

    A callback, not a check on every use: the price table is read on every priced call, and a cached
    function (``functools.lru_cache``) costs that call no Python frame and no trip into this module.
    """
    _forget.append(forget)


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
        _current = load(os.environ)
        for forget in _forget:
            forget()
        return _current


def load(environ: Mapping[str, str]) -> Settings:
    """The settings these variables and the settings file they lead to give; bad values warned about, skipped."""
    config_file = _from_env(_row("config_file"), environ)
    table: dict[str, Any] = {}
    source = ""
    try:
        table, source = _read_file(None if config_file is _UNSET else config_file)
    except Exception as exc:  # never let a settings mistake stop the launcher loading instrumentors
        failures.report("reading the otel-agentperf settings file", exc)
    for key in sorted(set(table) - FILE_KEYS):
        failures.warn_once(f"key:{source}:{key}", "otel-agentperf: unknown option %r in %s; ignored", key, source)
    folder = Path(source).parent
    values: dict[str, Any] = {}
    for row in ROWS:
        from_file = _from_file(row, table, source, folder) if row.key is not None and row.key in table else _UNSET
        values[row.field] = row.merge(getattr(_DEFAULTS, row.field), from_file, _from_env(row, environ))
    values["enabled"] = values["enabled"] and not values["sdk_disabled"] and not values["ours_disabled"]
    return Settings(**values, file=source)


def _row(field: str) -> Row:
    return next(row for row in ROWS if row.field == field)


def _parse(row: Row, value: object, where: types.Where, named: str) -> Any:
    """The row's type parses the value; what is wrong with it is one warning (per problem and value)."""
    seen = f"setting:{named}:{value!r}"  # the value keys the warning, to say it once; it is never logged

    def note(problem: str) -> None:
        failures.warn_once(f"{seen}:{problem}", "otel-agentperf: %s %s", named, problem)

    try:
        return row.type.parse(value, where._replace(note=note))
    except types.Invalid as problem:
        failures.warn_once(f"{seen}:invalid", "otel-agentperf: %s %s; ignored", named, problem)
        return _UNSET


def _from_env(row: Row, environ: Mapping[str, str]) -> Any:
    text = environ.get(row.env)
    if text is None or (not text.strip() and not row.type.blank_is_value):
        return _UNSET
    return _parse(row, text, types.Where(True, Path.cwd(), _ignore), row.env)


def _from_file(row: Row, table: Mapping[str, Any], source: str, folder: Path) -> Any:
    key = row.key or ""
    return _parse(row, table[key], types.Where(False, folder, _ignore), f"{key!r} in {source}")


def _ignore(problem: str) -> None:
    """The note of a ``Where`` before ``_parse`` gives it one that warns."""


def markdown_table() -> str:
    """The README's settings table, made from :data:`ROWS`."""
    lines = ["| variable | file key | default | effect |", "|---|---|---|---|"]
    for row in ROWS:
        key = f"`{row.key}`" if row.key else ""
        lines.append(f"| `{row.env}` | {key} | {row.shown} | {row.doc} |")
    return "\n".join(lines) + "\n"


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


def _read_file(explicit: str | None) -> tuple[dict[str, Any], str]:
    """The settings table and the file it is in: the file named, else the nearest ``pyproject.toml``'s table."""
    found = Path(explicit) if explicit else nearest_pyproject(Path.cwd())
    if found is None:
        return {}, ""
    data = read_toml(found)
    if data is None:
        return {}, str(found)
    tool = data.get("tool")
    if explicit:
        table = tool.get(PYPROJECT_TABLE, data) if isinstance(tool, dict) else data
    elif isinstance(tool, dict) and PYPROJECT_TABLE in tool:
        table = tool[PYPROJECT_TABLE]
    else:
        return {}, str(found)  # the nearest pyproject.toml has no settings of ours: nothing used, nothing said
    if not isinstance(table, dict):
        failures.warn_once(f"table:{found}", "otel-agentperf: settings in %s are not a table", found)
        return {}, str(found)
    failures.logger.info("otel-agentperf: settings from %s", found)
    return table, str(found)
