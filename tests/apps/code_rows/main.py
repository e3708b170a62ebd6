"""Searches fares, opens a booking session and files a JSON report; run as ``python main.py``.

It holds the event loop four ways: in the standard library called from its tools, in the import system's
frozen code called from its plugin probe, in a dataclass's generated ``__init__``, and in a library
callback with no code of its own in it (``json.dumps`` handed to ``call_soon``); and it blocks at module
level before and after ``asyncio.run``, when no loop runs. It prints what it measured, in seconds, as JSON.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time

from fareapp.booking import open_session
from fareapp.plugins import load_plugins
from fareapp.tools import search_fares

REPORT = {"routes": [{"route": i, "legs": [{"leg": j, "ok": True} for j in range(30)]} for i in range(3000)]}
measured: dict[str, list[float]] = {"lookup": [], "plugins": [], "session": [], "report": [], "module": []}


def encode_report() -> None:
    started = time.perf_counter()
    json.dumps(REPORT, indent=2)
    measured["module"].append(time.perf_counter() - started)


async def main() -> None:
    loop = asyncio.get_running_loop()
    filed = loop.create_future()
    started = time.perf_counter()
    loop.call_soon(functools.partial(json.dumps, REPORT, indent=2))  # the loop runs the library's code alone
    loop.call_soon(filed.set_result, None)
    await filed
    measured["report"].append(time.perf_counter() - started)
    await asyncio.gather(
        search_fares("route-7", measured["lookup"]),
        load_plugins(measured["plugins"]),
        open_session("ada", measured["session"]),
    )
    await asyncio.sleep(0.05)


encode_report()  # before asyncio.run: no loop runs
asyncio.run(main())
encode_report()  # after it
print(json.dumps({key: sum(values) for key, values in measured.items()}))
