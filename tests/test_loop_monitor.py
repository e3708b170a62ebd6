"""The loop monitor measures event-loop blocking: by which operation (or code), for how long, and where."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Coroutine, Iterator
from pathlib import Path
from time import perf_counter
from typing import Any

import pytest
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry, generate_latest

import otel_agentperf as ap
from otel_agentperf.conventions import names
from otel_agentperf.instrumentation.runtime.asyncio_loops import AsyncioInstrumentor
from otel_agentperf.recording import loop_clock, loop_monitor
from otel_agentperf.recording.run_queue import RunQueue
from otel_agentperf.runtime import settings
from otel_agentperf.views import scrape
from otel_agentperf.views.insights import bottlenecks
from otel_agentperf.views.rows import Row
from tests.conftest import Recorded, run_queue_seconds

BLOCKED = names.EVENT_LOOP_BLOCKED_TIME
THIS_FILE = str(Path(__file__).resolve())


@pytest.fixture
def monitored(recorded: Recorded) -> Iterator[Recorded]:
    instrumentor = AsyncioInstrumentor()
    instrumentor.instrument()
    try:
        yield recorded
    finally:
        instrumentor.uninstrument()


def _line_of(marker: str) -> int:
    return next(number for number, line in enumerate(Path(__file__).read_text().splitlines(), 1) if marker in line)


@ap.tool
async def blocking_tool(held: list[float]) -> None:
    started = perf_counter()
    time.sleep(0.15)  # MARK: the blocking call
    held.append(perf_counter() - started)
    await asyncio.sleep(0)


@ap.tool
async def polite_tool() -> None:
    await asyncio.sleep(0.1)


async def _requests(held: list[float]) -> None:
    await asyncio.gather(blocking_tool(held), polite_tool(), polite_tool())


def test_a_blocking_call_in_an_async_tool_is_charged_to_that_tool_with_its_line(monitored: Recorded) -> None:
    held: list[float] = []
    asyncio.run(_requests(held))
    charged = monitored.counter(BLOCKED, **{names.GEN_AI_TOOL_NAME: "blocking_tool"})
    # The start of a block is seen from the next look on: one look (5 ms) short, more on a machine that
    # starves the watchdog thread (seen here: 40 ms under a second process's full load).
    assert held[0] * 0.6 <= charged <= held[0] * 1.1
    assert monitored.counter(BLOCKED, **{names.GEN_AI_TOOL_NAME: "polite_tool"}) == 0
    spans = [span for span in monitored.spans() if span.name == "execute_tool blocking_tool"]
    assert spans[0].attributes is not None
    # The span has what was charged while it ran; the counter also the last look's part, after it ended.
    look = settings.current().loop_block_threshold_s / 4
    assert charged - 2 * look <= spans[0].attributes[BLOCKED] <= charged
    (event,) = spans[0].events
    assert event.name == names.EVENT_LOOP_BLOCKED_EVENT and event.attributes is not None
    assert event.attributes[names.CODE_FILE_PATH] == THIS_FILE
    assert event.attributes[names.CODE_LINE_NUMBER] == _line_of("# MARK: the blocking call")
    assert event.attributes[names.CODE_FUNCTION] == "blocking_tool"
    polite = [span for span in monitored.spans() if span.name == "execute_tool polite_tool"]
    assert all(not span.events and BLOCKED not in (span.attributes or {}) for span in polite)
    lag = monitored.histogram_point(names.EVENT_LOOP_LAG)
    assert lag.count >= 2 and lag.max >= charged  # the monitor's callback waited out the whole block


async def _outside_any_operation(held: list[float]) -> None:
    await asyncio.sleep(0)
    started = perf_counter()
    time.sleep(0.08)  # MARK: blocking outside operations
    held.append(perf_counter() - started)
    await asyncio.sleep(0.01)


@pytest.mark.parametrize("paths", [False, True])
def test_blocking_outside_any_operation_is_charged_to_the_code_that_did_it(
    monitored: Recorded, monkeypatch: pytest.MonkeyPatch, paths: bool
) -> None:
    """Named ``module:function``; the file's path only with the opt-in that governs paths."""
    if paths:
        monkeypatch.setenv(settings.CAPTURE_PATHS_ENV, "true")
        settings.reload()
    held: list[float] = []
    asyncio.run(_outside_any_operation(held))
    where = {names.CODE_FUNCTION: f"{__name__}:_outside_any_operation"}
    assert held[0] * 0.5 <= monitored.counter(BLOCKED, **where) <= held[0] * 1.1
    points = [p for p in monitored.metrics()[BLOCKED].data.data_points if names.CODE_FUNCTION in p.attributes]
    assert points and all(p.attributes.get(names.CODE_FILE_PATH) == (THIS_FILE if paths else None) for p in points)


@ap.config
def slow_settings() -> dict[str, int]:
    time.sleep(0.05)
    return {"retries": 3}


@ap.config
def fast_settings() -> dict[str, int]:
    return {"retries": 3}


def test_only_a_synchronous_load_that_really_held_the_loop_is_flagged(recorded: Recorded) -> None:
    async def handler() -> None:
        fast_settings()
        slow_settings()

    slow_settings()  # no loop here: never blocking, however slow
    asyncio.run(handler())  # no monitor: a synchronous call on the loop's thread is measured exactly
    points = recorded.histogram_points("agentperf.config.load.duration")
    flagged = {(p.attributes[names.CONFIG_LOADER], p.attributes[names.BLOCKING_EVENT_LOOP]): p.count for p in points}
    assert flagged == {("slow_settings", "false"): 1, ("fast_settings", "false"): 1, ("slow_settings", "true"): 1}
    slow_in_loop = [s for s in recorded.spans() if s.name == "load_config slow_settings" and s.events]
    assert len(slow_in_loop) == 1 and slow_in_loop[0].attributes is not None
    duration = (slow_in_loop[0].end_time or 0) - (slow_in_loop[0].start_time or 0)
    assert slow_in_loop[0].attributes[BLOCKED] == pytest.approx(duration / 1e9, rel=0.05)
    assert recorded.counter(BLOCKED, **{names.CONFIG_LOADER: "slow_settings"}) == pytest.approx(
        slow_in_loop[0].attributes[BLOCKED]
    )


def test_the_threshold_is_a_setting(monitored: Recorded, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.LOOP_BLOCK_MS_ENV, "400")
    settings.reload()
    ap.configure(monitored.tracer_provider, MeterProvider())  # a state made under the new settings
    held: list[float] = []
    asyncio.run(_requests(held))
    assert all(not span.events for span in monitored.spans())  # 150 ms is under a 400 ms threshold


def test_switched_off_the_monitor_charges_no_async_operation(
    monitored: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(settings.LOOP_MONITOR_ENV, "false")
    settings.reload()
    held: list[float] = []
    asyncio.run(_requests(held))
    assert monitored.counter(BLOCKED) == 0
    assert names.EVENT_LOOP_LAG not in monitored.metrics()


def _reported(program: Coroutine[Any, Any, None]) -> dict[tuple[str, str], Row]:
    """Run ``program`` on a watched loop, recording into a real Prometheus reader: the report's rows."""
    registry = CollectorRegistry()
    meter_provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry)])
    ap.configure(TracerProvider(), meter_provider)
    instrumentor = AsyncioInstrumentor()
    instrumentor.instrument()
    try:
        asyncio.run(program)
    finally:
        instrumentor.uninstrument()
    return {(row.kind, row.name): row for row in scrape.parse(generate_latest(registry).decode())}


def test_the_report_says_who_held_the_loop_and_for_how_long() -> None:
    held: list[float] = []
    rows = _reported(_requests(held))
    tool = rows[("tool", "blocking_tool")]
    assert held[0] * 0.6 <= tool.blocked_seconds <= held[0] * 1.1
    sentence = next(s for s in bottlenecks(list(rows.values())) if "held the asyncio event loop" in s)
    assert sentence.startswith("tool `blocking_tool` held the asyncio event loop for ")
    assert f"{tool.blocked_seconds * 1000:.1f} ms" in sentence


@pytest.mark.parametrize("value", ["abc", "0", "-5"])
def test_a_bad_threshold_is_one_warning_naming_the_variable_and_its_problem_and_the_default_holds(
    value: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(settings.LOOP_BLOCK_MS_ENV, value)
    with caplog.at_level(logging.WARNING, logger="otel_agentperf"):
        loaded = settings.reload()
    assert loaded.loop_block_threshold_s == settings.DEFAULT_LOOP_BLOCK_MS / 1000
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1 and settings.LOOP_BLOCK_MS_ENV in warnings[0]
    assert "is not a positive number of milliseconds" in warnings[0] and repr(value) not in warnings[0]


@ap.tool
def summarise(count: int) -> int:
    time.sleep(0.012 * count)  # synchronous, called from coroutines: holds the loop for all its time
    return count


async def _summarising_agents() -> None:
    async def agent(index: int) -> None:
        for count in (2, 3, 4):  # 24 to 48 ms: each past the 20 ms threshold
            summarise(count)
            await asyncio.sleep(0.001 * index)

    await asyncio.gather(*(agent(index) for index in range(4)))


def test_back_to_back_short_blocks_are_never_charged_more_than_they_ran(monitored: Recorded) -> None:
    asyncio.run(_summarising_agents())
    point = monitored.histogram_point("gen_ai.execute_tool.duration", **{names.GEN_AI_TOOL_NAME: "summarise"})
    charged = monitored.counter(BLOCKED, **{names.GEN_AI_TOOL_NAME: "summarise"})
    assert point.count == 12
    # A synchronous call on the loop held it for all its duration: exactly that, never more.
    assert point.sum * 0.95 <= charged <= point.sum * (1 + 1e-9)
    for span in monitored.spans():
        if span.name == "execute_tool summarise" and span.attributes is not None:
            assert span.attributes.get(BLOCKED, 0.0) <= ((span.end_time or 0) - (span.start_time or 0)) / 1e9 + 1e-6


@ap.tool
def parse_page(page: int) -> int:
    time.sleep(0.03)  # past the 20 ms threshold: each call charges itself as it returns
    return page


async def _pages_parsed_in_one_step() -> None:
    for _ in range(4):
        await asyncio.sleep(0.001)
        for page in range(3):  # three calls in one step of the task: 90 ms the loop never gets back
            parse_page(page)


def test_calls_that_charged_themselves_are_not_charged_again_to_the_code_around_them(monitored: Recorded) -> None:
    starved = run_queue_seconds()
    asyncio.run(_pages_parsed_in_one_step())
    starved = run_queue_seconds() - starved
    point = monitored.histogram_point("gen_ai.execute_tool.duration", **{names.GEN_AI_TOOL_NAME: "parse_page"})
    charged = monitored.counter(BLOCKED, **{names.GEN_AI_TOOL_NAME: "parse_page"})
    assert point.count == 12
    assert point.sum * 0.95 <= charged <= point.sum * (1 + 1e-9)
    # The monitor's looks during the next call must not take the instants the last one charged itself for
    # as the code's: between the calls the task runs microseconds of its own. On a loaded machine the thread
    # can also wait for a CPU there, which Linux counts only once the wait is over: a look during such a wait
    # charges it to the code (run_queue.py), at most what the thread waited in all.
    outside = [p.value for p in monitored.metrics()[BLOCKED].data.data_points if names.CODE_FUNCTION in p.attributes]
    assert sum(outside) < 0.005 + starved, (outside, starved)


@ap.llm(model="victim-model", provider="openai")
async def ask_model() -> None:
    await asyncio.sleep(0.04)  # the model's own latency: a network wait that gives the loop back


@ap.tool
async def crunch(held: list[float]) -> None:
    started = perf_counter()
    time.sleep(0.1)  # synchronous work in async code: every other task waits, longer than a model call takes
    held.append(perf_counter() - started)


async def _victims_and_culprit(held: list[float]) -> None:
    async def request() -> None:
        await ask_model()
        await crunch(held)
        await ask_model()

    await asyncio.gather(*(request() for _ in range(8)))


def test_time_awaiting_operations_lost_to_a_held_loop_is_charged_to_what_held_it() -> None:
    held: list[float] = []
    starved = run_queue_seconds()
    rows = _reported(_victims_and_culprit(held))
    starved = run_queue_seconds() - starved
    model, tool = rows[("llm", "openai/victim-model")], rows[("tool", "crunch")]
    # Eight requests in flight: the model calls' wall time is mostly waiting out the tool's blocks.
    assert model.self_seconds > tool.self_seconds
    assert model.waited_seconds > 0.5 * model.self_seconds
    # Its own latency at most, within the monitor's resolution; on a loaded machine, plus what the loop's thread
    # waited for a CPU outside the blocks (the machine's time, which the eight calls in flight each lose).
    assert model.own_seconds <= 16 * 0.04 * 1.5 + 8 * starved, (model.own_seconds, starved)
    said = bottlenecks(list(rows.values()))
    assert said[0].startswith("tool `crunch` held the asyncio event loop for ")
    assert 0.75 * sum(held) <= tool.blocked_seconds <= 1.1 * sum(held)
    assert f"for {tool.blocked_seconds * 1000:.1f} ms" in said[0] and "the tasks awaiting beside it waited " in said[0]


def test_an_operation_alone_on_its_loop_never_waits() -> None:
    async def sequential(held: list[float]) -> None:
        for _ in range(3):
            await ask_model()
            await crunch(held)

    rows = _reported(sequential([]))
    assert rows[("llm", "openai/victim-model")].waited_seconds == 0
    assert rows[("tool", "crunch")].blocked_seconds > 0


@contextlib.contextmanager
def _loop_in_a_thread() -> Iterator[tuple[asyncio.AbstractEventLoop, threading.Thread]]:
    """A real event loop running (idle, in its selector) in a thread of its own, not watched by the monitor."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    started = threading.Event()
    loop.call_soon_threadsafe(started.set)
    try:
        assert started.wait(10) and thread.ident is not None and thread.native_id is not None
        yield loop, thread
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        loop_clock.unregister(loop)


def _look_at_a_late_callback(busy: float) -> float:
    """Held seconds one look adds on a real loop running in a thread, its callback one second late, while
    the loop either polls its selector (``busy`` 0) or runs a callback sleeping ``busy`` seconds."""
    with _loop_in_a_thread() as (loop, thread):
        assert thread.ident is not None and thread.native_id is not None
        if busy:
            loop.call_soon_threadsafe(time.sleep, busy)
        time.sleep(0.05)  # the loop is back in its selector, or inside the sleeping callback
        entry = loop_monitor._Watched(loop, thread.ident, thread.native_id, thread.name)
        entry.posted = entry.clock.charged_until = entry.looked = perf_counter() - 1.0
        loop_monitor.monitor._look(entry)  # sees the callback the loop runs, if any, begin
        loop_monitor.monitor._look(entry)  # and the same one still running: a block
        return entry.clock.reading()


def test_a_loop_polling_its_selector_is_held_by_nothing() -> None:
    """A callback late while its loop polls (the process was not scheduled, or another thread kept the
    interpreter) lost the tasks awaiting on that loop nothing to a blocker: none of it is theirs to wait for."""
    assert _look_at_a_late_callback(0) == 0.0
    assert _look_at_a_late_callback(0.5) >= 0.9  # the same look on a loop a callback holds charges it


def _spin(seconds: float) -> None:
    end = perf_counter() + seconds
    while perf_counter() < end:
        pass


@contextlib.contextmanager
def _cpu_zero_burnt_by(burners: int) -> Iterator[None]:
    """``burners`` processes burning CPU 0, already running."""
    code = "import os\nos.sched_setaffinity(0, {0})\nprint(flush=True)\nwhile True: pass"
    running = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE) for _ in range(burners)]
    try:
        for burner in running:
            assert burner.stdout is not None and burner.stdout.readline() == b"\n"  # burning CPU 0
        yield
    finally:
        for burner in running:
            burner.kill()
            burner.communicate()


def test_a_callback_that_held_the_loop_on_a_shared_cpu_is_charged_its_wall_time(recorded: Recorded) -> None:
    """A callback spinning for 0.4 s of wall time on a CPU it shares with a process burning it runs for a
    part of that time, far past the threshold: a block. The tasks awaiting on the loop lost the whole wall
    time, and the code that held it is charged that, as the application's own stopwatch would say."""
    with _cpu_zero_burnt_by(1), _loop_in_a_thread() as (loop, thread):
        assert thread.ident is not None and thread.native_id is not None
        os.sched_setaffinity(thread.native_id, {0})
        cpu = time.pthread_getcpuclockid(thread.ident)
        entry = loop_monitor._Watched(loop, thread.ident, thread.native_id, thread.name)
        entry.posted = entry.clock.charged_until = perf_counter()
        ran_before, wall_before = time.clock_gettime(cpu), perf_counter()
        loop.call_soon_threadsafe(_spin, 0.4)
        time.sleep(0.3)
        loop_monitor.monitor._look(entry)  # sees the callback begin (after the look before, at its creation)
        loop_monitor.monitor._look(entry)  # and still running: a block since then
        ran, wall = time.clock_gettime(cpu) - ran_before, perf_counter() - wall_before
        lost = entry.clock.reading()
    charged = recorded.counter(BLOCKED, **{names.CODE_FUNCTION: f"{__name__}:_spin"})
    assert ran < 0.7 * wall, (ran, wall)  # it did share the CPU: most of its wall time was not its own
    assert 0.9 * wall <= charged <= wall, (charged, ran, wall)
    assert lost >= 0.9 * wall, (lost, wall)


def _spin_cpu(seconds: float, started: threading.Event, done: threading.Event) -> None:
    """Runs ``seconds`` of its thread's CPU time, however long that takes on a shared CPU."""
    started.set()
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
    done.set()


def test_a_short_callback_that_waited_for_a_cpu_is_no_block(recorded: Recorded) -> None:
    """A callback of 5 ms of work on a CPU three burners share takes 20 ms or more of wall time, past the
    threshold by the wall clock: looked at as the monitor does, every couple of milliseconds, it is never
    a block, since its thread had a CPU for a fraction of that (the rest it waited in the run queue, or was
    found runnable and not running)."""
    walls: list[float] = []
    with _cpu_zero_burnt_by(3), _loop_in_a_thread() as (loop, thread):
        assert thread.ident is not None and thread.native_id is not None
        os.sched_setaffinity(thread.native_id, {0})
        for _ in range(5):
            entry = loop_monitor._Watched(loop, thread.ident, thread.native_id, thread.name)
            entry.posted = entry.clock.charged_until = perf_counter()
            started, done = threading.Event(), threading.Event()
            began = perf_counter()
            loop.call_soon_threadsafe(_spin_cpu, 0.005, started, done)
            assert started.wait(10)
            while not done.is_set():
                loop_monitor.monitor._look(entry)
                time.sleep(0.002)
            walls.append(perf_counter() - began)
            assert entry.clock.reading() == 0.0, (entry.clock.reading(), walls)
    assert max(walls) >= 0.02, walls  # it did wait for the CPU: past the threshold by wall time
    assert recorded.counter(BLOCKED, **{names.CODE_FUNCTION: f"{__name__}:_spin_cpu"}) == 0


@ap.config
def cpu_bound_settings(cpu_seconds: float) -> dict[str, int]:
    """Parses for ``cpu_seconds`` of the thread's CPU time, however long that takes on a shared CPU."""
    end = time.thread_time() + cpu_seconds
    while time.thread_time() < end:
        pass
    return {"retries": 3}


def test_a_synchronous_call_that_waited_for_a_cpu_is_flagged_for_what_it_ran(recorded: Recorded) -> None:
    """A config load of 12 ms of work on a CPU a burner shares takes 20 ms or more of wall time: past the
    threshold by the wall clock, yet its code ran 12 ms; the rest the thread waited for a CPU, the machine's
    time. It is no blocker, and is not flagged; a load of 30 ms of work is, and is charged the time it held
    the loop, as the tasks awaiting on it lived it (its wall time, as the app's own stopwatch says)."""
    burner = subprocess.Popen(
        [sys.executable, "-c", "import os\nos.sched_setaffinity(0, {0})\nprint(flush=True)\nwhile True: pass"],
        stdout=subprocess.PIPE,
    )
    walls: dict[float, float] = {}

    async def handler() -> None:
        for cpu_seconds in (0.012, 0.012, 0.012, 0.03):
            await asyncio.sleep(0.03)  # a look or two of the monitor between the loads
            started = perf_counter()
            cpu_bound_settings(cpu_seconds)
            walls[cpu_seconds] = max(walls.get(cpu_seconds, 0.0), perf_counter() - started)

    def on_cpu_zero() -> None:
        os.sched_setaffinity(0, {0})
        asyncio.run(handler())

    instrumentor = AsyncioInstrumentor()
    instrumentor.instrument()
    try:
        assert burner.stdout is not None and burner.stdout.readline() == b"\n"  # the burner is burning CPU 0
        thread = threading.Thread(target=on_cpu_zero)
        thread.start()
        thread.join(60)
    finally:
        instrumentor.uninstrument()
        burner.kill()
        burner.communicate()
    assert walls[0.012] >= 0.02, walls  # it did wait for the CPU: past the threshold by wall time
    points = recorded.histogram_points("agentperf.config.load.duration")
    flagged = {p.attributes[names.BLOCKING_EVENT_LOOP]: p.count for p in points}
    assert flagged.get("true") == 1, flagged  # the 30 ms one only
    charged = recorded.counter(BLOCKED, **{names.CONFIG_LOADER: "cpu_bound_settings"})
    # The block's wall time, and at most the parts of the others' the monitor's looks took for blocks.
    assert 0.9 * walls[0.03] <= charged <= walls[0.03] + 3 * walls[0.012], (charged, walls)


def test_a_thread_waiting_for_a_cpu_now_is_stalled_and_a_sleeping_one_is_not() -> None:
    """Linux counts a wait for a CPU as it ends: a thread in one now is found by having not run since the
    last read while runnable. A spinning thread on a CPU three burners share is found so at some reads; a
    sleeping thread (which also does not run) never is."""

    def found_stalled(target: Any) -> int:
        stop = threading.Event()
        thread = threading.Thread(target=target, args=(stop,), daemon=True)
        thread.start()
        assert thread.native_id is not None
        os.sched_setaffinity(thread.native_id, {0})
        queue = RunQueue(thread.native_id)
        found = 0
        time.sleep(0.1)  # on CPU 0 by now, and for the sleeper, asleep
        try:
            for _ in range(300):
                queue.read()
                ran = queue.ran
                time.sleep(0.001)
                queue.read()
                found += queue.stalled(ran)
        finally:
            stop.set()
            thread.join(10)
            queue.close()
        return found

    def spin(stop: threading.Event) -> None:
        while not stop.is_set():
            pass

    with _cpu_zero_burnt_by(3):
        assert found_stalled(spin) > 0
        assert found_stalled(lambda stop: stop.wait(30)) == 0


def test_a_forked_childs_copy_of_a_run_queue_reads_nothing() -> None:
    """The file a watched loop's run queue is read from is its thread's in the process that opened it: a
    forked child going on with that loop must not take its parent's waits for a CPU out of its blocks."""
    queue = RunQueue(threading.get_native_id())
    assert queue.read() > 0  # this process has waited for a CPU at some point since it started
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # forking a process with threads: only _exit follows
        pid = os.fork()
    if pid == 0:
        os._exit(0 if queue.read() == 0 and queue.since_mark() == 0.0 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
