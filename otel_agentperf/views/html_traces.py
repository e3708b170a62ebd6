"""The HTML report's traces: the slowest traces as span lists for its waterfalls, the LLM calls the SDK
retried as a timeline of their attempts, and where each operation held its event loop (the loop monitor's
sites, from the spans' ``agentperf.event_loop.blocked`` events).

The trees are ``spans.traces``' and the critical path ``critical_path.own_on_path``'s, as the text waterfall
draws them; this module only adds what a page can show on a click: each span's attributes and events.
Everything drawn is bounded (traces, spans per trace, retried calls) and the page says how much was left
out. Attributes that hold a machine's paths are left out (safe by default: the file is made to be shared).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePath
from typing import TypedDict

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from otel_agentperf.conventions import names
from otel_agentperf.views import critical_path
from otel_agentperf.views.rows import ms
from otel_agentperf.views.spans import SpanNode, Trace, traces
from otel_agentperf.views.waterfall import slowest

MAX_SPANS = 400  # spans drawn per trace; the rest are counted
MAX_RETRIED = 20  # retried LLM calls on the timeline; the rest are counted
MAX_SITES = 10  # sites listed per operation that held a loop; the rest are counted
MAX_VALUE = 2000  # characters of an attribute's value shown; longer ones are cut and say so
PRIVATE = frozenset({names.CODE_FILE_PATH, names.FILE_PATH})  # a machine's paths: never in a shared file


@dataclass(frozen=True)
class _Details:
    """What a span carries beyond its tree: attributes and events, as text."""

    attributes: list[tuple[str, str]]
    events: list[dict[str, object]]


def value_text(value: AnyValue) -> str:
    """An attribute's value as text: arrays as ``[a, b]``, bytes in hex; cut past :data:`MAX_VALUE`."""
    which = value.WhichOneof("value")
    if which is None:
        text = ""
    elif which == "array_value":
        text = "[" + ", ".join(value_text(item) for item in value.array_value.values) + "]"
    elif which == "kvlist_value":
        text = "{" + ", ".join(f"{kv.key}: {value_text(kv.value)}" for kv in value.kvlist_value.values) + "}"
    elif which == "bytes_value":
        text = value.bytes_value.hex()
    else:
        text = str(getattr(value, which))
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE] + f"… ({len(text)} characters)"


def _attributes(attributes: Iterable[KeyValue]) -> list[tuple[str, str]]:
    return sorted((kv.key, value_text(kv.value)) for kv in attributes if kv.key not in PRIVATE)


def _spans(requests: Iterable[ExportTraceServiceRequest]) -> Iterable[tuple[bytes, Span]]:
    for request in requests:
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    yield span.trace_id, span


def _details(requests: list[ExportTraceServiceRequest], wanted: set[bytes]) -> dict[bytes, _Details]:
    """The attributes and events of every span of the ``wanted`` traces, by span id."""
    found = {}
    for trace_id, span in _spans(requests):
        if trace_id in wanted:
            events: list[dict[str, object]] = [
                {
                    "name": event.name,
                    "time": event.time_unix_nano - span.start_time_unix_nano,
                    "attributes": _attributes(event.attributes),
                }
                for event in span.events
            ]
            found[span.span_id] = _Details(_attributes(span.attributes), events)
    return found


def _trace(trace: Trace, details: dict[bytes, _Details]) -> dict[str, object]:
    """One trace's spans in tree order (depth first, as the text waterfall lists them), at most
    :data:`MAX_SPANS`, with times in nanoseconds from the trace's start and as the text waterfall prints them."""
    on_path: dict[int, int] = {}
    for root in trace.roots:
        on_path.update(critical_path.own_on_path(root, ours=False))
    listed: list[tuple[SpanNode, int, int]] = []
    pending = [(root, 0, -1) for root in reversed(trace.roots)]
    while pending:
        node, depth, parent = pending.pop()
        index = len(listed)
        listed.append((node, depth, parent))
        pending += [(child, depth + 1, index) for child in reversed(node.children)]
    spans = []
    for node, depth, parent in listed[:MAX_SPANS]:
        detail = details.get(node.span_id, _Details([], []))
        path = on_path.get(id(node), 0)
        spans.append(
            {
                "name": node.name,
                "depth": depth,
                "parent": parent,
                "start": node.start - trace.start,
                "duration": node.duration,
                "waited": node.waited,
                "path": path,
                "error": node.error,
                "text": {
                    "start": ms((node.start - trace.start) / 1e9),
                    "duration": ms(node.duration / 1e9),
                    "self": ms(node.self_time / 1e9),
                    "waited": ms(node.waited / 1e9) if node.waited else "",
                    "path": ms(path / 1e9) if path else "",
                },
                "attributes": detail.attributes,
                "events": detail.events,  # times from the span's start
            }
        )
    return {
        "id": trace.trace_id.hex(),
        "duration": trace.duration,
        "duration_text": ms(trace.duration / 1e9),
        "span_count": trace.span_count,
        "left_out": max(len(listed) - MAX_SPANS, 0),
        "spans": spans,
    }


def slowest_traces(requests: list[ExportTraceServiceRequest], limit: int, seen: int | None = None) -> dict[str, object]:
    """The ``limit`` slowest traces (``waterfall.slowest``), how many there were (``seen``, when the requests
    hold only the traces ``run`` kept), and how many were left out."""
    found = traces(requests)
    chosen = slowest(found, limit)
    details = _details(requests, {trace.trace_id for trace in chosen})
    total = max(seen or 0, len(found))
    return {
        "total": total,
        "left_out": total - len(chosen),
        "traces": [_trace(trace, details) for trace in chosen],
    }


def _last_attempt(span: Span, first: int, duration: int) -> dict[str, object] | None:
    """The attempt that answered, from its start (the ``first`` attempt's start plus the span's
    ``agentperf.llm.retry.time``) to the call's end; None when the span does not say."""
    retry_time = next((kv.value.double_value for kv in span.attributes if kv.key == names.LLM_RETRY_TIME), None)
    if retry_time is None:
        return None
    start = min(first + int(retry_time * 1e9), duration)
    said = f"last attempt from +{ms(start / 1e9)} ms (retries took {ms(retry_time)} ms)"
    return {"start": start, "end": duration, "text": said}


def retries(requests: list[ExportTraceServiceRequest]) -> dict[str, object]:
    """The LLM calls with retried attempts (their ``agentperf.llm.retry`` events), the most retries first, at
    most :data:`MAX_RETRIED`: each attempt that failed as an interval from the call's start, with its reason."""
    found: list[tuple[int, int, dict[str, object]]] = []
    for _, span in _spans(requests):
        events = [event for event in span.events if event.name == names.LLM_RETRY_EVENT]
        if not events:
            continue
        attempts, starts = [], []
        for event in events:
            attributes = dict(_attributes(event.attributes))
            seconds = float(attributes.pop(names.LLM_ATTEMPT_DURATION, "0") or 0)
            end = event.time_unix_nano - span.start_time_unix_nano
            starts.append(max(end - int(seconds * 1e9), 0))
            attempts.append(
                {
                    "start": starts[-1],
                    "end": end,
                    "text": ms(seconds),
                    "reason": ", ".join(f"{key}={value}" for key, value in attributes.items()),
                }
            )
        duration = max(span.end_time_unix_nano - span.start_time_unix_nano, 0)
        call = {
            "name": span.name,
            "trace": span.trace_id.hex(),
            "duration": duration,
            "duration_text": ms(duration / 1e9),
            "attempts": attempts,
            "last": _last_attempt(span, min(starts), duration),
        }
        found.append((len(attempts), duration, call))
    found.sort(key=lambda item: (-item[0], -item[1]))
    calls = [call for _, _, call in found[:MAX_RETRIED]]
    return {"total": len(found), "left_out": max(len(found) - MAX_RETRIED, 0), "calls": calls}


class Sites(TypedDict):
    """Where one operation held its loop: each site's figures, the same as a line of text, and how many
    sites were left out."""

    sites: list[dict[str, object]]
    texts: list[str]
    stacks: list[str]  # each site's call stack, as its longest block's span event gives it ("" without)
    left_out: int


@dataclass
class _Held:
    """One site where an operation held its loop: how many of its spans say so, and for how long."""

    count: int = 0
    seconds: float = 0.0
    stack: str = ""  # the call stack of its longest block that has one
    longest: float = 0.0


def _blocked_events(
    requests: list[ExportTraceServiceRequest],
) -> dict[bytes, list[tuple[float, str, str, int, str]]]:
    """Each span's ``agentperf.event_loop.blocked`` events as (seconds, function, file name, line, stack), by
    span id. The file's name only: its folders are a machine's path (the stack names modules)."""
    found: dict[bytes, list[tuple[float, str, str, int, str]]] = {}
    for _, span in _spans(requests):
        for event in span.events:
            if event.name != names.EVENT_LOOP_BLOCKED_EVENT:
                continue
            values = {kv.key: kv.value for kv in event.attributes}
            seconds = (
                values[names.EVENT_LOOP_BLOCKED_TIME].double_value if names.EVENT_LOOP_BLOCKED_TIME in values else 0.0
            )
            function = values[names.CODE_FUNCTION].string_value if names.CODE_FUNCTION in values else ""
            path = values[names.CODE_FILE_PATH].string_value if names.CODE_FILE_PATH in values else ""
            line = values[names.CODE_LINE_NUMBER].int_value if names.CODE_LINE_NUMBER in values else 0
            stack = values[names.CODE_STACKTRACE].string_value if names.CODE_STACKTRACE in values else ""
            file = PurePath(path).name if path else ""
            found.setdefault(span.span_id, []).append((seconds, function, file, line, stack))
    return found


def blocking_sites(requests: list[ExportTraceServiceRequest]) -> dict[str, Sites]:
    """Where each operation held its event loop past the threshold, as the loop monitor saw it, by the
    operation's row label (``kind name``, as the blocking bars name it): each site (function, file name,
    line; empty when the monitor did not see one) with how many spans held the loop there and for how long,
    the longest first, at most :data:`MAX_SITES`."""
    events = _blocked_events(requests)
    if not events:
        return {}
    by_label: dict[str, dict[tuple[str, str, int], _Held]] = {}
    pending = [root for trace in traces(requests) for root in trace.roots]
    while pending:
        node = pending.pop()
        pending += node.children
        if node.kind and node.span_id in events:
            sites = by_label.setdefault(f"{node.kind} {node.label}", {})
            for seconds, function, file, line, stack in events[node.span_id]:
                held = sites.setdefault((function, file, line), _Held())
                held.count += 1
                held.seconds += seconds
                if stack and seconds > held.longest:
                    held.stack, held.longest = stack, seconds
    found: dict[str, Sites] = {}
    for label, sites in by_label.items():
        ordered = sorted(sites.items(), key=lambda item: -item[1].seconds)[:MAX_SITES]
        texts = [
            f"{f'{function} ({file}:{line})' if function else 'where the monitor did not see'}: "
            f"{ms(held.seconds)} ms in {held.count} span{'s' if held.count != 1 else ''}"
            for (function, file, line), held in ordered
        ]
        found[label] = {
            "sites": [
                {"function": function, "file": file, "line": line, "count": held.count, "seconds": held.seconds}
                for (function, file, line), held in ordered
            ],
            "texts": texts,
            "stacks": [held.stack for _, held in ordered],
            "left_out": max(len(sites) - MAX_SITES, 0),
        }
    return found
