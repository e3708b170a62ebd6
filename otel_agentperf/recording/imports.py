"""Cold start broken down: which top-level packages' imports took the time until the first agent.

The package is loaded by ``opentelemetry-instrument``, so what was imported before its instrumentor ran
(the SDK, the launcher, ``site``) cannot be timed by an import hook; from then until the process's first
agent, a finder first on ``sys.meta_path`` times each import, the way ``-X importtime`` does, and is taken
out again. It imports nothing itself: it asks the other finders for the module's spec (``find_spec``,
guarded against its own reentry, as wrapt's post-import hooks do) and, when the spec has a loader that
executes modules, lends it a loader that gives the module back its own loader before its code runs,
then times the execution.

The finder stays at most until a bound, for a process that never starts an agent (a workflow-only app, a
server whose first request comes late) would otherwise pay it on every import for its whole life (each
import 15 to 35 µs slower): the first import more than :data:`LIMIT_SECONDS` after timing started, or
past :data:`LIMIT_IMPORTS` imports, takes the finder out and drops what it timed (a breakdown that ends
before the first agent would not be the cold start's), so such a process's cold start is not broken down.

Each top-level package is charged its imports' cumulative time (what they imported included, like
``-X importtime``'s cumulative column), once however deep: ``openai`` imported inside the app's package
counts for both. Only the ``TOP`` slowest are recorded, on ``agentperf.startup.import_duration`` (one
point per package per process), and each is a span under one ``agentperf.imports`` span.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
import threading
import time
from collections.abc import Sequence
from time import perf_counter
from types import ModuleType
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Tracer

from otel_agentperf.conventions import names
from otel_agentperf.recording.recorder import Recorder
from otel_agentperf.runtime import failures

TOP = 10  # packages recorded per process: the slowest, which are the ones worth a look
_KEPT = 1024  # packages followed at most (an app that imports more keeps its first ones)
LIMIT_SECONDS = 120.0  # the finder leaves at the first import this long after it started timing
LIMIT_IMPORTS = 20_000  # or at this import (a cold start of a few thousand modules stays within it)


class _Loader(importlib.abc.Loader):
    """A module's own loader, timed: it hands the module back its loader before the module's code runs."""

    def __init__(self, loader: Any, timer: ImportTimer) -> None:
        self._loader = loader
        self._timer = timer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)

    def create_module(self, spec: Any) -> ModuleType | None:
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: ModuleType) -> None:
        loader = self._loader
        module.__loader__ = loader
        spec = getattr(module, "__spec__", None)
        if spec is not None:
            spec.loader = loader
        self._timer.timed(module.__name__, lambda: loader.exec_module(module))


class ImportTimer:
    """The finder that times imports from :meth:`start` until :meth:`stop`; one per process."""

    def __init__(self) -> None:
        self._local = threading.local()  # per thread: the packages being imported, outermost first
        self._lock = threading.Lock()
        self.cumulative: dict[str, float] = {}
        self.intervals: dict[str, tuple[float, float]] = {}  # package -> its outermost import's first span
        self.started: float | None = None
        self._imports = 0  # imports asked for since it started (counted without the lock: a bound, not a figure)

    def start(self) -> None:
        """Put the finder first on ``sys.meta_path`` (once)."""
        if self.started is None and self not in sys.meta_path:
            self.started = perf_counter()
            sys.meta_path.insert(0, self)

    def stop(self) -> float | None:
        """Take the finder out; when it ran, the moment it started."""
        try:
            sys.meta_path.remove(self)
        except ValueError:
            return None
        return self.started

    def find_spec(self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None) -> Any:
        finding: set[str] | None = getattr(self._local, "finding", None)
        if finding is None:
            finding = self._local.finding = set()
        if fullname in finding:
            return None
        self._imports += 1
        started = self.started
        if started is not None and (self._imports > LIMIT_IMPORTS or perf_counter() - started > LIMIT_SECONDS):
            return self._expire(fullname)
        finding.add(fullname)
        try:
            spec = importlib.util.find_spec(fullname)
        except Exception:  # the import system raises it again, to the app, as it would have
            return None
        finally:
            finding.discard(fullname)
        if spec is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _Loader(spec.loader, self)
        return spec

    def _expire(self, fullname: str) -> Any:
        """Past the bound: take the finder out, forget what it timed, and find ``fullname``'s spec as the other
        finders would. It answers for them (a spec, or None once every one of them has said none): the import
        system is walking ``sys.meta_path`` from this finder's place, into which the next finder has moved."""
        self.stop()
        with self._lock:
            self.cumulative.clear()
            self.intervals.clear()
        return importlib.util.find_spec(fullname)

    def timed(self, name: str, execute: Any) -> None:
        """Run ``execute`` (a module's code), charging its time to its top-level package unless an import of
        that package is already being timed on this thread."""
        package = name.partition(".")[0]
        active: list[str] | None = getattr(self._local, "active", None)
        if active is None:
            active = self._local.active = []
        if package in active:
            execute()
            return
        active.append(package)
        began = perf_counter()
        try:
            execute()
        finally:
            ended = perf_counter()
            active.pop()
            with self._lock:
                if package in self.cumulative or len(self.cumulative) < _KEPT:
                    self.cumulative[package] = self.cumulative.get(package, 0.0) + ended - began
                    self.intervals.setdefault(package, (began, ended))

    def record(self, recorder: Recorder, tracer: Tracer | None, until: float) -> None:
        """Stop, and record the ``TOP`` slowest packages' cumulative seconds, as points and as spans from
        the moment timing started to ``until`` (the first agent's start)."""
        started = self.stop()
        if started is None:
            return
        try:
            with self._lock:
                slowest = sorted(self.cumulative.items(), key=lambda item: item[1], reverse=True)[:TOP]
                intervals = dict(self.intervals)
            for package, seconds in slowest:
                recorder.import_duration(package, seconds)
            if tracer is not None and slowest:
                offset = time.time_ns() - int(perf_counter() * 1e9)
                # A trace of its own (an empty context): a start-up timeline, whatever operation is current.
                parent = tracer.start_span(names.IMPORTS_SPAN, Context(), start_time=offset + int(started * 1e9))
                context = trace.set_span_in_context(parent)
                for package, seconds in slowest:
                    began, ended = intervals[package]
                    child = tracer.start_span(
                        f"import {package}",
                        context,
                        attributes={names.IMPORT_MODULE: package, names.IMPORT_CUMULATIVE: seconds},
                        start_time=offset + int(began * 1e9),
                    )
                    child.end(end_time=offset + int(ended * 1e9))
                parent.end(end_time=offset + int(until * 1e9))
        except Exception as exc:
            failures.report("recording the cold start's imports", exc)


timer = ImportTimer()
