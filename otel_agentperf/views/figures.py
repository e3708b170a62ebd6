"""What a budget can limit: named figures per subject, read from the report's own rows.

A subject is what a budget names, ``"KIND NAME"``: an operation row of the report (``tool search_flights``,
``llm openai/gpt-4o-mini``, ``code app:main`` for code outside operations that held the event loop), or a
root's requests (``request agent Planner``: the report's lead). Each figure reads a :class:`rows.Row`
(quantiles from the row's own estimates), so a budget judges exactly the numbers ``report`` prints, never a
second computation of them. A request's counts per request (LLM calls, tokens, cost) are the run's totals
over all its requests, of every root: the operation rows are not split by request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from otel_agentperf.conventions import names
from otel_agentperf.views.families import CODE, REQUEST, STARTUP
from otel_agentperf.views.rows import Row, spent
from otel_agentperf.views.sources import Source


@dataclass(frozen=True)
class Measure:
    """A figure as measured: its value, or None with why it is unknown; ``note`` adds what the value is."""

    value: float | None
    why: str = ""
    note: str = ""


@dataclass(frozen=True)
class Figure:
    """A limitable figure: its name (with its unit: ``p95_ms``), unit, meaning and how a row gives it."""

    name: str
    unit: str  # "ms", "USD", "%", "tokens", or "" for a count
    about: str
    read: Callable[[Row], Measure] | None  # None: a figure over the run (``over_run``)
    # Compared at this many decimals and shown with them: limits, measures and baselines in one precision,
    # so what is shown is what was judged (a report's JSON keeps dollars to 9 decimals).
    decimals: int = 2
    # A sum over the run (calls, cost): a subject a baseline did not have had 0 of it there.
    summed: bool = False
    # A request's figure per request: what the run's rows add up to (None: unknown), divided by its requests.
    over_run: Callable[[list[Row]], float | None] | None = None

    def text(self, value: float) -> str:
        """A value in the figure's unit, at the precision it is judged at: ``85.278 ms``, ``$0.0000282``."""
        number = f"{value:.{self.decimals}f}"
        if "." in number:
            number = number.rstrip("0").rstrip(".")
        if self.unit == "USD":
            return f"${number}"
        return f"{number}{'%' if self.unit == '%' else f' {self.unit}' if self.unit else ''}"

    def rounded(self, value: float) -> float:
        return round(value, self.decimals)


def _per_call(total: Callable[[Row], float]) -> Callable[[Row], Measure]:
    def read(row: Row) -> Measure:
        return Measure(total(row) / row.calls) if row.calls else Measure(None, "no calls")

    return read


def _quantile(key: str) -> Callable[[Row], Measure]:
    def read(row: Row) -> Measure:
        value = row.quantiles.get(key)
        if value is None:
            return Measure(None, "no durations")
        relation = row.relations.get(key, "")
        note = f"the report shows {row.quantile_text(key)} ms: only a bound is known" if relation else ""
        return Measure(value * 1000, note=note)

    return read


def _mean(row: Row) -> Measure:
    mean = row.mean_seconds
    return Measure(None, "no calls") if mean is None else Measure(mean * 1000)


def _error_pct(row: Row) -> Measure:
    return Measure(100 * row.errors / row.calls) if row.calls else Measure(None, "no calls")


def _cost(per_call: bool) -> Callable[[Row], Measure]:
    def read(row: Row) -> Measure:
        if not row.cost_known:
            return Measure(None, f"{row.unpriced:g} calls of no known price")
        if per_call:
            return Measure(row.cost_usd / row.calls) if row.calls else Measure(None, "no calls")
        return Measure(row.cost_usd)

    return read


_TIMING = (
    Figure("calls", "", "calls in the run", lambda row: Measure(row.calls), 0, summed=True),
    Figure("error_pct", "%", "share of the calls that failed, in percent", _error_pct, 2),
    Figure("mean_ms", "ms", "mean duration of a call", _mean, 3),
    Figure("p50_ms", "ms", "median duration of a call (the report's p50)", _quantile("p50"), 3),
    Figure("p95_ms", "ms", "95th percentile duration of a call (the report's p95)", _quantile("p95"), 3),
    Figure("p99_ms", "ms", "99th percentile duration of a call (the report's p99)", _quantile("p99"), 3),
)
_BLOCKED = Figure(
    "blocked_ms", "ms", "time it held the event loop in the run", lambda r: Measure(r.blocked_seconds * 1000), 3, True
)
_BLOCKED_PER_CALL = Figure(
    "blocked_ms_per_call",
    "ms",
    "time it held the event loop, per call",
    _per_call(lambda r: r.blocked_seconds * 1000),
    3,
)
# What only LLM rows carry (token usage, prices, SDK retries are recorded for LLM operations).
_LLM = (
    Figure("input_tokens_per_call", "tokens", "input tokens per call", _per_call(lambda r: r.input_tokens), 2),
    Figure("output_tokens_per_call", "tokens", "output tokens per call", _per_call(lambda r: r.output_tokens), 2),
    Figure("tokens_per_call", "tokens", "input and output tokens per call", _per_call(lambda r: r.tokens), 2),
    Figure("cost_usd_per_call", "USD", "cost per call, in dollars", _cost(per_call=True), 9),
    Figure("cost_usd", "USD", "cost of the run's calls, in dollars", _cost(per_call=False), 9, summed=True),
    Figure("retries", "", "HTTP retries of its calls (SDK retries) in the run", lambda r: Measure(r.retries), 0, True),
)
_OPERATION = (*_TIMING, _BLOCKED, _BLOCKED_PER_CALL)


def _of_kind(kind: str, total: Callable[[Row], float]) -> Callable[[list[Row]], float]:
    return lambda rows: sum(total(row) for row in rows if row.kind == kind)


_PER_REQUEST = (
    Figure(
        "llm_calls_per_request",
        "",
        "LLM calls per request",
        None,
        2,
        over_run=_of_kind(names.KIND_LLM, lambda r: r.calls),
    ),
    Figure(
        "tool_calls_per_request",
        "",
        "tool calls per request",
        None,
        2,
        over_run=_of_kind(names.KIND_TOOL, lambda r: r.calls),
    ),
    Figure(
        "input_tokens_per_request",
        "tokens",
        "input tokens per request",
        None,
        2,
        over_run=lambda rows: spent(rows).input_tokens,
    ),
    Figure(
        "output_tokens_per_request",
        "tokens",
        "output tokens per request",
        None,
        2,
        over_run=lambda rows: spent(rows).output_tokens,
    ),
    Figure(
        "cost_usd_per_request",
        "USD",
        "cost per request, in dollars",
        None,
        9,
        over_run=lambda rows: spent(rows).cost_usd,
    ),
    Figure(
        "blocked_ms_per_request",
        "ms",
        "time the event loop was held, per request",
        None,
        3,
        over_run=lambda rows: 1000 * sum(r.blocked_seconds for r in rows if r.kind != REQUEST),
    ),
)
# A root's requests: their count and latency (the request row's own), and what a request costs.
_REQUEST = (
    Figure("requests", "", "requests in the run", lambda row: Measure(row.calls), 0, summed=True),
    *(figure for figure in _TIMING if figure.name.endswith("_ms")),
    *_PER_REQUEST,
)
# Each kind's figures: code outside operations has no calls, only the time it held a loop; a cold-start
# phase is one figure per process (its mean over processes).
CATALOGUES: dict[str, dict[str, Figure]] = {
    **{kind: {figure.name: figure for figure in _OPERATION} for kind in names.NAMING_ATTRIBUTES},
    names.KIND_LLM: {figure.name: figure for figure in (*_OPERATION, *_LLM)},
    CODE: {_BLOCKED.name: _BLOCKED},
    STARTUP: {figure.name: figure for figure in _TIMING if figure.name == "mean_ms"},
    REQUEST: {figure.name: figure for figure in _REQUEST},
}
# Every kind of row a subject can name.
KINDS = tuple(CATALOGUES)


def catalogue(kind: str) -> dict[str, Figure] | None:
    """The figures a subject of this kind has, by name; None for a kind no source has."""
    return CATALOGUES.get(kind)


def all_figures() -> dict[str, Figure]:
    """Every figure of every kind of subject, by name: what an allowance for all subjects may name."""
    return {name: figure for figures in CATALOGUES.values() for name, figure in figures.items()}


def is_operation(subject: str) -> bool:
    """Whether a subject is an operation: something the app calls, whose calls a baseline counted."""
    return subject.partition(" ")[0] in names.NAMING_ATTRIBUTES


def subject(kind: str, name: str) -> str:
    """How a budget names a row: ``"tool search_flights"``."""
    return f"{kind} {name}"


def measure(source: Source) -> dict[str, dict[str, Measure]]:
    """Every figure of every subject of a source, by subject and figure name: what budgets are judged by."""
    rows = source.rows
    requests = sum(row.calls for row in rows if row.kind == REQUEST)

    def read(figure: Figure, row: Row) -> Measure:
        if figure.read is not None:
            return figure.read(row)
        total = figure.over_run(rows) if figure.over_run is not None else None
        if total is None:
            return Measure(None, "calls of no known price")
        return Measure(total / requests, note="over all requests of every root") if requests else Measure(None)

    return {
        subject(row.kind, row.name): {name: read(figure, row) for name, figure in CATALOGUES[row.kind].items()}
        for row in rows
        if row.kind in CATALOGUES
    }
