"""Prometheus recording rules that aggregate the package's series across replicas, built from the names module.

A Deployment of many replicas gives every series once per pod; a dashboard or an alert over the whole
service then sums hundreds of series at every refresh. These rules do the summing once per evaluation, named
in Prometheus's ``level:metric:operations`` convention (the labels kept, the metric, what was done to it):

- per replica (``instance_...``), the requests' rate and seconds per second, and their mean: the replica
  that is slower than its peers is the one whose mean stands out;
- per service (``job_...``), the same summed ``without (instance)`` from the per-replica series (in the
  same group, so at the same evaluation time: the service's figure is exactly its replicas' sum);
- per service, each root's, agent's, tool's and model's histogram buckets summed ``by (le, ...)`` with
  their p95, the critical path's seconds per operation, and the cost and tokens per model.

``deploy/kubernetes/agentperf-recording-rules.yml`` is this module's output, committed (a test checks it
is current) and checked with ``promtool check rules``; the many-replicas test evaluates it.
"""

from __future__ import annotations

from otel_agentperf.conventions import names, prometheus
from otel_agentperf.conventions.instruments import Instrument
from otel_agentperf.stack.promql import DURATIONS, INSTRUMENTS, LATEST, label, select, series

WINDOW = "5m"
GROUP = "otel-agentperf-replicas"


def _rule(record: str, expr: str) -> str:
    return f"      - record: {record}\n        expr: {expr}\n"


def _base(instrument: Instrument) -> str:
    """A metric's name as a rule names it: the v1.41 family, without the ``_total`` a rate takes away."""
    return prometheus.family(instrument)


def _rate(instrument: Instrument, suffix: str, by: str) -> str:
    return f"sum by ({by}) (rate({select(series(instrument, suffix), '')}[{WINDOW}]))"


def _histogram(level: str, instrument: Instrument, by: str, count: bool = True) -> list[str]:
    """The bucket rates summed by ``le`` and ``by``, and the p95 they give (``level``: the labels' short name);
    the calls' rate too unless another rule records it (``count``)."""
    base, buckets = _base(instrument), f"{level}_le:{_base(instrument)}_bucket:rate{WINDOW}"
    calls = [_rule(f"{level}:{base}_count:rate{WINDOW}", _rate(instrument, "_count", by))] if count else []
    return [
        *calls,
        _rule(buckets, _rate(instrument, "_bucket", f"{by}, le")),
        _rule(f"{level}:{base}:p95_rate{WINDOW}", f"histogram_quantile(0.95, {buckets})"),
    ]


def _tokens(by: str) -> str:
    """Tokens per second by token type, from either layout: v1.41 has one histogram with the type as a label,
    the newest layout one per direction. The union is taken per series, before the sum: a replica is in one
    layout, so no series of one layout hides another's (``or`` after summing would drop a replica still on
    the other layout during a rolling upgrade)."""
    token_type = label(names.GEN_AI_TOKEN_TYPE)
    rates = [f"rate({series(INSTRUMENTS.token_usage, '_sum')}[{WINDOW}])"]
    rates += [
        f'label_replace(rate({series(instrument, "_sum")}[{WINDOW}]), "{token_type}", "{kind}", "", "")'
        for kind, instrument in LATEST.operation_tokens.items()
    ]
    return f"sum by ({by}, {token_type}) ({' or '.join(rates)})"


def rules() -> str:
    """The rules file: one group, in the order its rules depend on each other."""
    request = INSTRUMENTS.request_duration
    base = _base(request)
    request_by = ", ".join([label(names.REQUEST_KIND), label(names.REQUEST_NAME)])
    per_replica = [
        _rule(f"instance_request:{base}_count:rate{WINDOW}", _rate(request, "_count", f"job, instance, {request_by}")),
        _rule(f"instance_request:{base}_sum:rate{WINDOW}", _rate(request, "_sum", f"job, instance, {request_by}")),
        _rule(
            f"instance_request:{base}:mean{WINDOW}",
            f"instance_request:{base}_sum:rate{WINDOW} / instance_request:{base}_count:rate{WINDOW}",
        ),
        *(
            _rule(
                f"job_request:{base}{part}:rate{WINDOW}",
                f"sum without (instance) (instance_request:{base}{part}:rate{WINDOW})",
            )
            for part in ("_count", "_sum")
        ),
    ]
    operations = [
        *_histogram("job_request", request, f"job, {request_by}", count=False),
        *_histogram("job_agent", DURATIONS[names.KIND_AGENT], f"job, {label(names.GEN_AI_AGENT_NAME)}"),
        *_histogram("job_tool", DURATIONS[names.KIND_TOOL], f"job, {label(names.GEN_AI_TOOL_NAME)}"),
        *_histogram("job_model", DURATIONS[names.KIND_LLM], f"job, {label(names.GEN_AI_REQUEST_MODEL)}"),
    ]
    path = INSTRUMENTS.critical_path
    path_by = f"job, {request_by}, {label(names.CRITICAL_PATH_OPERATION)}"
    model = label(names.GEN_AI_REQUEST_MODEL)
    spend = [
        _rule(f"job_request_operation:{_base(path)}:rate{WINDOW}", _rate(path, "", path_by)),
        _rule(f"job_model:{_base(INSTRUMENTS.cost)}:rate{WINDOW}", _rate(INSTRUMENTS.cost, "", f"job, {model}")),
        _rule(
            f"job_model_type:{_base(INSTRUMENTS.token_usage)}_sum:rate{WINDOW}",
            _tokens(f"job, {model}"),
        ),
    ]
    header = (
        "# Prometheus recording rules for otel-agentperf across replicas, generated by\n"
        "# otel_agentperf/stack/recording.py (otel-agentperf kubernetes FOLDER writes it). Names follow\n"
        "# level:metric:operations; every expression reads both GenAI conventions layouts.\n"
    )
    body = "".join([*per_replica, *operations, *spend])
    return header + f"groups:\n  - name: {GROUP}\n    rules:\n" + body
