"""History-store instrumentation against real LangChain, LangGraph (memory and SQLite) and sqlite3 stores."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypedDict

import pytest
from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, messages_from_dict, messages_to_dict
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph

import otel_agentperf as ap
from otel_agentperf.conventions import names
from otel_agentperf.instrumentation.config.json_files import JsonFilesInstrumentor
from otel_agentperf.instrumentation.history.langchain_history import LangChainHistoryInstrumentor
from otel_agentperf.instrumentation.history.langgraph_checkpoints import LangGraphCheckpointInstrumentor
from tests.conftest import Recorded

HISTORY_METRIC = "agentperf.history.operation.duration"


@pytest.fixture
def stores(recorded: Recorded) -> Iterator[Recorded]:
    instrumentors = [LangChainHistoryInstrumentor(), LangGraphCheckpointInstrumentor(), JsonFilesInstrumentor()]
    for instrumentor in instrumentors:
        instrumentor.instrument()
    yield recorded
    for instrumentor in instrumentors:
        instrumentor.uninstrument()


def _count(recorded: Recorded, **attributes: str) -> int:
    return sum(
        int(p.count)
        for p in recorded.histogram_points(HISTORY_METRIC)
        if all(p.attributes.get(k) == v for k, v in attributes.items())
    )


def test_langchain_in_memory_history_sync_and_async(stores: Recorded) -> None:
    from langchain_core.chat_history import InMemoryChatMessageHistory

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated in LangChain 1.6, still the built-in store
        history = InMemoryChatMessageHistory()
    history.add_user_message("hello")
    history.add_messages([AIMessage("hi"), HumanMessage("plan my day")])

    async def use() -> list[BaseMessage]:
        await history.aadd_messages([AIMessage("sure")])
        messages = await history.aget_messages()
        await history.aclear()
        return messages

    assert len(asyncio.run(use())) == 4
    store = {names.HISTORY_STORE: "InMemoryChatMessageHistory"}
    assert _count(stores, **store, **{names.HISTORY_OPERATION: "append"}) == 3  # add_user_message is one
    assert _count(stores, **store, **{names.HISTORY_OPERATION: "read"}) == 1
    assert _count(stores, **store, **{names.HISTORY_OPERATION: "delete"}) == 1
    records = stores.histogram_point("agentperf.history.size.records")
    assert (records.count, records.sum) == (1, 4)
    async_points = [p for p in stores.histogram_points(HISTORY_METRIC) if names.BLOCKING_EVENT_LOOP not in p.attributes]
    assert sum(p.count for p in async_points) == 3  # aadd_messages, aget_messages, aclear: not blocking


def _file_history_class() -> type[BaseChatMessageHistory]:
    class FileHistory(BaseChatMessageHistory):
        """A file-backed history, as apps and integrations define them (here: after instrumenting)."""

        def __init__(self, path: Path) -> None:
            self.path = path
            self.path.write_text("[]")

        @property
        def messages(self) -> list[BaseMessage]:  # type: ignore[override]
            with self.path.open() as handle:
                return messages_from_dict(json.load(handle))

        def add_message(self, message: BaseMessage) -> None:
            stored = messages_to_dict(self.messages) + messages_to_dict([message])
            with self.path.open("w") as handle:
                json.dump(stored, handle)

        def clear(self) -> None:
            self.path.write_text("[]")

    return FileHistory


_ExistingFileHistory = _file_history_class()


def test_a_history_subclass_defined_later_is_covered_and_its_json_io_folded_in(
    stores: Recorded, tmp_path: Path
) -> None:
    history = _file_history_class()(tmp_path / "chat_history.json")
    for i in range(3):
        history.add_message(HumanMessage(f"m{i}"))
    assert len(history.messages) == 3

    store = {names.HISTORY_STORE: "FileHistory"}
    assert _count(stores, **store, **{names.HISTORY_OPERATION: "append"}) == 3
    assert _count(stores, **store, **{names.HISTORY_OPERATION: "read"}) == 1
    assert _count(stores, **{names.HISTORY_STORE: "json-file"}) == 0  # inner json.load/dump folded in
    assert sorted(s.name for s in stores.spans()) == ["history_append FileHistory"] * 3 + ["history_read FileHistory"]
    records = stores.histogram_point("agentperf.history.size.records", **{names.HISTORY_OPERATION: "read"})
    assert records.sum == 3


def test_uninstrument_restores_subclasses_and_the_hierarchy_hook(recorded: Recorded) -> None:
    instrumentor = LangChainHistoryInstrumentor()
    original_add = vars(_ExistingFileHistory)["add_message"]
    had_hook = "__init_subclass__" in vars(BaseChatMessageHistory)
    instrumentor.instrument()
    assert vars(_ExistingFileHistory)["add_message"] is not original_add
    instrumentor.uninstrument()
    assert vars(_ExistingFileHistory)["add_message"] is original_add
    assert ("__init_subclass__" in vars(BaseChatMessageHistory)) == had_hook


def _saver_calls(saver: Any) -> None:
    config = {"configurable": {"thread_id": "t1", "checkpoint_ns": ""}}
    for step in range(3):
        checkpoint = empty_checkpoint()
        config = saver.put(config, checkpoint, {"source": "loop", "step": step}, {})
    assert saver.get_tuple(config) is not None
    assert len(list(saver.list({"configurable": {"thread_id": "t1"}}))) == 3
    saver.delete_thread("t1")


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_langgraph_checkpointers(stores: Recorded, tmp_path: Path, kind: str) -> None:
    if kind == "memory":
        saver, store = InMemorySaver(), "InMemorySaver"
        _saver_calls(saver)
    else:
        store = "SqliteSaver"
        with SqliteSaver.from_conn_string(str(tmp_path / "checkpoints.sqlite")) as saver:
            _saver_calls(saver)
    by_store = {names.HISTORY_STORE: store}
    assert _count(stores, **by_store, **{names.HISTORY_OPERATION: "write"}) == 3
    assert _count(stores, **by_store, **{names.HISTORY_OPERATION: "read"}) == 1
    assert _count(stores, **by_store, **{names.HISTORY_OPERATION: "search"}) == 1
    assert _count(stores, **by_store, **{names.HISTORY_OPERATION: "delete"}) == 1


class _State(TypedDict):
    count: int


def test_a_real_graph_run_records_checkpoint_traffic_under_the_agent(stores: Recorded) -> None:
    builder = StateGraph(_State)
    builder.add_node("step", lambda state: {"count": state["count"] + 1})
    builder.add_edge(START, "step")
    builder.add_edge("step", END)
    graph = builder.compile(checkpointer=InMemorySaver())

    @ap.agent(name="counter")
    def run(thread: str) -> int:
        return int(graph.invoke({"count": 1}, {"configurable": {"thread_id": thread}})["count"])

    assert run("a") == 2
    agent_span = stores.span("invoke_agent counter")
    history_spans = [s for s in stores.spans() if s.name.startswith("history_")]
    assert history_spans, "the graph run wrote no checkpoints"
    assert all(s.context.trace_id == agent_span.context.trace_id for s in history_spans)
    assert _count(stores, **{names.HISTORY_STORE: "InMemorySaver", names.HISTORY_OPERATION: "write"}) >= 1


class JsonlHistory:
    """A hand-written store: one JSON line per record, looked up by scanning the whole file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.touch()

    def append(self, record: dict[str, Any]) -> None:
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")

    def get_all(self) -> list[dict[str, Any]]:
        with self.path.open() as handle:
            return [json.loads(line) for line in handle]


def test_hand_written_stores_record_growth_through_the_decorator(recorded: Recorded, tmp_path: Path) -> None:
    store = JsonlHistory(tmp_path / "runs.jsonl")
    append = ap.history(store="jsonl")(store.append)
    get_all = ap.history(store="jsonl")(store.get_all)
    connection = sqlite3.connect(tmp_path / "runs.sqlite")
    connection.execute("create table runs (id integer primary key, body text)")

    @ap.history(store="sqlite", operation="search")
    def find_runs(word: str) -> list[tuple[int, str]]:
        return connection.execute("select id, body from runs where body like ?", (f"%{word}%",)).fetchall()

    for i in range(5):
        append({"id": i})
        get_all()
        connection.execute("insert into runs (body) values (?)", (f"run {i}",))
    assert len(find_runs("run")) == 5
    assert _count(recorded, **{names.HISTORY_STORE: "jsonl", names.HISTORY_OPERATION: "append"}) == 5
    reads = recorded.histogram_point(
        "agentperf.history.size.records", **{names.HISTORY_STORE: "jsonl", names.HISTORY_OPERATION: "read"}
    )
    assert (reads.count, reads.sum) == (5, 1 + 2 + 3 + 4 + 5)
    appends = recorded.histogram_point(
        "agentperf.history.size.records", **{names.HISTORY_STORE: "jsonl", names.HISTORY_OPERATION: "append"}
    )
    assert (appends.count, appends.sum) == (5, 0 + 1 + 2 + 3 + 4)  # the store each append found
    searched = recorded.histogram_point("agentperf.history.size.records", **{names.HISTORY_STORE: "sqlite"})
    assert searched.sum == 5


def test_quick_sync_history_io_inside_a_coroutine_is_not_called_blocking(recorded: Recorded, tmp_path: Path) -> None:
    """Blocking is measured against the threshold: an append of one line does not hold the loop."""
    store = JsonlHistory(tmp_path / "runs.jsonl")
    append = ap.history(store="jsonl")(store.append)

    async def handler() -> None:
        append({"id": 1})

    append({"id": 0})
    asyncio.run(handler())
    assert _count(recorded, **{names.BLOCKING_EVENT_LOOP: "true"}) == 0
    assert _count(recorded, **{names.BLOCKING_EVENT_LOOP: "false"}) == 2


class ScanningStore:
    """The classic linear-scan store: appends JSON lines, looks one up by id by reading the whole file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cache: dict[str, dict[str, Any]] = {}  # a small in-memory cache: smaller than the file

    def append(self, record: dict[str, Any]) -> None:
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")

    def get_by_id(self, record_id: int) -> dict[str, Any] | None:
        with self.path.open() as handle:
            for line in handle:
                record = json.loads(line)
                if record["id"] == record_id:
                    self.cache[str(record_id)] = record
                    return dict(record)
        return None

    def recent(self, count: int) -> list[dict[str, Any]]:
        with self.path.open() as handle:
            return [json.loads(line) for line in handle][-count:]


class ListStore:
    def __init__(self) -> None:
        self.turns: list[str] = []
        self.name = "turns"  # not a file: not looked at as one

    def add_turn(self, turn: str) -> None:
        self.turns.append(turn)

    def last(self) -> str:
        return self.turns[-1]


def test_a_lookup_by_id_records_the_size_of_the_store_it_scans(recorded: Recorded, tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    path.touch()
    store = ScanningStore(path)
    append, get_by_id, recent = (
        ap.history(store="runs")(method) for method in (store.append, store.get_by_id, store.recent)
    )
    sizes: list[tuple[int, int]] = []
    for i in range(40):
        append({"id": i, "text": "x" * (i % 7)})
        sizes.append((i + 1, path.stat().st_size))  # what the store holds when it is read next
        assert get_by_id(i // 2) == {"id": i // 2, "text": "x" * ((i // 2) % 7)}
        assert len(recent(3)) == min(3, i + 1)
    observed = [
        (s.attributes[names.HISTORY_RECORDS], s.attributes[names.FILE_SIZE])
        for s in recorded.spans()
        if s.name == "history_read runs"
    ]
    # Each lookup and each recent() saw the whole store: its lines and bytes, not the one record returned.
    assert observed == [size for size in sizes for _ in range(2)]
    records = recorded.histogram_point(
        "agentperf.history.size.records", **{names.HISTORY_STORE: "runs", names.HISTORY_OPERATION: "read"}
    )
    assert (records.count, records.sum) == (80, 2 * sum(n for n, _ in sizes))
    written = recorded.histogram_point(
        "agentperf.history.size.bytes", **{names.HISTORY_STORE: "runs", names.HISTORY_OPERATION: "append"}
    )
    assert written.sum == sum(size for _, size in [(0, 0), *sizes[:-1]])  # appends see the store before they write


def test_a_rewritten_file_is_counted_again_and_an_in_memory_store_by_its_length(
    recorded: Recorded, tmp_path: Path
) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('"a"\n"b"\n"c"\n')
    store = ScanningStore(path)
    recent = ap.history(store="log")(store.recent)
    recent(1)
    path.write_text('"only"\n')  # truncated and rewritten in place
    recent(1)
    with path.open("a") as handle:
        handle.write('"tail without newline"')
    recent(1)
    seen = [s.attributes[names.HISTORY_RECORDS] for s in recorded.spans() if s.name == "history_read log"]
    assert seen == [3, 1, 2]

    turns = ListStore()
    add, last = ap.history(store="turns")(turns.add_turn), ap.history(store="turns")(turns.last)
    for i in range(5):
        add(f"turn {i}")
        assert last() == f"turn {i}"
    reads = [s.attributes for s in recorded.spans() if s.name == "history_read turns"]
    assert [a[names.HISTORY_RECORDS] for a in reads] == [1, 2, 3, 4, 5]
    assert all(names.FILE_SIZE not in a for a in reads)
