"""One parser per type of setting, each reading both forms a value comes in.

A value comes from an environment variable (always text) or from the settings file (a TOML value: a
boolean, number, string, array or table). A parser returns the value, or raises :class:`Invalid` with
what is wrong with it; ``settings`` turns that into one warning naming the variable or key. No message
here repeats the value itself: a setting's value can be something the user would not want in a log
(a path, a mistyped secret pasted into the wrong variable).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

FALSE_WORDS = frozenset({"false", "0", "no", "off"})
TRUE_WORDS = frozenset({"true", "1", "yes", "on"})  # the package's one true/false vocabulary
MEMORY_MODES = ("rss", "tracemalloc")
MEMORY_BOTH = "both"  # every mode in MEMORY_MODES
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
LATEST_EXPERIMENTAL = "gen_ai_latest_experimental"
OURS = "otel_agentperf"  # the core instrumentor's entry point name: also the package's off switch
# The GenAI capture switch's own values: content goes on spans (no events are emitted).
_CAPTURE_ON = ("true", "span_only", "span_and_event")
_CAPTURE_OFF = ("false", "no_content", "event_only")


class Invalid(ValueError):
    """A value its setting cannot take; the message says why, in words that do not repeat the value."""


class Where(NamedTuple):
    """Where a value was read: the environment, or the settings file (whose folder relative paths start from)."""

    from_env: bool
    folder: Path
    note: Callable[[str], None]  # one warning about a part of the value (one bad entry of a list)


class PriceSource(NamedTuple):
    """A price table to apply: a TOML table of models, or the path of a price file (``recording.prices``)."""

    label: str  # where it came from, for warnings
    models: Any = None  # the table, when given in the settings file
    path: str | None = None  # the price file, when named


class Type(NamedTuple):
    """A type of setting: its name in the docs, its parser, and whether a blank variable is a value."""

    name: str
    parse: Callable[[object, Where], Any]
    blank_is_value: bool = False  # a list's blank variable is the empty list; anything else's is unset


def _text(value: object, where: Where) -> str | None:
    return value.strip() if isinstance(value, str) and where.from_env else None


def _off(value: object) -> bool:
    """The word for off in a setting that is otherwise a number: false, or a false word in either form."""
    return value is False or (isinstance(value, str) and value.strip().lower() in FALSE_WORDS)


def _flag(value: object, where: Where) -> bool:
    if isinstance(value, bool):
        return value
    word = (_text(value, where) or "").lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise Invalid("is not true or false (true/1/yes/on, false/0/no/off)" if where.from_env else "must be true or false")


def _otel_flag(value: object, where: Where) -> bool:
    """An OpenTelemetry boolean variable: only ``true`` is true (the SDK reads it so; we must agree)."""
    word = (_text(value, where) or "").lower()
    if word in ("true", "false"):
        return word == "true"
    raise Invalid("is not true or false (OpenTelemetry reads only 'true' as true)")


def _number(value: object, where: Where) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        text = _text(value, where)
        try:
            number = float(text) if text is not None else math.nan
        except ValueError:
            number = math.nan
    return number


def _positive_int(value: object, where: Where) -> int:
    number = _number(value, where)
    if not (number > 0 and number.is_integer() and math.isfinite(number)):
        raise Invalid("is not a positive whole number")
    return int(number)


def _milliseconds(value: object, where: Where) -> float:
    """A positive number of milliseconds, kept in seconds."""
    number = _number(value, where)
    if not (number > 0 and math.isfinite(number)):
        raise Invalid("is not a positive number of milliseconds")
    return number / 1000


def _seconds(value: object, where: Where) -> float:
    number = _number(value, where)
    if not (number > 0 and math.isfinite(number)):
        raise Invalid("is not a positive number of seconds")
    return number


def _dollars_or_off(value: object, where: Where) -> float:
    """US dollars (zero or more), or off (infinity: never past it)."""
    if _off(value):
        return math.inf
    number = _number(value, where)
    if not (number >= 0 and math.isfinite(number)):
        raise Invalid("is not a number of US dollars (or off)")
    return number


def _items(value: object, where: Where, what: str) -> list[str]:
    """A list of strings: comma-separated in a variable, a TOML array of strings in the file."""
    text = _text(value, where)
    if text is not None:
        return [item.strip() for item in text.split(",") if item.strip()]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [item.strip() for item in value if item.strip()]
    raise Invalid(f"must be a list of {what}")


def _patterns(value: object, where: Where) -> tuple[str, ...]:
    return tuple(_items(value, where, "file-name patterns"))


def _targets(value: object, where: Where) -> tuple[str, ...]:
    if isinstance(value, dict):  # "module:Qualified.name" = "kind"
        return tuple(f"{path}={kind}" for path, kind in value.items())
    try:
        return tuple(_items(value, where, "targets"))
    except Invalid:
        raise Invalid("must be a list of targets or a table of them") from None


def _memory(value: object, where: Where) -> frozenset[str]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        raise Invalid(f"must be a string or a list of {', '.join(MEMORY_MODES)} or {MEMORY_BOTH}")
    modes: set[str] = set()
    for position, item in enumerate(items, 1):
        mode = str(item).strip().lower()
        if not mode or mode in FALSE_WORDS or mode == "none":
            continue
        if mode == MEMORY_BOTH:
            modes.update(MEMORY_MODES)
        elif mode in MEMORY_MODES:
            modes.add(mode)
        else:
            use = f"{', '.join(MEMORY_MODES)} or {MEMORY_BOTH}"
            where.note(f"has an unknown memory mode (entry {position}; use {use}); that entry is ignored")
    return frozenset(modes)


def _slow_ms(value: object, where: Where) -> tuple[tuple[str, float], ...]:
    """Per kind, seconds: ``kind=ms`` pairs, one number for every kind, or off; a TOML table of kinds too."""
    if _off(value):
        return ()
    if isinstance(value, dict):
        pairs: list[tuple[str, object]] = list(value.items())
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        pairs = [("", value)]
    elif isinstance(value, str):
        pairs = [(kind.strip(), number) for kind, _, number in (item.rpartition("=") for item in value.split(","))]
    else:
        raise Invalid("must be off, a number of milliseconds, or kind=milliseconds pairs")
    thresholds = dict(DEFAULT_SLOW_MS)
    for position, (kind, number) in enumerate(pairs, 1):
        kinds = [kind] if kind else list(thresholds)
        milliseconds = _number(number, Where(True, where.folder, where.note))
        if not (milliseconds > 0 and math.isfinite(milliseconds)) or any(k not in thresholds for k in kinds):
            if kind or str(number).strip():
                where.note(
                    f"has an entry that is not kind=milliseconds with kind one of {', '.join(thresholds)}, "
                    f"or one number (entry {position}); that entry is ignored"
                )
            continue
        thresholds.update(dict.fromkeys(kinds, milliseconds))
    return tuple((kind, milliseconds / 1000) for kind, milliseconds in thresholds.items())


def _prices(value: object, where: Where) -> tuple[PriceSource, ...]:
    if isinstance(value, str) and value.strip():  # a price file; in the settings file, relative to it
        path = Path(value.strip()) if where.from_env else where.folder / value.strip()
        return (PriceSource(str(path), path=str(path)),)
    if isinstance(value, dict) and not where.from_env:
        return (PriceSource(f"{where.folder} (prices)", models=value),)
    raise Invalid("must be a table of model prices or the path of a price file")


def _path(value: object, where: Where) -> str:
    text = _text(value, where)
    if not text:
        raise Invalid("must be the path of a file")
    return text


def _opt_in(value: object, where: Where) -> bool:
    """``OTEL_SEMCONV_STABILITY_OPT_IN``: whether the newest GenAI conventions are asked for."""
    return LATEST_EXPERIMENTAL in {token.strip() for token in (_text(value, where) or "").split(",")}


def _capture(value: object, where: Where) -> bool:
    word = (_text(value, where) or "").lower()
    if word not in _CAPTURE_ON + _CAPTURE_OFF:
        raise Invalid(f"is not one of {', '.join(_CAPTURE_ON + _CAPTURE_OFF)}; content is not captured")
    if word == "event_only":
        where.note("asks for content events, which are not emitted; nothing captured")
    return word in _CAPTURE_ON


def _names_ours(value: object, where: Where) -> bool:
    """``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS``: whether it names the package (or every instrumentation)."""
    named = {name.strip() for name in (_text(value, where) or "").split(",")}
    return OURS in named or "*" in named


FLAG = Type("true/false", _flag)
OTEL_FLAG = Type("true/false (OpenTelemetry's)", _otel_flag)
POSITIVE_INT = Type("positive integer", _positive_int)
MILLISECONDS = Type("milliseconds", _milliseconds)
SECONDS = Type("seconds", _seconds)
DOLLARS_OR_OFF = Type("US dollars or off", _dollars_or_off)
PATTERNS = Type("list of patterns", _patterns, blank_is_value=True)
TARGETS = Type("list of targets", _targets, blank_is_value=True)
MEMORY = Type("memory modes", _memory)
SLOW_MS = Type("kind=milliseconds pairs", _slow_ms)
PRICES = Type("price file (or table)", _prices)
PATH = Type("path", _path)
OPT_IN = Type("list of opt-ins", _opt_in)
CAPTURE = Type("capture mode", _capture)
INSTRUMENTATION_NAMES = Type("list of instrumentations", _names_ours)
