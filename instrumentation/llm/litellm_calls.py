"""LiteLLM: ``completion``/``acompletion`` (streaming or not), ``embedding``/``aembedding`` and its ``Router``.

Wrapped: the public functions on the ``litellm`` module (what ``litellm.completion`` and ``from litellm
import completion`` find, whichever engine LiteLLM then picks), and the Router's ``completion``,
``acompletion``, ``embedding``, ``aembedding`` on the class that defines them. One operation per logical
call: a Router call's attempts (each a ``litellm.completion`` the Router looks up by name), an OpenAI SDK
``create`` that older LiteLLM releases call, and LiteLLM inside DSPy's LM call all fold into the
outermost LLM operation (``Telemetry.start``). LiteLLM 1.108.1 and later post through the OpenAI client
instead of calling ``create``, so the SDK instrumentor does not see those calls at all.

The provider is the model's LiteLLM prefix (``openai/gpt-4o``), else ``custom_llm_provider``, else the
provider LiteLLM's model table lists the model under, else the one LiteLLM reports after the call, mapped
to the conventions' values (``extractors.PROVIDERS``). Usage and response attributes come from LiteLLM's
OpenAI-shaped result; the cost from our price table. A stream is LiteLLM's ``CustomStreamWrapper``,
followed as the SDK streams are (``streams``): time to first chunk, per-chunk time, and usage when the
request asked for it (``stream_options``). The Router's retry count goes on the span. No prompt or
completion content unless the GenAI capture switch is on.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from opentelemetry.util.types import AttributeValue

from otel_agentperf.conventions import names
from otel_agentperf.recording.invocations import LLMInvocation
from otel_agentperf.wrapping.wrappers import Call, Prepare

from . import content, extractors, openai_sdk, patch, streams

_STREAM_MODULE = "litellm.litellm_core_utils.streaming_handler"
# (public function, operation name)
_FUNCTIONS = (
    ("completion", names.OP_CHAT),
    ("acompletion", names.OP_CHAT),
    ("embedding", names.OP_EMBEDDINGS),
    ("aembedding", names.OP_EMBEDDINGS),
)


def _litellm() -> Any:
    return sys.modules.get("litellm")


def _listed_provider(model: str) -> str:
    """The provider LiteLLM's model table lists an unprefixed model under (``gpt-4o``: ``openai``), or "".

    A table look-up, not ``litellm.get_llm_provider``: that prints to stdout for a model it cannot place.
    """
    entry = getattr(_litellm(), "model_cost", {}).get(model)
    found = entry.get("litellm_provider") if isinstance(entry, dict) else None
    return extractors.provider(found) if isinstance(found, str) and found else ""


def provider_and_model(kwargs: dict[str, Any]) -> tuple[str, str]:
    """(provider, model as the provider knows it) for a LiteLLM call's arguments."""
    model = extractors.model_of(kwargs)
    explicit = kwargs.get("custom_llm_provider")
    prefix, _, rest = model.partition("/")
    if isinstance(explicit, str) and explicit:
        return extractors.provider(explicit), rest if rest and prefix == explicit else model
    known = getattr(_litellm(), "provider_list", ())
    if rest and prefix in known:
        return extractors.split_model(model)
    return _listed_provider(model), model


def _hidden(result: object) -> dict[str, Any]:
    hidden = getattr(result, "_hidden_params", None)
    return hidden if isinstance(hidden, dict) else {}


def _after_call(invocation: LLMInvocation, result: object, server_known: bool) -> None:
    """What LiteLLM learnt while calling: the provider and API base it used, the Router's retries."""
    hidden = _hidden(result)
    attributes: dict[str, AttributeValue] = {}
    provider = hidden.get("custom_llm_provider")
    if isinstance(provider, str) and provider:
        attributes[names.GEN_AI_PROVIDER_NAME] = extractors.provider(provider)
    api_base = hidden.get("api_base")
    if not server_known and isinstance(api_base, str) and api_base:
        attributes.update(extractors.url_attributes(api_base))
    invocation.add_attributes(None, attributes)
    headers = hidden.get("additional_headers")
    retries = headers.get("x-litellm-attempted-retries") if isinstance(headers, dict) else None
    if isinstance(retries, int) and not isinstance(retries, bool):
        invocation.add_attributes({names.LLM_ROUTER_RETRIES: retries})


def _usage(invocation: LLMInvocation, usage: Any) -> None:
    if usage is not None:
        details = extractors.field(usage, "prompt_tokens_details")
        invocation.set_usage(
            extractors.field(usage, "prompt_tokens"),
            extractors.field(usage, "completion_tokens"),
            extractors.field(details, "cached_tokens"),
            extractors.field(usage, "cache_creation_input_tokens"),
        )


def _completion_result(server_known: bool) -> Callable[[LLMInvocation, object], None]:
    def on_result(invocation: LLMInvocation, result: object) -> None:
        _after_call(invocation, result, server_known)
        stream_class = getattr(sys.modules.get(_STREAM_MODULE), "CustomStreamWrapper", None)
        if stream_class is not None and isinstance(result, stream_class):
            streams.follow_stream(invocation, result, openai_sdk.read_chat_chunk)
            return
        _usage(invocation, getattr(result, "usage", None))
        openai_sdk.chat_response(invocation, result)

    return on_result


def _embedding_result(server_known: bool) -> Callable[[LLMInvocation, object], None]:
    def on_result(invocation: LLMInvocation, result: object) -> None:
        _after_call(invocation, result, server_known)
        openai_sdk.embeddings_result(invocation, result)

    return on_result


_RESULT_HOOKS = {
    names.OP_CHAT: (_completion_result(True), _completion_result(False)),
    names.OP_EMBEDDINGS: (_embedding_result(True), _embedding_result(False)),
}


def _prepare(function: str, operation_name: str, router: bool) -> Prepare:
    known_server, unknown_server = _RESULT_HOOKS[operation_name]

    def prepare(_instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
        if kwargs.get("acompletion") is True or kwargs.get("aembedding") is True:
            return None  # the sync function hands the call to the async one, which records it
        if args and isinstance(args[0], str) and "model" not in kwargs:
            kwargs = {**kwargs, "model": args[0]}
        # A Router's model is a model group: the deployment's provider comes from the attempt folded into it.
        provider, model = ("", extractors.model_of(kwargs)) if router else provider_and_model(kwargs)
        attributes: dict[str, AttributeValue] = extractors.request_attributes(kwargs)
        if isinstance(formats := kwargs.get("encoding_format"), str):
            attributes[names.GEN_AI_REQUEST_ENCODING_FORMATS] = [formats]
        if operation_name == names.OP_CHAT and content.enabled():
            attributes.update(openai_sdk.input_content(kwargs))
        base_url = kwargs.get("api_base") or kwargs.get("base_url")
        server = dict(extractors.url_attributes(base_url)) if isinstance(base_url, str) else {}
        operation = extractors.operation(function, provider, operation_name, model)
        return Call(operation, attributes, server, known_server if server or router else unknown_server)

    return prepare


def _defining_class(router: type, name: str) -> type | None:
    """The class whose own namespace defines the Router's ``name``.

    Older releases define the endpoints on ``Router``; 1.110 serves them from the Router's core
    (``router_rust.core.RustCore``), reached through the facade's ``__getattr__``.
    """
    function = getattr(router, name, None)
    module = sys.modules.get(getattr(function, "__module__", None) or "")
    owner_name, _, _ = (getattr(function, "__qualname__", None) or "").rpartition(".")
    owner = getattr(module, owner_name, None) if owner_name and "." not in owner_name else None
    return owner if isinstance(owner, type) and name in vars(owner) else None


class LiteLLMInstrumentor(patch.LLMInstrumentor):
    module = "litellm"
    requirement = "litellm >= 1.110"

    def patch(self, module: ModuleType) -> None:
        for name, operation_name in _FUNCTIONS:
            function = f"litellm.{name}"
            self.wrap(
                module,
                name,
                extractors.operation(function, "", operation_name, ""),
                _prepare(function, operation_name, False),
            )
        router = getattr(module, "Router", None)
        if router is None:
            self.missing(module, "Router")
        else:
            for name, operation_name in _FUNCTIONS:
                owner = _defining_class(router, name)
                if owner is None:
                    self.missing(router, name)
                    continue
                function = f"Router.{name}"
                self.wrap(
                    owner,
                    name,
                    extractors.operation(function, "", operation_name, ""),
                    _prepare(function, operation_name, True),
                )
        stream_module = sys.modules.get(_STREAM_MODULE)
        stream_class = getattr(stream_module, "CustomStreamWrapper", None)
        if stream_class is None:
            self.missing(stream_module or module, f"CustomStreamWrapper ({_STREAM_MODULE})")
        else:
            self.replace_all(streams.iterator_hooks(stream_class))
