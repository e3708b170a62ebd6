"""How a process ends with telemetry still queued: within the exporter timeout, and nothing lost on the way.

- **Normal exit.** The SDK shuts each provider down at exit in turn, and an exporter whose collector is
  down retries with backoff: 35-40 s with the default settings. The providers are shut down together on
  a thread of their own, waited for at most the exporter timeout (``OTEL_EXPORTER_OTLP_TIMEOUT``, 10 s by
  default) in all; a healthy collector is not waited for any longer than before.

Two ways out skip ``atexit``, and with it the SDK's export of what is still queued:

- **SIGTERM** with the default action (how containers are stopped, and how ``multiprocessing.Pool``
  ends its workers). When the application has no SIGTERM handler of its own, a handler is installed
  that flushes every provider within the exporter timeout, then restores the default action and sends
  the signal again: the process ends exactly as it would have, by the same signal, with the same status.
  ``OTEL_AGENTPERF_FLUSH_ON_SIGTERM=false`` leaves SIGTERM alone.
- **multiprocessing workers started by fork** end with ``os._exit``. Each one flushes at its
  multiprocessing exit (a ``multiprocessing.util.Finalize``), so a pool's spans arrive.
"""

from __future__ import annotations

import atexit
import os
import signal
import threading
from collections.abc import Callable
from time import monotonic
from types import FrameType
from typing import Any

import wrapt
from opentelemetry import metrics, trace

from otel_agentperf.runtime import failures, settings

_installed = False
_flushing = 0  # flushes under way in this process
_terminate_after_flush = False
_last_words: list[Callable[[], None]] = []  # what is recorded once the process ends (its own request)
_said_in = 0  # the process that ran them (a forked child runs them again, for itself)


def before_last_export(callback: Callable[[], None]) -> None:
    """Run ``callback`` once as the process ends, before its last export: what only the end of a process can
    measure (the process as a request). It must not raise."""
    if callback not in _last_words:
        _last_words.append(callback)


def _say_last_words() -> None:
    global _said_in
    if _said_in == os.getpid():
        return
    _said_in = os.getpid()
    for callback in _last_words:
        callback()


def flush(timeout_s: float | None = None) -> None:
    """Export what the global tracer, meter and logger providers hold, within ``timeout_s`` in all."""
    deadline = monotonic() + (settings.current().exporter_timeout_s if timeout_s is None else timeout_s)
    _begin_export()
    try:
        for provider in _providers():
            force_flush = getattr(provider, "force_flush", None)
            left_ms = int((deadline - monotonic()) * 1000)
            if force_flush is None or left_ms <= 0:
                continue
            try:
                force_flush(timeout_millis=left_ms)
            except Exception as exc:
                failures.report("flushing telemetry before the process ends", exc)
    finally:
        _end_export()


def _begin_export() -> None:
    """A flush or shutdown is under way (counted before its thread starts): a SIGTERM waits for it."""
    global _flushing
    _flushing += 1


def _end_export() -> None:
    """The flush or shutdown is over: if a SIGTERM came meanwhile, the process now ends by it."""
    global _flushing
    _flushing -= 1
    if _terminate_after_flush and not _flushing:
        if threading.current_thread() is threading.main_thread():
            _terminate()
        else:  # the signal again: the handler, on the main thread, ends the process
            os.kill(os.getpid(), signal.SIGTERM)


def _providers() -> tuple[Any, ...]:
    """The global tracer, meter and logger providers (no-op proxies until the SDK is set up)."""
    from opentelemetry import _logs

    return trace.get_tracer_provider(), metrics.get_meter_provider(), _logs.get_logger_provider()


def _shut_down(providers: list[Any]) -> None:
    try:
        for provider in providers:
            try:
                provider.shutdown()
            except Exception as exc:
                failures.report("shutting the OpenTelemetry SDK down", exc)
    finally:
        _end_export()


def _bounded_exit() -> None:
    """At exit: shut every provider down within the exporter timeout in all (registered after the SDK's, so first)."""
    _say_last_words()
    providers = [provider for provider in _providers() if callable(getattr(provider, "shutdown", None))]
    for provider in providers:
        atexit.unregister(provider.shutdown)  # the SDK's own exit handler for it: not run a second time
    worker = threading.Thread(target=_shut_down, args=(providers,), name="otel-agentperf-exit", daemon=True)
    _begin_export()
    worker.start()
    worker.join(settings.current().exporter_timeout_s)


def _terminate() -> None:
    """End the process as SIGTERM's default action does: by that signal (on the main thread only)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    global _terminate_after_flush
    if _flushing:
        # It interrupted a flush or the exit shutdown (a worker's, say), which holds the exporter's lock:
        # let that finish; it ends the process as SIGTERM would.
        _terminate_after_flush = True
        return
    if not _terminate_after_flush:
        # Flush on a thread of its own, waited for at most the exporter timeout: this thread may be inside
        # the SDK holding a lock the flush needs, and the process must end all the same.
        flusher = threading.Thread(target=_final_flush, name="otel-agentperf-sigterm-flush", daemon=True)
        flusher.start()
        flusher.join(settings.current().exporter_timeout_s)
    _terminate()


class _ForkedWorkers:
    """multiprocessing calls :meth:`register` in each worker it forks, through a weak reference to this."""

    def __init__(self, util: Any) -> None:
        self.util = util

    def register(self) -> None:
        """A worker's finalizers are cleared when it starts: add the exit flush after that."""
        self.util.Finalize(None, _final_flush, exitpriority=100)


def _final_flush() -> None:
    """An exit that skips ``atexit`` (SIGTERM, a forked worker's ``os._exit``): what the process measured to
    its end, then the flush."""
    _say_last_words()
    flush()


_forked_workers: _ForkedWorkers | None = None


def install() -> None:
    """Install the safeguards, once per process, after the SDK is set up; SIGTERM's only if at its default."""
    global _installed
    if _installed:
        return
    _installed = True
    atexit.register(_bounded_exit)
    wrapt.register_post_import_hook(_watch_forks, "multiprocessing.util")
    if not settings.current().flush_on_sigterm:
        return
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError) as exc:  # no signals here (some embedded interpreters)
        failures.report("installing the SIGTERM flush", exc)


def _watch_forks(util: Any) -> None:
    global _forked_workers
    _forked_workers = _ForkedWorkers(util)
    util.register_after_fork(_forked_workers, _ForkedWorkers.register)
