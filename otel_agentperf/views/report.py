"""Turns a Prometheus scrape of an instrumented app into per-operation performance rows.

Parsing uses prometheus-client's own text parser; quantiles are estimated from the histogram buckets the
way Prometheus' ``histogram_quantile`` does (linear interpolation inside the bucket). Rows hold
cumulative values, so two scrapes can be subtracted (:func:`window`) for rates over a refresh window.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field, fields

from prometheus_client.parser import text_string_to_metric_families

from otel_agentperf.conventions import names

QUANTILES = (0.5, 0.95, 0.99)


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
    blocking: float = 0.0
    tokens: float = 0.0
    cost_usd: float = 0.0
    size_records: float = 0.0
    size_observations: float = 0.0
    quantiles: dict[str, float | None] = field(default_factory=dict)
    # The interval each quantile certainly lies in: its bucket, narrowed by the mean; (v, v) when exact.
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    # "<" when only an upper bound is known (the first bucket), ">" only a lower one (the +Inf bucket).
    relations: dict[str, str] = field(default_factory=dict)
    buckets: dict[float, float] = field(default_factory=dict, repr=False)

    @property
    def mean_seconds(self) -> float | None:
        return self.total_seconds / self.calls if self.calls else None

    @property
    def mean_size(self) -> float | None:
        """Mean history size (records) this operation saw, when the store reports one."""
        return self.size_records / self.size_observations if self.size_observations else None

    def estimate_quantiles(self) -> None:
        self.quantiles, self.bounds, self.relations = {}, {}, {}
        for q in QUANTILES:
            key = f"p{round(q * 100)}"
            found = bounded_quantile(q, self.buckets, self.mean_seconds)
            self.quantiles[key] = None if found is None else found.value
            if found is not None:
                self.bounds[key] = (found.low, found.high)
                self.relations[key] = found.relation

    def quantile_text(self, key: str) -> str:
        """A quantile in milliseconds as far as it is known: ``< 0.2`` when only a bound is, ``> 81920.0``."""
        value = self.quantiles.get(key)
        if value is None:
            return "-"
        low, high = self.bounds[key]
        relation = self.relations.get(key, "")
        if relation == "<":
            return f"< {ms(high)}"
        if relation == ">":
            return f"> {ms(low)}"
        return ms(value)


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


def bounded_quantile(q: float, buckets: dict[float, float], mean: float | None) -> Estimate | None:
    """The ``q`` quantile from bucket counts and the mean, never outside what they allow.

    The quantile lies in its bucket; it is also at most ``mean / (1 - q)`` (Markov's inequality: values are
    durations, never negative), which narrows a coarse bucket; one observation is the mean itself. The
    estimate is the interpolated value kept inside those limits, so it never contradicts the mean; a
    quantile in the first bucket or in the +Inf bucket is known only by a bound.
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
        cap = mean / (1 - q)
        if cap >= low:
            high = min(high, cap)
    return Estimate(min(max(value, low), high), low, high, relation)


def _families() -> dict[str, str]:
    """Prometheus family name -> operation kind, for both semantic-convention layouts."""
    found: dict[str, str] = {}
    for latest in (False, True):
        for kind, spec in names.histograms(latest).items():
            if kind in names.NAMING_ATTRIBUTES:
                found[names.prometheus_name(spec.name, spec.unit)] = kind
    return found


# Families that add to a row besides its duration histogram: (kind, [(sample suffix, Row field)]).
_EXTRA = {
    names.prometheus_name(names.CLIENT_TOKEN_USAGE, names.UNIT_TOKENS): (names.KIND_LLM, [("_sum", "tokens")]),
    names.prometheus_name(names.LLM_COST, names.UNIT_USD): (names.KIND_LLM, [("_total", "cost_usd")]),
    names.prometheus_name(names.HISTORY_SIZE_RECORDS, names.UNIT_RECORDS): (
        names.KIND_HISTORY,
        [("_sum", "size_records"), ("_count", "size_observations")],
    ),
}


def parse(text: str) -> list[Row]:
    """Rows for every operation found in exposition ``text``, the most total time first."""
    families = _families()
    labels_of = {
        kind: [names.prometheus_label(attribute) for attribute in attributes]
        for kind, attributes in names.NAMING_ATTRIBUTES.items()
    }
    self_family = names.prometheus_name(names.SELF_TIME, names.UNIT_SECONDS)
    kind_label = names.prometheus_label(names.OPERATION_KIND)
    error_label = names.prometheus_label(names.ERROR_TYPE)
    redundant_label = names.prometheus_label(names.CONFIG_REDUNDANT)
    blocking_label = names.prometheus_label(names.BLOCKING_EVENT_LOOP)
    rows: dict[tuple[str, str], Row] = {}
    try:
        parsed = list(text_string_to_metric_families(text))
    except Exception as exc:
        raise ReportError(f"not Prometheus exposition text ({exc})") from exc

    def row_for(kind: str, labels: dict[str, str]) -> Row:
        # The exporter gives every series of a metric the same label keys, "" where a point had none.
        name = "/".join(value for label in labels_of[kind] if (value := labels.get(label))) or "-"
        return rows.setdefault((kind, name), Row(kind, name))

    for family in parsed:
        if family.name == self_family:
            for sample in family.samples:
                if sample.name.endswith("_total") and sample.labels.get(kind_label) in labels_of:
                    row = row_for(sample.labels[kind_label], sample.labels)
                    row.self_seconds += sample.value
                    row.self_known = True
            continue
        extra = _EXTRA.get(family.name)
        if extra is not None:
            extra_kind, by_suffix = extra
            for sample in family.samples:
                for suffix, attribute in by_suffix:
                    if sample.name.endswith(suffix):
                        row = row_for(extra_kind, sample.labels)
                        setattr(row, attribute, getattr(row, attribute) + sample.value)
            continue
        kind = families.get(family.name)
        if kind is None or family.type != "histogram":
            continue
        for sample in family.samples:
            row = row_for(kind, sample.labels)
            if sample.name.endswith("_bucket"):
                bound = float(sample.labels["le"])
                row.buckets[bound] = row.buckets.get(bound, 0.0) + sample.value
            elif sample.name.endswith("_count"):
                row.calls += sample.value
                if sample.labels.get(error_label):
                    row.errors += sample.value
                if sample.labels.get(redundant_label) == "true":
                    row.redundant += sample.value
                if sample.labels.get(blocking_label) == "true":
                    row.blocking += sample.value
            elif sample.name.endswith("_sum"):
                row.total_seconds += sample.value
    for row in rows.values():
        row.estimate_quantiles()
    return ranked(list(rows.values()))


def ranked(rows: list[Row]) -> list[Row]:
    """Most self time first (where the time really goes); by total time for data without self time."""
    if any(row.self_seconds for row in rows):
        return sorted(rows, key=lambda row: (row.self_seconds, row.total_seconds), reverse=True)
    return sorted(rows, key=lambda row: row.total_seconds, reverse=True)


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
        delta.estimate_quantiles()
        result.append(delta)
    if any((row.kind, row.name) not in {(r.kind, r.name) for r in after} for row in before):
        raise CounterReset("series disappeared between scrapes (did the app restart?)")
    return result


def fetch(url: str, timeout: float = 10.0) -> str:
    """GET a metrics endpoint; any failure becomes a :class:`ReportError` naming the URL."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return str(response.read().decode("utf-8", errors="replace"))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ReportError(f"cannot read {url}: {getattr(exc, 'reason', exc)}") from exc


def ms(seconds: float | None) -> str:
    """Milliseconds with one decimal, or ``-`` when unknown."""
    return "-" if seconds is None else f"{seconds * 1000:.1f}"


def notes(row: Row) -> str:
    """What a row says beyond timings: redundant loads, event-loop blocking, tokens and cost."""
    said = []
    if row.redundant:
        said.append(f"{row.redundant:g} redundant")
    if row.blocking:
        said.append(f"{row.blocking:g} blocked the event loop")
    if row.tokens:
        said.append(f"{row.tokens:g} tokens")
    if row.cost_usd:
        said.append(f"${row.cost_usd:.4f}")
    return ", ".join(said)


HEADER = (
    "kind",
    "operation",
    "calls",
    "errors",
    "self ms",
    "total ms",
    "mean ms",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "notes",
)


def cells(row: Row) -> tuple[str, ...]:
    return (
        row.kind,
        row.name,
        f"{row.calls:g}",
        f"{row.errors:g}",
        ms(row.self_seconds) if row.self_known else "-",
        ms(row.total_seconds),
        ms(row.mean_seconds),
        *(row.quantile_text(f"p{round(q * 100)}") for q in QUANTILES),
        notes(row),
    )


def render_table(rows: list[Row], bottlenecks: list[str]) -> str:
    """A fixed-width table for the terminal: names and notes left-aligned, numbers right-aligned."""
    lines = [HEADER, *(cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    rendered = []
    for line in lines:
        padded = [
            cell.ljust(width) if i < 2 or i == len(widths) - 1 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        rendered.append("  ".join(padded).rstrip())
    if bottlenecks:
        rendered += ["", "Bottlenecks:", *(f"- {sentence}" for sentence in bottlenecks)]
    return "\n".join(rendered)


def render_markdown(rows: list[Row], bottlenecks: list[str]) -> str:
    """A GitHub-flavoured Markdown table, for CI logs and issues."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(cells(row)) + " |" for row in rows]
    if bottlenecks:
        lines += ["", "**Bottlenecks**", "", *(f"- {sentence}" for sentence in bottlenecks)]
    return "\n".join(lines)


def render_json(rows: list[Row], bottlenecks: list[str]) -> str:
    """Machine-readable rows (seconds, not milliseconds) and the bottleneck sentences."""
    operations = []
    for row in rows:
        item = asdict(row)
        item.pop("buckets")
        item["bounds"] = {key: [low, None if math.isinf(high) else high] for key, (low, high) in row.bounds.items()}
        item["mean_seconds"] = row.mean_seconds
        operations.append(item)
    return json.dumps({"operations": operations, "bottlenecks": bottlenecks}, indent=2)
