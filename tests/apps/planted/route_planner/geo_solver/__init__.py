"""A routing library vendored beside the app and imported as a top-level package, as an installed one would
be: it builds its distance tables when imported, the way heavy scientific packages do (about 0.4 s of CPU)."""

from __future__ import annotations

import time

TABLE_SECONDS = 0.4


def _build(seconds: float) -> int:
    end, cells = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        cells += 1
    return cells


CELLS = _build(TABLE_SECONDS)


def shortest_tour(stops: list[str]) -> list[str]:
    """The stops in the order a driver should visit them (here: by name, the tables being for show)."""
    return sorted(stops)
