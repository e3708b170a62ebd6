"""``compare BASE NEW``: what changed between two runs per request, and why, in causes that add up.

Per root (a request kind and name present in both runs) the request rows give the latency and, from their
critical path (``requests.py``: a held loop's waits charged to its holders), the seconds each operation
was on a request's path. Those add up to the mean request latency, so the change in mean latency is the
sum of each operation's change in critical-path seconds per request: the causes, with the residual (what
rounding leaves) shown.

An LLM operation's change is split further, by the calls' own figures (``Row``: per call, ``t`` the mean
duration, ``r`` the retry and backoff time, ``f`` the time to first chunk, ``o`` the output tokens and
``τ = (t - r - f) / o`` the time per output token), with ``c = P / t`` the calls' worth of its time on the
path (``P`` its critical-path seconds per request)::

    ΔP = Δc·t₀ + c₁·Δr + c₁·Δf + c₁·Δo·τ₀ + c₁·o₁·Δτ

(index 0 the base, 1 the new run; exact, since ``P = c·(r + f + o·τ)``). An operation that exists in one
run only is paired with one of its kind that exists in the other only, when both are called by the same
operations (from traces) or, without traces, when they are the only such pair of their kind: a model swapped
for another is one cause, split as above, not a loss and a gain.

The cost per request is split by model the same way: ``ΔC = Δn·k₀ + n₁·Δk`` (``n`` calls per request,
``k`` dollars per call). Per-request counts of operations (calls, tokens, cost, retries, blocked and waited
time) are row totals over every request of every root: the denominator is stated with them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_agentperf.conventions import names
from otel_agentperf.receiving import saved
from otel_agentperf.receiving.finished_traces import FinishedTraces
from otel_agentperf.receiving.metric_digest import MetricDigest
from otel_agentperf.views import critical_path, insights, otlp, requests, sources, spans, stats
from otel_agentperf.views.critical_path import Key
from otel_agentperf.views.families import IMPORT, REQUEST
from otel_agentperf.views.rows import ReportError, Row

ALPHA = 0.01


@dataclass(frozen=True)
class Side:
    """One run as ``compare`` reads it: its rows, and from its traces (when it has them) each root's
    per-request latencies, per-run mean latencies (``run --repeat``) and the callers of each operation."""

    label: str
    rows: list[Row]
    samples: dict[str, list[float]] = field(default_factory=dict)  # request row name -> seconds
    run_means: dict[str, list[float]] = field(default_factory=dict)  # when it holds more than one run
    callers: dict[Key, frozenset[Key]] = field(default_factory=dict)

    @property
    def traced(self) -> bool:
        return bool(self.samples)


class _Walk:
    """What ``compare`` reads of traces, taken one finished trace at a time (``finished_traces``), so a saved run
    of any size is read in memory bounded by the traces in flight and the operations' names: per root, each
    request's latency (what the rank test needs), per run and root the latencies' sum and
    count, and each operation's callers (its nearest enclosing operation).

    A trace with no request in it belongs to its process (``critical_path.all_requests``): its operations
    are kept per resource (their earliest start, latest end and callers) and become that process's one
    request at the end, unless the resource sent a request too.
    """

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {}
        self.per_run: dict[tuple[str, str], list[float]] = {}  # (run index, root) -> [sum, count]
        self.callers: dict[Key, set[Key]] = {}
        self._busy: set[tuple[tuple[str, str], ...]] = set()
        self._quiet: dict[tuple[tuple[str, str], ...], tuple[int, int, dict[Key, set[Key]]]] = {}

    def add(self, trace: spans.Trace) -> None:
        found = list(critical_path.requests(trace.roots))
        if not found:
            self._add_quiet(trace)
            return
        self._busy.add(trace.resource)
        run = dict(trace.resource).get(names.RUN_INDEX, "")
        for root in found:
            self._add_request(root, run, self.callers)

    def _add_request(self, root: spans.SpanNode, run: str, callers: dict[Key, set[Key]]) -> None:
        name = f"{root.kind} {root.label}"
        seconds = root.duration / 1e9
        self.samples.setdefault(name, []).append(seconds)
        total = self.per_run.setdefault((run, name), [0.0, 0.0])
        total[0] += seconds
        total[1] += 1
        pending = [root]
        while pending:
            node = pending.pop()
            for child in critical_path.operations(node):
                callers.setdefault((child.kind, child.label), set()).add((node.kind, node.label))
                pending.append(child)

    def _add_quiet(self, trace: spans.Trace) -> None:
        if trace.resource in self._busy:
            return
        holder = spans.SpanNode("", b"", b"", 0, 0, False, children=trace.roots)
        ran = list(critical_path.operations(holder))
        if not ran:
            return
        start, end, callers = self._quiet.get(trace.resource, (min(n.start for n in ran), 0, {}))
        label = dict(trace.resource).get(names.SERVICE_NAME, names.UNKNOWN_SERVICE)
        for node in ran:
            callers.setdefault((node.kind, node.label), set()).add((names.KIND_PROCESS, label))
            pending = [node]
            while pending:
                each = pending.pop()
                for child in critical_path.operations(each):
                    callers.setdefault((child.kind, child.label), set()).add((each.kind, each.label))
                    pending.append(child)
        start = min(start, *(node.start for node in ran))
        self._quiet[trace.resource] = (start, max(end, *(node.end for node in ran)), callers)

    def side(self, label: str, rows: list[Row]) -> Side:
        """The run as ``compare`` reads it, once every trace was added."""
        for resource, (start, end, callers) in self._quiet.items():
            if resource in self._busy:
                continue
            name = dict(resource).get(names.SERVICE_NAME, names.UNKNOWN_SERVICE)
            process = spans.SpanNode(names.KIND_PROCESS, b"", b"", start, end, False)
            process.kind, process.label = names.KIND_PROCESS, name
            self._add_request(process, dict(resource).get(names.RUN_INDEX, ""), {})
            for key, found in callers.items():
                self.callers.setdefault(key, set()).update(found)
        run_means: dict[str, list[float]] = {}
        if len({run for run, _ in self.per_run}) > 1:
            for (_, name), (total, count) in sorted(self.per_run.items()):
                run_means.setdefault(name, []).append(total / count)
        frozen = {key: frozenset(found) for key, found in self.callers.items()}
        return Side(label, rows, self.samples, run_means, frozen)


def _saved_run(path: Path, stream: BinaryIO) -> Side:
    """A saved run read one record at a time: its metrics through ``run``'s digest, its traces handed on one
    at a time as they finish."""
    digest = MetricDigest()
    traces = FinishedTraces()
    walk = _Walk()

    def walk_through(finished: list[ExportTraceServiceRequest]) -> None:
        for request in finished:
            for trace in spans.traces([request]):
                walk.add(trace)

    try:
        for signal, payload in saved.records(stream):
            if signal == "metrics":
                digest.add(ExportMetricsServiceRequest.FromString(payload))
            else:
                walk_through(traces.add(ExportTraceServiceRequest.FromString(payload)))
    except DecodeError as exc:
        raise ReportError(f"{path}: a record is not an OTLP request ({exc})") from exc
    except saved.SavedRunError as exc:
        raise ReportError(f"{path}: {exc}") from exc
    walk_through(traces.close())
    return walk.side(str(path), otlp.rows([digest.request()] if digest.exports else []))


def load(path: Path) -> Side:
    """A saved run (with its traces) or a ``report --format json`` output (rows only); raises
    :class:`rows.ReportError` for anything else that cannot be read."""
    try:
        with path.open("rb") as stream:
            if saved.is_saved_run(stream.read(len(saved.MAGIC))):
                stream.seek(0)
                return _saved_run(path, stream)
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror or exc}") from exc
    source = sources.from_file(path)
    return Side(source.label, source.rows)


@dataclass(frozen=True)
class Part:
    """A share of an LLM operation's change: what changed (``formula`` names it) and the seconds it gave."""

    what: str
    formula: str
    seconds: float


@dataclass(frozen=True)
class Cause:
    """An operation's change in critical-path seconds per request (``name`` says ``old → new`` for a
    replaced one); ``parts`` split an LLM operation's change, ``usd`` its change in cost per request."""

    kind: str
    name: str
    base: float
    new: float
    parts: list[Part]
    usd: float | None = None

    @property
    def delta(self) -> float:
        return self.new - self.base

    @property
    def residual(self) -> float:
        """What the parts leave of the change (0 but for rounding): shown, never hidden."""
        return self.delta - sum(part.seconds for part in self.parts) if self.parts else 0.0


@dataclass(frozen=True)
class Verdict:
    """Whether a root's latency change is more than noise: the test, its p-value, or why there is none."""

    test: str
    p: float | None
    alpha: float

    @property
    def significant(self) -> bool | None:
        return None if self.p is None else self.p < self.alpha


@dataclass(frozen=True)
class Root:
    """One root's requests in both runs: latency, the causes of its change (largest first) and the test."""

    kind: str
    name: str
    base: Row
    new: Row
    causes: list[Cause]
    verdict: Verdict

    @property
    def delta(self) -> float:
        return (self.new.mean_seconds or 0.0) - (self.base.mean_seconds or 0.0)

    @property
    def residual(self) -> float:
        return self.delta - sum(cause.delta for cause in self.causes)

    def share(self, cause: Cause) -> float:
        """A cause's part of all the movement, in percent: its ``|Δ|`` over the sum of every cause's
        ``|Δ|`` (at most 100, even when causes pull both ways)."""
        moved = sum(abs(each.delta) for each in self.causes)
        return 100 * abs(cause.delta) / moved if moved > 0 else 0.0


@dataclass(frozen=True)
class Count:
    """A figure per request over every root's requests; ``exact`` ones (counts) change by any amount."""

    name: str
    unit: str  # "", "tokens", "USD", "s"
    base: float
    new: float
    exact: bool

    @property
    def delta(self) -> float:
        return self.new - self.base

    @property
    def changed(self) -> bool:
        """Any change of a count (beyond float noise); a time is judged by the test, not here."""
        return abs(self.delta) > 1e-9 * max(abs(self.base), abs(self.new), 1.0)


@dataclass(frozen=True)
class ModelCost:
    """A model's change in dollars per request: ``from_calls = Δn·k₀`` and ``from_per_call = n₁·Δk``."""

    name: str
    calls: tuple[float, float]  # per request
    usd_per_call: tuple[float, float]
    tokens_per_call: tuple[float, float]
    from_calls: float
    from_per_call: float

    @property
    def delta(self) -> float:
        return self.from_calls + self.from_per_call


@dataclass(frozen=True)
class Diagnosis:
    """One of the report's diagnoses (``insights``) in both runs, per request (per process for an import):
    its seconds, and its tokens and dollars where it spends them. The figures are the rows' own."""

    what: str  # one of DIAGNOSES
    kind: str
    name: str  # the operation, or the package of an import
    seconds: tuple[float, float]
    tokens: tuple[float, float] | None = None
    usd: tuple[float, float] | None = None
    per: str = "request"
    weight: float = 1.0  # what one ``per`` is worth in requests: an import's processes over the requests
    place: str = ""  # a CPU hotspot's code location

    @property
    def delta(self) -> float:
        return self.seconds[1] - self.seconds[0]

    @property
    def cost(self) -> float:
        """The change per request, what diagnoses are ordered by (an import's spread over its run's requests)."""
        return self.delta * self.weight


@dataclass(frozen=True)
class Comparison:
    base: str
    new: str
    roots: list[Root]
    requests: tuple[float, float]  # every root's requests, the denominator of the counts
    counts: list[Count]
    costs: list[ModelCost]
    notes: list[str]
    diagnoses: list[Diagnosis] = field(default_factory=list)


def _per_call(row: Row | None, total: Callable[[Row], float]) -> float | None:
    return total(row) / row.calls if row is not None and row.calls else None


def _split(
    base: Row | None, new: Row | None, on_path: tuple[float, float]
) -> list[Part]:  # the module docstring's formula
    """An LLM operation's change in critical-path seconds per request, in the parts the formula names."""
    figures: list[dict[str, float]] = []
    for row in (base, new):
        mean = _per_call(row, lambda r: r.total_seconds)
        if row is None or mean is None:
            figures.append({})
            continue
        retry = row.retry_seconds / row.calls
        first = row.first_chunk_seconds / row.calls
        tokens = row.output_tokens / row.calls
        rest = mean - retry - first
        figures.append(
            {"t": mean, "r": retry, "f": first, "o": tokens, "tau": rest / tokens if tokens > 0 else 0.0, "rest": rest}
        )
    old, now = figures
    if not old and not now:
        return []
    old, now = old or now, now or old  # one run only: its figures stand for the other's (then Δ is the calls)
    calls = [
        seconds / figure["t"] if figure["t"] > 0 else 0.0 for seconds, figure in zip(on_path, (old, now), strict=True)
    ]
    delta_calls = calls[1] - calls[0]
    parts = [
        Part("calls on the critical path x time per call", "Δc·t₀", delta_calls * old["t"]),
        Part("retry and backoff time per call", "c₁·Δr", calls[1] * (now["r"] - old["r"])),
        Part("time to first chunk", "c₁·Δf", calls[1] * (now["f"] - old["f"])),
    ]
    if old["o"] > 0 and now["o"] > 0:
        parts.append(Part("output tokens x time per token", "c₁·Δo·τ₀", calls[1] * (now["o"] - old["o"]) * old["tau"]))
        parts.append(Part("time per output token", "c₁·o₁·Δτ", calls[1] * now["o"] * (now["tau"] - old["tau"])))
    else:
        parts.append(Part("the rest of a call's time", "c₁·Δ(t - r - f)", calls[1] * (now["rest"] - old["rest"])))
    return parts


def _paths(side: Side, row: Row) -> dict[Key, float]:
    """A root's critical path per request, waits for held loops charged to the holders (``requests.py``)."""
    holders = [each for each in side.rows if each.kind != REQUEST and each.blocked_seconds > 0]
    return {key: seconds / row.calls for key, seconds in requests.charged(row, holders).items()}


def _pairs(base: Side, new: Side, gone: set[Key], came: set[Key]) -> dict[Key, Key]:
    """Operations replaced by another of their kind (new key -> base key): by their callers when both runs
    have traces, else when they are their kind's only operation that went and only one that came."""
    found: dict[Key, Key] = {}
    for kind in {key[0] for key in gone} & {key[0] for key in came}:
        old = [key for key in gone if key[0] == kind]
        now = [key for key in came if key[0] == kind]
        if base.traced and new.traced:
            for key in now:
                match = [each for each in old if base.callers.get(each) == new.callers.get(key)]
                if len(match) == 1 and match[0] not in found.values():
                    found[key] = match[0]
        elif len(old) == 1 and len(now) == 1:
            found[now[0]] = old[0]
    return found


def _verdict(base: Side, new: Side, name: str, alpha: float) -> Verdict:
    """The test of a root's latency: over per-run means when both inputs hold runs, else over requests."""
    if len(base.run_means.get(name, [])) > 1 and len(new.run_means.get(name, [])) > 1:
        first, second, what = base.run_means[name], new.run_means[name], "per-run mean latencies"
    elif base.samples.get(name) and new.samples.get(name):
        first, second, what = base.samples[name], new.samples[name], "per-request latencies"
    else:
        return Verdict("none: a report JSON has no per-request samples (compare saved runs for a test)", None, alpha)
    test = stats.mann_whitney(first, second)
    assert test is not None  # both samples are non-empty
    return Verdict(f"Mann-Whitney U over {what} ({test.sizes[0]} vs {test.sizes[1]})", test.p, alpha)


def _rows(side: Side) -> dict[Key, Row]:
    return {(row.kind, row.name): row for row in side.rows if row.kind != REQUEST}


def _root(base: Side, new: Side, old_row: Row, new_row: Row, alpha: float) -> Root:
    old_path, new_path = _paths(base, old_row), _paths(new, new_row)
    old_rows, new_rows = _rows(base), _rows(new)
    pairs = _pairs(base, new, set(old_path) - set(new_path), set(new_path) - set(old_path))
    paired = set(pairs.values())
    causes = []
    for key in sorted(set(old_path) | set(new_path)):
        if key in paired:
            continue
        was = pairs.get(key, key)
        label = f"{was[1]} → {key[1]}" if was != key else key[1]
        seconds = (old_path.get(was, 0.0), new_path.get(key, 0.0))
        before, after = old_rows.get(was), new_rows.get(key)
        parts = _split(before, after, seconds) if key[0] == names.KIND_LLM else []
        usd = None
        if key[0] == names.KIND_LLM:
            per = (request_count(base), request_count(new))
            usd = (after.cost_usd if after else 0.0) / per[1] - (before.cost_usd if before else 0.0) / per[0]
        causes.append(Cause(key[0], label, seconds[0], seconds[1], parts, usd))
    causes.sort(key=lambda cause: abs(cause.delta), reverse=True)
    kind, _, name = old_row.name.partition(" ")
    return Root(kind, name, old_row, new_row, causes, _verdict(base, new, old_row.name, alpha))


def request_count(side: Side) -> float:
    """Every root's requests in a run: the denominator of the per-request counts of operations."""
    return sum(row.calls for row in side.rows if row.kind == REQUEST) or 1.0


_COUNTS: tuple[tuple[str, str, bool, Callable[[Row], float], tuple[str, ...]], ...] = (
    ("llm_calls", "", True, lambda row: row.calls, (names.KIND_LLM,)),
    ("tool_calls", "", True, lambda row: row.calls, (names.KIND_TOOL,)),
    ("input_tokens", "tokens", True, lambda row: row.input_tokens, (names.KIND_LLM,)),
    ("output_tokens", "tokens", True, lambda row: row.output_tokens, (names.KIND_LLM,)),
    ("cost_usd", "USD", True, lambda row: row.cost_usd, (names.KIND_LLM,)),
    ("retries", "", True, lambda row: row.retries, (names.KIND_LLM,)),
    ("blocked_seconds", "s", False, lambda row: row.blocked_seconds, ()),
    ("waited_seconds", "s", False, lambda row: row.waited_seconds, ()),
)


def _counts(base: Side, new: Side) -> list[Count]:
    found = []
    for name, unit, exact, read, kinds in _COUNTS:
        totals = [
            sum(read(row) for row in side.rows if row.kind != REQUEST and (not kinds or row.kind in kinds))
            / request_count(side)
            for side in (base, new)
        ]
        found.append(Count(name, unit, totals[0], totals[1], exact))
    return found


def _costs(base: Side, new: Side) -> list[ModelCost]:
    found = []
    old_rows, new_rows = _rows(base), _rows(new)
    per = (request_count(base), request_count(new))
    for key in sorted(set(old_rows) | set(new_rows)):
        if key[0] != names.KIND_LLM:
            continue
        rows = (old_rows.get(key), new_rows.get(key))
        calls = tuple(row.calls / each if row else 0.0 for row, each in zip(rows, per, strict=True))
        usd = [_per_call(row, lambda r: r.cost_usd) for row in rows]
        tokens = [_per_call(row, lambda r: r.tokens) for row in rows]
        if not any(row.cost_usd for row in rows if row):
            continue
        old_usd = usd[0] if usd[0] is not None else usd[1] or 0.0
        new_usd = usd[1] if usd[1] is not None else old_usd
        found.append(
            ModelCost(
                key[1],
                (calls[0], calls[1]),
                (old_usd, new_usd),
                (tokens[0] or 0.0, tokens[1] or 0.0),
                (calls[1] - calls[0]) * old_usd,
                calls[1] * (new_usd - old_usd),
            )
        )
    return sorted(found, key=lambda cost: abs(cost.delta), reverse=True)


# What each diagnosis reads of a row: its seconds, tokens and dollars (None where it spends none).
_DIAGNOSED: tuple[
    tuple[str, Callable[[Row], float], Callable[[Row], float] | None, Callable[[Row], float] | None], ...
] = (
    ("calls one after another (recoverable)", lambda row: row.recoverable_seconds, None, None),
    ("repeated calls", lambda row: row.repeated_seconds, lambda row: row.repeated_tokens, lambda r: r.repeated_usd),
    ("growing prompts", lambda row: row.excess_seconds, lambda row: row.excess_tokens, lambda row: row.excess_usd),
    ("waiting for a connection", lambda row: row.connection_wait_seconds, None, None),
    ("queued on a saturated loop", lambda row: row.saturated_queued_seconds, None, None),
)
DIAGNOSES = (*(what for what, *_ in _DIAGNOSED), "slow import", "CPU hotspot")


def _diagnoses(base: Side, new: Side) -> list[Diagnosis]:
    """Every diagnosis either run has, per request (an import the report names: per process), the largest change
    per request first."""
    per = (request_count(base), request_count(new))
    old_rows, new_rows = _rows(base), _rows(new)
    slow = {(row.kind, row.name) for side in (base, new) for row in insights.slow_import_rows(side.rows)}
    found = []
    for key in sorted(set(old_rows) | set(new_rows)):
        rows = (old_rows.get(key), new_rows.get(key))
        kind, name = key
        if kind == IMPORT:
            if key in slow:  # what the report names, in either run
                seconds = tuple((row.mean_seconds or 0.0) if row else 0.0 for row in rows)
                processes = max(row.calls if row else 0.0 for row in rows)
                weight = processes / max(per)
                found.append(
                    Diagnosis("slow import", kind, name, (seconds[0], seconds[1]), per="process", weight=weight)
                )
            continue
        for what, spent, tokens, usd in _DIAGNOSED:
            figures = [spent(row) / each if row else 0.0 for row, each in zip(rows, per, strict=True)]
            if not any(figures):
                continue
            counted = [tokens(row) / each if row and tokens else 0.0 for row, each in zip(rows, per, strict=True)]
            paid = [usd(row) / each if row and usd else 0.0 for row, each in zip(rows, per, strict=True)]
            found.append(
                Diagnosis(
                    what,
                    kind,
                    name,
                    (figures[0], figures[1]),
                    (counted[0], counted[1]) if tokens else None,
                    (paid[0], paid[1]) if usd else None,
                )
            )
        places = set(rows[0].hotspots if rows[0] else ()) | set(rows[1].hotspots if rows[1] else ())
        for place in sorted(places):
            sampled = [row.hotspots.get(place, 0.0) / each if row else 0.0 for row, each in zip(rows, per, strict=True)]
            found.append(Diagnosis("CPU hotspot", kind, name, (sampled[0], sampled[1]), place=place))
    return sorted(found, key=lambda diagnosis: abs(diagnosis.cost), reverse=True)


def compare(base: Side, new: Side, alpha: float = ALPHA) -> Comparison:
    """Every root both runs have, the per-request counts and the cost by model; notes say what is missing."""
    old_roots = {row.name: row for row in base.rows if row.kind == REQUEST and row.calls}
    new_roots = {row.name: row for row in new.rows if row.kind == REQUEST and row.calls}
    roots = [_root(base, new, old_roots[name], new_roots[name], alpha) for name in old_roots if name in new_roots]
    notes = [f"only in {base.label}: {name}" for name in old_roots if name not in new_roots]
    notes += [f"only in {new.label}: {name}" for name in new_roots if name not in old_roots]
    for side in (base, new):
        if not side.traced:
            notes.append(f"{side.label} has no traces (a report JSON): no per-request samples, no statistical test")
    roots.sort(key=lambda root: abs(root.delta) * root.new.calls, reverse=True)  # the most time moved first
    return Comparison(
        base.label,
        new.label,
        roots,
        (request_count(base), request_count(new)),
        _counts(base, new),
        _costs(base, new),
        notes,
        _diagnoses(base, new),
    )


def percent(delta: float, base: float | None) -> float | None:
    """``delta`` as a percentage of ``base``; None when there is no base to be a share of."""
    return None if not base or math.isclose(base, 0.0) else 100 * delta / base
