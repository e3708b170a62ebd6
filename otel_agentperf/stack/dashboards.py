"""The Grafana dashboards, built from the instrument catalogue so their queries match what is emitted.

``grafana/dashboards/*.json`` is this module's output, committed (a test checks it is current), and
``otel-agentperf grafana DIR`` writes the same files for a ``pip install`` user. Series names and
labels come from ``promql``: the Prometheus exporter's own translation. The service variable is the
``job`` label: the scrape job when Prometheus scrapes an app, ``service.name`` when the Collector's
Prometheus exporter sits in between.
"""

from __future__ import annotations

import json
from typing import Any

from otel_agentperf.conventions import names, prometheus
from otel_agentperf.conventions.instruments import Instrument
from otel_agentperf.stack.promql import (
    DURATIONS,
    INSTRUMENTS,
    error_ratio,
    label,
    quantile,
    rate,
    select,
    series,
    tokens,
)

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SCHEMA_VERSION = 41
QUANTILES = (0.5, 0.95, 0.99)


SERVICE = 'job=~"$service"'
AGENT = f'{SERVICE},{label(names.GEN_AI_AGENT_NAME)}=~"$agent"'
MODEL = f'{SERVICE},{label(names.GEN_AI_REQUEST_MODEL)}=~"$model"'
ERROR = label(names.ERROR_TYPE)
SELF_TIME = prometheus.family(INSTRUMENTS.self_time) + "_total"  # a counter kept apart from the others
# The labels that name an operation of any kind (or code outside operations), for per-operation panels.
HOLDERS = [
    label(attribute)
    for attribute in (
        names.OPERATION_KIND,
        names.GEN_AI_AGENT_NAME,
        names.GEN_AI_TOOL_NAME,
        names.GEN_AI_REQUEST_MODEL,
        names.CONFIG_LOADER,
        names.HISTORY_STORE,
        names.SEGMENT_NAME,
        names.CODE_FUNCTION,
    )
]


def target(expr: str, legend: str, ref: int) -> dict[str, Any]:
    return {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": chr(ord("A") + ref)}


class Layout:
    """Places panels on Grafana's 24-column grid, two per row."""

    def __init__(self) -> None:
        self.panels: list[dict[str, Any]] = []

    def add(self, title: str, kind: str, unit: str, queries: list[tuple[str, str]], description: str) -> None:
        index = len(self.panels)
        self.panels.append(
            {
                "id": index + 1,
                "type": kind,
                "title": title,
                "description": description,
                "datasource": DATASOURCE,
                "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "options": {"legend": {"displayMode": "table", "placement": "bottom", "calcs": ["mean", "max"]}}
                if kind == "timeseries"
                else {"reduceOptions": {"calcs": ["lastNotNull"]}},
                "targets": [target(expr, legend, ref) for ref, (expr, legend) in enumerate(queries)],
            }
        )


def _variable(name: str, metric: str, label_name: str, selector: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": name,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": f"label_values({select(metric, selector)}, {label_name})", "refId": name},
        "definition": f"label_values({select(metric, selector)}, {label_name})",
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"text": "All", "value": "$__all"},
        "sort": 1,
    }


def _dashboard(uid: str, title: str, description: str, layout: Layout, variables: list[str]) -> dict[str, Any]:
    available = {
        "service": _variable("service", prometheus.metric_name(INSTRUMENTS.operations_active.name, ""), "job", ""),
        "agent": _variable(
            "agent", series(DURATIONS[names.KIND_AGENT], "_count"), label(names.GEN_AI_AGENT_NAME), SERVICE
        ),
        "model": _variable(
            "model", series(DURATIONS[names.KIND_LLM], "_count"), label(names.GEN_AI_REQUEST_MODEL), SERVICE
        ),
    }
    datasource = {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus"}
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["otel-agentperf", "genai"],
        "editable": True,
        "graphTooltip": 1,
        "id": None,
        "links": [{"type": "dashboards", "tags": ["otel-agentperf"], "asDropdown": True, "title": "otel-agentperf"}],
        "panels": layout.panels,
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "templating": {"list": [datasource, *(available[name] for name in variables)]},
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "version": 1,
    }


def _percentiles(instrument: Instrument, selector: str, by: str = "", legend: str = "") -> list[tuple[str, str]]:
    return [(quantile(q, instrument, selector, by), f"{legend}p{round(q * 100)}") for q in QUANTILES]


def overview() -> dict[str, Any]:
    layout = Layout()
    kinds = (
        (DURATIONS[names.KIND_AGENT], "agents"),
        (DURATIONS[names.KIND_TOOL], "tools"),
        (DURATIONS[names.KIND_LLM], "LLM calls"),
    )
    layout.add(
        "Request rate",
        "timeseries",
        "reqps",
        [(rate(series(key, "_count"), SERVICE), title) for key, title in kinds],
        "Calls per second of agents, tools and LLM calls.",
    )
    layout.add(
        "Error ratio",
        "timeseries",
        "percentunit",
        [(error_ratio(key, SERVICE), title) for key, title in kinds],
        "Share of calls that raised, per operation kind.",
    )
    for key, title in kinds:
        layout.add(
            f"{title.capitalize()} latency",
            "timeseries",
            "s",
            _percentiles(key, SERVICE),
            f"p50, p95 and p99 duration of {title}, from the histogram buckets.",
        )
    kind = label(names.OPERATION_KIND)
    layout.add(
        "Where the time goes (self time by kind)",
        "timeseries",
        "percentunit",
        [(rate(SELF_TIME, SERVICE, kind), "{{" + kind + "}}")],
        "Seconds per second each kind of operation spent itself, not in the operations it called: "
        "nothing counted twice, so the kinds add up to the work in flight.",
    )
    layout.add(
        "Where the time goes (top operations by self time)",
        "timeseries",
        "percentunit",
        [
            (
                f"topk(10, {rate(SELF_TIME, SERVICE, ', '.join(HOLDERS))})",
                " ".join("{{" + holder + "}}" for holder in HOLDERS),
            )
        ],
        "The ten operations with the most self time per second.",
    )
    layout.add(
        "Tokens per second",
        "timeseries",
        "short",
        [(tokens(SERVICE), "{{" + label(names.GEN_AI_TOKEN_TYPE) + "}}")],
        "Input and output tokens per second, all models.",
    )
    layout.add(
        "Cost per hour",
        "stat",
        "currencyUSD",
        [(f"{rate(series(INSTRUMENTS.cost), SERVICE)} * 3600", "USD/h")],
        "Estimated spend rate from the price table (unpriced models excluded).",
    )
    return _dashboard(
        "agentperf-overview",
        "otel-agentperf / Overview",
        "Rates, errors and latency of agents, tools and LLM calls.",
        layout,
        ["service"],
    )


def llm() -> dict[str, Any]:
    layout = Layout()
    model = label(names.GEN_AI_REQUEST_MODEL)
    token_type = label(names.GEN_AI_TOKEN_TYPE)
    legend = "{{" + model + "}} "
    layout.add(
        "Latency by model (p95)",
        "timeseries",
        "s",
        [(quantile(0.95, DURATIONS[names.KIND_LLM], MODEL, model), legend + "p95")],
        "p95 duration of LLM calls per requested model.",
    )
    layout.add(
        "Latency percentiles",
        "timeseries",
        "s",
        _percentiles(DURATIONS[names.KIND_LLM], MODEL),
        "p50, p95 and p99 of the selected models together.",
    )
    layout.add(
        "Time to first chunk by model (p95)",
        "timeseries",
        "s",
        [(quantile(0.95, INSTRUMENTS.time_to_first_chunk, MODEL, model), legend + "p95")],
        "Streams only: how long until the first chunk arrives.",
    )
    layout.add(
        "Tokens per second, in and out",
        "timeseries",
        "short",
        [
            (
                tokens(MODEL, model),
                legend + "{{" + token_type + "}}",
            )
        ],
        "Input and output tokens per second per model.",
    )
    layout.add(
        "Cached input tokens per second",
        "timeseries",
        "short",
        [(rate(series(INSTRUMENTS.cached_input_tokens), MODEL, model), legend)],
        "Input tokens the provider served from its prompt cache.",
    )
    layout.add(
        "Cost per hour by model",
        "timeseries",
        "currencyUSD",
        [(f"{rate(series(INSTRUMENTS.cost), MODEL, model)} * 3600", legend)],
        "Estimated spend rate per model from the price table.",
    )
    layout.add(
        "Calls without a price",
        "timeseries",
        "reqps",
        [(rate(series(INSTRUMENTS.unpriced), MODEL, model), legend)],
        "Calls with usage whose model is not in the price table: their cost is not counted.",
    )
    status = label(names.HTTP_RESPONSE_STATUS_CODE)
    layout.add(
        "HTTP retries by status (429s, 5xx, timeouts)",
        "timeseries",
        "reqps",
        [
            (
                rate(series(INSTRUMENTS.llm_retries), MODEL, f"{model}, {status}, {ERROR}"),
                legend + "{{" + status + "}}{{" + ERROR + "}}",
            )
        ],
        "HTTP requests the SDK sent again inside one LLM call, by the status or error that made it retry: "
        "a rate-limited model looks like a slow one without this.",
    )
    layout.add(
        "Time spent retrying",
        "timeseries",
        "percentunit",
        [(rate(series(INSTRUMENTS.llm_retry_duration, "_sum"), MODEL, model), legend)],
        "Seconds per second LLM calls spent on failed attempts and backoff before their last attempt.",
    )
    layout.add(
        "Errors by type",
        "timeseries",
        "reqps",
        [
            (
                rate(series(DURATIONS[names.KIND_LLM], "_count"), f'{MODEL},{ERROR}!=""', f"{model}, {ERROR}"),
                legend + "{{" + ERROR + "}}",
            )
        ],
        "Failed LLM calls per second by exception class (RateLimitError, APITimeoutError, ...).",
    )
    return _dashboard(
        "agentperf-llm",
        "otel-agentperf / LLM",
        "Latency, time to first chunk, tokens, cost and errors per model.",
        layout,
        ["service", "model"],
    )


def agents_and_tools() -> dict[str, Any]:
    layout = Layout()
    agent, tool = label(names.GEN_AI_AGENT_NAME), label(names.GEN_AI_TOOL_NAME)
    layout.add(
        "Agent latency (p95)",
        "timeseries",
        "s",
        [(quantile(0.95, DURATIONS[names.KIND_AGENT], AGENT, agent), "{{" + agent + "}}")],
        "p95 duration of each agent's invocations.",
    )
    layout.add(
        "Tool latency (p95)",
        "timeseries",
        "s",
        [(quantile(0.95, DURATIONS[names.KIND_TOOL], AGENT, tool), "{{" + tool + "}}")],
        "p95 duration of each tool, for tools called inside the selected agents.",
    )
    layout.add(
        "Agent error ratio",
        "timeseries",
        "percentunit",
        [(error_ratio(DURATIONS[names.KIND_AGENT], AGENT, agent), "{{" + agent + "}}")],
        "Share of agent invocations that raised.",
    )
    layout.add(
        "Tool error ratio",
        "timeseries",
        "percentunit",
        [(error_ratio(DURATIONS[names.KIND_TOOL], AGENT, tool), "{{" + tool + "}}")],
        "Share of tool calls that raised.",
    )
    per_invocation = [
        (f"{rate(series(key, '_sum'), AGENT, agent)} / {rate(series(key, '_count'), AGENT, agent)}", legend)
        for key, legend in (
            (INSTRUMENTS.agent_llm_calls, "LLM {{" + agent + "}}"),
            (INSTRUMENTS.agent_tool_calls, "tools {{" + agent + "}}"),
        )
    ]
    layout.add(
        "LLM and tool calls per agent invocation",
        "timeseries",
        "short",
        per_invocation,
        "Mean LLM and tool calls each invocation makes itself (sub-agents count their own): loops show up here.",
    )
    layout.add(
        "LLM calls per agent invocation (p95)",
        "timeseries",
        "short",
        [(quantile(0.95, INSTRUMENTS.agent_llm_calls, AGENT, agent), "{{" + agent + "}}")],
        "p95 of the LLM calls one invocation makes: the long tail of agent loops.",
    )
    spawn = DURATIONS[names.KIND_CREATE_AGENT]
    layout.add(
        "Agent spawn time (mean since start)",
        "timeseries",
        "s",
        [
            (
                f"sum by ({agent}) ({select(series(spawn, '_sum'), AGENT)})"
                f" / sum by ({agent}) ({select(series(spawn, '_count'), AGENT)})",
                "{{" + agent + "}}",
            )
        ],
        "Mean time to construct each agent (create_agent) since the app started: an app that creates its "
        "agents once, at start, shows them too (a rate would be empty after the first minute).",
    )
    layout.add(
        "Agent spawns per second",
        "timeseries",
        "reqps",
        [(rate(series(spawn, "_count"), AGENT, agent), "{{" + agent + "}}")],
        "Agents constructed per second: above the request rate means agents built per request.",
    )
    return _dashboard(
        "agentperf-agents",
        "otel-agentperf / Agents and tools",
        "Per-agent and per-tool latency, errors and loops.",
        layout,
        ["service", "agent"],
    )


def config_and_history() -> dict[str, Any]:
    layout = Layout()
    loader, store = label(names.CONFIG_LOADER), label(names.HISTORY_STORE)
    operation = label(names.HISTORY_OPERATION)
    config_count = series(DURATIONS[names.KIND_CONFIG], "_count")
    layout.add(
        "Config load time (p95)",
        "timeseries",
        "s",
        [(quantile(0.95, DURATIONS[names.KIND_CONFIG], SERVICE, loader), "{{" + loader + "}}")],
        "p95 time to load configuration, per loader.",
    )
    layout.add(
        "Redundant config loads per second",
        "timeseries",
        "reqps",
        [(rate(config_count, f'{SERVICE},{label(names.CONFIG_REDUNDANT)}="true"', loader), "{{" + loader + "}}")],
        "Loads of a file already loaded unchanged in this process: work a cache would save.",
    )
    legend = "{{" + store + "}} {{" + operation + "}}"
    layout.add(
        "History operation time (p95)",
        "timeseries",
        "s",
        [(quantile(0.95, DURATIONS[names.KIND_HISTORY], SERVICE, f"{store}, {operation}"), legend)],
        "p95 time of history reads, appends, writes and searches.",
    )
    layout.add(
        "History size at each operation (p95 records)",
        "timeseries",
        "short",
        [(quantile(0.95, INSTRUMENTS.history_records, SERVICE, f"{store}, {operation}"), legend)],
        "Read beside the time panel: time rising with size means a linear scan.",
    )
    return _dashboard(
        "agentperf-config-history",
        "otel-agentperf / Config and history",
        "Configuration loading, redundant reloads, history latency against size, event-loop blocking.",
        layout,
        ["service"],
    )


def runtime() -> dict[str, Any]:
    layout = Layout()
    cpu = prometheus.metric_name("process.cpu.time", "s") + "_total"
    memory = prometheus.metric_name("process.memory.usage", "By")
    layout.add(
        "Process CPU",
        "timeseries",
        "percentunit",
        [(rate(cpu, SERVICE, "job"), "{{job}}")],
        "CPU seconds per second, from opentelemetry-instrumentation-system-metrics.",
    )
    layout.add(
        "Process memory (RSS)",
        "timeseries",
        "bytes",
        [(f"sum by (job) ({memory}{{{SERVICE}}})", "{{job}}")],
        "Resident memory, from opentelemetry-instrumentation-system-metrics.",
    )
    active = prometheus.family(INSTRUMENTS.operations_active)
    kind = label(names.OPERATION_KIND)
    layout.add(
        "Operations in flight",
        "timeseries",
        "short",
        [(f"sum by ({kind}) ({active}{{{SERVICE}}})", "{{" + kind + "}}")],
        "Agents, tools, LLM calls and others running at scrape time.",
    )
    layout.add(
        "Event loop held, by what held it",
        "timeseries",
        "percentunit",
        [
            (
                rate(series(INSTRUMENTS.event_loop_blocked), SERVICE, ", ".join(HOLDERS)),
                " ".join("{{" + holder + "}}" for holder in HOLDERS),
            )
        ],
        "Share of time an asyncio event loop was held past the blocking threshold, by the operation (or, "
        "outside operations, the function) holding it: every other task on that loop waited.",
    )
    layout.add(
        "Time awaiting operations waited for a held loop",
        "timeseries",
        "percentunit",
        [
            (
                rate(series(INSTRUMENTS.event_loop_waited), SERVICE, ", ".join(HOLDERS)),
                " ".join("{{" + holder + "}}" for holder in HOLDERS),
            )
        ],
        "Seconds per second model calls and async tools could not go on because other code held their "
        "event loop: the cost a loop holder imposes on the tasks beside it.",
    )
    layout.add(
        "Event loop lag (p99)",
        "timeseries",
        "s",
        [(quantile(0.99, INSTRUMENTS.event_loop_lag, SERVICE, "job"), "{{job}}")],
        "How late the loop ran the monitor's timer: near 0 on a loop that is never held.",
    )
    operation = label(names.GEN_AI_OPERATION_NAME)
    peak = quantile(0.95, INSTRUMENTS.memory[names.MEMORY_PEAK], SERVICE, operation)
    rss = quantile(0.95, INSTRUMENTS.memory[names.MEMORY_RSS_DELTA], SERVICE, operation)
    layout.add(
        "Memory per operation (p95)",
        "timeseries",
        "bytes",
        [(f"{peak} or {rss}", "{{" + operation + "}}")],
        "With OTEL_AGENTPERF_MEMORY=tracemalloc, the peak of Python allocations above an operation's start; "
        "with rss only, its resident-set growth. Process-wide while it ran: under asyncio or threads it "
        "includes what ran beside it.",
    )
    startup = INSTRUMENTS.startup
    phase = label(names.STARTUP_PHASE)
    layout.add(
        "Cold start",
        "stat",
        "s",
        [
            (
                f"sum by ({phase}) ({select(series(startup, '_sum'), SERVICE)})"
                f" / sum by ({phase}) ({select(series(startup, '_count'), SERVICE)})",
                "{{" + phase + "}}",
            )
        ],
        "Mean time from process start to instrumentation and to the first agent invocation.",
    )
    return _dashboard(
        "agentperf-runtime",
        "otel-agentperf / Runtime",
        "Process CPU and memory, operations in flight, event-loop blocking and waiting, memory per operation, "
        "cold start.",
        layout,
        ["service"],
    )


def dashboards() -> dict[str, dict[str, Any]]:
    """Every dashboard by file name."""
    return {
        "overview.json": overview(),
        "llm.json": llm(),
        "agents-and-tools.json": agents_and_tools(),
        "config-and-history.json": config_and_history(),
        "runtime.json": runtime(),
    }


def render(dashboard: dict[str, Any]) -> str:
    return json.dumps(dashboard, indent=2) + "\n"
