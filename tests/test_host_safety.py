"""Never break the host app: the fault and bad-input cases a hostile user tries, with the real libraries.

Processes that must really start, fork, receive signals or export run under the real launcher with a real
OTLP receiver; the rest run in-process against the SDK's in-memory pipeline.
"""

from __future__ import annotations

import asyncio
import copy
import gc
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

import otel_agentperf as ap
from otel_agentperf.api.instrumentor import AgentPerfInstrumentor
from otel_agentperf.conventions import names
from otel_agentperf.instrumentation.config.pyyaml import PyYAMLInstrumentor
from otel_agentperf.instrumentation.llm.openai_sdk import OpenAIInstrumentor
from otel_agentperf.recording import operations, state
from otel_agentperf.runtime import settings
from tests.conftest import MakeRecorded, Recorded
from tests.otlp_receiver import http_receiver

APP_DIR = Path(__file__).parent / "apps"
sys.path.insert(0, str(APP_DIR))
import hostile_tasks  # noqa: E402


def _launcher() -> str:
    return str(Path(sys.executable).parent / "opentelemetry-instrument")


def _env(endpoint: str, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env.update(
        PYTHONPATH=str(APP_DIR),
        OTEL_SERVICE_NAME="hostile",
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_AGENTPERF_TARGETS="hostile_tasks:square=tool",
    )
    env.update(extra)
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_launcher(), sys.executable, str(APP_DIR / "hostile_app.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _span_names(received: Any) -> list[str]:
    return sorted(span.name for span in received.spans())


# 1. A target on a function the package itself uses while it sets up and records.


@pytest.mark.repeat(1)  # a new process under the launcher each time: once under --count 2 (CI time)
def test_targets_on_functions_the_package_uses_itself_neither_hang_nor_lose_the_apps_calls() -> None:
    with http_receiver() as (endpoint, received):
        started = time.monotonic()
        result = _run(["words"], _env(endpoint, OTEL_AGENTPERF_TARGETS="builtins:len=tool,re:compile=tool"))
        elapsed = time.monotonic() - started
        spans = _span_names(received)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "5"
    assert elapsed < 60
    assert "execute_tool compile" in spans and "execute_tool len" in spans  # the app's own calls are recorded
    assert "Traceback" not in result.stderr


# 2. Settings mistakes: one warning naming the file and key; the rest applies; no exception escapes.


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[tool.otel-agentperf]\nmemory = true\nhistory_files = ["*.log"]\n', "'memory'"),
        ('tool = "x"\n', None),
        ('[tool.otel-agentperf]\nenabled = "yes"\nhistory_files = ["*.log"]\n', "'enabled'"),
        ('[tool.otel-agentperf]\ntargets = "m:f=tool"\nhistory_files = ["*.log"]\n', "'targets'"),
    ],
    ids=["memory-bool", "tool-not-a-table", "enabled-string", "targets-string"],
)
def test_a_settings_mistake_is_one_warning_and_the_rest_applies(
    text: str, key: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "pyproject.toml").write_text(text)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OTEL_AGENTPERF_TARGETS", "hostile_tasks:square=tool")
    settings.reload()
    with caplog.at_level(logging.WARNING, logger="otel_agentperf"):
        loaded = settings.current()
    assert loaded.targets == ("hostile_tasks:square=tool",)
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    if key is None:
        assert warnings == []  # a pyproject.toml without our table is not ours to judge
    else:
        assert len(warnings) == 1 and key in warnings[0] and str(tmp_path / "pyproject.toml") in warnings[0]
        assert loaded.history_files == ("*.log",)


def test_a_settings_file_that_is_not_utf8_is_one_warning_and_instrumentation_goes_on(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    instrumentor: AgentPerfInstrumentor,
    recorded: Recorded,
) -> None:
    bad = tmp_path / "agentperf.toml"
    bad.write_bytes('memory = "rss"\n# caf\xe9\n'.encode("latin-1"))
    monkeypatch.setenv("OTEL_AGENTPERF_CONFIG", str(bad))
    monkeypatch.setenv("OTEL_AGENTPERF_TARGETS", "hostile_tasks:square=tool")
    settings.reload()
    with caplog.at_level(logging.WARNING, logger="otel_agentperf"):
        instrumentor.instrument()
        assert hostile_tasks.square(3) == 9
    assert instrumentor.applied_targets == 1
    assert [span.name for span in recorded.spans()] == ["execute_tool square"]
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(bad) in warnings[0]


def test_a_bad_prices_file_keeps_the_packaged_prices_and_is_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from otel_agentperf.recording import prices

    bad = tmp_path / "prices.toml"
    bad.write_bytes(b'[models."m"]\ninput = 1\n# \xff\xfe\n')
    monkeypatch.setenv("OTEL_AGENTPERF_PRICES", str(bad))
    settings.reload()
    with caplog.at_level(logging.WARNING, logger="otel_agentperf"):
        first = prices.table()
        assert prices.table() is first
    assert first.price("gpt-4o-mini") is not None
    assert len([r for r in caplog.records if str(bad) in r.getMessage()]) == 1


def _instrument_targets(instrumentor: AgentPerfInstrumentor, targets: str) -> None:
    """Instrument with ``targets`` in the settings, leaving the environment and the settings as they were."""
    os.environ["OTEL_AGENTPERF_TARGETS"] = targets
    try:
        settings.reload()
        instrumentor.instrument()
    finally:
        del os.environ["OTEL_AGENTPERF_TARGETS"]
        settings.reload()


# 3. Pickling and copying behave as on the original function.


def test_wrapped_functions_pickle_and_copy_as_the_originals(instrumentor: AgentPerfInstrumentor) -> None:
    @ap.agent
    def local() -> None: ...

    _instrument_targets(instrumentor, "hostile_tasks:square=tool")
    wrapped = hostile_tasks.square
    assert type(wrapped).__name__ == "AgentPerfWrapper"
    assert pickle.loads(pickle.dumps(wrapped)) is wrapped
    assert copy.copy(wrapped) is wrapped and copy.deepcopy(wrapped) is wrapped
    # Pickling what cannot be found by name fails as it does for the original.
    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(local)


class Scorer:
    @ap.tool
    def score(self, x: int) -> int:
        return x + 1

    @ap.tool
    @classmethod
    def make(cls) -> Scorer:
        return cls()


def test_wrapped_methods_pickle_and_copy_as_the_originals() -> None:
    scorer = Scorer()
    assert pickle.loads(pickle.dumps(scorer.score))(1) == 2
    assert pickle.loads(pickle.dumps(Scorer.score))(scorer, 1) == 2
    assert isinstance(pickle.loads(pickle.dumps(Scorer.make))(), Scorer)
    assert copy.deepcopy(Scorer.score)(scorer, 2) == 3


@pytest.mark.repeat(1)  # a new process under the launcher each time: once under --count 2 (CI time)
@pytest.mark.parametrize("start_method", ["fork", "spawn"])
@pytest.mark.parametrize("pool", ["pool", "executor"])
def test_process_pool_workers_record_and_their_spans_arrive(pool: str, start_method: str) -> None:
    with http_receiver() as (endpoint, received):
        result = _run(["pool", pool, start_method], _env(endpoint))
        deadline = time.monotonic() + 10
        while _span_names(received).count("execute_tool square") < 6 and time.monotonic() < deadline:
            time.sleep(0.1)
        spans = _span_names(received)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(sum(x * x for x in range(6)))
    assert spans.count("execute_tool square") == 6, result.stderr


# 4. Construction behaves exactly as uninstrumented.


def _classes() -> dict[str, type]:
    class NewOnly:
        def __new__(cls, n: int) -> NewOnly:
            made = super().__new__(cls)
            made.n = n  # type: ignore[attr-defined]
            return made

    class Plain:
        pass

    class WithInit:
        def __init__(self, n: int) -> None:
            self.n = n

    class Child(NewOnly):
        pass

    return {"NewOnly": NewOnly, "Plain": Plain, "WithInit": WithInit, "Child": Child}


def _outcome(cls: type, *args: Any) -> tuple[str, Any]:
    try:
        made = cls(*args)
    except TypeError as exc:
        return "TypeError", str(exc)
    return type(made).__name__, vars(made)


@pytest.mark.parametrize("name", ["NewOnly", "Plain", "WithInit", "Child"])
@pytest.mark.parametrize("args", [(), (4,), (4, 5)], ids=["none", "one", "two"])
def test_create_agent_construction_behaves_as_uninstrumented(recorded: Recorded, name: str, args: tuple[int]) -> None:
    plain, timed = _classes()[name], ap.create_agent(_classes()[name])
    assert _outcome(timed, *args) == _outcome(plain, *args)
    assert [span.name for span in recorded.spans()] == [f"create_agent {name}"]


# 5. Frames per wrapped call.


def test_a_recursive_target_keeps_at_least_a_third_of_its_depth(instrumentor: AgentPerfInstrumentor) -> None:
    """Two frames per wrapped call (wrapt's C call and our wrapper) on 3.10 and 3.11, one on 3.12+."""
    bare = hostile_tasks.depth()
    _instrument_targets(instrumentor, "hostile_tasks:depth=tool")
    assert type(hostile_tasks.depth).__name__ == "AgentPerfWrapper"
    wrapped = hostile_tasks.depth()
    frames = 2 if sys.version_info >= (3, 12) else 3
    assert wrapped >= bare // frames - 5, (bare, wrapped)


# 6. Coroutine identity.


async def fetch_answer() -> int:
    return 42


def test_a_decorated_coroutine_keeps_its_name(recorded: Recorded) -> None:
    decorated = ap.tool(fetch_answer)
    coroutine = decorated()
    assert (coroutine.__name__, coroutine.__qualname__) == ("fetch_answer", "fetch_answer")

    async def run() -> str:
        task = asyncio.ensure_future(coroutine)
        shown = repr(task)
        await task
        return shown

    assert "fetch_answer()" in asyncio.run(run())


# 7. A span processor of the user's that raises.


class RaisingProcessor(SpanProcessor):
    def on_end(self, span: ReadableSpan) -> None:
        raise RuntimeError("the user's processor failed")


def test_a_raising_span_processor_never_reaches_the_app(recorded: Recorded, caplog: pytest.LogCaptureFixture) -> None:
    recorded.tracer_provider.add_span_processor(RaisingProcessor())

    @ap.tool
    def work(x: int) -> int:
        return x * 2

    with caplog.at_level(logging.DEBUG, logger="otel_agentperf"):
        assert [work(1), work(2)] == [2, 4]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "ending a span" in warnings[0].getMessage()


# 8. One segment object entered by many tasks at once.


def test_a_shared_segment_is_its_own_operation_in_every_task(
    recorded: Recorded, caplog: pytest.LogCaptureFixture
) -> None:
    shared = ap.segment("fetch")
    tracer = recorded.tracer_provider.get_tracer("test")

    async def one(index: int) -> bool:
        with tracer.start_as_current_span(f"request {index}") as request:
            async with shared:
                await asyncio.sleep(0.001 * (index % 7))
            return trace.get_current_span() is request

    async def all_tasks() -> list[bool]:
        return await asyncio.gather(*(one(index) for index in range(100)))

    with caplog.at_level(logging.WARNING):
        restored = asyncio.run(all_tasks())
    assert all(restored)
    assert not [r for r in caplog.records if "detach" in r.getMessage().lower()]
    spans = recorded.spans()
    by_id = {span.context.span_id: span for span in spans}
    fetches = [span for span in spans if span.name == "fetch"]
    assert len(fetches) == 100
    parents = sorted(by_id[span.parent.span_id].name for span in fetches if span.parent)
    assert parents == sorted(f"request {index}" for index in range(100))


# 9. Explicit providers given to several instrumentors.


def test_explicit_providers_on_two_instrumentors_keep_the_in_flight_gauge(make_recorded: MakeRecorded) -> None:
    recorded = make_recorded()
    instrumentors = [PyYAMLInstrumentor(), OpenAIInstrumentor()]
    seen = []
    try:
        for instrumentor in instrumentors:
            instrumentor.instrument(tracer_provider=recorded.tracer_provider, meter_provider=recorded.meter_provider)

        @ap.tool
        def in_flight() -> None:
            seen.append(recorded.gauge(names.OPERATIONS_ACTIVE, **{names.OPERATION_KIND: "tool"}))

        in_flight()
    finally:
        for instrumentor in instrumentors:
            instrumentor.uninstrument()
    assert seen == [1]
    assert recorded.gauge(names.OPERATIONS_ACTIVE, **{names.OPERATION_KIND: "tool"}) == 0


# 10. Disable switches leave no wrapper anywhere.


@pytest.mark.parametrize(
    ("variable", "value"),
    [("OTEL_SDK_DISABLED", "true"), ("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "requests,otel_agentperf")],
)
def test_disable_switches_install_no_wrapper(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch, instrumentor: AgentPerfInstrumentor
) -> None:
    import openai.resources.chat.completions as chat

    monkeypatch.setenv(variable, value)
    monkeypatch.setenv("OTEL_AGENTPERF_TARGETS", "hostile_tasks:square=tool")
    settings.reload()

    def plain() -> None: ...

    assert ap.tool(plain) is plain
    instrumentor.instrument()
    original = vars(chat.Completions)["create"]
    library = OpenAIInstrumentor()
    library.instrument()
    try:
        assert vars(chat.Completions)["create"] is original
    finally:
        library.uninstrument()
    assert instrumentor.applied_targets == 0
    assert type(hostile_tasks.square).__name__ == "function"


# 11. One function named with two kinds.


def test_conflicting_kinds_for_one_target_are_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    from otel_agentperf.api.targets import parse_all

    with caplog.at_level(logging.WARNING, logger="otel_agentperf"):
        parsed = parse_all(["m:f=tool", "m:f=agent", "m:g=tool", "m:g=tool"])
    assert [(target.path, target.kind) for target in parsed] == [("f", "agent"), ("g", "tool")]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "tool" in warnings[0] and "agent" in warnings[0] and "m:f" in warnings[0]


# 12. Cardinality: names from the application never grow a metric past its cap.


@pytest.mark.parametrize(
    ("decorator", "attribute", "histogram"),
    [
        (ap.tool, names.GEN_AI_TOOL_NAME, names.TOOL_DURATION),
        (ap.agent, names.GEN_AI_AGENT_NAME, names.AGENT_DURATION),
        (ap.workflow, names.GEN_AI_WORKFLOW_NAME, names.WORKFLOW_DURATION),
    ],
    ids=["tool", "agent", "workflow"],
)
def test_a_thousand_names_make_a_bounded_number_of_series(
    recorded: Recorded, decorator: Any, attribute: str, histogram: str
) -> None:
    run = os.urandom(4).hex()  # names no earlier test used: the caps are per process
    for index in range(1_000):  # five times the cap
        decorator(name=f"{run}-{index}")(lambda: None)()
    series = {point.attributes.get(attribute) for point in recorded.histogram_points(histogram)}
    assert len(series) <= 201 and names.OTHER in series
    assert len(recorded.spans()) == 1_000


def test_server_addresses_from_the_network_are_bounded(recorded: Recorded, server: Any) -> None:
    """300 distinct hosts (three times the cap): httpx's MockTransport replays the local server's answer."""
    import httpx
    import openai

    question = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    body = httpx.post(f"{server.base_url}/chat/completions", json=question).json()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    run = os.urandom(4).hex()
    with OpenAIInstrumentorActive():
        for index in range(300):
            client = openai.OpenAI(
                base_url=f"http://h{index}-{run}.invalid/v1", api_key="k", http_client=httpx.Client(transport=transport)
            )
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    points = recorded.histogram_points("gen_ai.client.operation.duration")
    addresses = {point.attributes.get(names.SERVER_ADDRESS) for point in points}
    assert len(addresses) <= 101 and names.OTHER in addresses
    assert len({span.attributes[names.SERVER_ADDRESS] for span in recorded.spans()}) == 300  # spans keep them


class OpenAIInstrumentorActive:
    def __enter__(self) -> None:
        self.instrumentor = OpenAIInstrumentor()
        self.instrumentor.instrument()

    def __exit__(self, *exc: object) -> None:
        self.instrumentor.uninstrument()


# 13. Captured content has a total cap.


def test_captured_content_is_capped_in_total(recorded: Recorded, server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import openai

    from otel_agentperf.instrumentation.llm import content

    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    settings.reload()
    messages = [{"role": "user", "content": "x" * 5_000} for _ in range(1_000)]
    with OpenAIInstrumentorActive():
        client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        client.chat.completions.create(model="m1", messages=messages)  # type: ignore[arg-type]
    captured = str(recorded.spans()[0].attributes[names.GEN_AI_INPUT_MESSAGES])
    assert len(captured) <= settings.DEFAULT_MAX_LENGTH * content.TOTAL_PARTS + 64 * content.TOTAL_PARTS
    assert captured.count('"role":"user"') == content.TOTAL_PARTS


# 14. Numbers from the network are validated before they are recorded.


def test_token_counts_out_of_range_are_dropped_before_export(
    recorded: Recorded, caplog: pytest.LogCaptureFixture
) -> None:
    telemetry = state.telemetry()
    with caplog.at_level(logging.WARNING, logger="otel_agentperf"):
        for _ in range(2):
            invocation = telemetry.start(operations.llm("call", "m1", "openai"))
            invocation.set_usage(10**20, 5, cache_read=-1)
            invocation.end()
    spans = recorded.spans()
    assert all(names.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes for span in spans)
    assert [span.attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS] for span in spans] == [5, 5]
    assert recorded.tokens("output") == 10 and recorded.tokens("input") == 0
    encode_spans(spans)  # the OTLP encoder takes every attribute as it is
    assert len([r for r in caplog.records if "token count" in r.getMessage()]) == 1


# 16. SIGTERM: queued spans are flushed, then the process ends as the default action would.


@pytest.mark.repeat(1)  # a new process under the launcher each time: once under --count 2 (CI time)
@pytest.mark.parametrize(
    ("extra", "own", "expected"),
    [({}, False, 50), ({"OTEL_AGENTPERF_FLUSH_ON_SIGTERM": "false"}, False, 0), ({}, True, 50)],
    ids=["default", "switched-off", "apps-own-handler"],
)
def test_sigterm_flushes_queued_spans_then_ends_as_the_default_would(
    extra: dict[str, str], own: bool, expected: int
) -> None:
    with http_receiver() as (endpoint, received):
        process = subprocess.Popen(
            [_launcher(), sys.executable, str(APP_DIR / "hostile_app.py"), "sigterm", "50", *(["own"] if own else [])],
            env=_env(endpoint, OTEL_BSP_SCHEDULE_DELAY="30000", **extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        spans = _span_names(received).count("execute_tool square")
    if own:
        assert process.returncode == 3  # the app's handler ran (and its exit flushed through atexit)
    else:
        assert process.returncode == -signal.SIGTERM
    assert spans == expected


# 15. A dead collector costs the app at most the configured exporter timeout at exit.


def _timed_exit(endpoint: str) -> tuple[float, int, str, str]:
    """The app's exit: seconds from its last line (its work done) to the end of its process, its status,
    what it printed and its stderr. Timed from the last line, not the start: a loaded machine varies the
    launcher's start-up by seconds, and only the exit is in question."""
    env = _env(endpoint, OTEL_METRICS_EXPORTER="otlp", OTEL_EXPORTER_OTLP_TIMEOUT="2")
    process = subprocess.Popen(
        [_launcher(), sys.executable, str(APP_DIR / "hostile_app.py"), "words"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    printed = process.stdout.readline()
    done = time.monotonic()
    rest, stderr = process.communicate(timeout=120)
    return time.monotonic() - done, process.returncode, printed + rest, stderr


@pytest.mark.repeat(1)  # a new process under the launcher each time: once under --count 2 (CI time)
@pytest.mark.parametrize("fault", ["refused", "blackholed"])
def test_exit_with_a_dead_collector_takes_at_most_the_exporter_timeout(fault: str) -> None:
    with http_receiver() as (endpoint, _received):
        healthy, *_ = _timed_exit(endpoint)
    with socket.socket() as dead:
        dead.bind(("127.0.0.1", 0))
        if fault == "blackholed":
            dead.listen(0)  # connections are accepted by the kernel and never answered
        port = dead.getsockname()[1]
        if fault == "refused":
            dead.close()
        elapsed, status, printed, stderr = _timed_exit(f"http://127.0.0.1:{port}")
    assert status == 0 and printed.strip() == "5"
    assert "Traceback" not in stderr
    # The exporter timeout (2 s) once, not once per exporter and retry (each retry with backoff would be
    # 35 s and more); the margin is for a loaded machine.
    assert elapsed - healthy < 2 + 3, (healthy, elapsed)


# 17. A fork while another thread holds one of the package's locks.


def test_a_fork_while_another_thread_holds_the_packages_locks_leaves_the_child_recording(recorded: Recorded) -> None:
    from otel_agentperf.runtime import failures

    telemetry = state.telemetry()
    held = [failures._lock, state._lock, telemetry.recorder._active._lock]
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:  # as threads that are recording at the moment of the fork would
        for lock in held:
            lock.acquire()
        holding.set()
        release.wait(10)
        for lock in reversed(held):
            lock.release()

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(10)
    child = os.fork()
    if child == 0:  # the child: every lock it needs was held by a thread that does not exist here
        code = 1
        try:
            failures.warn_once("forked-child", "otel-agentperf: a forked child warns")
            ap.tool(lambda: None)()
            state.configure()
            code = 0
        finally:
            os._exit(code)
    release.set()
    holder.join()
    deadline = time.monotonic() + 20
    while (done := os.waitpid(child, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if done[0] == 0:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        pytest.fail("the forked child deadlocked on a lock held at the fork")
    assert os.waitstatus_to_exitcode(done[1]) == 0


# 18. A Ctrl-C as an operation's objects are collected.


def test_no_python_callback_runs_as_operations_are_collected(recorded: Recorded) -> None:
    """A KeyboardInterrupt raised inside a weak-reference callback is printed and swallowed ("Exception
    ignored"), so an app whose Ctrl-C lands there does not stop: finished operations leave no such callback."""

    @ap.tool
    def lookup() -> int:
        return 1

    @ap.agent(name="looper")
    def run() -> int:
        return lookup() + lookup()

    run()
    gc.collect()  # what earlier tests left (their telemetry states and locks) is not these runs'
    callbacks: list[str] = []

    def watch(frame: Any, event: str, _arg: Any) -> None:
        if event == "call" and frame.f_code.co_name == "_remove":
            callbacks.append(frame.f_code.co_filename)

    sys.setprofile(watch)
    try:
        for _ in range(50):
            assert run() == 2
        gc.collect()
    finally:
        sys.setprofile(None)
    # One per run or per operation would be 50 or 150: what an operation leaves. A few may be other code's
    # (a thread an earlier test started, ending now, leaves ``threading``'s weak set of them).
    assert len(callbacks) < 50, callbacks
    assert len(recorded.spans()) == 3 * 51
