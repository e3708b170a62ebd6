"""Every decorator shape, segments, memory tracking and the enable switch."""

from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.trace import SpanKind

import otel_agentperf as ap
from otel_agentperf.conventions import buckets, names
from otel_agentperf.runtime import settings
from tests.conftest import MakeRecorded, Recorded
from tests.otlp_receiver import http_receiver


def test_methods_static_and_class_methods_keep_binding_and_name_the_class(recorded: Recorded) -> None:
    class Coach:
        def __init__(self, tone: str) -> None:
            self.tone = tone

        @ap.agent
        def process_message(self, text: str) -> str:
            return f"{self.tone}:{text}"

        @ap.tool
        @staticmethod
        def word_count(text: str) -> int:
            return len(text.split())

        @ap.config
        @classmethod
        def defaults(cls) -> dict[str, str]:
            return {"owner": cls.__name__}

    coach = Coach("calm")
    assert coach.process_message("hi") == "calm:hi"
    assert Coach.word_count("a b c") == 3
    assert coach.word_count("a b") == 2
    assert Coach.defaults() == {"owner": "Coach"}
    assert list(inspect.signature(Coach.process_message).parameters) == ["self", "text"]
    assert Coach.process_message.__name__ == "process_message"

    assert recorded.span("invoke_agent Coach").attributes[names.GEN_AI_AGENT_NAME] == "Coach"
    assert len([s for s in recorded.spans() if s.name == "execute_tool word_count"]) == 2
    config_span = recorded.span("load_config Coach.defaults")
    assert config_span.attributes[names.CONFIG_LOADER] == "Coach.defaults"
    assert recorded.histogram_point("agentperf.config.load.duration").count == 1


def test_llm_decorator_records_a_client_span_and_the_genai_client_metric(recorded: Recorded) -> None:
    @ap.llm(model="gpt-4o-mini", provider="openai")
    def ask(prompt: str) -> str:
        return "answer"

    assert ask("secret prompt") == "answer"
    span = recorded.span("chat gpt-4o-mini")
    assert span.kind is SpanKind.CLIENT
    assert span.attributes[names.GEN_AI_PROVIDER_NAME] == "openai"
    assert span.attributes[names.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert "secret prompt" not in str(dict(span.attributes))
    point = recorded.histogram_point("gen_ai.client.operation.duration")
    assert dict(point.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
    }
    assert list(point.explicit_bounds) == list(buckets.CLIENT_DURATION)


@pytest.mark.parametrize(
    ("function_name", "operation", "span_name"),
    [
        ("get_execution_by_id", "read", "history_read HistoryManager"),
        ("append_message", "append", "history_append HistoryManager"),
        ("save_all", "write", "history_write HistoryManager"),
        ("search_similar", "search", "history_search HistoryManager"),
        ("clear", "delete", "history_delete HistoryManager"),
        ("compact", "_OTHER", "history HistoryManager"),  # no known verb: bounded metric, plain span name
    ],
)
def test_history_operation_is_inferred_from_the_function_name(
    recorded: Recorded, function_name: str, operation: str, span_name: str
) -> None:
    def body(self: object) -> None:
        return None

    body.__name__ = function_name
    body.__qualname__ = f"HistoryManager.{function_name}"
    wrapped = ap.history(body)
    wrapped(object())
    span = recorded.span(span_name)
    assert span.attributes[names.HISTORY_OPERATION] == operation
    assert span.attributes[names.GEN_AI_OPERATION_NAME] == span_name.split(maxsplit=1)[0]
    point = recorded.histogram_point(names.HISTORY_OPERATION_DURATION)
    assert point.attributes[names.HISTORY_OPERATION] == operation
    assert span.attributes[names.HISTORY_STORE] == "HistoryManager"


def test_explicit_history_operation_and_store_win(recorded: Recorded) -> None:
    @ap.history(store="sqlite", operation="search")
    def get_rows() -> list[int]:
        return [1]

    get_rows()
    point = recorded.histogram_point("agentperf.history.operation.duration")
    assert point.attributes[names.HISTORY_OPERATION] == "search"
    assert point.attributes[names.HISTORY_STORE] == "sqlite"


def test_unknown_history_operation_is_bounded_to_other(recorded: Recorded, caplog: pytest.LogCaptureFixture) -> None:
    @ap.history(store="kv", operation="vacuum")
    def tidy() -> None:
        return None

    tidy()
    assert [span.name for span in recorded.spans()] == ["history kv"]
    assert recorded.span("history kv").attributes[names.HISTORY_OPERATION] == "_OTHER"
    warned = [r.getMessage() for r in caplog.records if "vacuum" in r.getMessage()]
    assert len(warned) == 1 and "@history(operation='vacuum') on tidy" in warned[0]


def test_create_agent_on_a_class_times_construction(recorded: Recorded) -> None:
    @ap.create_agent
    class Worker:
        def __init__(self, n: int) -> None:
            self.items = list(range(n))

    worker = Worker(5)
    assert isinstance(worker, Worker)
    assert worker.items == [0, 1, 2, 3, 4]
    assert list(inspect.signature(Worker).parameters) == ["n"]
    span = recorded.span("create_agent Worker")
    assert span.attributes[names.GEN_AI_OPERATION_NAME] == "create_agent"
    point = recorded.histogram_point("agentperf.create_agent.duration", **{names.GEN_AI_AGENT_NAME: "Worker"})
    assert list(point.explicit_bounds) == list(buckets.FAST_DURATION)


def test_create_agent_records_memory_the_new_agent_took_when_tracking_is_on(make_recorded: MakeRecorded) -> None:
    recorded = make_recorded(memory=frozenset({"tracemalloc", "rss"}))

    @ap.create_agent(name="Hoarder")
    class Hoarder:
        def __init__(self) -> None:
            self.buffer = bytearray(4 * 1024 * 1024)

    kept = Hoarder()
    span = recorded.span("create_agent Hoarder")
    assert span.attributes[names.MEMORY_ALLOCATED] >= 4 * 1024 * 1024
    assert span.attributes[names.MEMORY_PEAK] >= 4 * 1024 * 1024
    assert names.MEMORY_RSS_DELTA in span.attributes
    allocated = recorded.histogram_point("agentperf.memory.allocated")
    assert allocated.sum >= 4 * 1024 * 1024
    assert recorded.histogram_point("agentperf.memory.rss_growth").count == 1
    assert len(kept.buffer) == 4 * 1024 * 1024


def test_memory_tracking_is_off_by_default(recorded: Recorded) -> None:
    @ap.tool
    def allocate() -> bytes:
        return bytes(1024)

    allocate()
    assert not any(key.startswith("agentperf.memory") for key in recorded.span("execute_tool allocate").attributes)
    assert recorded.histogram_points("agentperf.memory.allocated") == []


def test_segments_nest_in_sync_async_and_decorator_forms(recorded: Recorded) -> None:
    @ap.segment("score")
    def score() -> int:
        return 3

    async def pipeline() -> int:
        async with ap.segment("fetch"):
            await asyncio.sleep(0)
            with ap.segment("parse"):
                return score()

    assert asyncio.run(pipeline()) == 3
    fetch, parse, scored = recorded.span("fetch"), recorded.span("parse"), recorded.span("score")
    assert parse.parent.span_id == fetch.context.span_id
    assert scored.parent.span_id == parse.context.span_id
    names_seen = {p.attributes[names.SEGMENT_NAME] for p in recorded.histogram_points("agentperf.segment.duration")}
    assert names_seen == {"fetch", "parse", "score"}


def test_a_segment_records_the_error_and_lets_it_through(recorded: Recorded) -> None:
    with pytest.raises(KeyError), ap.segment("lookup"):
        raise KeyError("missing")
    assert recorded.span("lookup").attributes["error.type"] == "KeyError"


def test_disabled_switch_makes_everything_a_pass_through(recorded: Recorded, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_AGENTPERF_ENABLED", "false")
    settings.reload()

    def plain() -> int:
        return 1

    class Plain:
        def __init__(self) -> None:
            self.x = 1

    original_init = Plain.__init__
    assert ap.agent(plain) is plain
    assert ap.tool(name="t")(plain) is plain
    assert ap.segment("s")(plain) is plain
    assert ap.create_agent(Plain) is Plain and Plain.__init__ is original_init
    with ap.segment("nothing"):
        pass
    assert recorded.spans() == []


NO_SETUP_APP = """
{setup}
import otel_agentperf

@otel_agentperf.tool
def lookup(key):
    return key.upper()

print(lookup("a"), lookup("b"), flush=True)
"""
SDK_SET_UP = "from opentelemetry.instrumentation.auto_instrumentation import initialize\n\ninitialize()"


def test_decorators_without_an_sdk_say_so_once_and_the_documented_set_up_exports(tmp_path: Path) -> None:
    from otel_agentperf.recording.telemetry import NO_SDK_MESSAGE

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert f"```python\n{SDK_SET_UP}\n```" in readme  # the set-up the README documents is the one run here
    bare, set_up = tmp_path / "bare.py", tmp_path / "set_up.py"
    bare.write_text(NO_SETUP_APP.format(setup=""))
    set_up.write_text(NO_SETUP_APP.format(setup=SDK_SET_UP))
    with http_receiver() as (endpoint, received):
        env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
        env.update(
            OTEL_TRACES_EXPORTER="otlp",
            OTEL_METRICS_EXPORTER="none",
            OTEL_LOGS_EXPORTER="none",
            OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        )
        quiet = subprocess.run([sys.executable, str(bare)], env=env, capture_output=True, text=True, timeout=60)
        assert received.spans() == []
        exported = subprocess.run([sys.executable, str(set_up)], env=env, capture_output=True, text=True, timeout=60)
        spans = [span.name for span in received.spans()]
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "A B\n", NO_SDK_MESSAGE + "\n")
    assert (exported.returncode, exported.stdout) == (0, "A B\n"), exported.stderr
    assert "otel-agentperf" not in exported.stderr
    assert spans == ["execute_tool lookup", "execute_tool lookup"]
