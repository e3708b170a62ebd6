"""A route planner whose cold start is mostly one import: its vendored solver (``geo_solver``, imported as a
top-level package) builds tables as it loads. The app times that import with its own stopwatch."""

from __future__ import annotations

import time

from appkit import serve

_began = time.perf_counter()
import geo_solver  # noqa: E402, F401 (timed as the app sees it; the routing module uses it)

IMPORT_SECONDS = time.perf_counter() - _began

from route_planner.agents import Dispatcher  # noqa: E402

STOPS = ["bakery", "depot", "school", "market", "clinic", "library"]


def main() -> None:
    dispatcher = Dispatcher()

    async def handle(index: int) -> None:
        await dispatcher.dispatch(STOPS[index % 3 :])

    def measured() -> dict[str, float]:
        return {"culprit_seconds": IMPORT_SECONDS}

    serve(handle, measured)


if __name__ == "__main__":
    main()
