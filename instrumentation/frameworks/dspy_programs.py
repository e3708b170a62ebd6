"""DSPy: programs as ``invoke_workflow``, its agent modules as ``invoke_agent``, tools and LM calls.

Modules: ``Module.__call__``/``acall``, which every program and ``Predict`` go through. A module the
application defines is a workflow step (programs made of programs nest); DSPy's agent modules (``ReAct``
and its subclasses such as ``CodeAct``, ``ReActV2``, ``RLM``) are agents; DSPy's other built-in modules
(``Predict``, ``ChainOfThought``...) are left to the LM calls they make.
Tools: ``Tool.__call__``/``acall``; ReAct's own ``finish`` marker is not a tool call.
LM calls: ``dspy.clients.execution.execute``/``aexecute``, the one path every LM call takes (public
call or ``forward``, native or LiteLLM engine, retries and DSPy's cache included), so usage and the
response model come from DSPy's own result; a cache hit is a fast call with no tokens. When the
LiteLLM engine calls an instrumented OpenAI SDK, that call folds into this one: one operation per call.
``ParallelExecutor`` (``Parallel``, ``batch``, ``Evaluate``) runs items on threads that start with an
empty context; the caller's context is handed to each item, so its spans stay in the caller's trace.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

from opentelemetry import context as otel_context

from otel_agentperf.conventions import names
from otel_agentperf.recording.invocations import LLMInvocation
from otel_agentperf.recording.operations import named
from otel_agentperf.wrapping.library import LibraryInstrumentor
from otel_agentperf.wrapping.wrappers import Call, Prepare

from ..llm import extractors

# DSPy's agent modules, by (module, class); their subclasses are agents too.
AGENT_CLASSES = frozenset(
    {
        ("dspy.predict.react", "ReAct"),
        ("dspy.predict.react_v2", "ReActV2"),
        ("dspy.predict.rlm", "RLM"),
    }
)
_FINISH_MARKER = ("dspy.predict.react", "finish")


@functools.lru_cache(maxsize=512)
def _module_kind(cls: type) -> str | None:
    """Agent, workflow, or None for DSPy's own non-agent modules."""
    if any((base.__module__, base.__qualname__) in AGENT_CLASSES for base in cls.__mro__):
        return names.KIND_AGENT
    return None if cls.__module__.split(".")[0] == "dspy" else names.KIND_WORKFLOW


def _module_name(instance: Any) -> str:
    """The application's class name; for a DSPy agent used as is, its signature's name when it has one."""
    cls = type(instance)
    if cls.__module__.split(".")[0] == "dspy":
        signature = getattr(getattr(instance, "signature", None), "__name__", None)
        if signature and signature != "StringSignature":
            return str(signature)
    return cls.__name__


def _prepare_module(instance: Any, _args: tuple[Any, ...], _kwargs: dict[str, Any]) -> Call | None:
    cls: type = type(instance)
    kind = _module_kind(cls)
    return None if kind is None else Call(named(kind, _module_name(instance)))


def _prepare_tool(instance: Any, _args: tuple[Any, ...], _kwargs: dict[str, Any]) -> Call | None:
    name = str(getattr(instance, "name", None) or type(instance).__name__)
    if (getattr(getattr(instance, "func", None), "__module__", None), name) == _FINISH_MARKER:
        return None
    return Call(named(names.KIND_TOOL, name), {names.GEN_AI_TOOL_TYPE: names.TOOL_TYPE_FUNCTION})


def _lm_result(invocation: LLMInvocation, result: Any) -> None:
    """Usage, response id, model and finish reasons from DSPy's call result (native or LiteLLM response)."""
    usage = getattr(result, "usage", None)
    if usage:
        details = usage.get("prompt_tokens_details") or {}
        invocation.set_usage(
            usage.get("prompt_tokens"),
            usage.get("completion_tokens"),
            details.get("cached_tokens"),
            details.get("cache_creation_tokens"),
        )
    responses = getattr(result, "responses", None) or ()
    if responses:
        response_id = responses[0].id
        reasons = [str(response.finish_reason) for response in responses]
    else:
        raw = getattr(result, "raw", None)
        response_id = extractors.field(raw, "id")
        reasons = [str(extractors.field(choice, "finish_reason")) for choice in extractors.field(raw, "choices") or ()]
    extractors.set_response(invocation, response_id, getattr(result, "response_model", None), reasons)


def _lm_preparer(settings: Any) -> Prepare:
    """Reads an LM call's model, request parameters and server; ``settings`` is DSPy's (streaming is set there)."""

    def prepare(_instance: Any, args: tuple[Any, ...], _kwargs: dict[str, Any]) -> Call | None:
        lm, call = args[0], args[1]
        model = getattr(lm, "model", None)
        if not isinstance(model, str):
            return None
        provider, model_name = extractors.split_model(model)
        lm_kwargs = getattr(lm, "kwargs", None) or {}
        attributes = extractors.request_attributes({**lm_kwargs, **(getattr(call, "kwargs", None) or {})})
        base_url = lm_kwargs.get("api_base") or lm_kwargs.get("base_url")
        # The server is an attribute of the metrics too, as the conventions have it.
        server = dict(extractors.url_attributes(base_url)) if isinstance(base_url, str) else None
        if getattr(settings, "send_stream", None) is not None:
            attributes[names.GEN_AI_REQUEST_STREAM] = True
        operation = extractors.operation(f"{type(lm).__name__}.__call__", provider, names.OP_CHAT, model_name)
        return Call(operation, attributes, server, on_result=_lm_result)

    return prepare


def _in_context(function: Callable[[Any], Any], caller: otel_context.Context) -> Callable[[Any], Any]:
    def run(item: Any) -> Any:
        token = otel_context.attach(caller)
        try:
            return function(item)
        finally:
            otel_context.detach(token)

    return run


def _in_caller_context(wrapped: Any, _instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``ParallelExecutor.execute(function, data)`` with ``function`` run in the caller's context."""
    caller = otel_context.get_current()
    if "function" in kwargs:
        kwargs = {**kwargs, "function": _in_context(kwargs["function"], caller)}
    elif args:
        args = (_in_context(args[0], caller), *args[1:])
    return wrapped(*args, **kwargs)


class DSPyInstrumentor(LibraryInstrumentor):
    module = "dspy"
    requirement = "dspy >= 3.4"

    def hooks(self) -> list[tuple[str, Callable[[ModuleType], None]]]:
        return [
            ("dspy.primitives.module", self._patch_modules),
            ("dspy.adapters.types.tool", self._patch_tools),
            ("dspy.clients.execution", self._patch_lm),
            ("dspy.utils.parallelizer", self._patch_parallel),
        ]

    def _patch_modules(self, module: ModuleType) -> None:
        default = named(names.KIND_WORKFLOW, "DSPy")
        for method in ("__call__", "acall"):
            self.wrap(module.Module, method, default, _prepare_module)

    def _patch_tools(self, module: ModuleType) -> None:
        default = named(names.KIND_TOOL, "Tool")
        for method in ("__call__", "acall"):
            self.wrap(module.Tool, method, default, _prepare_tool)

    def _patch_lm(self, module: ModuleType) -> None:
        default = extractors.operation("LM.__call__", "", names.OP_CHAT, "")
        prepare = _lm_preparer(getattr(module, "settings", None))
        for function in ("execute", "aexecute"):
            self.wrap(module, function, default, prepare)

    def _patch_parallel(self, module: ModuleType) -> None:
        self.hook(module.ParallelExecutor, "execute", _in_caller_context)
