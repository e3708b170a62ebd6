"""Declarative targets: wrap a user's own functions, methods and classes by name, without code changes.

An entry reads ``module:Qualified.name=kind`` or ``module:Qualified.name=kind:Name``, for example
``myapp.agents:Coach.process_message=agent:Coach``. Its operation (and so its report row) is named by the
qualified name (``Coach.process_message``) unless the entry gives a name, so two methods of one class never
merge silently into one row; giving two entries the same name merges them on purpose.
A ``history`` entry can also state its operation, which is otherwise guessed from the method's name
(``trips_of`` implies none): ``=history:search``, or with a name ``=history:search:Trips``. A value of
lowercase letters only is an operation, so an unknown one (``=history:serach``) is a bad entry, not a
store named ``serach``; a store name that is one lowercase word goes after the operation.
Targets in modules that are not imported yet are applied when the module is first imported (a wrapt
post-import hook). A malformed or unresolvable entry is warned about once, by name; the rest still apply.
A target whose module is still not imported :data:`IMPORT_GRACE_S` after the targets were applied is
warned about then, from a timer thread, so a server that never exits says it too; one that is imported
later still applies. At exit, a target never imported is warned about if the timer had not yet done so.
"""

from __future__ import annotations

import atexit
import re
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import wrapt

from otel_agentperf.api.decorators import construction, measured_store
from otel_agentperf.conventions import names
from otel_agentperf.recording import operations
from otel_agentperf.runtime import failures, forksafe
from otel_agentperf.wrapping.patching import Patcher
from otel_agentperf.wrapping.wrappers import AgentPerfWrapper, wrap

IMPORT_GRACE_S = 30.0  # after this, a target module not imported yet is likely misnamed: said while the app runs
_FIELD = r"(?::\s*([^\s:=,][^:=,]*?))?\s*"  # an optional ``:value`` after the kind
_ENTRY = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*:\s*([A-Za-z_][\w.]*)\s*=\s*([a-z_]+)\s*" + _FIELD + _FIELD + "$")
_OPERATION_WORD = re.compile(r"^[a-z]+$")  # what is an operation, not a name, after ``history:``


class Target(NamedTuple):
    """One parsed entry."""

    module: str
    path: str
    kind: str
    entry: str
    name: str | None = None  # the operation's name when the entry gives one
    operation: str | None = None  # a history entry's stated operation (one of names.HISTORY_OPERATIONS)

    @property
    def operation_name(self) -> str:
        """The name its operation and report row carry: the one given, else the qualified name."""
        return self.name or self.path


def parse(entry: str) -> Target:
    """Parse ``module:Qualified.name=kind[:Name]`` or ``...=history[:operation][:Name]``.

    Raises ``ValueError`` saying what is wrong, an unknown history operation included.
    """
    match = _ENTRY.match(entry)
    if match is None:
        raise ValueError("expected module:Qualified.name=kind or module:Qualified.name=kind:Name")
    module, path, kind, first, second = match.groups()
    if kind not in names.TARGET_KINDS:
        raise ValueError(f"unknown kind {kind!r} (use one of {', '.join(names.TARGET_KINDS)})")
    operation, name = None, first
    if kind == names.KIND_HISTORY and first is not None and (second is not None or _OPERATION_WORD.match(first)):
        operation, name = first, second
        if operation not in names.HISTORY_OPERATIONS:
            raise ValueError(
                f"unknown history operation {operation!r} (use one of {', '.join(names.HISTORY_OPERATIONS)}; "
                "a store name of one lowercase word goes after the operation: history:read:NAME)"
            )
    elif second is not None:
        raise ValueError(f"only history takes an operation before its name ({kind}:Name)")
    return Target(module, path, kind, entry.strip(), name, operation)


def parse_all(entries: Iterable[str]) -> list[Target]:
    """Parse every entry, warning once about each bad one and keeping the good ones."""
    targets: dict[tuple[str, str], Target] = {}
    for entry in entries:
        try:
            target = parse(entry)
        except ValueError as exc:
            _warn_bad(entry, str(exc))
            continue
        earlier = targets.get((target.module, target.path))
        if earlier is not None and earlier.entry != target.entry:
            failures.warn_once(
                f"target-kinds:{target.module}:{target.path}",
                "otel-agentperf: %s:%s is given as %r and as %r; recorded as %r (the later entry)",
                target.module,
                target.path,
                earlier.entry,
                target.entry,
                target.entry,
            )
        targets[(target.module, target.path)] = target
    return list(targets.values())


def _warn_bad(entry: str, reason: str) -> None:
    failures.warn_once(f"target:{entry}", "otel-agentperf: ignoring target %r: %s", entry.strip(), reason)


class TargetPatcher:
    """Applies targets (now or when their module is imported) and restores every original on remove()."""

    def __init__(self, import_grace_s: float = IMPORT_GRACE_S) -> None:
        self._patcher = Patcher()
        self._lock = forksafe.lock()
        self._pending: dict[str, list[Target]] = {}
        self._exit_check = False
        self._import_grace_s = import_grace_s

    @property
    def applied(self) -> int:
        """How many targets are wrapped right now."""
        return self._patcher.applied

    def apply(self, targets: Iterable[Target]) -> None:
        by_module: dict[str, list[Target]] = {}
        for target in targets:
            by_module.setdefault(target.module, []).append(target)
        with self._lock:
            self._pending.update(by_module)
            if not self._exit_check and by_module:
                self._exit_check = True
                atexit.register(self._warn_never_imported)
                timer = threading.Timer(self._import_grace_s, self._warn_never_imported, kwargs={"running": True})
                timer.daemon = True  # never keeps the app alive
                timer.name = "otel-agentperf-targets"
                timer.start()
        for module_name, module_targets in by_module.items():
            self._patcher.when_imported(module_name, self._applier(module_targets))

    def _applier(self, targets: list[Target]) -> Any:
        def apply_all(module: ModuleType) -> None:
            with self._lock:
                self._pending.pop(targets[0].module, None)
            for target in targets:
                try:
                    self._apply_one(module, target)
                except Exception as exc:
                    _warn_bad(target.entry, f"{type(exc).__name__}: {exc}")

        return apply_all

    def _apply_one(self, module: ModuleType, target: Target) -> None:
        parent, attribute, original = wrapt.resolve_path(module, target.path)
        if isinstance(original, AgentPerfWrapper):
            return
        if isinstance(original, type):
            if target.kind != names.KIND_CREATE_AGENT:
                raise TypeError(f"{target.path} is a class; only create_agent applies to a class")
            attribute, wrapper = construction(original, operations.create_agent(target.operation_name))
            self._patcher.replace(original, attribute, wrapper)
            return
        if not callable(original) and not isinstance(original, (staticmethod, classmethod)):
            raise TypeError(f"{target.path} is not callable")
        operation = operations.for_kind(target.kind, target.operation_name, attribute, target.operation)
        prepare = measured_store if target.kind == names.KIND_HISTORY else None
        if attribute in vars(parent):
            self._patcher.wrap(parent, attribute, operation, prepare)
        else:  # found on a base class: shadow it on the named class only
            self._patcher.replace(parent, attribute, wrap(original, operation, prepare))

    def remove(self) -> None:
        """Restore every original; hooks still waiting for an import are disarmed."""
        with self._lock:
            self._pending.clear()
        self._patcher.remove()

    def _warn_never_imported(self, running: bool = False) -> None:
        """Warn about each target whose module is not imported: ``running`` from the timer, else at exit."""
        multiprocessing = sys.modules.get("multiprocessing")
        if multiprocessing is not None and multiprocessing.parent_process() is not None:
            return  # a pool worker imports what its tasks need, often nothing the targets name
        with self._lock:
            pending = [target for targets in self._pending.values() for target in targets]
        main_file = getattr(sys.modules.get("__main__"), "__file__", None) or ""
        for target in pending:
            if target.module in sys.modules:
                continue
            if Path(main_file).stem == target.module:
                reason = (
                    f"module {target.module!r} runs as the __main__ script, which is never imported under its "
                    "own name, so the target cannot apply: move it into a module the script imports"
                )
            elif running:
                reason = (
                    f"module {target.module!r} is not imported {self._import_grace_s:g} s after start "
                    "(misspelt? it still applies if imported later)"
                )
            else:
                reason = f"module {target.module!r} was never imported"
            _warn_bad(target.entry, reason)
