"""A plain app whose cold start is dominated by one heavy import, timed by the app itself.

``python app.py OUT.json``: imports ``light_util`` and ``heavy_model`` (timing the latter with
``perf_counter``), then its agent's module, runs its agent once, writes the timing and the heavy module's
loaders as JSON, prints ``ready`` and stays alive (serving /metrics) until stdin closes.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import light_util

start = time.perf_counter()
import heavy_model  # noqa: E402 (timed as the app sees it)

heavy_seconds = time.perf_counter() - start

from assistant import answer  # noqa: E402


def main() -> None:
    answer(light_util.shout("ready?"))
    loader = type(heavy_model.__loader__).__name__, type(heavy_model.__spec__.loader).__name__
    Path(sys.argv[1]).write_text(json.dumps({"heavy_seconds": heavy_seconds, "loaders": loader}), encoding="utf-8")
    print("ready", flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
