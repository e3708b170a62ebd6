"""Base class for the library instrumentors in ``otel_agentperf.instrumentation``.

A subclass names the module it instruments and wraps what it needs in :meth:`patch`, which runs only
when the application imports that module: an absent library leaves the instrumentor silent, and
importing otel_agentperf never imports a library. A wrapped name the installed version lacks is
warned about once, by name, so a dependency upgrade cannot silently switch instrumentation off.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from types import ModuleType
from typing import Any, ClassVar

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from otel_agentperf.recording import state
from otel_agentperf.recording.operations import Operation
from otel_agentperf.runtime import failures, reentry, settings
from otel_agentperf.wrapping.patching import MethodSpec, Patcher
from otel_agentperf.wrapping.wrappers import Prepare, Wrapper


class LibraryInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Waits for ``module``, calls :meth:`patch` on it, and undoes everything on uninstrument."""

    module: ClassVar[str]
    requirement: ClassVar[str | None]  # None for the standard library
    _patcher: ClassVar[Patcher]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._patcher = Patcher()

    def instrumentation_dependencies(self) -> Collection[str]:
        return () if self.requirement is None else (self.requirement,)

    def _instrument(self, **kwargs: Any) -> None:
        # Nothing raises out of here: the launcher would stop loading every later instrumentor.
        try:
            with reentry.ours():
                if not settings.current().enabled:
                    return
                tracer_provider, meter_provider = kwargs.get("tracer_provider"), kwargs.get("meter_provider")
                if tracer_provider is not None or meter_provider is not None:
                    state.configure(tracer_provider, meter_provider)
                for module_name, callback in self.hooks():
                    self._patcher.when_imported(module_name, callback)
        except Exception as exc:
            failures.report(f"instrumenting {self.module}", exc)

    def _uninstrument(self, **kwargs: Any) -> None:
        self._patcher.remove()

    def patch(self, module: ModuleType) -> None:
        """Wrap what this library needs; called once the library is imported."""
        raise NotImplementedError

    def hooks(self) -> list[tuple[str, Callable[[ModuleType], None]]]:
        """(module, callback) pairs, each run once its module is imported; :meth:`patch` on ``module`` by default.

        Each module gets its own hook, registered up front: a hook registered while a package is still
        being imported would run on its half-initialised submodules.
        """
        return [(self.module, self.patch)]

    def wrap(self, owner: Any, name: str, operation: Operation, prepare: Prepare | None = None) -> None:
        """Wrap ``owner.name``, warning once if this version of the library has no such attribute."""
        if name not in vars(owner):
            self.missing(owner, name)
            return
        self._patcher.wrap(owner, name, operation, prepare)

    def replace(self, owner: Any, name: str, make: Callable[[Any], Any], optional: bool = False) -> None:
        """Replace ``owner.name`` with ``make(original)``, undone on uninstrument.

        A name this version of the library lacks is warned about once, unless ``optional``.
        """
        original = vars(owner).get(name)
        if original is None:
            if not optional:
                self.missing(owner, name)
            return
        self._patcher.replace(owner, name, make(original))

    def hook(self, owner: Any, name: str, hook: Wrapper) -> None:
        """Run every call of ``owner.name`` through ``hook(wrapped, instance, args, kwargs)`` (a wrapt wrapper)."""
        self.replace(owner, name, lambda original: wrapt.FunctionWrapper(original, hook))

    def wrap_hierarchy(
        self, base: type, methods: Mapping[str, MethodSpec], optional: frozenset[str] = frozenset()
    ) -> None:
        """Wrap ``methods`` on ``base`` and on every subclass that defines them, now or later.

        Names in ``optional`` are wrapped where subclasses define them and never warned about.
        """
        for name in methods:
            if name not in optional and not hasattr(base, name):
                self.missing(base, name)
        self._patcher.wrap_hierarchy(base, methods)

    def hook_hierarchy(self, base: type, name: str, hook: Wrapper) -> None:
        """Run every call of ``name`` through ``hook`` on ``base`` and on every subclass that defines it.

        Warned about once when no class of the hierarchy defines it yet (``base`` may be abstract).
        """
        if not self._patcher.hook_hierarchy(base, name, hook):
            self.missing(base, name)

    def missing(self, owner: Any, name: str) -> None:
        owner_name = getattr(owner, "__qualname__", None) or getattr(owner, "__name__", repr(owner))
        failures.warn_once(
            f"missing:{self.module}:{owner_name}.{name}",
            "otel-agentperf: %s.%s not found in the installed %s; it is not instrumented",
            owner_name,
            name,
            self.requirement or self.module,
        )
