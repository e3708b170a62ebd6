"""The Grafana dashboards, built from the names module so their queries match what is emitted.

``grafana/dashboards/*.json`` is this module's output, committed (a test checks it is current), and
``otel-agentperf grafana DIR`` writes the same files for a ``pip install`` user. Series names and
labels come from :func:`names.prometheus_name` / :func:`names.prometheus_label`: the Prometheus
exporter's own translation. The service variable is the ``job`` label: the scrape job when Prometheus
scrapes an app, ``service.name`` when the Collector's Prometheus exporter sits in between.
"""

from __future__ import annotations

import json
from typing import Any

from otel_agentperf.conventions import names

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
WINDOW = "$__rate_interval"
SCHEMA_VERSION = 41
QUANTILES = (0.5, 0.95, 0.99)


def series(key: str) -> str:
    """The Prometheus name of a histogram (by its ``names.histograms`` key) or counter."""
    histograms = names.histograms(False)
    if key in histograms:
        return names.prometheus_name(histograms[key].name, histograms[key].unit)
    counter = names.counters()[key]
    return names.prometheus_name(counter.name, counter.unit) + "_total"


def label(attribute: str) -> str:
    return names.prometheus_label(attribute)


SERVICE = 'job=~"$service"'
AGENT = f'{SERVICE},{label(names.GEN_AI_AGENT_NAME)}=~"$agent"'
MODEL = f'{SERVICE},{label(names.GEN_AI_REQUEST_MODEL)}=~"$model"'
ERROR = label(names.ERROR_TYPE)


def rate(metric: str, selector: str, by: str = "", window: str = WINDOW) -> str:
    grouping = f" by ({by})" if by else ""
    matchers = f"{{{selector}}}" if selector else ""
    return f"sum{grouping} (rate({metric}{matchers}[{window}]))"


def quantile(q: float, key: str, selector: str, by: str = "", window: str = WINDOW) -> str:
    grouping = ", ".join(filter(None, ["le", by]))
    return f"histogram_quantile({q}, {rate(series(key) + '_bucket', selector, grouping, window)})"


def error_ratio(key: str, selector: str, by: str = "") -> str:
    """1 - successes/all: defined (0) when nothing failed, unlike failures/all."""
    count = series(key) + "_count"
    succeeded = selector + "," + ERROR + '=""'
    return f"1 - {rate(count, succeeded, by)} / {rate(count, selector, by)}"


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
        "query": {"query": f"label_values({metric}{{{selector}}}, {label_name})", "refId": name},
        "definition": f"label_values({metric}{{{selector}}}, {label_name})",
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"text": "All", "value": "$__all"},
        "sort": 1,
    }


def _dashboard(uid: str, title: str, description: str, layout: Layout, variables: list[str]) -> dict[str, Any]:
    available = {
        "service": _variable("service", names.prometheus_name(names.OPERATIONS_ACTIVE, ""), "job", ""),
        "agent": _variable("agent", series(names.KIND_AGENT) + "_count", label(names.GEN_AI_AGENT_NAME), SERVICE),
        "model": _variable("model", series(names.KIND_LLM) + "_count", label(names.GEN_AI_REQUEST_MODEL), SERVICE),
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


def _percentiles(key: str, selector: str, by: str = "", legend: str = "") -> list[tuple[str, str]]:
    return [(quantile(q, key, selector, by), f"{legend}p{round(q * 100)}") for q in QUANTILES]


def overview() -> dict[str, Any]:
    layout = Layout()
    kinds = ((names.KIND_AGENT, "agents"), (names.KIND_TOOL, "tools"), (names.KIND_LLM, "LLM calls"))
    layout.add(
        "Request rate",
        "timeseries",
        "reqps",
        [(rate(series(key) + "_count", SERVICE), title) for key, title in kinds],
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
    tokens = series(names.GEN_AI_TOKEN_TYPE) + "_sum"
    layout.add(
        "Tokens per second",
        "timeseries",
        "short",
        [(rate(tokens, SERVICE, label(names.GEN_AI_TOKEN_TYPE)), "{{" + label(names.GEN_AI_TOKEN_TYPE) + "}}")],
        "Input and output tokens per second, all models.",
    )
    layout.add(
        "Cost per hour",
        "stat",
        "currencyUSD",
        [(f"{rate(series(names.LLM_COST), SERVICE)} * 3600", "USD/h")],
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
        [(quantile(0.95, names.KIND_LLM, MODEL, model), legend + "p95")],
        "p95 duration of LLM calls per requested model.",
    )
    layout.add(
        "Latency percentiles",
        "timeseries",
        "s",
        _percentiles(names.KIND_LLM, MODEL),
        "p50, p95 and p99 of the selected models together.",
    )
    layout.add(
        "Time to first chunk by model (p95)",
        "timeseries",
        "s",
        [(quantile(0.95, names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, MODEL, model), legend + "p95")],
        "Streams only: how long until the first chunk arrives.",
    )
    layout.add(
        "Tokens per second, in and out",
        "timeseries",
        "short",
        [
            (
                rate(series(names.GEN_AI_TOKEN_TYPE) + "_sum", MODEL, f"{model}, {token_type}"),
                legend + "{{" + token_type + "}}",
            )
        ],
        "Input and output tokens per second per model.",
    )
    layout.add(
        "Cached input tokens per second",
        "timeseries",
        "short",
        [(rate(series(names.LLM_CACHED_INPUT_TOKENS), MODEL, model), legend)],
        "Input tokens the provider served from its prompt cache.",
    )
    layout.add(
        "Cost per hour by model",
        "timeseries",
        "currencyUSD",
        [(f"{rate(series(names.LLM_COST), MODEL, model)} * 3600", legend)],
        "Estimated spend rate per model from the price table.",
    )
    layout.add(
        "Calls without a price",
        "timeseries",
        "reqps",
        [(rate(series(names.LLM_UNPRICED), MODEL, model), legend)],
        "Calls with usage whose model is not in the price table: their cost is not counted.",
    )
    layout.add(
        "Errors by type",
        "timeseries",
        "reqps",
        [
            (
                rate(series(names.KIND_LLM) + "_count", f'{MODEL},{ERROR}!=""', f"{model}, {ERROR}"),
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
        [(quantile(0.95, names.KIND_AGENT, AGENT, agent), "{{" + agent + "}}")],
        "p95 duration of each agent's invocations.",
    )
    layout.add(
        "Tool latency (p95)",
        "timeseries",
        "s",
        [(quantile(0.95, names.KIND_TOOL, AGENT, tool), "{{" + tool + "}}")],
        "p95 duration of each tool, for tools called inside the selected agents.",
    )
    layout.add(
        "Agent error ratio",
        "timeseries",
        "percentunit",
        [(error_ratio(names.KIND_AGENT, AGENT, agent), "{{" + agent + "}}")],
        "Share of agent invocations that raised.",
    )
    layout.add(
        "Tool error ratio",
        "timeseries",
        "percentunit",
        [(error_ratio(names.KIND_TOOL, AGENT, tool), "{{" + tool + "}}")],
        "Share of tool calls that raised.",
    )
    per_invocation = [
        (f"{rate(series(key) + '_sum', AGENT, agent)} / {rate(series(key) + '_count', AGENT, agent)}", legend)
        for key, legend in (
            (names.AGENT_LLM_CALLS, "LLM {{" + agent + "}}"),
            (names.AGENT_TOOL_CALLS, "tools {{" + agent + "}}"),
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
        [(quantile(0.95, names.AGENT_LLM_CALLS, AGENT, agent), "{{" + agent + "}}")],
        "p95 of the LLM calls one invocation makes: the long tail of agent loops.",
    )
    layout.add(
        "Agent spawn time (p95)",
        "timeseries",
        "s",
        [(quantile(0.95, names.KIND_CREATE_AGENT, AGENT, agent), "{{" + agent + "}}")],
        "p95 time to construct each agent (create_agent).",
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
    operation, blocking = label(names.HISTORY_OPERATION), label(names.BLOCKING_EVENT_LOOP)
    config_count = series(names.KIND_CONFIG) + "_count"
    history_count = series(names.KIND_HISTORY) + "_count"
    layout.add(
        "Config load time (p95)",
        "timeseries",
        "s",
        [(quantile(0.95, names.KIND_CONFIG, SERVICE, loader), "{{" + loader + "}}")],
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
        [(quantile(0.95, names.KIND_HISTORY, SERVICE, f"{store}, {operation}"), legend)],
        "p95 time of history reads, appends, writes and searches.",
    )
    layout.add(
        "History size at each operation (p95 records)",
        "timeseries",
        "short",
        [(quantile(0.95, names.HISTORY_RECORDS, SERVICE, f"{store}, {operation}"), legend)],
        "Read beside the time panel: time rising with size means a linear scan.",
    )
    layout.add(
        "Operations that blocked the event loop",
        "timeseries",
        "reqps",
        [
            (rate(config_count, f'{SERVICE},{blocking}="true"', loader), "config {{" + loader + "}}"),
            (rate(history_count, f'{SERVICE},{blocking}="true"', store), "history {{" + store + "}}"),
        ],
        "Synchronous config and history I/O run on a thread with a running asyncio loop.",
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
    cpu = names.prometheus_name("process.cpu.time", "s") + "_total"
    memory = names.prometheus_name("process.memory.usage", "By")
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
    active = names.prometheus_name(names.OPERATIONS_ACTIVE, names.UNIT_OPERATIONS)
    kind = label(names.OPERATION_KIND)
    layout.add(
        "Operations in flight",
        "timeseries",
        "short",
        [(f"sum by ({kind}) ({active}{{{SERVICE}}})", "{{" + kind + "}}")],
        "Agents, tools, LLM calls and others running at scrape time.",
    )
    return _dashboard(
        "agentperf-runtime",
        "otel-agentperf / Runtime",
        "Process CPU and memory, and operations in flight.",
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
