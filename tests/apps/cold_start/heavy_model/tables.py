"""The tables heavy_model builds at import: CPU work, as a real library's would be."""

from __future__ import annotations

import time


def build(seconds: float) -> int:
    end, rows = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        rows += 1
    return rows
