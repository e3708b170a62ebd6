"""How the LLM SDKs are patched: the instrumentor base that leaves a method another GenAI instrumentation
wrapped alone, and replaces methods that return something to follow.

What each call tells is read in :mod:`.extractors` (contrib's patch/utils line).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from otel_agentperf.runtime import failures
from otel_agentperf.wrapping.library import LibraryInstrumentor
from otel_agentperf.wrapping.wrappers import Prepare

from . import attempts
from .extractors import OTHER_INSTRUMENTATIONS, operation

# Builds a replacement method from the original one.
Hook = Callable[[Any], Any]


class LLMInstrumentor(LibraryInstrumentor):
    """A LibraryInstrumentor that leaves SDK methods already wrapped by another GenAI instrumentation alone,
    and sees each call's HTTP attempts (:mod:`.attempts`) while it is on."""

    def _instrument(self, **kwargs: Any) -> None:
        super()._instrument(**kwargs)
        attempts.HttpAttempts.acquire()

    def _uninstrument(self, **kwargs: Any) -> None:
        super()._uninstrument(**kwargs)
        attempts.HttpAttempts.release()

    def wrap_call(self, owner: Any, name: str, prepare: Prepare, function: str, provider: str, op: str) -> None:
        current = vars(owner).get(name)
        wrapper_module = getattr(getattr(current, "_self_wrapper", None), "__module__", "") or ""
        if wrapper_module.startswith(OTHER_INSTRUMENTATIONS):
            failures.warn_once(
                f"duplicate:{wrapper_module}:{owner.__qualname__}.{name}",
                "otel-agentperf: %s.%s is already instrumented by %s; otel-agentperf leaves its calls to it",
                owner.__qualname__,
                name,
                wrapper_module,
            )
            return
        self.wrap(owner, name, operation(function, provider, op, ""), prepare)

    def replace_all(self, hooks: Mapping[tuple[type, str], Hook]) -> None:
        """Replace methods on SDK classes with ``hook(original)``, warning once for any this version lacks."""
        for (owner, name), hook in hooks.items():
            self.replace(owner, name, hook)
