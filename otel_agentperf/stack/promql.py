"""PromQL over the package's series, spelled as the Prometheus exporter spells them.

The dashboards and the alert rules build every query from these helpers and the v1.41 catalogue, so a
metric renamed in ``conventions`` is renamed in every query. Where the newest GenAI conventions
(``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental``) name the same measurement otherwise, a
query selects either name (``{__name__=~"a|b"}``), so one set of dashboards shows an app in either layout;
token usage, one histogram by token type in v1.41 and one per direction in the newest layout, has
:func:`tokens`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from otel_agentperf.conventions import names, prometheus
from otel_agentperf.conventions.instruments import Instrument, Instruments, catalogue

WINDOW = "$__rate_interval"
# The dashboards and rules are built from the default layout (semconv v1.41); LATEST names the same
# measurements as the newest GenAI conventions do.
INSTRUMENTS = catalogue(False)
LATEST = catalogue(True)
DURATIONS = INSTRUMENTS.durations


def _roles(instruments: Instruments) -> dict[str, Instrument]:
    """Every instrument of a layout by what it measures (``durations.llm``, ``cost``, ...)."""
    found = {}
    for attribute, value in vars(instruments).items():
        if isinstance(value, Instrument):
            found[attribute] = value
        elif isinstance(value, Mapping):
            found.update({f"{attribute}.{key}": item for key, item in value.items() if isinstance(item, Instrument)})
    return found


def _family(instrument: Instrument, counters: frozenset[Instrument]) -> str:
    name = prometheus.family(instrument)
    return name + "_total" if instrument in counters else name


def _alternatives() -> Mapping[str, tuple[str, ...]]:
    """A v1.41 family to every family the same measurements have in either layout, where they differ."""
    default, latest = _roles(INSTRUMENTS), _roles(LATEST)
    counters = frozenset(INSTRUMENTS.counters()) | frozenset(LATEST.counters())
    found: dict[str, set[str]] = {}
    for role, instrument in default.items():
        family = _family(instrument, counters)
        found.setdefault(family, {family}).add(_family(latest[role], counters))
    return MappingProxyType({family: tuple(sorted(all_)) for family, all_ in found.items() if len(all_) > 1})


ALTERNATIVES = _alternatives()


def series(instrument: Instrument, suffix: str = "") -> str:
    """The Prometheus name of a counter, or of a histogram's ``suffix`` series (``_bucket``, ``_sum``, ``_count``).

    Where the newest layout names it otherwise, the names as a regular expression: :func:`select` then
    matches them by ``__name__``.
    """
    family = _family(instrument, frozenset(INSTRUMENTS.counters()))
    return "|".join(name + suffix for name in ALTERNATIVES.get(family, (family,)))


def select(metric: str, selector: str) -> str:
    """An instant-vector selector of ``metric`` (a name, or names from :func:`series`) and label matchers."""
    selector = selector.strip(",")
    if "|" in metric:
        return "{" + ",".join(filter(None, [f'__name__=~"{metric}"', selector])) + "}"
    return f"{metric}{{{selector}}}" if selector else metric


def tokens(selector: str, by: str = "", window: str = WINDOW) -> str:
    """Tokens per second by token type (``gen_ai_token_type``), from whichever layout the app records in."""
    token_type = label(names.GEN_AI_TOKEN_TYPE)
    grouping = ", ".join(filter(None, [by, token_type]))
    default = rate(series(INSTRUMENTS.token_usage, "_sum"), selector, grouping, window)
    latest = [
        f'label_replace({rate(series(instrument, "_sum"), selector, by, window)}, "{token_type}", "{kind}", '
        f'"{token_type}", ".*")'
        for kind, instrument in LATEST.operation_tokens.items()
    ]
    return " or ".join([default, *latest])


def label(attribute: str) -> str:
    return prometheus.label(attribute)


def rate(metric: str, selector: str, by: str = "", window: str = WINDOW) -> str:
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (rate({select(metric, selector)}[{window}]))"


def quantile(q: float, instrument: Instrument, selector: str, by: str = "", window: str = WINDOW) -> str:
    grouping = ", ".join(filter(None, ["le", by]))
    return f"histogram_quantile({q}, {rate(series(instrument, '_bucket'), selector, grouping, window)})"


def error_ratio(instrument: Instrument, selector: str, by: str = "") -> str:
    """1 - successes/all: defined (0) when nothing failed, unlike failures/all."""
    count = series(instrument, "_count")
    succeeded = selector + "," + label(names.ERROR_TYPE) + '=""'
    return f"1 - {rate(count, succeeded, by)} / {rate(count, selector, by)}"
