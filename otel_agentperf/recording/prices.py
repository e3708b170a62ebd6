"""Offline cost estimates: token usage times a price table, never a guess.

The table ships with the package (``data/prices.toml``, US dollars per million tokens) and is
extended or overridden by a ``prices`` table (or price file) in the settings file, then by the user's
file (``OTEL_AGENTPERF_PRICES``). It is read once per settings snapshot, on the first priced call, with
instrumentation suppressed so our own config-loading telemetry does not see it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

from otel_agentperf.runtime import failures, settings

_PER_TOKENS = 1_000_000
_DATE_STAMP = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8})$")
_KEYS = ("input", "output", "cached_input", "cache_write")
_MEMO_LIMIT = 1024  # model names looked up, remembered


class Price(NamedTuple):
    """US dollars per million tokens; cache prices default to the input price."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None

    def cost(self, input_tokens: int, output_tokens: int, cache_read: int = 0, cache_write: int = 0) -> float:
        """``input_tokens`` counts every input token, cached ones included (the semconv convention)."""
        uncached = max(input_tokens - cache_read - cache_write, 0)
        cached_price = self.input if self.cached_input is None else self.cached_input
        write_price = self.input if self.cache_write is None else self.cache_write
        total = (
            uncached * self.input + cache_read * cached_price + cache_write * write_price + output_tokens * self.output
        )
        return total / _PER_TOKENS


class PriceTable:
    """Model name to :class:`Price`, matched exactly or without a trailing date stamp."""

    def __init__(self, prices: Mapping[str, Price]) -> None:
        self._prices = dict(prices)
        self._found: dict[str, Price | None] = {}

    def price(self, model: str) -> Price | None:
        if model in self._found:
            return self._found[model]
        found = self._prices.get(model)
        if found is None:
            found = self._prices.get(_DATE_STAMP.sub("", model))
        if len(self._found) < _MEMO_LIMIT:
            self._found[model] = found
        return found


def parse(models: Any, source: str) -> dict[str, Price]:
    """The ``models`` table of a price file; bad entries are warned about, by name, and skipped."""
    if not isinstance(models, dict):
        failures.warn_once(f"prices:{source}", "otel-agentperf: prices in %s must be a table of models", source)
        return {}
    found: dict[str, Price] = {}
    for model, entry in models.items():
        values = entry if isinstance(entry, dict) else {}
        unknown = set(values) - set(_KEYS)
        numbers = {key: values[key] for key in _KEYS if key in values}
        valid = all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in numbers.values())
        if not values or unknown or not valid or "input" not in numbers or "output" not in numbers:
            failures.warn_once(
                f"price:{source}:{model}",
                "otel-agentperf: price for %r in %s needs non-negative 'input' and 'output' (and only %s); ignored",
                model,
                source,
                ", ".join(_KEYS),
            )
            continue
        found[str(model)] = Price(**{key: float(value) for key, value in numbers.items()})
    return found


@functools.lru_cache(maxsize=1)
def table() -> PriceTable:
    """The packaged prices, then each of the settings' price tables in order; rebuilt when the settings are.

    Built on the first priced call and kept until ``settings.reload()`` makes a new snapshot (``on_reload``
    below): the next priced call builds the table from it.
    """
    loaded = settings.current()
    with resources.as_file(resources.files("otel_agentperf").joinpath("data/prices.toml")) as packaged:
        prices = parse((settings.read_toml(packaged) or {}).get("models"), "the packaged price table")
    for source in loaded.prices:
        models = source.models
        if source.path is not None:
            data = settings.read_toml(Path(source.path))
            models = None if data is None else data.get("models", data)
        if models is not None:
            prices.update(parse(models, source.label))
    return PriceTable(prices)


settings.on_reload(table.cache_clear)
