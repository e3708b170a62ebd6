"""CPU hotspots inside operations: the opt-in sampler names the function a CPU-heavy operation spends its
running time in, with its share, on the metrics, the slow instance's span event and the report."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

import otel_agentperf as ap
from otel_agentperf.conventions import names
from otel_agentperf.recording import cpu_sampler, loop_clock
from otel_agentperf.views import insights
from otel_agentperf.views.rows import Row
from tests.conftest import Recorded


def _score(seconds: float) -> int:
    end, rounds = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        rounds += sum(i * i for i in range(50))
    return rounds


def _tidy(seconds: float) -> int:
    return _score(seconds)


@ap.tool
async def rank(items: int) -> int:
    await asyncio.sleep(0.1)  # awaiting: never sampled
    return _score(0.3) + _tidy(0.05)


@pytest.fixture
def sampling(recorded: Recorded) -> Iterator[Recorded]:
    cpu_sampler.sampler.start()
    try:
        yield recorded
    finally:
        cpu_sampler.sampler.stop()


def test_the_hot_function_leads_with_its_share(sampling: Recorded) -> None:
    asyncio.run(rank(3))
    points = sampling.metrics()[names.CPU_SAMPLED_TIME].data.data_points
    seconds = {(p.attributes[names.CODE_FUNCTION], p.attributes[names.CODE_LINE_NUMBER]): p.value for p in points}
    total = sum(seconds.values())
    score = sum(
        value for (function, _), value in seconds.items() if function.startswith("tests.test_cpu_sampler:_score")
    )
    assert all(p.attributes[names.OPERATION_KIND] == names.KIND_TOOL for p in points)
    assert total == pytest.approx(0.35, rel=0.35)  # the tool's 350 ms running, not its 100 ms awaiting
    assert score / total >= 0.7  # both helpers' time is spent in _score's loop (and its generator)
    (span,) = [s for s in sampling.spans() if s.name == "execute_tool rank"]
    (event,) = [e for e in span.events if e.name == names.CPU_HOTSPOTS_EVENT]
    assert str(event.attributes[names.CODE_FUNCTION][0]).startswith("tests.test_cpu_sampler:_score")
    assert event.attributes[names.CPU_SHARE][0] >= 0.5
    assert event.attributes[names.CPU_SAMPLED] == pytest.approx(total)


def test_off_by_default_nothing_runs(recorded: Recorded) -> None:
    asyncio.run(rank(1))
    assert not cpu_sampler.sampler.on and not loop_clock.sampling
    assert "otel-agentperf-cpu-sampler" not in [thread.name for thread in threading.enumerate()]
    assert names.CPU_SAMPLED_TIME not in recorded.metrics()


def test_the_report_lists_each_operations_top_locations() -> None:
    row = Row("tool", "rank", calls=1, total_seconds=0.45)
    row.hotspots = {"app.scoring:_score:22": 0.3, "app.scoring:_tidy:30": 0.06, "json.encoder:encode:200": 0.04}
    assert insights.hotspots([row]) == [
        "CPU hotspots (sampled while running, not awaiting):",
        "  tool `rank` (400.0 ms sampled): app.scoring:_score:22 75%, app.scoring:_tidy:30 15%, "
        "json.encoder:encode:200 10%",
    ]
