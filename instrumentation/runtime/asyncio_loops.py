"""asyncio: every event loop that runs (``BaseEventLoop.run_forever``, under ``asyncio.run`` and
``run_until_complete`` too) is watched by the loop monitor for as long as it runs.

Switched off with ``OTEL_AGENTPERF_LOOP_MONITOR=false``; the threshold is ``OTEL_AGENTPERF_LOOP_BLOCK_MS``.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from otel_agentperf.recording.loop_monitor import monitor
from otel_agentperf.wrapping.library import LibraryInstrumentor


def _watched(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    monitor.register(instance)
    try:
        return wrapped(*args, **kwargs)
    finally:
        monitor.unregister(instance)


class AsyncioInstrumentor(LibraryInstrumentor):
    module = "asyncio.base_events"
    requirement = None

    def patch(self, module: ModuleType) -> None:
        self.hook(module.BaseEventLoop, "run_forever", _watched)
