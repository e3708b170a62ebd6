"""What an LLM call tells, read as it is made: its operation, request and response attributes, the provider,
and whether another GenAI instrumentation records it already.

The instrumentors' per-call ``prepare`` and result hooks read through these (as contrib's GenAI packages
read through their ``utils``); how the SDKs are patched is :mod:`.patch`, streams are followed in
:mod:`.streams`.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.util.types import AttributeValue

from otel_agentperf.conventions import names
from otel_agentperf.recording import operations
from otel_agentperf.recording.invocations import LLMInvocation
from otel_agentperf.recording.operations import Operation
from otel_agentperf.runtime import failures, settings

# Other GenAI instrumentations of these SDKs, by the module their wrappers and tracers are named after.
OTHER_INSTRUMENTATIONS = (
    "opentelemetry.instrumentation.openai_v2",  # OpenTelemetry contrib (wrappers)
    "opentelemetry.util.genai",  # OpenTelemetry contrib (the shared handler that starts their spans)
    "opentelemetry.instrumentation.openai",  # OpenLLMetry
    "openinference.instrumentation.openai",  # OpenInference (Arize)
    "opentelemetry.instrumentation.anthropic",  # OpenLLMetry
    "openinference.instrumentation.anthropic",  # OpenInference (Arize)
)
_NUMERIC_PARAMETERS = {
    "max_tokens": names.GEN_AI_REQUEST_MAX_TOKENS,
    "max_completion_tokens": names.GEN_AI_REQUEST_MAX_TOKENS,
    "max_output_tokens": names.GEN_AI_REQUEST_MAX_TOKENS,
    "temperature": names.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": names.GEN_AI_REQUEST_TOP_P,
    "top_k": names.GEN_AI_REQUEST_TOP_K,
    "frequency_penalty": names.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": names.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "seed": names.GEN_AI_REQUEST_SEED,
    "dimensions": names.GEN_AI_EMBEDDINGS_DIMENSION_COUNT,
}
# The parameters the conventions type as doubles: an app passing ``temperature=0`` still records ``0.0``.
DOUBLE_PARAMETERS = frozenset(
    {
        names.GEN_AI_REQUEST_TEMPERATURE,
        names.GEN_AI_REQUEST_TOP_P,
        names.GEN_AI_REQUEST_FREQUENCY_PENALTY,
        names.GEN_AI_REQUEST_PRESENCE_PENALTY,
    }
)

# The SDK class whose ``create`` a LangChain provider calls, by LangChain's ``ls_provider``.
SDK_CALLS = {
    "openai": ("openai.resources.chat.completions", "Completions"),
    "azure": ("openai.resources.chat.completions", "Completions"),
    "anthropic": ("anthropic.resources.messages", "Messages"),
}

# Provider names frameworks report (LiteLLM model prefixes, LangChain's ``ls_provider``) that have a
# value in the conventions, and that value.
PROVIDERS = {
    prefix: value.value
    for prefix, value in {
        "openai": names.PROVIDER.OPENAI,
        "anthropic": names.PROVIDER.ANTHROPIC,
        "azure": names.PROVIDER.AZURE_AI_OPENAI,
        "azure_ai": names.PROVIDER.AZURE_AI_INFERENCE,
        "bedrock": names.PROVIDER.AWS_BEDROCK,
        "gemini": names.PROVIDER.GCP_GEMINI,
        "vertex_ai": names.PROVIDER.GCP_VERTEX_AI,
        "cohere": names.PROVIDER.COHERE,
        "deepseek": names.PROVIDER.DEEPSEEK,
        "groq": names.PROVIDER.GROQ,
        "mistral": names.PROVIDER.MISTRAL_AI,
        "perplexity": names.PROVIDER.PERPLEXITY,
        "watsonx": names.PROVIDER.IBM_WATSONX_AI,
        "xai": names.PROVIDER.X_AI,
        # LiteLLM's further names for the same providers (other routes to one API).
        "text-completion-openai": names.PROVIDER.OPENAI,
        "azure_text": names.PROVIDER.AZURE_AI_OPENAI,
        "vertex_ai_beta": names.PROVIDER.GCP_VERTEX_AI,
        "bedrock_converse": names.PROVIDER.AWS_BEDROCK,
        "cohere_chat": names.PROVIDER.COHERE,
        "codestral": names.PROVIDER.MISTRAL_AI,
        "watsonx_text": names.PROVIDER.IBM_WATSONX_AI,
    }.items()
}


@functools.lru_cache(maxsize=1024)
def operation(function: str, provider: str, operation_name: str, model: str) -> Operation:
    """One precomputed operation per (function, model); metric values are bounded per meter, not here."""
    return operations.llm(function, model, provider, operation_name)


def provider(reported: str) -> str:
    """The conventions' ``gen_ai.provider.name`` for a provider a framework reports, else what it reported."""
    return PROVIDERS.get(reported, reported)


@functools.lru_cache(maxsize=256)
def split_model(model: str) -> tuple[str, str]:
    """(provider, model) from a LiteLLM-style model name: ``openai/gpt-4o`` is (``openai``, ``gpt-4o``).

    The provider is the conventions' value where there is one; ("", model) without a prefix.
    """
    prefix, _, rest = model.partition("/")
    if not rest:
        return "", model
    return provider(prefix), rest


def field(obj: Any, name: str) -> Any:
    """A response field, from an SDK object or from the plain dict some SDK versions and LiteLLM return."""
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def model_of(kwargs: Mapping[str, Any]) -> str:
    model = kwargs.get("model")
    return model if isinstance(model, str) else ""


def numeric(key: str, value: float) -> AttributeValue:
    """A numeric request parameter typed as the conventions type ``key``.

    Doubles stay doubles when the app passes an int (``temperature=0``); ``top_k`` is a double in v1.41
    and an int in the newest GenAI conventions (a fractional one is then not recorded as a whole number).
    """
    if key in DOUBLE_PARAMETERS:
        return float(value)
    if key == names.GEN_AI_REQUEST_TOP_K:
        if not settings.current().latest_experimental:
            return float(value)
        return int(value) if float(value).is_integer() else value
    return value


def request_attributes(kwargs: Mapping[str, Any]) -> dict[str, AttributeValue]:
    """The recommended request parameters the call was given, numbers and stop sequences only."""
    found: dict[str, AttributeValue] = {
        key: numeric(key, value)
        for parameter, key in _NUMERIC_PARAMETERS.items()
        if isinstance(value := kwargs.get(parameter), (int, float)) and not isinstance(value, bool)
    }
    stop = kwargs.get("stop", kwargs.get("stop_sequences"))
    if isinstance(stop, str):
        found[names.GEN_AI_REQUEST_STOP_SEQUENCES] = [stop]
    elif isinstance(stop, list) and all(isinstance(item, str) for item in stop):
        found[names.GEN_AI_REQUEST_STOP_SEQUENCES] = stop
    if kwargs.get("stream") is True:
        found[names.GEN_AI_REQUEST_STREAM] = True
    return found


def server_attributes(resource: Any) -> dict[str, AttributeValue]:
    """``server.address``/``server.port`` from the client's base URL (never its headers or key)."""
    base_url = getattr(getattr(resource, "_client", None), "base_url", None)
    return {} if base_url is None else dict(url_attributes(str(base_url)))


@functools.lru_cache(maxsize=64)
def url_attributes(base_url: str) -> tuple[tuple[str, AttributeValue], ...]:
    """``server.address``/``server.port`` pairs of an API base URL."""
    parts = urlsplit(base_url)
    found: list[tuple[str, AttributeValue]] = []
    if parts.hostname:
        found.append((names.SERVER_ADDRESS, parts.hostname))
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    if port:
        found.append((names.SERVER_PORT, port))
    return tuple(found)


def sdk_recording(provider: str) -> bool:
    """True when the provider's SDK method carries a wrapt wrapper (ours or another GenAI instrumentation's).

    ``__wrapped__`` would not do: the SDKs' own decorators set it with ``functools.wraps``.
    """
    where = SDK_CALLS.get(provider)
    if where is None:
        return False
    module = sys.modules.get(where[0])
    if module is None and where[0].partition(".")[0] in sys.modules:
        # The SDK is in use but loads its resources lazily, on a client's first call: a framework asking
        # before that call would take the SDK for unrecorded and record the call itself. Loading the module
        # now (once; it is the SDK's own) runs the post-import hooks that wrap it, as the call would.
        try:
            module = importlib.import_module(where[0])
        except Exception as exc:
            failures.report(f"loading {where[0]}", exc)
            return False
    owner = getattr(module, where[1], None)
    return owner is not None and getattr(vars(owner).get("create"), "_self_wrapper", None) is not None


def recorded_elsewhere() -> bool:
    """True inside a span another GenAI instrumentation of the SDK started for this very call."""
    scope = getattr(trace.get_current_span(), "instrumentation_scope", None)
    name = getattr(scope, "name", None)
    return isinstance(name, str) and name.startswith(OTHER_INSTRUMENTATIONS)


def set_response(
    invocation: LLMInvocation, response_id: Any, model: Any, finish_reasons: Iterable[str], output: str | None = None
) -> None:
    """Response attributes; the model goes on metrics bounded and on the span as reported."""
    attributes: dict[str, AttributeValue] = {}
    if response_id:
        attributes[names.GEN_AI_RESPONSE_ID] = str(response_id)
    reasons = [str(reason) for reason in finish_reasons if reason]
    if reasons:
        attributes[names.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
    if output is not None:
        attributes[names.GEN_AI_OUTPUT_MESSAGES] = output
    metric_attributes = None
    if model:
        attributes[names.GEN_AI_RESPONSE_MODEL] = str(model)
        metric_attributes = {names.GEN_AI_RESPONSE_MODEL: str(model)}
    invocation.add_attributes(attributes, metric_attributes)
