"""The catalogue of instruments: each metric's name, unit, description and advised buckets.

One :class:`Instruments` per semantic-convention layout: v1.41 by default, the newest GenAI conventions
under ``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental``. The recorder creates exactly these;
the report, dashboards, alert rules and docs read them, so a rename here reaches every one of them.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, NamedTuple

from otel_agentperf.conventions import buckets, names

# The key of the embeddings duration in :attr:`Instruments.durations` (its own metric in the newest layout).
EMBEDDINGS: Final = "embeddings"
# Keys of :attr:`Instruments.usage_tokens` besides the token types.
CACHE_READ: Final = "cache_read"
CACHE_WRITE: Final = "cache_write"


class Instrument(NamedTuple):
    """The fixed description of one metric."""

    name: str
    unit: str
    description: str
    boundaries: tuple[float, ...] = ()  # histograms only: the advised explicit bucket boundaries


class Instruments:
    """Every instrument of one layout, by what it measures."""

    def __init__(self, latest: bool) -> None:
        self.latest = latest
        llm_duration = names.CLIENT_INFERENCE_DURATION if latest else names.CLIENT_OPERATION_DURATION
        mcp_client = Instrument(
            names.MCP_CLIENT_OPERATION_DURATION,
            names.UNIT_SECONDS,
            "MCP request duration as observed on the client, from sending it to receiving the response.",
            buckets.MCP_DURATION,
        )
        self.durations: Mapping[str, Instrument] = MappingProxyType(
            {
                names.KIND_AGENT: Instrument(
                    names.AGENT_DURATION, names.UNIT_SECONDS, "Agent invocation time.", buckets.AGENT_DURATION
                ),
                names.KIND_CREATE_AGENT: Instrument(
                    names.CREATE_AGENT_DURATION,
                    names.UNIT_SECONDS,
                    "Agent construction (spawn) time.",
                    buckets.FAST_DURATION,
                ),
                names.KIND_TOOL: Instrument(
                    names.TOOL_DURATION, names.UNIT_SECONDS, "Tool execution time.", buckets.CLIENT_DURATION
                ),
                names.KIND_LLM: Instrument(
                    llm_duration, names.UNIT_SECONDS, "GenAI client operation time.", buckets.CLIENT_DURATION
                ),
                EMBEDDINGS: Instrument(
                    names.CLIENT_EMBEDDINGS_DURATION if latest else names.CLIENT_OPERATION_DURATION,
                    names.UNIT_SECONDS,
                    "GenAI embeddings operation time." if latest else "GenAI client operation time.",
                    buckets.CLIENT_DURATION,
                ),
                names.KIND_WORKFLOW: Instrument(
                    names.WORKFLOW_DURATION,
                    names.UNIT_SECONDS,
                    "Workflow invocation time.",
                    buckets.WORKFLOW_DURATION,
                ),
                names.KIND_CONFIG: Instrument(
                    names.CONFIG_LOAD_DURATION, names.UNIT_SECONDS, "Configuration load time.", buckets.FAST_DURATION
                ),
                names.KIND_HISTORY: Instrument(
                    names.HISTORY_OPERATION_DURATION,
                    names.UNIT_SECONDS,
                    "History store operation time.",
                    buckets.FAST_DURATION,
                ),
                names.KIND_SEGMENT: Instrument(
                    names.SEGMENT_DURATION, names.UNIT_SECONDS, "Ad-hoc code segment time.", buckets.FAST_DURATION
                ),
                # An MCP request of no other kind: the MCP metric is its own duration (recorded once).
                names.KIND_MCP: mcp_client,
            }
        )
        # The MCP conventions' operation durations (the same in both layouts), by ``Operation.protocol``: what
        # an operation of another kind (an MCP tools/call, a tool) records besides its own duration.
        self.protocol_durations: Mapping[str, Instrument] = MappingProxyType(
            {
                names.MCP_CLIENT: mcp_client,
                names.MCP_SERVER: Instrument(
                    names.MCP_SERVER_OPERATION_DURATION,
                    names.UNIT_SECONDS,
                    "MCP request duration as observed on the server, from receiving it to sending the result.",
                    buckets.MCP_DURATION,
                ),
            }
        )
        self.mcp_client_session = Instrument(
            names.MCP_CLIENT_SESSION_DURATION,
            names.UNIT_SECONDS,
            "MCP session duration as observed on the client, from entering the session to leaving it.",
            buckets.MCP_DURATION,
        )
        self.schema_url = names.SCHEMA_URL_LATEST if latest else names.SCHEMA_URL
        # v1.41: one histogram by token type. Newest: a histogram per direction (``input``, ``output``) and
        # a counter per kind of token the provider reports (also ``cache_read``, ``cache_write``).
        self.token_usage = Instrument(
            names.CLIENT_TOKEN_USAGE,
            names.UNIT_TOKENS,
            "Tokens per GenAI client operation, by token type.",
            buckets.TOKENS,
        )
        self.operation_tokens: Mapping[str, Instrument] = MappingProxyType(
            {
                names.TOKEN_TYPE_INPUT: Instrument(
                    names.CLIENT_OPERATION_INPUT_TOKENS,
                    names.UNIT_TOKENS,
                    "Input tokens per inference operation.",
                    buckets.TOKENS,
                ),
                names.TOKEN_TYPE_OUTPUT: Instrument(
                    names.CLIENT_OPERATION_OUTPUT_TOKENS,
                    names.UNIT_TOKENS,
                    "Output tokens per inference operation.",
                    buckets.TOKENS,
                ),
            }
            if latest
            else {}
        )
        self.usage_tokens: Mapping[str, Instrument] = MappingProxyType(
            {
                key: Instrument(name, names.UNIT_TOKENS, description)
                for key, name, description in (
                    (names.TOKEN_TYPE_INPUT, names.CLIENT_USAGE_INPUT_TOKENS, "Input tokens, cached ones included."),
                    (names.TOKEN_TYPE_OUTPUT, names.CLIENT_USAGE_OUTPUT_TOKENS, "Output tokens."),
                    (CACHE_READ, names.CLIENT_USAGE_CACHE_READ_TOKENS, "Input tokens read from a provider cache."),
                    (CACHE_WRITE, names.CLIENT_USAGE_CACHE_WRITE_TOKENS, "Input tokens written to a provider cache."),
                )
            }
            if latest
            else {}
        )
        self.time_to_first_chunk = Instrument(
            names.CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK if latest else names.CLIENT_TIME_TO_FIRST_CHUNK,
            names.UNIT_SECONDS,
            "Time from request to the first streamed chunk.",
            buckets.CLIENT_DURATION,
        )
        self.time_per_output_chunk = Instrument(
            names.CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK if latest else names.CLIENT_TIME_PER_OUTPUT_CHUNK,
            names.UNIT_SECONDS,
            "Time between streamed chunks after the first.",
            buckets.CLIENT_DURATION,
        )
        # An agent invocation's own calls: the newest conventions define these counts (each attributed to
        # the agent's name only); v1.41 has none, so both layouts take the newest conventions' (as they take
        # the agent, tool and workflow durations).
        self.agent_llm_calls = Instrument(
            names.INVOKE_AGENT_INFERENCE_CALLS,
            names.UNIT_INFERENCE_CALLS,
            "LLM calls made by one agent invocation (not by sub-agents).",
            buckets.CALL_COUNTS,
        )
        self.agent_tool_calls = Instrument(
            names.INVOKE_AGENT_TOOL_CALLS,
            names.UNIT_TOOL_CALLS,
            "Tool calls made by one agent invocation (not by sub-agents).",
            buckets.CALL_COUNTS,
        )
        self.history_records = Instrument(
            names.HISTORY_SIZE_RECORDS,
            names.UNIT_RECORDS,
            "Records in a history store at an operation.",
            buckets.RECORDS,
        )
        self.history_bytes = Instrument(
            names.HISTORY_SIZE_BYTES, names.UNIT_BYTES, "Bytes of a history file at an operation.", buckets.BYTES
        )
        # By the measurement (the span attribute) a memory probe reports.
        self.memory: Mapping[str, Instrument] = MappingProxyType(
            {
                names.MEMORY_RSS_DELTA: Instrument(
                    names.MEMORY_RSS_GROWTH_METRIC,
                    names.UNIT_BYTES,
                    "Resident set size growth over an operation.",
                    buckets.BYTES,
                ),
                names.MEMORY_ALLOCATED: Instrument(
                    names.MEMORY_ALLOCATED_METRIC,
                    names.UNIT_BYTES,
                    "Python memory still allocated after an operation.",
                    buckets.BYTES,
                ),
                names.MEMORY_PEAK: Instrument(
                    names.MEMORY_PEAK_METRIC,
                    names.UNIT_BYTES,
                    "Peak Python memory above the start of an operation.",
                    buckets.BYTES,
                ),
            }
        )
        self.cost = Instrument(
            names.LLM_COST,
            names.UNIT_USD,
            "Estimated LLM spend from reported token usage and the price table, in US dollars.",
        )
        self.cached_input_tokens = Instrument(
            names.LLM_CACHED_INPUT_TOKENS, names.UNIT_TOKENS, "Input tokens the provider read from its prompt cache."
        )
        self.unpriced = Instrument(
            names.LLM_UNPRICED,
            names.UNIT_CALLS,
            "LLM calls with token usage but no price for their model (no cost recorded).",
        )
        self.llm_retries = Instrument(
            names.LLM_RETRIES,
            names.UNIT_RETRIES,
            "HTTP requests of LLM calls that the SDK retried, by the status or error that made it retry.",
        )
        self.llm_retry_duration = Instrument(
            names.LLM_RETRY_DURATION,
            names.UNIT_SECONDS,
            "Time an LLM call that was retried spent before its last attempt: failed attempts and backoff.",
            buckets.FAST_DURATION,
        )
        self.startup = Instrument(
            names.STARTUP_DURATION,
            names.UNIT_SECONDS,
            "Time from the process start to a start-up phase (instrumented, first agent invocation); once each.",
            buckets.FAST_DURATION,
        )
        self.overhead = Instrument(
            names.OVERHEAD,
            names.UNIT_SECONDS,
            "otel-agentperf's own work for a sampled operation (every 64th): its start and end, the call left out.",
            buckets.OVERHEAD,
        )
        self.import_duration = Instrument(
            names.IMPORT_DURATION,
            names.UNIT_SECONDS,
            "A top-level package's imports between instrumentation and the first agent, cumulative; once per process.",
            buckets.FAST_DURATION,
        )
        # Asynchronous instruments, read from the recorder's running totals at collection time.
        self.operations_active = Instrument(
            names.OPERATIONS_ACTIVE, names.UNIT_OPERATIONS, "Operations in progress, per operation kind."
        )
        self.self_time = Instrument(
            names.SELF_TIME,
            names.UNIT_SECONDS,
            "Time operations spent themselves, not in the operations they called (exclusive time).",
        )
        self.event_loop_lag = Instrument(
            names.EVENT_LOOP_LAG,
            names.UNIT_SECONDS,
            "How late the asyncio event loop ran a callback the loop monitor scheduled.",
            buckets.FAST_DURATION,
        )
        self.event_loop_blocked = Instrument(
            names.EVENT_LOOP_BLOCKED_TIME,
            names.UNIT_SECONDS,
            "Time an operation (or code outside any, by location) held the asyncio event loop past the threshold.",
        )
        self.event_loop_waited = Instrument(
            names.EVENT_LOOP_WAITED_TIME,
            names.UNIT_SECONDS,
            "Time an awaiting operation could not go on because other code held its asyncio event loop.",
        )
        self.event_loop_running = Instrument(
            names.EVENT_LOOP_RUNNING_TIME,
            names.UNIT_SECONDS,
            "Time an asyncio event loop was watched running, per loop (its thread).",
        )
        self.event_loop_busy = Instrument(
            names.EVENT_LOOP_BUSY_TIME,
            names.UNIT_SECONDS,
            "Time an asyncio event loop was busy running callbacks, not waiting in its selector (sampled).",
        )
        self.event_loop_saturated = Instrument(
            names.EVENT_LOOP_SATURATED_TIME,
            names.UNIT_SECONDS,
            "Time an asyncio event loop spent in windows of at least 1 s it was busy for 90% or more of.",
        )
        self.event_loop_saturated_queued = Instrument(
            names.EVENT_LOOP_SATURATED_QUEUED_TIME,
            names.UNIT_SECONDS,
            "Time awaiting operations were ready but queued on an asyncio event loop in its saturated windows.",
        )
        self.event_loop_consumed = Instrument(
            names.EVENT_LOOP_CONSUMED_TIME,
            names.UNIT_SECONDS,
            "Time an operation (or code outside any, by location) ran on its asyncio event loop (sampled).",
        )
        self.event_loop_queued = Instrument(
            names.EVENT_LOOP_QUEUED_TIME,
            names.UNIT_SECONDS,
            "Time an awaiting operation was ready to go on but queued behind other callbacks on its loop (sampled).",
        )
        self.request_duration = Instrument(
            names.REQUEST_DURATION,
            names.UNIT_SECONDS,
            "Wall time of a request: the outermost agent, workflow or segment, by its kind and name.",
            buckets.REQUEST_DURATION,
        )
        self.critical_path = Instrument(
            names.REQUEST_CRITICAL_PATH,
            names.UNIT_SECONDS,
            "A request's wall time, each instant charged to the one operation on its critical path.",
        )
        # Work that could have overlapped, repeated calls and growing prompts (docs/metrics.md, "Diagnoses").
        self.sequential_calls = Instrument(
            names.SEQUENTIAL_CALLS,
            names.UNIT_CALLS,
            "I/O-bound calls an operation awaited one after another, with none of its own work between them.",
        )
        self.sequential_duration = Instrument(
            names.SEQUENTIAL_DURATION, names.UNIT_SECONDS, "Time those calls took one after another, summed."
        )
        self.sequential_recoverable = Instrument(
            names.SEQUENTIAL_RECOVERABLE,
            names.UNIT_SECONDS,
            "Time running those calls together would have saved: each run's sum less its longest call.",
        )
        self.repeated_calls = Instrument(
            names.REPEATED_CALLS, names.UNIT_CALLS, "Tool or model calls repeated with equal arguments in one request."
        )
        self.repeated_duration = Instrument(names.REPEATED_DURATION, names.UNIT_SECONDS, "Time those repeats took.")
        self.repeated_tokens = Instrument(names.REPEATED_TOKENS, names.UNIT_TOKENS, "Tokens those repeats used.")
        self.repeated_cost = Instrument(names.REPEATED_COST, names.UNIT_USD, "What those repeats cost, priced.")
        self.prompt_later_turns = Instrument(
            names.PROMPT_LATER_TURNS, names.UNIT_CALLS, "Model calls after the first turn of their conversation."
        )
        self.prompt_turn_distance = Instrument(
            names.PROMPT_TURN_DISTANCE, names.UNIT_TURNS, "Turns between each later turn and its conversation's first."
        )
        self.prompt_first_turn_tokens = Instrument(
            names.PROMPT_FIRST_TURN_TOKENS, names.UNIT_TOKENS, "Input tokens of the first turn, once per later turn."
        )
        self.prompt_excess_tokens = Instrument(
            names.PROMPT_EXCESS_TOKENS, names.UNIT_TOKENS, "Input tokens of later turns beyond their first turn's."
        )
        self.prompt_excess_duration = Instrument(
            names.PROMPT_EXCESS_DURATION, names.UNIT_SECONDS, "Time later turns took beyond their first turn's."
        )
        self.prompt_excess_cost = Instrument(
            names.PROMPT_EXCESS_COST, names.UNIT_USD, "What the input tokens beyond the first turn's cost, priced."
        )
        self.cpu_sampled_time = Instrument(
            names.CPU_SAMPLED_TIME,
            names.UNIT_SECONDS,
            "Seconds an operation was sampled running at a code location (opt-in CPU sampler, 100 samples a second).",
        )
        self.connection_wait_calls = Instrument(
            names.CONNECTION_WAIT_CALLS, names.UNIT_CALLS, "Model calls that waited for a free HTTP connection."
        )
        self.connection_wait_duration = Instrument(
            names.CONNECTION_WAIT_DURATION,
            names.UNIT_SECONDS,
            "Time model calls waited for a free connection of their HTTP client's pool, before the server had them.",
        )
        self.connection_wait_pool_limit = Instrument(
            names.CONNECTION_WAIT_POOL_LIMIT,
            names.UNIT_CONNECTIONS,
            "The pool's connection limit, once per waiting call whose pool has one: over the calls, the mean limit.",
        )
        self.cache_write_attribute = (
            names.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS if latest else names.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS
        )

    def histograms(self) -> list[Instrument]:
        """Every histogram, each metric once (embeddings share the inference histogram in v1.41)."""
        found = [
            *self.durations.values(),
            *self.protocol_durations.values(),
            self.mcp_client_session,
            *(self.operation_tokens.values() if self.latest else [self.token_usage]),
            self.time_to_first_chunk,
            self.time_per_output_chunk,
            self.agent_llm_calls,
            self.agent_tool_calls,
            self.history_records,
            self.history_bytes,
            *self.memory.values(),
            self.event_loop_lag,
            self.llm_retry_duration,
            self.startup,
            self.overhead,
            self.import_duration,
            self.request_duration,
        ]
        return list({instrument.name: instrument for instrument in found}.values())

    def counters(self) -> list[Instrument]:
        """Every monotonic counter of what operations add up (cost, tokens, calls, blocked time); self time apart."""
        return [
            *self.usage_tokens.values(),
            self.cost,
            self.cached_input_tokens,
            self.unpriced,
            self.llm_retries,
            self.event_loop_blocked,
            self.event_loop_waited,
            *self.saturation(),
            self.critical_path,
            self.cpu_sampled_time,
            *self.diagnoses(),
        ]

    def saturation(self) -> list[Instrument]:
        """The loop-saturation counters: per loop, and per operation or code location."""
        return [
            self.event_loop_running,
            self.event_loop_busy,
            self.event_loop_saturated,
            self.event_loop_saturated_queued,
            self.event_loop_consumed,
            self.event_loop_queued,
        ]

    def diagnoses(self) -> list[Instrument]:
        """The counters of work that could have overlapped, repeated calls, growing prompts and connection waits."""
        return [
            self.sequential_calls,
            self.sequential_duration,
            self.sequential_recoverable,
            self.repeated_calls,
            self.repeated_duration,
            self.repeated_tokens,
            self.repeated_cost,
            self.prompt_later_turns,
            self.prompt_turn_distance,
            self.prompt_first_turn_tokens,
            self.prompt_excess_tokens,
            self.prompt_excess_duration,
            self.prompt_excess_cost,
            self.connection_wait_calls,
            self.connection_wait_duration,
            self.connection_wait_pool_limit,
        ]


@functools.cache
def catalogue(latest: bool) -> Instruments:
    """The instruments of the newest GenAI layout (``latest``) or of semconv v1.41."""
    return Instruments(latest)
