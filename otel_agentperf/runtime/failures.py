"""Instrumentation failures are caught, logged once per place, and never reach the host app."""

from __future__ import annotations

import logging

from otel_agentperf.runtime import forksafe

logger = logging.getLogger("otel_agentperf")

_seen: set[str] = set()
_lock = forksafe.lock()


def report(where: str, exc: BaseException) -> None:
    """Log an instrumentation failure: a warning the first time for ``where``, debug after that."""
    with _lock:
        first = where not in _seen
        _seen.add(where)
    if first:
        logger.warning("otel-agentperf: %s failed; the call goes on uninstrumented: %r", where, exc, exc_info=exc)
    else:
        logger.debug("otel-agentperf: %s failed again: %r", where, exc)


def warn_once(key: str, message: str, *args: object) -> None:
    """Log ``message`` as a warning only the first time ``key`` is seen (bad configuration, missing targets)."""
    with _lock:
        if key in _seen:
            return
        _seen.add(key)
    logger.warning(message, *args)


def forget() -> None:
    """Forget every place already reported, so the next failure anywhere warns again (tests, re-set-up)."""
    with _lock:
        _seen.clear()
