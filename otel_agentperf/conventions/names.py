"""Every telemetry name otel-agentperf emits, in one place.

Span names, attribute keys, metric names, units and values live here and nowhere else (bucket
boundaries in ``buckets``, instrument descriptions in ``instruments``), so a rename is a one-file change.
GenAI names follow the layout released in semconv v1.41, plus the agent, tool and workflow durations of
the GenAI conventions' own repository; what the conventions lack lives under ``agentperf.*``.
Setting ``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`` selects the newer names (``instruments``).
"""

from __future__ import annotations

from typing import Final

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as _gen_ai
from opentelemetry.semconv._incubating.attributes import jsonrpc_attributes as _jsonrpc
from opentelemetry.semconv._incubating.attributes import mcp_attributes as _mcp
from opentelemetry.semconv._incubating.attributes import rpc_attributes as _rpc
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics as _gen_ai_metrics
from opentelemetry.semconv._incubating.metrics import mcp_metrics as _mcp_metrics
from opentelemetry.semconv.attributes import error_attributes as _error
from opentelemetry.semconv.attributes import http_attributes as _http
from opentelemetry.semconv.attributes import network_attributes as _network
from opentelemetry.semconv.attributes import server_attributes as _server

# Instrumentation scope
SCOPE_NAME: Final = "otel_agentperf"
SCHEMA_URL: Final = "https://opentelemetry.io/schemas/1.41.0"
# The newest GenAI conventions (open-telemetry/semantic-conventions-genai): its development schema.
SCHEMA_URL_LATEST: Final = "https://opentelemetry.io/schemas/gen-ai-dev/1.42.0-dev"

# GenAI attributes (semconv v1.41)
GEN_AI_OPERATION_NAME: Final = _gen_ai.GEN_AI_OPERATION_NAME
GEN_AI_PROVIDER_NAME: Final = _gen_ai.GEN_AI_PROVIDER_NAME
GEN_AI_REQUEST_MODEL: Final = _gen_ai.GEN_AI_REQUEST_MODEL
GEN_AI_AGENT_NAME: Final = _gen_ai.GEN_AI_AGENT_NAME
GEN_AI_CONVERSATION_ID: Final = _gen_ai.GEN_AI_CONVERSATION_ID
GEN_AI_AGENT_ID: Final = _gen_ai.GEN_AI_AGENT_ID
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
GEN_AI_TOKEN_MODALITY: Final = "gen_ai.token.modality"  # newest GenAI conventions
TOKEN_MODALITY_UNKNOWN: Final = "unknown"  # the SDKs report totals, not totals per modality
TOKEN_TYPE_INPUT: Final = "input"
TOKEN_TYPE_OUTPUT: Final = "output"
TOOL_TYPE_FUNCTION: Final = "function"
# The conventions' well-known ``gen_ai.provider.name`` values.
PROVIDER: Final = _gen_ai.GenAiProviderNameValues
PROVIDER_OPENAI: Final = PROVIDER.OPENAI.value
PROVIDER_ANTHROPIC: Final = PROVIDER.ANTHROPIC.value
PROVIDER_AZURE_OPENAI: Final = PROVIDER.AZURE_AI_OPENAI.value
ERROR_TYPE: Final = _error.ERROR_TYPE
SERVER_ADDRESS: Final = _server.SERVER_ADDRESS
SERVER_PORT: Final = _server.SERVER_PORT
HTTP_RESPONSE_STATUS_CODE: Final = _http.HTTP_RESPONSE_STATUS_CODE
GEN_AI_PROMPT_NAME: Final = _gen_ai.GEN_AI_PROMPT_NAME

# Model Context Protocol (the MCP conventions, development status)
MCP_METHOD_NAME: Final = _mcp.MCP_METHOD_NAME
MCP_PROTOCOL_VERSION: Final = _mcp.MCP_PROTOCOL_VERSION
MCP_RESOURCE_URI: Final = _mcp.MCP_RESOURCE_URI
MCP_SESSION_ID: Final = _mcp.MCP_SESSION_ID
JSONRPC_REQUEST_ID: Final = _jsonrpc.JSONRPC_REQUEST_ID
RPC_RESPONSE_STATUS_CODE: Final = _rpc.RPC_RESPONSE_STATUS_CODE
NETWORK_TRANSPORT: Final = _network.NETWORK_TRANSPORT
NETWORK_TRANSPORT_PIPE: Final = "pipe"  # stdio, as the MCP conventions ask
NETWORK_TRANSPORT_TCP: Final = "tcp"  # HTTP
NETWORK_PROTOCOL_NAME: Final = _network.NETWORK_PROTOCOL_NAME
NETWORK_PROTOCOL_VERSION: Final = _network.NETWORK_PROTOCOL_VERSION
NETWORK_PROTOCOL_HTTP: Final = "http"  # streamable HTTP (the MCP conventions' transport table)
# The MCP conventions' operation durations, by the side that observes them (``Operation.protocol``).
MCP_CLIENT: Final = "mcp.client"
MCP_SERVER: Final = "mcp.server"
MCP_CLIENT_OPERATION_DURATION: Final = _mcp_metrics.MCP_CLIENT_OPERATION_DURATION
MCP_SERVER_OPERATION_DURATION: Final = _mcp_metrics.MCP_SERVER_OPERATION_DURATION
MCP_CLIENT_SESSION_DURATION: Final = _mcp_metrics.MCP_CLIENT_SESSION_DURATION
MCP_TOOLS_CALL: Final = "tools/call"
MCP_TOOLS_LIST: Final = "tools/list"
MCP_RESOURCES_LIST: Final = "resources/list"
MCP_RESOURCE_TEMPLATES_LIST: Final = "resources/templates/list"
MCP_RESOURCES_READ: Final = "resources/read"
MCP_PROMPTS_LIST: Final = "prompts/list"
MCP_PROMPTS_GET: Final = "prompts/get"
# ``error.type`` of a tools/call whose result has ``isError`` set (the MCP conventions' value).
MCP_TOOL_ERROR: Final = "tool_error"

# GenAI operation names (semconv v1.41 well-known values)
OP_INVOKE_AGENT: Final = _gen_ai.GenAiOperationNameValues.INVOKE_AGENT.value
OP_CREATE_AGENT: Final = _gen_ai.GenAiOperationNameValues.CREATE_AGENT.value
OP_EXECUTE_TOOL: Final = _gen_ai.GenAiOperationNameValues.EXECUTE_TOOL.value
OP_INVOKE_WORKFLOW: Final = _gen_ai.GenAiOperationNameValues.INVOKE_WORKFLOW.value
OP_CHAT: Final = _gen_ai.GenAiOperationNameValues.CHAT.value
OP_EMBEDDINGS: Final = _gen_ai.GenAiOperationNameValues.EMBEDDINGS.value
# Custom operation names (the conventions allow them where no well-known value applies)
OP_LOAD_CONFIG: Final = "load_config"
OP_HISTORY: Final = "history"  # a history operation that is none of HISTORY_OPERATIONS
OP_HISTORY_PREFIX: Final = f"{OP_HISTORY}_"

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
# The resource attribute ``otel-agentperf run --repeat N`` gives each run of its command (1 to N), so a
# reader of the saved run can tell the runs apart (``Received.runs``).
RUN_INDEX: Final = "agentperf.run.index"
# Seconds an operation held its asyncio event loop (the span attribute, and the counter).
EVENT_LOOP_BLOCKED_TIME: Final = "agentperf.event_loop.blocked_time"
EVENT_LOOP_BLOCKED_EVENT: Final = "agentperf.event_loop.blocked"  # the span event, with where it blocked
# Seconds an awaiting operation's loop was held by other code while it ran (the span attribute, and the counter).
EVENT_LOOP_WAITED_TIME: Final = "agentperf.event_loop.waited_time"
# Loop saturation, from the loop monitor's looks (docs/metrics.md, "Loop saturation"): per loop (named by its
# thread), the time it was watched running, the part it was busy (not polling its selector) and the part in
# saturated windows; per operation (or code outside any), the time it was seen running on its loop (short
# callbacks included) and the time it was ready but queued behind other callbacks.
EVENT_LOOP_RUNNING_TIME: Final = "agentperf.event_loop.running_time"
EVENT_LOOP_BUSY_TIME: Final = "agentperf.event_loop.busy_time"
EVENT_LOOP_SATURATED_TIME: Final = "agentperf.event_loop.saturated_time"
EVENT_LOOP_SATURATED_QUEUED_TIME: Final = "agentperf.event_loop.saturated_queued_time"
EVENT_LOOP_CONSUMED_TIME: Final = "agentperf.event_loop.consumed_time"
EVENT_LOOP_QUEUED_TIME: Final = "agentperf.event_loop.queued_time"  # the counter, and the span attribute
THREAD_NAME: Final = "thread.name"  # the thread a loop runs on: what names a loop's row
# A request (the outermost agent, workflow or segment) and where its wall time went: the root's kind and
# name on the request metrics; the operation on the critical path named as a report row names it (kind,
# then the row name); on the root span, its top contributors as two arrays of the same length.
REQUEST_KIND: Final = "agentperf.request.kind"
REQUEST_NAME: Final = "agentperf.request.name"
CRITICAL_PATH_OPERATION: Final = "agentperf.critical_path.operation"
CRITICAL_PATH_OPERATIONS: Final = "agentperf.critical_path.operations"  # ["tool search_flights", ...]
CRITICAL_PATH_SECONDS: Final = "agentperf.critical_path.seconds"  # [1.25, ...]: the same order
# Keep hints, on a request's span as it ends: why its trace is worth keeping under tail sampling. ``agentperf.keep``
# lists the reasons (comma-separated, a string a Collector's string_attribute policy matches), and each
# reason is also a boolean ``agentperf.keep.<reason>`` (for a boolean_attribute policy); neither is set on a
# request with no reason.
KEEP: Final = "agentperf.keep"
KEEP_SLOW: Final = "slow"  # slower than its request's recent p95
KEEP_ERROR: Final = "error"  # it, or an operation inside it, failed
KEEP_RETRIED: Final = "retried"  # a model call inside it took more than one HTTP attempt
KEEP_BLOCKING: Final = "blocking"  # it, or an operation inside it, held the event loop past the threshold
KEEP_COSTLY: Final = "costly"  # its model calls cost more than the threshold (OTEL_AGENTPERF_KEEP_COST_USD)
KEEP_REASONS: Final = (KEEP_SLOW, KEEP_ERROR, KEEP_RETRIED, KEEP_BLOCKING, KEEP_COSTLY)
# The critical-path "kind" of time an operation on the path spent waiting for an event loop other code
# held: the report charges it to the holders, as it charges waits everywhere.
KIND_WAITED: Final = "waited"
WAITED_NAME: Final = "event loop held by other code"
CODE_FILE_PATH: Final = "code.file.path"
CODE_LINE_NUMBER: Final = "code.line.number"
# The call stack where a loop was held, outermost call first, one ``module:function:line`` per line (module
# names, never a machine's folders): the conventions' attribute for a stack trace.
CODE_STACKTRACE: Final = "code.stacktrace"
STACK_LIMIT: Final = 16  # frames kept, the innermost
FILE_NAME: Final = "agentperf.file.name"
FILE_PATH: Final = "agentperf.file.path"
FILE_SIZE: Final = "agentperf.file.size"
HISTORY_RECORDS: Final = "agentperf.history.records"
# One logical LLM call's HTTP requests, when the SDK retried (span attributes and the retry span event).
LLM_HTTP_ATTEMPTS: Final = "agentperf.llm.http.attempts"
LLM_RETRY_TIME: Final = "agentperf.llm.retry.time"  # seconds from the first attempt to the start of the last
LLM_RETRY_EVENT: Final = "agentperf.llm.retry"  # one per attempt that was retried: its status or error
LLM_ATTEMPT_DURATION: Final = "agentperf.llm.attempt.duration"
GUARDRAIL_TRIGGERED: Final = "agentperf.guardrail.triggered"
HANDOFF_FROM: Final = "agentperf.handoff.from_agent"
HANDOFF_TO: Final = "agentperf.handoff.to_agent"
# Retries LiteLLM's Router made before the call's outcome (its ``x-litellm-attempted-retries``); span only.
LLM_ROUTER_RETRIES: Final = "agentperf.llm.router.retries"
MEMORY_RSS_DELTA: Final = "agentperf.memory.rss_delta"
MEMORY_ALLOCATED: Final = "agentperf.memory.allocated"
MEMORY_PEAK: Final = "agentperf.memory.peak"

# The slow-operation log record's attributes (besides the operation's own and its self time).
SLOW_OPERATION_NAME: Final = "agentperf.operation.name"  # its span name
SLOW_OPERATION_DURATION: Final = "agentperf.operation.duration"  # seconds
SLOW_THRESHOLD: Final = "agentperf.slow.threshold"  # seconds: its kind's threshold
SLOW_LEFT_OUT: Final = "agentperf.slow.left_out"  # slow calls of it not logged since its last record

# Cold start: agentperf.startup.duration, by agentperf.startup.phase.
STARTUP_PHASE: Final = "agentperf.startup.phase"
STARTUP_INSTRUMENTED: Final = "instrumented"  # otel-agentperf's instrumentor ran
STARTUP_FIRST_AGENT: Final = "first_agent"  # the process's first agent invocation began
# Cold start broken down: each top-level package's imports between instrumentation and the first agent.
IMPORT_DURATION: Final = "agentperf.startup.import_duration"
IMPORT_MODULE: Final = "agentperf.import.module"  # the top-level package (``openai``), never a path
IMPORT_CUMULATIVE: Final = "agentperf.import.cumulative"  # span attribute: the package's imports, summed (s)
IMPORTS_SPAN: Final = "agentperf.imports"  # the span from instrumentation to the first agent, over them

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
# An MCP request that is neither a tool call nor a model call (tools/list, resources/read, prompts/get...):
# its duration is the MCP conventions' own metric, named by mcp.method.name.
KIND_MCP: Final = "mcp"
# Blocking I/O kinds: recorded only at the outermost level (a user loader calling yaml.safe_load is one
# load), and flagged when a synchronous call blocks a running event loop. LLM operations fold too.
EXCLUSIVE_KINDS: Final = frozenset({KIND_CONFIG, KIND_HISTORY})
# The kinds whose outermost operation is a request, decomposed along its critical path.
REQUEST_KINDS: Final = frozenset({KIND_AGENT, KIND_WORKFLOW, KIND_SEGMENT})
# The request of a process that made none of those (a script calling models and tools directly): the
# process as a whole, from its first operation's start to its last one's end, named by its service.name.
KIND_PROCESS: Final = "process"
SERVICE_NAME: Final = "service.name"
UNKNOWN_SERVICE: Final = "unknown_service"  # the SDK's service.name when none was set
KINDS: Final = (
    KIND_AGENT,
    KIND_CREATE_AGENT,
    KIND_TOOL,
    KIND_LLM,
    KIND_CONFIG,
    KIND_HISTORY,
    KIND_WORKFLOW,
    KIND_SEGMENT,
    KIND_MCP,
)
# The kinds a target or decorator can declare: segments are opened by code, MCP requests by the MCP SDK.
TARGET_KINDS: Final = tuple(kind for kind in KINDS if kind not in (KIND_SEGMENT, KIND_MCP))

HISTORY_OPERATIONS: Final = ("read", "append", "write", "search", "delete")

# Metric names. The agent, tool and workflow durations are not in semconv v1.41: they come from the
# GenAI conventions' own repository (open-telemetry/semantic-conventions-genai), emitted in both layouts.
AGENT_DURATION: Final = "gen_ai.invoke_agent.duration"
TOOL_DURATION: Final = "gen_ai.execute_tool.duration"
# The newest GenAI conventions' name (model/gen-ai/metrics.yaml of semantic-conventions-genai), and what
# python-genai's util-genai records by default since 1.2b0: the same in both layouts.
WORKFLOW_DURATION: Final = "gen_ai.invoke_workflow.duration"
CLIENT_OPERATION_DURATION: Final = _gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION
CLIENT_INFERENCE_DURATION: Final = "gen_ai.client.inference.duration"
CLIENT_TOKEN_USAGE: Final = _gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE
CLIENT_TIME_TO_FIRST_CHUNK: Final = _gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK
CLIENT_TIME_PER_OUTPUT_CHUNK: Final = _gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK
CLIENT_EMBEDDINGS_DURATION: Final = "gen_ai.client.embeddings.duration"
CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.client.inference.time_to_first_chunk"
CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK: Final = "gen_ai.client.inference.time_per_output_chunk"
# The newest GenAI conventions split token usage by direction: a histogram per operation and counters.
CLIENT_OPERATION_INPUT_TOKENS: Final = "gen_ai.client.inference.operation.input_tokens"
CLIENT_OPERATION_OUTPUT_TOKENS: Final = "gen_ai.client.inference.operation.output_tokens"
CLIENT_USAGE_INPUT_TOKENS: Final = "gen_ai.client.inference.usage.input_tokens"
CLIENT_USAGE_OUTPUT_TOKENS: Final = "gen_ai.client.inference.usage.output_tokens"
CLIENT_USAGE_CACHE_READ_TOKENS: Final = "gen_ai.client.inference.usage.cache_read.input_tokens"
CLIENT_USAGE_CACHE_WRITE_TOKENS: Final = "gen_ai.client.inference.usage.cache_write.input_tokens"
# An agent invocation's own LLM and tool calls: span attributes of the agent's span (the conventions define
# none), and the newest GenAI conventions' histograms, in both layouts.
AGENT_LLM_CALLS: Final = "agentperf.agent.llm_calls"
AGENT_TOOL_CALLS: Final = "agentperf.agent.tool_calls"
INVOKE_AGENT_INFERENCE_CALLS: Final = "gen_ai.invoke_agent.inference_calls"
INVOKE_AGENT_TOOL_CALLS: Final = "gen_ai.invoke_agent.tool_calls"
LLM_COST: Final = "agentperf.llm.cost"
LLM_UNPRICED: Final = "agentperf.llm.unpriced"
LLM_CACHED_INPUT_TOKENS: Final = "agentperf.llm.cached_input_tokens"
LLM_RETRIES: Final = "agentperf.llm.retries"
LLM_RETRY_DURATION: Final = "agentperf.llm.retry.duration"
STARTUP_DURATION: Final = "agentperf.startup.duration"
# otel-agentperf's own work per sampled operation, by agentperf.operation.kind (recording/overhead.py).
OVERHEAD: Final = "agentperf.overhead"
CREATE_AGENT_DURATION: Final = "agentperf.create_agent.duration"
CONFIG_LOAD_DURATION: Final = "agentperf.config.load.duration"
HISTORY_OPERATION_DURATION: Final = "agentperf.history.operation.duration"
SEGMENT_DURATION: Final = "agentperf.segment.duration"
OPERATIONS_ACTIVE: Final = "agentperf.operations.active"
SELF_TIME: Final = "agentperf.operation.self_time"  # the counter, and the span attribute (seconds)
REQUEST_DURATION: Final = "agentperf.request.duration"
REQUEST_CRITICAL_PATH: Final = "agentperf.request.critical_path"
# Work that could have overlapped: I/O-bound calls one operation awaited one after another.
SEQUENTIAL_CALLS: Final = "agentperf.sequential.calls"
SEQUENTIAL_DURATION: Final = "agentperf.sequential.duration"
SEQUENTIAL_RECOVERABLE: Final = "agentperf.sequential.recoverable"
# Calls repeated with the same arguments within one request: what the repeats cost.
REPEATED_CALLS: Final = "agentperf.repeated.calls"
REPEATED: Final = "agentperf.repeated"  # span attribute: this call repeated an earlier one of its request
REPEATED_DURATION: Final = "agentperf.repeated.duration"
REPEATED_TOKENS: Final = "agentperf.repeated.tokens"
REPEATED_COST: Final = "agentperf.repeated.cost"
# Prompts that grow turn by turn within a conversation: the later turns against their conversation's first.
PROMPT_LATER_TURNS: Final = "agentperf.prompt.later_turns"
PROMPT_TURN_DISTANCE: Final = "agentperf.prompt.turn_distance"
PROMPT_FIRST_TURN_TOKENS: Final = "agentperf.prompt.first_turn_tokens"
PROMPT_EXCESS_TOKENS: Final = "agentperf.prompt.excess_tokens"
PROMPT_EXCESS_DURATION: Final = "agentperf.prompt.excess_duration"
PROMPT_EXCESS_COST: Final = "agentperf.prompt.excess_cost"
# CPU hotspots inside operations (opt-in sampler): the seconds sampled at each code location, and the span
# event on an instance that ran long enough, with its top locations and their shares.
CPU_SAMPLED_TIME: Final = "agentperf.cpu.sampled_time"
CPU_HOTSPOTS_EVENT: Final = "agentperf.cpu.hotspots"
CPU_SHARE: Final = "agentperf.cpu.share"  # event attribute: each location's share of the instance's samples
CPU_SAMPLED: Final = "agentperf.cpu.sampled"  # event attribute: the instance's sampled seconds
# Waiting for a free connection of an httpx pool before an LLM call's HTTP request could be sent.
CONNECTION_WAIT_CALLS: Final = "agentperf.connection_wait.calls"
CONNECTION_WAIT_DURATION: Final = "agentperf.connection_wait.duration"  # the counter, and the span attribute (s)
CONNECTION_WAIT_POOL_LIMIT: Final = "agentperf.connection_wait.pool_limit"  # summed per waiting call
EVENT_LOOP_LAG: Final = "agentperf.event_loop.lag"
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
UNIT_INFERENCE_CALLS: Final = "{inference_call}"
UNIT_TOOL_CALLS: Final = "{tool_call}"
UNIT_RETRIES: Final = "{retry}"
UNIT_TURNS: Final = "{turn}"
UNIT_CONNECTIONS: Final = "{connection}"

# The attributes that name a row of a report, per duration histogram kind.
NAMING_ATTRIBUTES: Final = {
    KIND_AGENT: (GEN_AI_AGENT_NAME,),
    KIND_CREATE_AGENT: (GEN_AI_AGENT_NAME,),
    KIND_TOOL: (GEN_AI_TOOL_NAME,),
    KIND_LLM: (GEN_AI_PROVIDER_NAME, GEN_AI_REQUEST_MODEL),
    KIND_WORKFLOW: (GEN_AI_WORKFLOW_NAME,),
    KIND_CONFIG: (CONFIG_LOADER,),
    KIND_HISTORY: (HISTORY_STORE, HISTORY_OPERATION),
    KIND_SEGMENT: (SEGMENT_NAME,),
    KIND_MCP: (MCP_METHOD_NAME, GEN_AI_PROMPT_NAME),
}


def row_name(parts: list[str]) -> str:
    """A report row's name from its naming attributes' values (``NAMING_ATTRIBUTES``), in order: joined by
    ``/``, leaving out an unknown part (``_OTHER``: a history operation of no known verb, a value over its
    bound) while another part names the row (``TripHistory.trips_of``, not ``TripHistory.trips_of/_OTHER``);
    ``-`` when nothing does. The report's rows and the critical path name operations this one way."""
    present = [part for part in parts if part]
    return "/".join([part for part in present if part != OTHER] or present) or "-"
