"""Metric families into report rows: the one place that decides how metrics become rows.

A Prometheus scrape (``scrape.py``) and the OTLP metrics ``otel-agentperf run`` received (``otlp.py``) both
arrive here as metric families named and labelled as the Prometheus exporter spells them
(``conventions/prometheus.py``), so both sources give the same rows for the same telemetry.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from otel_agentperf.conventions import names, prometheus
from otel_agentperf.conventions.instruments import catalogue
from otel_agentperf.views.rows import Row, ranked


def _families() -> dict[str, str]:
    """Prometheus family name -> operation kind, for both semantic-convention layouts."""
    found: dict[str, str] = {}
    for latest in (False, True):
        for kind, spec in catalogue(latest).durations.items():
            if kind in names.NAMING_ATTRIBUTES:
                found[prometheus.family(spec)] = kind
    return found


# The Row field of each token direction.
_TOKEN_FIELDS = {names.TOKEN_TYPE_INPUT: "input_tokens", names.TOKEN_TYPE_OUTPUT: "output_tokens"}

# Families that add to a row besides its duration histogram: (kind, [(sample suffix, Row field)]).
_EXTRA = {
    # The newest layout's token counters, one per direction (the per-operation histograms leave failed
    # operations out). v1.41's one histogram says the direction in a label: read in ``rows``.
    **{
        prometheus.family(catalogue(True).usage_tokens[token_type]): (names.KIND_LLM, [("_total", field)])
        for token_type, field in _TOKEN_FIELDS.items()
    },
    prometheus.family(catalogue(False).cost): (names.KIND_LLM, [("_total", "cost_usd")]),
    prometheus.family(catalogue(False).unpriced): (names.KIND_LLM, [("_total", "unpriced")]),
    prometheus.family(catalogue(False).llm_retry_duration): (
        names.KIND_LLM,
        [("_sum", "retry_seconds"), ("_count", "retried_calls")],
    ),
    prometheus.family(catalogue(False).history_records): (
        names.KIND_HISTORY,
        [("_sum", "size_records"), ("_count", "size_observations")],
    ),
}


# Counters of the diagnoses (work that could have overlapped, repeated calls, growing prompts): the Row
# field each adds to, on the row of the operation the kind label and naming attributes name.
_DIAGNOSES = {
    names.SEQUENTIAL_CALLS: "sequential_calls",
    names.SEQUENTIAL_DURATION: "sequential_seconds",
    names.SEQUENTIAL_RECOVERABLE: "recoverable_seconds",
    names.REPEATED_CALLS: "repeated_calls",
    names.REPEATED_DURATION: "repeated_seconds",
    names.REPEATED_TOKENS: "repeated_tokens",
    names.REPEATED_COST: "repeated_usd",
    names.PROMPT_LATER_TURNS: "later_turns",
    names.PROMPT_TURN_DISTANCE: "turn_distance",
    names.PROMPT_FIRST_TURN_TOKENS: "first_turn_tokens",
    names.PROMPT_EXCESS_TOKENS: "excess_tokens",
    names.PROMPT_EXCESS_DURATION: "excess_seconds",
    names.PROMPT_EXCESS_COST: "excess_usd",
    names.CONNECTION_WAIT_CALLS: "connection_wait_calls",
    names.CONNECTION_WAIT_DURATION: "connection_wait_seconds",
    names.CONNECTION_WAIT_POOL_LIMIT: "connection_wait_limits",
}


CODE = "code"  # the kind of a row for application code that ran outside any operation
# A code row is listed when it held its loop for at least this share of the time all rows held loops: the
# few places worth a look, not every stray import or library callback that once crossed the threshold.
CODE_SHARE = 0.01
STARTUP = "startup"  # the kind of the cold-start rows: one per phase, a call per process
# The kind of a request's row: named by its root's kind and name (``agent Orchestrator``), its calls the
# requests, its durations their wall times, with their critical path.
REQUEST = "request"
# Rows that are not operations: they have lines of their own, outside the operation table.
IMPORT = "import"  # the kind of the cold start's import rows: one per top-level package, a call per process
# The kind of the package's own-cost rows: one per operation kind, its calls the sampled operations, its
# total their own time (recording/overhead.py).
OVERHEAD = "overhead"
LOOP = "loop"  # the kind of an event loop's row (saturation), named by its thread
NOT_OPERATIONS = (CODE, STARTUP, IMPORT, REQUEST, OVERHEAD, LOOP)


class _Ours:
    """A metric family with only the samples otel-agentperf recorded."""

    def __init__(self, family: Any, samples: list[Any]) -> None:
        self.name, self.type, self.samples = family.name, family.type, samples


def _ours(parsed: Iterable[Any]) -> Iterator[Any]:
    """The families, keeping only otel-agentperf's points where the source names their scope: the same
    GenAI metric recorded by another instrumentation in the app (a framework's own, contrib's) would
    otherwise count every call twice. A source that names no scope (an older exporter) is all ours."""
    ours = names.SCOPE_NAME
    for family in parsed:
        samples = [sample for sample in family.samples if sample.labels.get(prometheus.SCOPE_LABEL, ours) == ours]
        yield family if len(samples) == len(family.samples) else _Ours(family, samples)


class _Read(NamedTuple):
    """Every metric family and label :func:`rows` reads, as the exporter spells them: one list, which
    ``rows`` reads by and a source that aggregates before it hands families over (a Prometheus server,
    ``prometheus_window.py``) keeps."""

    durations: dict[str, str]  # duration family -> the kind of its rows
    labels_of: dict[str, list[str]]  # kind -> the labels that name its rows
    request_labels: list[str]
    path_family: str
    path_label: str
    self_family: str
    blocked_family: str
    waited_family: str
    memory_families: dict[str, tuple[str, str]]
    first_chunk_families: set[str]
    retries_family: str
    token_usage_family: str
    token_type_label: str
    status_label: str
    kind_label: str
    error_label: str
    redundant_label: str
    blocking_label: str
    operation_label: str
    diagnoses: dict[str, str]  # a diagnosis counter's family -> the Row field it adds to
    loops: dict[str, str]  # a loop counter's family -> the field of the loop's row it adds to
    holders: dict[str, str]  # a consumed or queued counter's family -> the field of the operation's (or code's) row
    cpu_family: str  # the CPU sampler's seconds per code location
    function_label: str
    line_label: str


@functools.cache
def _read() -> _Read:
    families = _families()
    labels_of = {
        kind: [prometheus.label(attribute) for attribute in attributes]
        for kind, attributes in names.NAMING_ATTRIBUTES.items()
    }
    # Code outside any operation that held the event loop is a row of its own, named ``module:function``
    # (its file's path, when the user opted in to paths, stays a label of the metric, not the row's name).
    labels_of[CODE] = [prometheus.label(names.CODE_FUNCTION)]
    labels_of[STARTUP] = [prometheus.label(names.STARTUP_PHASE)]
    labels_of[LOOP] = [prometheus.label(names.THREAD_NAME)]
    families[prometheus.family(catalogue(False).startup)] = STARTUP
    labels_of[IMPORT] = [prometheus.label(names.IMPORT_MODULE)]
    families[prometheus.family(catalogue(False).import_duration)] = IMPORT
    families[prometheus.family(catalogue(False).request_duration)] = REQUEST
    labels_of[OVERHEAD] = [prometheus.label(names.OPERATION_KIND)]
    families[prometheus.family(catalogue(False).overhead)] = OVERHEAD
    memory = catalogue(False).memory
    return _Read(
        durations=families,
        labels_of=labels_of,
        request_labels=[prometheus.label(names.REQUEST_KIND), prometheus.label(names.REQUEST_NAME)],
        path_family=prometheus.family(catalogue(False).critical_path),
        path_label=prometheus.label(names.CRITICAL_PATH_OPERATION),
        self_family=prometheus.family(catalogue(False).self_time),
        blocked_family=prometheus.family(catalogue(False).event_loop_blocked),
        waited_family=prometheus.family(catalogue(False).event_loop_waited),
        memory_families={
            prometheus.family(memory[names.MEMORY_PEAK]): ("memory_peak_bytes", "memory_peak_calls"),
            prometheus.family(memory[names.MEMORY_RSS_DELTA]): ("memory_rss_bytes", "memory_rss_calls"),
        },
        first_chunk_families={prometheus.family(catalogue(latest).time_to_first_chunk) for latest in (False, True)},
        retries_family=prometheus.family(catalogue(False).llm_retries),
        token_usage_family=prometheus.family(catalogue(False).token_usage),
        token_type_label=prometheus.label(names.GEN_AI_TOKEN_TYPE),
        status_label=prometheus.label(names.HTTP_RESPONSE_STATUS_CODE),
        kind_label=prometheus.label(names.OPERATION_KIND),
        error_label=prometheus.label(names.ERROR_TYPE),
        redundant_label=prometheus.label(names.CONFIG_REDUNDANT),
        blocking_label=prometheus.label(names.BLOCKING_EVENT_LOOP),
        operation_label=prometheus.label(names.GEN_AI_OPERATION_NAME),
        diagnoses={prometheus.family(spec): _DIAGNOSES[spec.name] for spec in catalogue(False).diagnoses()},
        loops={
            prometheus.family(catalogue(False).event_loop_running): "loop_seconds",
            prometheus.family(catalogue(False).event_loop_busy): "busy_seconds",
            prometheus.family(catalogue(False).event_loop_saturated): "saturated_seconds",
            prometheus.family(catalogue(False).event_loop_saturated_queued): "saturated_queued_seconds",
        },
        holders={
            prometheus.family(catalogue(False).event_loop_consumed): "consumed_seconds",
            prometheus.family(catalogue(False).event_loop_queued): "queued_seconds",
        },
        cpu_family=prometheus.family(catalogue(False).cpu_sampled_time),
        function_label=prometheus.label(names.CODE_FUNCTION),
        line_label=prometheus.label(names.CODE_LINE_NUMBER),
    )


def read_families() -> frozenset[str]:
    """Every metric family :func:`rows` reads (both layouts)."""
    read = _read()
    return frozenset(
        {
            *read.durations,
            *_EXTRA,
            read.path_family,
            read.self_family,
            read.blocked_family,
            read.waited_family,
            *read.memory_families,
            *read.first_chunk_families,
            read.retries_family,
            read.token_usage_family,
            *read.diagnoses,
            *read.loops,
            *read.holders,
            read.cpu_family,
        }
    )


def read_labels() -> frozenset[str]:
    """Every label :func:`rows` reads: a source may sum away any other (``instance``, ``job``, a pod) and
    give the same rows. ``le`` and the scope label are among them."""
    read = _read()
    return frozenset(
        {
            *(label for labels in read.labels_of.values() for label in labels),
            *read.request_labels,
            read.path_label,
            read.token_type_label,
            read.status_label,
            read.kind_label,
            read.error_label,
            read.redundant_label,
            read.blocking_label,
            read.operation_label,
            read.function_label,
            read.line_label,
            prometheus.SCOPE_LABEL,
            "le",
        }
    )


def rows(parsed: Iterable[Any]) -> list[Row]:
    """Rows for every operation in ``parsed`` metric families (prometheus-client's ``Metric`` shape), ranked.

    A family has ``name`` and ``type``; each sample ``name``, ``labels`` and ``value``, named and labelled as
    the Prometheus exporter names them. Besides exposition's samples, a duration histogram's ``_min`` and
    ``_max`` samples (which OTLP carries and exposition cannot) bound its quantiles.
    """
    read = _read()
    families, labels_of, request_labels = read.durations, read.labels_of, read.request_labels
    path_family, path_label, self_family = read.path_family, read.path_label, read.self_family
    blocked_family, waited_family, memory_families = read.blocked_family, read.waited_family, read.memory_families
    first_chunk_families, retries_family = read.first_chunk_families, read.retries_family
    token_usage_family, token_type_label, status_label = (
        read.token_usage_family,
        read.token_type_label,
        read.status_label,
    )
    kind_label, error_label, redundant_label = read.kind_label, read.error_label, read.redundant_label
    blocking_label, operation_label, diagnoses = read.blocking_label, read.operation_label, read.diagnoses
    found: dict[tuple[str, str], Row] = {}

    def row_for(kind: str, labels: dict[str, str]) -> Row:
        # The exporter gives every series of a metric the same label keys, "" where a point had none.
        if kind == REQUEST:
            name = " ".join(labels.get(label) or "-" for label in request_labels)
            return found.setdefault((kind, name), Row(kind, name))
        name = names.row_name([labels.get(label, "") for label in labels_of[kind]])
        return found.setdefault((kind, name), Row(kind, name))

    for family in _ours(parsed):
        if family.name == read.cpu_family:
            for sample in family.samples:
                if sample.name.endswith("_total") and sample.labels.get(kind_label) in labels_of:
                    hotspots = row_for(sample.labels[kind_label], sample.labels).hotspots
                    where = f"{sample.labels.get(read.function_label) or '-'}:{sample.labels.get(read.line_label) or 0}"
                    hotspots[where] = hotspots.get(where, 0.0) + sample.value
            continue
        if family.name == path_family:
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    part = (sample.labels.get(kind_label) or "-", sample.labels.get(path_label) or "-")
                    path = row_for(REQUEST, sample.labels).critical_path
                    path[part] = path.get(part, 0.0) + sample.value
            continue
        if family.name in diagnoses:
            field = diagnoses[family.name]
            for sample in family.samples:
                if sample.name.endswith("_total") and sample.labels.get(kind_label) in labels_of:
                    row = row_for(sample.labels[kind_label], sample.labels)
                    setattr(row, field, getattr(row, field) + sample.value)
            continue
        if family.name in read.loops:
            field = read.loops[family.name]
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    row = row_for(LOOP, sample.labels)
                    setattr(row, field, getattr(row, field) + sample.value)
            continue
        if family.name in read.holders:
            field = read.holders[family.name]
            for sample in family.samples:
                holder = sample.labels.get(kind_label) or CODE
                if sample.name.endswith("_total") and holder in labels_of:
                    row = row_for(holder, sample.labels)
                    setattr(row, field, getattr(row, field) + sample.value)
            continue
        if family.name == self_family:
            for sample in family.samples:
                if sample.name.endswith("_total") and sample.labels.get(kind_label) in labels_of:
                    row = row_for(sample.labels[kind_label], sample.labels)
                    row.self_seconds += sample.value
                    row.self_known = True
            continue
        if family.name == blocked_family:
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    holder = sample.labels.get(kind_label) or CODE
                    if holder in labels_of:
                        row_for(holder, sample.labels).blocked_seconds += sample.value
            continue
        if family.name in memory_families:
            fields = memory_families[family.name]
            for sample in family.samples:
                holder = sample.labels.get(kind_label)
                for suffix, attribute in zip(("_sum", "_count"), fields, strict=True):
                    if holder in labels_of and sample.name.endswith(suffix):
                        row = row_for(holder, sample.labels)
                        setattr(row, attribute, getattr(row, attribute) + sample.value)
            continue
        if family.name == waited_family:
            for sample in family.samples:
                if sample.name.endswith("_total") and sample.labels.get(kind_label) in labels_of:
                    row_for(sample.labels[kind_label], sample.labels).waited_seconds += sample.value
            continue
        if family.name == retries_family:
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    row = row_for(names.KIND_LLM, sample.labels)
                    row.retries += sample.value
                    reason = sample.labels.get(status_label) or sample.labels.get(error_label) or "-"
                    row.retry_reasons[reason] = row.retry_reasons.get(reason, 0.0) + sample.value
            continue
        if family.name == token_usage_family:
            for sample in family.samples:
                token_field = _TOKEN_FIELDS.get(sample.labels.get(token_type_label, ""))
                if sample.name.endswith("_sum") and token_field is not None:
                    row = row_for(names.KIND_LLM, sample.labels)
                    setattr(row, token_field, getattr(row, token_field) + sample.value)
            continue
        if family.name in first_chunk_families:
            for sample in family.samples:
                row = row_for(names.KIND_LLM, sample.labels)
                if sample.name.endswith("_bucket"):
                    bound = float(sample.labels["le"])
                    row.first_chunk_buckets[bound] = row.first_chunk_buckets.get(bound, 0.0) + sample.value
                elif sample.name.endswith("_count"):
                    row.first_chunk_count += sample.value
                elif sample.name.endswith("_sum"):
                    row.first_chunk_seconds += sample.value
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
            if kind == names.KIND_MCP and sample.labels.get(operation_label):
                continue  # an MCP tools/call: a tool operation, its row the tool's (the MCP metric is its second)
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
                if sample.labels.get(redundant_label) == "true":
                    row.redundant_seconds += sample.value
            elif sample.name.endswith("_min"):
                row.minimum = sample.value if row.minimum is None else min(row.minimum, sample.value)
            elif sample.name.endswith("_max"):
                row.maximum = sample.value if row.maximum is None else max(row.maximum, sample.value)
    for row in found.values():
        row.estimate_quantiles()
    return ranked(list(found.values()))


class OwnCost(NamedTuple):
    """otel-agentperf's own cost over what the rows cover (``recording/overhead.py`` samples it)."""

    seconds: float  # each kind's sampled mean times that kind's operations
    per_operation_seconds: float
    share: float | None  # of ``whole`` (None without one)
    whole: str | None  # LOOPS_WHOLE or REQUESTS_WHOLE: what the share is of


# What the own cost's share is of. Operations on event loops: the loops' running time, the capacity the
# package took from them (requests that overlap on a loop sum to many times its time, so a share of their
# sum would understate it by as much). Otherwise: the requests' summed time and the own cost.
LOOPS_WHOLE = "the event loops' running time"
REQUESTS_WHOLE = "the requests' time and its own"


def own_cost(rows: list[Row]) -> OwnCost | None:
    """The package's own cost, from its sampled ``overhead`` rows scaled by each kind's operations; None
    when nothing was sampled (an app exporting from an older version, or fewer operations than a sample)."""
    sampled = {row.name: row for row in rows if row.kind == OVERHEAD and row.calls}
    if not sampled:
        return None
    calls: dict[str, float] = {}
    for row in rows:
        if row.kind not in NOT_OPERATIONS:
            calls[row.kind] = calls.get(row.kind, 0.0) + row.calls
    mean = sum(row.total_seconds for row in sampled.values()) / sum(row.calls for row in sampled.values())
    for kind in sampled.keys() - calls.keys():  # sampled, but its rows are not here (a filtered view)
        calls[kind] = sampled[kind].calls
    seconds = sum(
        count * (sampled[kind].total_seconds / sampled[kind].calls if kind in sampled else mean)
        for kind, count in calls.items()
    )
    per_operation = seconds / sum(calls.values())
    loops = sum(row.loop_seconds for row in rows if row.kind == LOOP)
    if 0 < seconds <= loops:  # (more than the loops ran: operations in threads too, whose whole is the requests')
        return OwnCost(seconds, per_operation, seconds / loops, LOOPS_WHOLE)
    # A request's duration is timed from inside its start to inside its end: most of the package's own work
    # for it lies outside, so the whole is the requests' time and the own cost (a share that never passes 1).
    run = sum(row.total_seconds for row in rows if row.kind == REQUEST)
    if not run:
        return OwnCost(seconds, per_operation, None, None)
    return OwnCost(seconds, per_operation, seconds / (run + seconds), REQUESTS_WHOLE)


def significant(rows: list[Row]) -> list[Row]:
    """The rows to show: every operation, and code outside operations that ran on or held its loop for at
    least :data:`CODE_SHARE` of the loops' running time (of the time all rows held loops, from an app that
    does not measure running time). Applied to what is shown (a report, a live view's window), not to the
    rows a window is computed from, so a row crossing the line is not taken as new."""
    running = sum(row.loop_seconds for row in rows if row.kind == LOOP)
    whole = running or sum(row.blocked_seconds for row in rows)
    return [
        row
        for row in rows
        if row.kind != CODE or (whole > 0 and max(row.blocked_seconds, row.consumed_seconds) >= CODE_SHARE * whole)
    ]
