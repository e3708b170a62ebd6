"""Every telemetry name otel-agentperf emits, in one place.

Span names, attribute keys, metric names, units and bucket boundaries live here and nowhere else, so a
semantic-convention rename is a one-file change. GenAI names come from ``opentelemetry-semantic-conventions``
(the layout released in semconv v1.41); what the conventions lack lives under ``agentperf.*``.
Setting ``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`` selects the newer, unreleased names.
"""

from __future__ import annotations

import os
from typing import Final

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as _gen_ai
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics as _gen_ai_metrics
from opentelemetry.semconv.attributes import error_attributes as _error
from opentelemetry.semconv.attributes import server_attributes as _server

# Instrumentation scope
SCOPE_NAME: Final = "otel_agentperf"
SCHEMA_URL: Final = "https://opentelemetry.io/schemas/1.41.0"

# GenAI attributes (semconv v1.41)
GEN_AI_OPERATION_NAME: Final = _gen_ai.GEN_AI_OPERATION_NAME
GEN_AI_PROVIDER_NAME: Final = _gen_ai.GEN_AI_PROVIDER_NAME
GEN_AI_REQUEST_MODEL: Final = _gen_ai.GEN_AI_REQUEST_MODEL
GEN_AI_AGENT_NAME: Final = _gen_ai.GEN_AI_AGENT_NAME
GEN_AI_TOOL_NAME: Final = _gen_ai.GEN_AI_TOOL_NAME
GEN_AI_WORKFLOW_NAME: Final = _gen_ai.GEN_AI_WORKFLOW_NAME
GEN_AI_TOOL_TYPE: Final = _gen_ai.GEN_AI_TOOL_TYPE
GEN_AI_TOOL_CALL_ID: Final = _gen_ai.GEN_AI_TOOL_CALL_ID
GEN_AI_TOKEN_TYPE: Final = _gen_ai.GEN_AI_TOKEN_TYPE
GEN_AI_REQUEST_STREAM: Final = _gen_ai.GEN_AI_REQUEST_STREAM
GEN_AI_REQUEST_MAX_TOKENS: Final = _gen_ai.GEN_AI_REQUEST_MAX_TOKENS
GEN_AI_REQUEST_TEMPERATURE: Final = _gen_ai.GEN_AI_REQUEST_TEMPERATURE
GEN_AI_REQUEST_TOP_P: Final = _gen_ai.GEN_AI_REQUEST_TOP_P
GEN_AI_REQUEST_FREQUENCY_PENALTY: Final = _gen_ai.GEN_AI_REQUEST_FREQUENCY_PENALTY
GEN_AI_REQUEST_PRESENCE_PENALTY: Final = _gen_ai.GEN_AI_REQUEST_PRESENCE_PENALTY
GEN_AI_REQUEST_SEED: Final = _gen_ai.GEN_AI_REQUEST_SEED
GEN_AI_RESPONSE_MODEL: Final = _gen_ai.GEN_AI_RESPONSE_MODEL
GEN_AI_RESPONSE_ID: Final = _gen_ai.GEN_AI_RESPONSE_ID
GEN_AI_RESPONSE_FINISH_REASONS: Final = _gen_ai.GEN_AI_RESPONSE_FINISH_REASONS
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = _gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK
GEN_AI_USAGE_INPUT_TOKENS: Final = _gen_ai.GEN_AI_USAGE_INPUT_TOKENS
GEN_AI_USAGE_OUTPUT_TOKENS: Final = _gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = _gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = _gen_ai.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS
GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: Final = "gen_ai.usage.cache_write.input_tokens"  # the unreleased name
GEN_AI_REQUEST_TOP_K: Final = _gen_ai.GEN_AI_REQUEST_TOP_K
GEN_AI_REQUEST_STOP_SEQUENCES: Final = _gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES
GEN_AI_REQUEST_ENCODING_FORMATS: Final = _gen_ai.GEN_AI_REQUEST_ENCODING_FORMATS
GEN_AI_EMBEDDINGS_DIMENSION_COUNT: Final = _gen_ai.GEN_AI_EMBEDDINGS_DIMENSION_COUNT
GEN_AI_INPUT_MESSAGES: Final = _gen_ai.GEN_AI_INPUT_MESSAGES
GEN_AI_OUTPUT_MESSAGES: Final = _gen_ai.GEN_AI_OUTPUT_MESSAGES
GEN_AI_SYSTEM_INSTRUCTIONS: Final = _gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS
TOKEN_TYPE_INPUT: Final = "input"
TOKEN_TYPE_OUTPUT: Final = "output"
TOOL_TYPE_FUNCTION: Final = "function"
# The conventions' well-known ``gen_ai.provider.name`` values.
PROVIDER: Final = _gen_ai.GenAiProviderNameValues
PROVIDER_OPENAI: Final = PROVIDER.OPENAI.value
PROVIDER_ANTHROPIC: Final = PROVIDER.ANTHROPIC.value
ERROR_TYPE: Final = _error.ERROR_TYPE
SERVER_ADDRESS: Final = _server.SERVER_ADDRESS
SERVER_PORT: Final = _server.SERVER_PORT

# GenAI operation names (semconv v1.41 well-known values)
OP_INVOKE_AGENT: Final = _gen_ai.GenAiOperationNameValues.INVOKE_AGENT.value
OP_CREATE_AGENT: Final = _gen_ai.GenAiOperationNameValues.CREATE_AGENT.value
OP_EXECUTE_TOOL: Final = _gen_ai.GenAiOperationNameValues.EXECUTE_TOOL.value
OP_INVOKE_WORKFLOW: Final = _gen_ai.GenAiOperationNameValues.INVOKE_WORKFLOW.value
OP_CHAT: Final = _gen_ai.GenAiOperationNameValues.CHAT.value
OP_EMBEDDINGS: Final = _gen_ai.GenAiOperationNameValues.EMBEDDINGS.value
# Custom operation names (the conventions allow them where no well-known value applies)
OP_LOAD_CONFIG: Final = "load_config"
OP_HISTORY_PREFIX: Final = "history_"

# agentperf.* attributes
OPERATION_KIND: Final = "agentperf.operation.kind"
SEGMENT_NAME: Final = "agentperf.segment.name"
CONFIG_LOADER: Final = "agentperf.config.loader"
HISTORY_STORE: Final = "agentperf.history.store"
HISTORY_OPERATION: Final = "agentperf.history.operation"
CODE_FUNCTION: Final = "code.function.name"
CONFIG_FORMAT: Final = "agentperf.config.format"
CONFIG_SOURCE: Final = "agentperf.config.source"
CONFIG_REDUNDANT: Final = "agentperf.config.redundant"
BLOCKING_EVENT_LOOP: Final = "agentperf.blocking_event_loop"
FILE_NAME: Final = "agentperf.file.name"
FILE_PATH: Final = "agentperf.file.path"
FILE_SIZE: Final = "agentperf.file.size"
HISTORY_RECORDS: Final = "agentperf.history.records"
GUARDRAIL_TRIGGERED: Final = "agentperf.guardrail.triggered"
HANDOFF_FROM: Final = "agentperf.handoff.from_agent"
HANDOFF_TO: Final = "agentperf.handoff.to_agent"
MEMORY_RSS_DELTA: Final = "agentperf.memory.rss_delta"
MEMORY_ALLOCATED: Final = "agentperf.memory.allocated"
MEMORY_PEAK: Final = "agentperf.memory.peak"

# Values of agentperf.config.source
SOURCE_FILE: Final = "file"
SOURCE_STREAM: Final = "stream"
SOURCE_ENV: Final = "env"

# Value used when a bounded attribute has seen too many distinct values, or has none that fits.
OTHER: Final = "_OTHER"

# Operation kinds: the values of agentperf.operation.kind and of the target kinds.
KIND_AGENT: Final = "agent"
KIND_CREATE_AGENT: Final = "create_agent"
KIND_TOOL: Final = "tool"
KIND_LLM: Final = "llm"
KIND_CONFIG: Final = "config"
KIND_HISTORY: Final = "history"
KIND_WORKFLOW: Final = "workflow"
KIND_SEGMENT: Final = "segment"
# Blocking I/O kinds: recorded only at the outermost level (a user loader calling yaml.safe_load is one
# load), and flagged when a synchronous call blocks a running event loop. LLM operations fold too.
EXCLUSIVE_KINDS: Final = frozenset({KIND_CONFIG, KIND_HISTORY})
KINDS: Final = (
    KIND_AGENT,
    KIND_CREATE_AGENT,
    KIND_TOOL,
    KIND_LLM,
    KIND_CONFIG,
    KIND_HISTORY,
    KIND_WORKFLOW,
    KIND_SEGMENT,
)

# History operations, and the words in a function name that imply them (checked in this order).
HISTORY_OPERATIONS: Final = ("read", "append", "write", "search", "delete")
HISTORY_OPERATION_WORDS: Final = (
    ("search", ("search", "find", "query", "lookup", "filter")),
    ("delete", ("delete", "remove", "clear", "purge", "trim")),
    ("append", ("append", "add", "push", "insert", "record", "log")),
    ("write", ("write", "save", "store", "put", "update", "set", "flush", "dump")),
    ("read", ("read", "get", "load", "list", "fetch", "iter", "messages", "recent", "latest", "last", "tail")),
)

# Bucket boundaries (seconds unless noted)
CLIENT_DURATION_BUCKETS: Final = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)
AGENT_DURATION_BUCKETS: Final = (
    0.1,
    0.2,
    0.4,
    0.8,
    1.6,
    3.2,
    6.4,
    12.8,
    25.6,
    51.2,
    102.4,
    204.8,
    409.6,
)
WORKFLOW_DURATION_BUCKETS: Final = (1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0)
# For in-process work measured in milliseconds: agent construction, config parsing, history scans.
FAST_DURATION_BUCKETS: Final = (
    0.0001,
    0.0002,
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.5,
    1.0,
    2.0,
    5.0,
    10.0,
    20.0,
    60.0,
)
TOKEN_BUCKETS: Final = tuple(float(4**i) for i in range(14))
# Bytes: 1 KiB to 4 GiB, quadrupling.
MEMORY_BUCKETS: Final = tuple(float(1024 * 4**i) for i in range(12))
# Calls made by one agent invocation: an agent loop rarely runs past a few dozen steps.
CALL_COUNT_BUCKETS: Final = (0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 64.0, 128.0)
# History sizes: 1 to 4 Mi records, quadrupling.
RECORD_BUCKETS: Final = tuple(float(4**i) for i in range(12))

# Metric names
AGENT_DURATION: Final = "gen_ai.invoke_agent.duration"
TOOL_DURATION: Final = "gen_ai.execute_tool.duration"
WORKFLOW_DURATION: Final = "gen_ai.workflow.duration"
CLIENT_OPERATION_DURATION: Final = _gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION
CLIENT_INFERENCE_DURATION: Final = "gen_ai.client.inference.duration"
CLIENT_TOKEN_USAGE: Final = _gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE
CLIENT_TIME_TO_FIRST_CHUNK: Final = _gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK
CLIENT_TIME_PER_OUTPUT_CHUNK: Final = _gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK
CLIENT_EMBEDDINGS_DURATION: Final = "gen_ai.client.embeddings.duration"
AGENT_LLM_CALLS: Final = "agentperf.agent.llm_calls"
AGENT_TOOL_CALLS: Final = "agentperf.agent.tool_calls"
LLM_COST: Final = "agentperf.llm.cost"
LLM_UNPRICED: Final = "agentperf.llm.unpriced"
LLM_CACHED_INPUT_TOKENS: Final = "agentperf.llm.cached_input_tokens"
CREATE_AGENT_DURATION: Final = "agentperf.create_agent.duration"
CONFIG_LOAD_DURATION: Final = "agentperf.config.load.duration"
HISTORY_OPERATION_DURATION: Final = "agentperf.history.operation.duration"
SEGMENT_DURATION: Final = "agentperf.segment.duration"
OPERATIONS_ACTIVE: Final = "agentperf.operations.active"
SELF_TIME: Final = "agentperf.operation.self_time"  # the counter, and the span attribute (seconds)
HISTORY_SIZE_RECORDS: Final = "agentperf.history.size.records"
HISTORY_SIZE_BYTES: Final = "agentperf.history.size.bytes"
MEMORY_RSS_GROWTH_METRIC: Final = "agentperf.memory.rss_growth"
MEMORY_ALLOCATED_METRIC: Final = "agentperf.memory.allocated"
MEMORY_PEAK_METRIC: Final = "agentperf.memory.peak"

UNIT_SECONDS: Final = "s"
UNIT_BYTES: Final = "By"
UNIT_OPERATIONS: Final = "{operation}"
UNIT_RECORDS: Final = "{record}"
UNIT_TOKENS: Final = "{token}"
UNIT_USD: Final = "{USD}"
UNIT_CALLS: Final = "{call}"

# The histogram an embeddings operation records to (its own metric in the unreleased conventions).
EMBEDDINGS: Final = "embeddings"

# The attributes that name a row of a report, per duration histogram kind.
NAMING_ATTRIBUTES: Final = {
    KIND_AGENT: (GEN_AI_AGENT_NAME,),
    KIND_CREATE_AGENT: (GEN_AI_AGENT_NAME,),
    KIND_TOOL: (GEN_AI_TOOL_NAME,),
    KIND_LLM: (GEN_AI_PROVIDER_NAME, GEN_AI_REQUEST_MODEL, CODE_FUNCTION),
    KIND_WORKFLOW: (GEN_AI_WORKFLOW_NAME,),
    KIND_CONFIG: (CONFIG_LOADER,),
    KIND_HISTORY: (HISTORY_STORE, HISTORY_OPERATION),
    KIND_SEGMENT: (SEGMENT_NAME,),
}

OPT_IN_ENV: Final = "OTEL_SEMCONV_STABILITY_OPT_IN"
LATEST_EXPERIMENTAL: Final = "gen_ai_latest_experimental"


def latest_experimental() -> bool:
    """True when the user opted in to the unreleased GenAI conventions."""
    tokens = os.environ.get(OPT_IN_ENV, "")
    return LATEST_EXPERIMENTAL in {token.strip() for token in tokens.split(",")}


def llm_duration_metric(latest: bool) -> str:
    """Inference duration moved to its own metric in the unreleased conventions."""
    return CLIENT_INFERENCE_DURATION if latest else CLIENT_OPERATION_DURATION


def cache_write_attribute(latest: bool) -> str:
    """Tokens written to a prompt cache: renamed in the unreleased conventions."""
    return GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS if latest else GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS


class Histogram:
    """The fixed description of one duration or size histogram."""

    __slots__ = ("boundaries", "description", "name", "unit")

    def __init__(self, name: str, unit: str, boundaries: tuple[float, ...], description: str) -> None:
        self.name = name
        self.unit = unit
        self.boundaries = boundaries
        self.description = description


def prometheus_name(name: str, unit: str) -> str:
    """The series name the Prometheus exporter gives an instrument (before ``_bucket``/``_total``)."""
    from opentelemetry.exporter.prometheus._mapping import map_unit, sanitize_full_name

    base = sanitize_full_name(name)
    suffix = map_unit(unit)
    return f"{base}_{suffix}" if suffix and not base.endswith(f"_{suffix}") else base


def prometheus_label(attribute: str) -> str:
    """The label an attribute becomes in Prometheus exposition."""
    from opentelemetry.exporter.prometheus._mapping import sanitize_attribute

    return str(sanitize_attribute(attribute))


def histograms(latest: bool) -> dict[str, Histogram]:
    """Every histogram, keyed by the operation kind (or memory measure) that records it."""
    return {
        KIND_AGENT: Histogram(AGENT_DURATION, UNIT_SECONDS, AGENT_DURATION_BUCKETS, "Agent invocation time."),
        KIND_CREATE_AGENT: Histogram(
            CREATE_AGENT_DURATION, UNIT_SECONDS, FAST_DURATION_BUCKETS, "Agent construction (spawn) time."
        ),
        KIND_TOOL: Histogram(TOOL_DURATION, UNIT_SECONDS, CLIENT_DURATION_BUCKETS, "Tool execution time."),
        KIND_LLM: Histogram(
            llm_duration_metric(latest), UNIT_SECONDS, CLIENT_DURATION_BUCKETS, "GenAI client operation time."
        ),
        EMBEDDINGS: Histogram(
            CLIENT_EMBEDDINGS_DURATION if latest else CLIENT_OPERATION_DURATION,
            UNIT_SECONDS,
            CLIENT_DURATION_BUCKETS,
            "GenAI embeddings operation time." if latest else "GenAI client operation time.",
        ),
        KIND_WORKFLOW: Histogram(
            WORKFLOW_DURATION, UNIT_SECONDS, WORKFLOW_DURATION_BUCKETS, "Workflow invocation time."
        ),
        KIND_CONFIG: Histogram(CONFIG_LOAD_DURATION, UNIT_SECONDS, FAST_DURATION_BUCKETS, "Configuration load time."),
        KIND_HISTORY: Histogram(
            HISTORY_OPERATION_DURATION, UNIT_SECONDS, FAST_DURATION_BUCKETS, "History store operation time."
        ),
        KIND_SEGMENT: Histogram(SEGMENT_DURATION, UNIT_SECONDS, FAST_DURATION_BUCKETS, "Ad-hoc code segment time."),
        GEN_AI_TOKEN_TYPE: Histogram(
            CLIENT_TOKEN_USAGE, UNIT_TOKENS, TOKEN_BUCKETS, "Tokens per GenAI client operation, by token type."
        ),
        GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Histogram(
            "gen_ai.client.inference.time_to_first_chunk" if latest else CLIENT_TIME_TO_FIRST_CHUNK,
            UNIT_SECONDS,
            CLIENT_DURATION_BUCKETS,
            "Time from request to the first streamed chunk.",
        ),
        CLIENT_TIME_PER_OUTPUT_CHUNK: Histogram(
            "gen_ai.client.inference.time_per_output_chunk" if latest else CLIENT_TIME_PER_OUTPUT_CHUNK,
            UNIT_SECONDS,
            CLIENT_DURATION_BUCKETS,
            "Time between streamed chunks after the first.",
        ),
        AGENT_LLM_CALLS: Histogram(
            AGENT_LLM_CALLS,
            UNIT_CALLS,
            CALL_COUNT_BUCKETS,
            "LLM calls made by one agent invocation (not by sub-agents).",
        ),
        AGENT_TOOL_CALLS: Histogram(
            AGENT_TOOL_CALLS,
            UNIT_CALLS,
            CALL_COUNT_BUCKETS,
            "Tool calls made by one agent invocation (not by sub-agents).",
        ),
        HISTORY_RECORDS: Histogram(
            HISTORY_SIZE_RECORDS, UNIT_RECORDS, RECORD_BUCKETS, "Records in a history store at an operation."
        ),
        FILE_SIZE: Histogram(
            HISTORY_SIZE_BYTES, UNIT_BYTES, MEMORY_BUCKETS, "Bytes of a history file at an operation."
        ),
        MEMORY_RSS_DELTA: Histogram(
            MEMORY_RSS_GROWTH_METRIC, UNIT_BYTES, MEMORY_BUCKETS, "Resident set size growth over an operation."
        ),
        MEMORY_ALLOCATED: Histogram(
            MEMORY_ALLOCATED_METRIC, UNIT_BYTES, MEMORY_BUCKETS, "Python memory still allocated after an operation."
        ),
        MEMORY_PEAK: Histogram(
            MEMORY_PEAK_METRIC, UNIT_BYTES, MEMORY_BUCKETS, "Peak Python memory above the start of an operation."
        ),
    }


class Counter:
    """The fixed description of one monotonic counter."""

    __slots__ = ("description", "name", "unit")

    def __init__(self, name: str, unit: str, description: str) -> None:
        self.name = name
        self.unit = unit
        self.description = description


def counters() -> dict[str, Counter]:
    """Every monotonic counter, keyed by what it counts."""
    return {
        LLM_COST: Counter(
            LLM_COST, UNIT_USD, "Estimated LLM spend from reported token usage and the price table, in US dollars."
        ),
        LLM_CACHED_INPUT_TOKENS: Counter(
            LLM_CACHED_INPUT_TOKENS, UNIT_TOKENS, "Input tokens the provider read from its prompt cache."
        ),
        LLM_UNPRICED: Counter(
            LLM_UNPRICED, UNIT_CALLS, "LLM calls with token usage but no price for their model (no cost recorded)."
        ),
    }
