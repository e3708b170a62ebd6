"""Per-operation performance rows: cumulative counts, times and buckets, and the quantiles they allow.

Rows hold cumulative values, so two scrapes can be subtracted (:func:`window`) for rates over a refresh
window. Quantiles are estimated from the buckets the way Prometheus' ``histogram_quantile`` does (linear
interpolation inside the bucket), and never outside what the buckets, the mean and (from OTLP, which carries
them) the smallest and largest value allow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from otel_agentperf.conventions import names

QUANTILES = (0.5, 0.95, 0.99)


def ms(seconds: float | None) -> str:
    """Milliseconds with one decimal, or ``-`` when unknown."""
    return "-" if seconds is None else f"{seconds * 1000:.1f}"


def size_text(size: float) -> str:
    """Bytes as people read them: ``512 B``, ``3.2 KiB``, ``1.5 MiB``."""
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def usd(value: float) -> str:
    """Dollars to two significant digits, at least cents: ``$0.000035``, ``$0.012``, ``$1.50``.

    A fixed four decimals would print a cheap model's few calls as ``$0.0000``.
    """
    if value <= 0:
        return "$0.00"
    digits = max(2, 1 - math.floor(math.log10(value)))
    return f"${value:.{digits}f}"


def cost_text(row: Row | Spent) -> str:
    """A cost as far as it is known: priced calls in dollars, the unpriced ones said to be unpriced."""
    priced = row.cost_usd if isinstance(row, Row) else row.priced_cost_usd
    said = [usd(priced)] if priced else []
    if row.unpriced:
        said.append(f"{row.unpriced:g} unpriced")
    return " + ".join(said)


class ReportError(Exception):
    """A scrape that cannot be read or used; the message says why, for the user."""


class CounterReset(ReportError):
    """A later scrape has smaller cumulative values than an earlier one: the app restarted."""


@dataclass
class Row:
    """One instrumented operation (an agent, a tool, a model, a loader...), cumulative since start."""

    kind: str
    name: str
    calls: float = 0.0
    errors: float = 0.0
    total_seconds: float = 0.0
    self_seconds: float = 0.0  # exclusive time: less what the operations it called took
    self_known: bool = False  # the app exported self time (older versions did not)
    redundant: float = 0.0
    redundant_seconds: float = 0.0  # time spent on those redundant loads: waste
    blocking: float = 0.0  # config and history calls that held the event loop past the threshold
    blocked_seconds: float = 0.0  # time it held the event loop past the threshold (the loop monitor)
    waited_seconds: float = 0.0  # time its loop was held by other code while it awaited: not its own doing
    # Loop saturation (the loop monitor's looks): the time it was seen running on its loop, short callbacks
    # included (an operation's, or code outside operations'), and the time it was ready to go on but queued
    # behind other callbacks (an awaiting operation's: not its own doing either).
    consumed_seconds: float = 0.0
    queued_seconds: float = 0.0
    # An event loop's row (kind ``loop``, named by its thread): its watched running time, the part it was busy
    # running callbacks, the part in saturated windows, and what awaiting operations queued in those.
    loop_seconds: float = 0.0
    busy_seconds: float = 0.0
    saturated_seconds: float = 0.0
    saturated_queued_seconds: float = 0.0  # what awaiting operations queued on it in its saturated windows
    input_tokens: float = 0.0
    output_tokens: float = 0.0
    cost_usd: float = 0.0  # of the priced calls only
    unpriced: float = 0.0  # calls with token usage but no price for their model: their cost is unknown, not 0
    size_records: float = 0.0
    size_observations: float = 0.0
    quantiles: dict[str, float | None] = field(default_factory=dict)
    # The interval each quantile certainly lies in: its bucket, narrowed by the mean; (v, v) when exact.
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    # "<" when only an upper bound is known (the first bucket), ">" only a lower one (the +Inf bucket).
    relations: dict[str, str] = field(default_factory=dict)
    buckets: dict[float, float] = field(default_factory=dict, repr=False)
    # The smallest and largest duration, when the source has them (OTLP does, a Prometheus scrape does not).
    minimum: float | None = None
    maximum: float | None = None
    # Streamed LLM calls: time to the first chunk (sum, count, cumulative buckets), for its median.
    first_chunk_seconds: float = 0.0
    first_chunk_count: float = 0.0
    first_chunk_buckets: dict[float, float] = field(default_factory=dict, repr=False)
    # LLM calls the SDK retried: HTTP requests retried, by what made them retry ("429", "ConnectError"),
    # and the time those calls spent before their last attempt (failed attempts and backoff).
    # Memory over its calls, when tracking is on (process-wide while each ran): the peak of Python
    # allocations above the start (tracemalloc) or resident-set growth (rss), summed, and how many calls.
    memory_peak_bytes: float = 0.0
    memory_peak_calls: float = 0.0
    memory_rss_bytes: float = 0.0
    memory_rss_calls: float = 0.0
    retries: float = 0.0
    retried_calls: float = 0.0
    retry_seconds: float = 0.0
    retry_reasons: dict[str, float] = field(default_factory=dict)
    # I/O-bound calls it awaited one after another (in runs of two or more), their seconds, and what running
    # each run together would have saved (its sum less its longest call).
    sequential_calls: float = 0.0
    sequential_seconds: float = 0.0
    recoverable_seconds: float = 0.0
    # Calls repeating an earlier one of their request with equal arguments: how many, their time, tokens, cost.
    repeated_calls: float = 0.0
    repeated_seconds: float = 0.0
    repeated_tokens: float = 0.0
    repeated_usd: float = 0.0
    # Model calls after their conversation's first turn: how many, the turns between them and the first
    # (summed), the first turn's input tokens (once per later turn), and what they took beyond the first's.
    later_turns: float = 0.0
    turn_distance: float = 0.0
    first_turn_tokens: float = 0.0
    excess_tokens: float = 0.0
    excess_seconds: float = 0.0
    excess_usd: float = 0.0
    # Model calls that waited for a free connection of their HTTP client's pool: how many, the seconds they
    # waited (before the server had them), and their pools' limits summed over them (a mean limit, read below).
    connection_wait_calls: float = 0.0
    connection_wait_seconds: float = 0.0
    connection_wait_limits: float = 0.0
    # Where the opt-in CPU sampler found it running: seconds by ``module:function:line``.
    hotspots: dict[str, float] = field(default_factory=dict)
    # A request's row (kind ``request``): its wall time by the operation on its critical path, in seconds by
    # (kind, name) over all its requests, summing to ``total_seconds``.
    critical_path: dict[tuple[str, str], float] = field(default_factory=dict)

    @property
    def tokens(self) -> float:
        """Input and output tokens together."""
        return self.input_tokens + self.output_tokens

    @property
    def cost_known(self) -> bool:
        """Whether ``cost_usd`` is the whole cost: no call had usage without a price."""
        return not self.unpriced

    @property
    def own_seconds(self) -> float:
        """Self time less the time it waited for a loop other code held or queued for its turn on a busy loop:
        what this operation itself cost."""
        return max(self.self_seconds - self.waited_seconds - self.queued_seconds, 0.0)

    @property
    def mean_memory(self) -> tuple[str, float] | None:
        """(what, bytes): the mean memory peak per call (or RSS growth without tracemalloc), when tracked."""
        if self.memory_peak_calls:
            return "peak", self.memory_peak_bytes / self.memory_peak_calls
        if self.memory_rss_calls:
            return "rss", self.memory_rss_bytes / self.memory_rss_calls
        return None

    @property
    def mean_seconds(self) -> float | None:
        return self.total_seconds / self.calls if self.calls else None

    @property
    def mean_size(self) -> float | None:
        """Mean history size (records) this operation saw, when the store reports one."""
        return self.size_records / self.size_observations if self.size_observations else None

    def estimate_quantiles(self) -> None:
        """p50, p95 and p99 within what the buckets, the sum and the extremes allow, and in that order: each
        quantile's limits grow with ``q``, so a later estimate raised to an earlier one stays within its own."""
        self.quantiles, self.bounds, self.relations = {}, {}, {}
        floor = 0.0
        for q in QUANTILES:
            key = f"p{round(q * 100)}"
            found = bounded_quantile(q, self.buckets, self.mean_seconds, self.minimum, self.maximum)
            self.quantiles[key] = None if found is None else max(found.value, floor)
            if found is not None:
                floor = max(found.value, floor)
                self.bounds[key] = (found.low, found.high)
                self.relations[key] = found.relation

    def first_chunk_p50(self) -> Estimate | None:
        """The median time to first chunk, within what its buckets and mean allow; None without streams."""
        if not self.first_chunk_count:
            return None
        mean = self.first_chunk_seconds / self.first_chunk_count
        return bounded_quantile(0.5, self.first_chunk_buckets, mean)

    def quantile_text(self, key: str) -> str:
        """A quantile in milliseconds as far as it is known: ``< 0.2`` when only a bound is, ``> 81920.0``."""
        value = self.quantiles.get(key)
        if value is None:
            return "-"
        low, high = self.bounds[key]
        return estimate_text(Estimate(value, low, high, self.relations.get(key, "")))


_COUNTED = tuple(f.name for f in fields(Row) if f.type == "float")


def quantile(q: float, buckets: dict[float, float]) -> float | None:
    """Estimate the ``q`` quantile from cumulative bucket counts keyed by upper bound (``inf`` included)."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    total = buckets[bounds[-1]]
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


@dataclass(frozen=True)
class Estimate:
    """A quantile: the estimate, the interval it certainly lies in, and whether only a bound is known."""

    value: float
    low: float
    high: float
    relation: str = ""  # "<": at most ``high``; ">": at least ``low``; "": ``value``


def estimate_text(estimate: Estimate) -> str:
    """An estimate in milliseconds as far as it is known: ``< 0.2`` when only a bound is, ``> 81920.0``."""
    if estimate.relation == "<":
        return f"< {ms(estimate.high)}"
    if estimate.relation == ">":
        return f"> {ms(estimate.low)}"
    return ms(estimate.value)


def bounded_quantile(
    q: float,
    buckets: dict[float, float],
    mean: float | None,
    minimum: float | None = None,
    maximum: float | None = None,
) -> Estimate | None:
    """The ``q`` quantile from bucket counts and the mean, never outside what they allow.

    The quantile lies in its bucket; it is also at most ``mean / (1 - q)`` (Markov's inequality: values are
    durations, never negative) and at most the sum over the observations at or above it (of ``n``, the
    ``n - ceil(q n) + 1`` largest: with three, p95 is the largest, never more than the sum), which narrow a
    coarse bucket; one observation is the mean itself. The estimate is the interpolated value kept inside
    those limits, so it never contradicts the mean or the sum; a quantile in the first bucket or in the
    +Inf bucket is known only by a bound, unless the smallest and largest values are known (OTLP
    histograms carry them): every quantile lies between those two.
    """
    value = quantile(q, buckets)
    if value is None:
        return None
    bounds = sorted(buckets)
    total = buckets[bounds[-1]]
    if total == 1 and mean is not None:
        return Estimate(mean, mean, mean)
    low, high = 0.0, math.inf
    for bound in bounds:
        if buckets[bound] >= q * total:
            high = bound
            break
        low = bound
    relation = "<" if low == 0.0 else ">" if math.isinf(high) else ""
    if mean is not None and q < 1:
        at_or_above = total - math.ceil(q * total - 1e-9) + 1
        cap = min(mean / (1 - q), mean * total / max(at_or_above, 1.0))
        if cap >= low:
            high = min(high, cap)
    if minimum is not None and maximum is not None and minimum <= maximum:
        low, high = min(max(low, minimum), maximum), max(min(high, maximum), minimum)
        relation = ""  # both ends are known values now, not bucket edges
    return Estimate(min(max(value, low), high), low, high, relation)


def ranked(rows: list[Row]) -> list[Row]:
    """Most own time first (where the time really goes: the report's ``own ms`` column); by total time for
    data without self time."""
    if any(row.self_seconds for row in rows):
        return sorted(rows, key=lambda row: (row.own_seconds, row.total_seconds), reverse=True)
    return sorted(rows, key=lambda row: row.total_seconds, reverse=True)


@dataclass(frozen=True)
class Spent:
    """What a run's model calls used altogether: summed over the LLM rows only (an agent's row never counts
    its model's tokens again)."""

    input_tokens: float
    output_tokens: float
    priced_cost_usd: float  # the calls with a price
    unpriced: float  # calls with usage and no price: the total cost is unknown, not free

    @property
    def cost_usd(self) -> float | None:
        """The whole run's cost, or None when some call had no price."""
        return None if self.unpriced else self.priced_cost_usd


def spent(rows: list[Row]) -> Spent:
    """The run's tokens and cost: the one place they are summed (the JSON report's ``spent``, the HTML
    summary, and the per-request figures a budget limits)."""
    llm = [row for row in rows if row.kind == names.KIND_LLM]
    return Spent(
        sum(row.input_tokens for row in llm),
        sum(row.output_tokens for row in llm),
        sum(row.cost_usd for row in llm),
        sum(row.unpriced for row in llm),
    )


def window(before: list[Row], after: list[Row]) -> list[Row]:
    """What happened between two scrapes; raises :class:`CounterReset` if a value went down."""
    earlier = {(row.kind, row.name): row for row in before}
    result = []
    for row in after:
        old = earlier.get((row.kind, row.name))
        delta = Row(row.kind, row.name, self_known=row.self_known)
        for name in _COUNTED:
            value = getattr(row, name) - (getattr(old, name) if old else 0.0)
            if value < -1e-9:
                raise CounterReset(f"{row.kind} {row.name}: {name} went down between scrapes (did the app restart?)")
            setattr(delta, name, max(value, 0.0))
        old_buckets = old.buckets if old else {}
        delta.buckets = {bound: count - old_buckets.get(bound, 0.0) for bound, count in row.buckets.items()}
        old_first = old.first_chunk_buckets if old else {}
        delta.first_chunk_buckets = {
            bound: count - old_first.get(bound, 0.0) for bound, count in row.first_chunk_buckets.items()
        }
        old_reasons = old.retry_reasons if old else {}
        delta.retry_reasons = {
            reason: count - old_reasons.get(reason, 0.0)
            for reason, count in row.retry_reasons.items()
            if count > old_reasons.get(reason, 0.0)
        }
        old_hot = old.hotspots if old else {}
        delta.hotspots = {
            where: seconds - old_hot.get(where, 0.0)
            for where, seconds in row.hotspots.items()
            if seconds > old_hot.get(where, 0.0)
        }
        old_path = old.critical_path if old else {}
        delta.critical_path = {
            part: seconds - old_path.get(part, 0.0)
            for part, seconds in row.critical_path.items()
            if seconds > old_path.get(part, 0.0)
        }
        delta.estimate_quantiles()
        result.append(delta)
    if any((row.kind, row.name) not in {(r.kind, r.name) for r in after} for row in before):
        raise CounterReset("series disappeared between scrapes (did the app restart?)")
    return result
