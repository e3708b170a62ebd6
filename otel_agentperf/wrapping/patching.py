"""Installs wrappers on modules and classes, and takes every one of them off again.

Shared by declarative targets and library instrumentors: wrappers wait for their module through wrapt
post-import hooks (so importing otel_agentperf never imports a library), class hierarchies are covered
including subclasses defined later, and :meth:`Patcher.remove` restores exactly what was there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import wrapt

from otel_agentperf.recording.operations import Operation
from otel_agentperf.runtime import failures, forksafe, reentry
from otel_agentperf.wrapping.wrappers import AgentPerfWrapper, Prepare, Wrapper, unbound, wrap

_MISSING = object()

# Builds the wrapper for one attribute of one class: (class, attribute name) -> (operation, prepare).
MethodSpec = Callable[[type, str], tuple[Operation, Prepare | None]]


@dataclass
class _Patch:
    owner: Any
    attribute: str
    original: Any
    replacement: Any
    owned: bool


class Patcher:
    """Keeps the list of what it replaced; thread-safe; ``remove`` disarms pending hooks too."""

    def __init__(self) -> None:
        self._lock = forksafe.rlock()
        self._patches: list[_Patch] = []
        self._generation = 0

    @property
    def applied(self) -> int:
        return len(self._patches)

    def when_imported(self, module_name: str, callback: Callable[[ModuleType], None]) -> None:
        """Run ``callback(module)`` now if imported, else right after the import; never after remove()."""
        generation = self._generation

        def on_import(module: ModuleType) -> None:
            with self._lock, reentry.ours():
                if generation != self._generation:
                    return
                try:
                    callback(module)
                except Exception as exc:
                    failures.report(f"instrumenting {module_name}", exc)

        wrapt.register_post_import_hook(on_import, module_name)

    def replace(self, owner: Any, attribute: str, replacement: Any) -> None:
        """Set ``owner.attribute`` and remember how to undo it."""
        with self._lock:
            owned = attribute in vars(owner)
            original = vars(owner)[attribute] if owned else getattr(owner, attribute, _MISSING)
            setattr(owner, attribute, replacement)
            self._patches.append(_Patch(owner, attribute, original, replacement, owned))

    def wrap(self, owner: Any, attribute: str, operation: Operation, prepare: Prepare | None = None) -> bool:
        """Wrap ``owner.attribute`` (looked up without binding); False if it is absent or already ours."""
        original = vars(owner).get(attribute, _MISSING)
        if original is _MISSING or isinstance(unbound(original), AgentPerfWrapper):
            return False
        target = original.fget if isinstance(original, property) else original
        wrapper = wrap(target, operation, prepare)
        if isinstance(original, property):
            self.replace(owner, attribute, property(wrapper, original.fset, original.fdel, original.__doc__))
        else:
            self.replace(owner, attribute, wrapper)
        return True

    def wrap_hierarchy(self, base: type, methods: Mapping[str, MethodSpec]) -> None:
        """Wrap ``methods`` wherever ``base`` or any subclass, present or future, defines them."""

        def wrap_class(cls: type) -> None:
            for name, spec in methods.items():
                if name in vars(cls):
                    operation, prepare = spec(cls, name)
                    self.wrap(cls, name, operation, prepare)

        self._every_class(base, wrap_class)

    def hook_hierarchy(self, base: type, name: str, hook: Wrapper) -> int:
        """Run ``name`` through ``hook`` (a wrapt wrapper) wherever ``base`` or a subclass, present or future,
        defines it: for methods whose result is not a plain value, a coroutine or a generator.

        Returns how many classes defined it so far.
        """
        hooked = 0

        def hook_class(cls: type) -> None:
            nonlocal hooked
            current = vars(cls).get(name, _MISSING)
            if current is not _MISSING and getattr(current, "_self_wrapper", None) is not hook:
                self.replace(cls, name, wrapt.FunctionWrapper(current, hook))
                hooked += 1

        self._every_class(base, hook_class)
        return hooked

    def _every_class(self, base: type, apply: Callable[[type], None]) -> None:
        """``apply`` to ``base`` and its subclasses now, and to every subclass defined later."""
        pending = [base]
        while pending:
            cls = pending.pop()
            apply(cls)
            pending.extend(cls.__subclasses__())

        inherited = vars(base).get("__init_subclass__")

        def init_subclass(cls: type, /, **kwargs: Any) -> None:
            if inherited is not None:
                inherited.__get__(None, cls)(**kwargs)
            else:
                super(base, cls).__init_subclass__(**kwargs)  # type: ignore[arg-type]
            try:
                apply(cls)
            except Exception as exc:
                failures.report(f"instrumenting subclass {cls.__qualname__}", exc)

        self.replace(base, "__init_subclass__", classmethod(init_subclass))

    def remove(self) -> None:
        """Undo every replacement, newest first; leave alone anything someone replaced after us.

        Every wrapper is switched off as well, so a reference to it kept elsewhere stops recording too.
        """
        with self._lock:
            self._generation += 1
            patches, self._patches = self._patches, []
        for patch in reversed(patches):
            replacement = patch.replacement.fget if isinstance(patch.replacement, property) else patch.replacement
            if isinstance(replacement, AgentPerfWrapper):
                replacement.disable()
            current = unbound(vars(patch.owner).get(patch.attribute, _MISSING))
            if current is not patch.replacement:
                failures.warn_once(
                    f"unwrap:{id(patch.replacement)}",
                    "otel-agentperf: %s.%s was replaced after instrumentation; left as it is",
                    getattr(patch.owner, "__name__", patch.owner),
                    patch.attribute,
                )
            elif patch.owned:
                setattr(patch.owner, patch.attribute, patch.original)
            else:
                delattr(patch.owner, patch.attribute)
