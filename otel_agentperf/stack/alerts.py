"""Prometheus alert rules for what teams page on, built from the names module.

``grafana/prometheus/agentperf-alerts.yml`` is this module's output, committed (a test checks it is
current) and unit-tested with ``promtool test rules``. The thresholds below are the defaults; edit
the YAML (each threshold is the number at the end of its ``expr``) or pass your own to :func:`rules`.
"""

from __future__ import annotations

from dataclasses import dataclass

from otel_agentperf.conventions import names, prometheus
from otel_agentperf.conventions.instruments import Instrument
from otel_agentperf.stack.promql import DURATIONS, INSTRUMENTS, label, quantile, select, series


@dataclass(frozen=True)
class Thresholds:
    agent_p95_seconds: float = 30.0
    llm_p95_seconds: float = 10.0
    error_ratio: float = 0.05
    cost_usd_per_hour: float = 5.0
    memory_limit_bytes: int = 2 * 1024**3
    memory_ratio: float = 0.9
    window: str = "5m"
    hold: str = "10m"


def _rule(name: str, expr: str, hold: str, severity: str, summary: str, description: str) -> str:
    return f"""      - alert: {name}
        expr: {expr}
        for: {hold}
        labels:
          severity: {severity}
        annotations:
          summary: {summary}
          description: {description}
"""


def _error_ratio(instrument: Instrument, by: str, window: str) -> str:
    count = series(instrument, "_count")
    error = label(names.ERROR_TYPE)
    failing = select(count, f'{error}!=""')
    return f"sum by (job, {by}) (rate({failing}[{window}])) / sum by (job, {by}) (rate({select(count, '')}[{window}]))"


def rules(thresholds: Thresholds = Thresholds()) -> str:
    t = thresholds
    agent, model, tool = (
        label(names.GEN_AI_AGENT_NAME),
        label(names.GEN_AI_REQUEST_MODEL),
        label(names.GEN_AI_TOOL_NAME),
    )
    window = t.window
    agent_p95 = quantile(0.95, DURATIONS[names.KIND_AGENT], "", f"job, {agent}", window)
    llm_p95 = quantile(0.95, DURATIONS[names.KIND_LLM], "", f"job, {model}", window)
    cost = f"sum by (job) (rate({series(INSTRUMENTS.cost)}[1h])) * 3600"
    memory = prometheus.metric_name("process.memory.usage", "By")
    active = prometheus.family(INSTRUMENTS.operations_active)
    body = "".join(
        [
            _rule(
                "AgentLatencyHigh",
                f"{agent_p95} > {t.agent_p95_seconds}",
                t.hold,
                "warning",
                '"Agent {{ $labels.gen_ai_agent_name }} p95 above ' + f'{t.agent_p95_seconds:g} s"',
                '"p95 invocation time of {{ $labels.gen_ai_agent_name }} in {{ $labels.job }}: '
                '{{ $value | humanizeDuration }}."',
            ),
            _rule(
                "LLMLatencyHigh",
                f"{llm_p95} > {t.llm_p95_seconds}",
                t.hold,
                "warning",
                '"Model {{ $labels.gen_ai_request_model }} p95 above ' + f'{t.llm_p95_seconds:g} s"',
                '"p95 LLM call time for {{ $labels.gen_ai_request_model }} in {{ $labels.job }}: '
                '{{ $value | humanizeDuration }}."',
            ),
            _rule(
                "AgentErrorRatioHigh",
                f"{_error_ratio(DURATIONS[names.KIND_AGENT], agent, window)} > {t.error_ratio}",
                t.hold,
                "critical",
                '"Agent {{ $labels.gen_ai_agent_name }} failing"',
                '"{{ $value | humanizePercentage }} of {{ $labels.gen_ai_agent_name }} invocations raise."',
            ),
            _rule(
                "LLMErrorRatioHigh",
                f"{_error_ratio(DURATIONS[names.KIND_LLM], model, window)} > {t.error_ratio}",
                t.hold,
                "critical",
                '"Model {{ $labels.gen_ai_request_model }} calls failing"',
                '"{{ $value | humanizePercentage }} of calls to {{ $labels.gen_ai_request_model }} raise."',
            ),
            _rule(
                "ToolErrorRatioHigh",
                f"{_error_ratio(DURATIONS[names.KIND_TOOL], tool, window)} > {t.error_ratio}",
                t.hold,
                "warning",
                '"Tool {{ $labels.gen_ai_tool_name }} failing"',
                '"{{ $value | humanizePercentage }} of {{ $labels.gen_ai_tool_name }} calls raise."',
            ),
            _rule(
                "LLMCostOverBudget",
                f"{cost} > {t.cost_usd_per_hour}",
                "15m",
                "warning",
                f'"LLM spend above {t.cost_usd_per_hour:g} USD/hour"',
                '"{{ $labels.job }} spends {{ $value | printf \\"%.2f\\" }} USD/hour on LLM calls (last hour)."',
            ),
            _rule(
                "ProcessMemoryHigh",
                f"sum by (job) ({memory}) > {t.memory_ratio} * {t.memory_limit_bytes}",
                "5m",
                "critical",
                f'"Process memory above {t.memory_ratio:.0%} of its {t.memory_limit_bytes / 1024**3:g} GiB limit"',
                '"{{ $labels.job }} uses {{ $value | humanize1024 }}B."',
            ),
            _rule(
                "AgentPerfNoData",
                f"absent({active})",
                t.hold,
                "warning",
                '"No otel-agentperf metrics"',
                '"No series of agentperf_operations_active: the app, its exporter or the scrape is down."',
            ),
        ]
    )
    header = (
        "# Prometheus alert rules for otel-agentperf, generated by otel_agentperf/stack/alerts.py.\n"
        f"# Thresholds: agent p95 {t.agent_p95_seconds:g} s, LLM p95 {t.llm_p95_seconds:g} s, error ratio "
        f"{t.error_ratio:g}, cost {t.cost_usd_per_hour:g} USD/h,\n# memory {t.memory_ratio:g} of "
        f"{t.memory_limit_bytes} bytes; change the number at the end of an `expr` to change one.\n"
    )
    return header + "groups:\n  - name: otel-agentperf\n    rules:\n" + body
