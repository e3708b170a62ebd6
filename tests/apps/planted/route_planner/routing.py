"""Route building on the vendored solver."""

from __future__ import annotations

import geo_solver


def plan_route(stops: list[str]) -> list[str]:
    return geo_solver.shortest_tour(stops)
