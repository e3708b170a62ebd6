"""Work that could have overlapped, repeated calls, growing prompts and calls queued for a connection, found
in-process as requests run.

Each case runs real decorated operations (and the real OpenAI SDK against the local model server) under
in-memory providers, and holds the counters to the figures the spans of the same operations give: the
recoverable seconds of calls awaited one after another are their durations' sum less the longest, a
repeat's waste is its own duration and usage, a later turn's excess is its input tokens beyond the first
turn's. The report's sentences are checked on rows with those counters.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest

import otel_agentperf as ap
from otel_agentperf.conventions import names
from otel_agentperf.instrumentation.llm.openai_sdk import OpenAIInstrumentor
from otel_agentperf.recording import fingerprints
from otel_agentperf.views import insights
from otel_agentperf.views.rows import Row
from tests import invariants
from tests.conftest import Recorded, instrumented_by


def _total(recorded: Recorded, metric: str, **attributes: Any) -> float:
    found = recorded.metrics().get(metric)
    if found is None:
        return 0.0
    points = found.data.data_points
    return float(sum(p.value for p in points if all(p.attributes.get(k) == v for k, v in attributes.items())))


def _durations(recorded: Recorded, span_name: str) -> list[float]:
    return [(s.end_time - s.start_time) / 1e9 for s in recorded.spans() if s.name == span_name]


@ap.tool
async def fetch(source: str) -> str:
    await asyncio.sleep(0.02)
    return source


@ap.tool
async def lookup(key: object) -> str:
    await asyncio.sleep(0.005)
    return str(key)


def test_calls_awaited_one_after_another_count_their_sum_less_the_longest(recorded: Recorded) -> None:
    @ap.agent(name="Gatherer")
    async def gather_sources() -> None:
        for source in ("news", "weather", "stocks"):  # independent, awaited one by one
            await fetch(source)
        await asyncio.sleep(0.01)  # the agent's own wait: the next ones are a new run
        await asyncio.gather(fetch("a"), fetch("b"))  # together: nothing to recover

    asyncio.run(gather_sources())
    sequential = _durations(recorded, "execute_tool fetch")[:3]
    attributes = {names.OPERATION_KIND: names.KIND_AGENT, names.GEN_AI_AGENT_NAME: "Gatherer"}
    assert _total(recorded, names.SEQUENTIAL_CALLS, **attributes) == 3
    assert _total(recorded, names.SEQUENTIAL_DURATION, **attributes) == pytest.approx(sum(sequential), abs=1e-6)
    recoverable = _total(recorded, names.SEQUENTIAL_RECOVERABLE, **attributes)
    assert recoverable == pytest.approx(sum(sequential) - max(sequential), abs=1e-6)


def test_a_model_turn_and_the_tools_it_asks_for_are_not_one_run(recorded: Recorded) -> None:
    @ap.llm(model="planner", provider="openai")
    async def plan() -> str:
        await asyncio.sleep(0.01)
        return "fetch"

    @ap.agent(name="ReAct")
    async def react() -> None:
        for _ in range(2):  # model, tool, model, tool: each depends on the one before
            await plan()
            await fetch("x")

    asyncio.run(react())
    assert _total(recorded, names.SEQUENTIAL_CALLS) == 0


def test_a_call_that_held_the_loop_is_not_work_that_could_have_overlapped(recorded: Recorded) -> None:
    @ap.tool
    def embed(text: str) -> str:
        time.sleep(0.03)  # synchronous work on the loop: beside the others it would hold them up as long
        return text

    @ap.agent(name="Indexer")
    async def index() -> None:
        await fetch("news")
        embed("news")
        await fetch("weather")

    asyncio.run(index())
    assert _total(recorded, names.SEQUENTIAL_CALLS) == 0


def test_a_repeated_tool_call_counts_its_time_and_never_keeps_the_arguments(recorded: Recorded) -> None:
    marker = object()

    @ap.agent(name="Looper")
    async def loop() -> None:
        await lookup("alpha")
        await lookup("alpha")  # the same call again: waste
        await lookup("beta")
        await lookup(marker)  # not plain data: never judged
        await lookup(marker)

    asyncio.run(loop())
    attributes = {names.OPERATION_KIND: names.KIND_TOOL, names.GEN_AI_TOOL_NAME: "lookup"}
    assert _total(recorded, names.REPEATED_CALLS, **attributes) == 1
    repeats = [s for s in recorded.spans() if s.attributes.get(names.REPEATED)]
    assert len(repeats) == 1
    duration = (repeats[0].end_time - repeats[0].start_time) / 1e9
    assert _total(recorded, names.REPEATED_DURATION, **attributes) == pytest.approx(duration, abs=1e-6)
    assert all("alpha" not in str(value) for span in recorded.spans() for value in span.attributes.values())


def test_each_request_has_its_own_memory_of_calls(recorded: Recorded) -> None:
    @ap.agent(name="Once")
    async def once() -> None:
        await lookup("alpha")

    async def main() -> None:
        await once()
        await once()

    asyncio.run(main())
    assert _total(recorded, names.REPEATED_CALLS) == 0


def test_the_digest_reads_plain_data_only_and_within_its_budget() -> None:
    same = fingerprints.of_call("t", None, ("a",), {"x": 1, "y": [1, 2]})
    assert same == fingerprints.of_call("t", None, ("a",), {"y": [1, 2], "x": 1})
    assert same != fingerprints.of_call("t", None, ("a",), {"x": "1", "y": [1, 2]})
    assert same != fingerprints.of_call("t", object(), ("a",), {"x": 1, "y": [1, 2]})
    assert fingerprints.of_call("t", None, (object(),), {}) is None
    assert fingerprints.of_call("t", None, ("x" * (fingerprints.BUDGET + 1),), {}) is None
    # Flat arguments, by their repr: what Python's own hash would mix up (-1 and -2; 1, 1.0 and True; a float
    # and that float times 2**61) stays apart, keyword order does not count, and positional is not keyword.
    flat = [("a", -1), ("a", -2), ("a", 1), ("a", 1.0), ("a", True), ("a", 0.5), ("a", 0.5 * 2.0**61), ("a", None)]
    digests = {fingerprints.of_call("t", None, args, {}) for args in flat}
    assert len(digests) == len(flat) and None not in digests
    keyed = fingerprints.of_call("t", None, ("a",), {"x": 1, "y": "b"})
    assert keyed == fingerprints.of_call("t", None, ("a",), {"y": "b", "x": 1})
    assert keyed != fingerprints.of_call("t", None, ("a", 1, "b"), {})
    assert fingerprints.of_call("t", None, ("a",), {}) != fingerprints.of_call("u", None, ("a",), {})


@pytest.fixture
def sdk(recorded: Recorded) -> Iterator[Recorded]:
    with instrumented_by(OpenAIInstrumentor()):
        yield recorded


def test_a_repeated_model_request_counts_its_tokens(sdk: Recorded, server: Any) -> None:
    @ap.agent(name="Asker")
    async def ask() -> None:
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="local")
        messages: Any = [{"role": "user", "content": "what is the capital of France"}]
        await client.chat.completions.create(model="m-repeat", messages=messages)
        await client.chat.completions.create(model="m-repeat", messages=messages)
        await client.chat.completions.create(model="m-repeat", messages=messages, temperature=0.5)

    asyncio.run(ask())
    spans = [s for s in sdk.spans() if s.name == "chat m-repeat"]
    repeated = [s for s in spans if s.attributes.get(names.REPEATED)]
    assert len(repeated) == 1
    tokens = (
        repeated[0].attributes[names.GEN_AI_USAGE_INPUT_TOKENS]
        + repeated[0].attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS]
    )
    assert _total(sdk, names.REPEATED_TOKENS, **{names.GEN_AI_REQUEST_MODEL: "m-repeat"}) == tokens


def test_a_growing_conversation_counts_each_later_turns_excess(sdk: Recorded, server: Any) -> None:
    @ap.agent(name="Chatter")
    async def chat() -> None:
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="local")
        messages: Any = [{"role": "user", "content": "hello there"}]
        for turn in range(5):
            answer = await client.chat.completions.create(model="m-grow", messages=messages)
            messages += [
                {"role": "assistant", "content": answer.choices[0].message.content},
                {"role": "user", "content": f"and turn {turn} " + "more words " * 20},
            ]
        await client.chat.completions.create(model="m-other", messages=messages[:1])  # another model: apart

    asyncio.run(chat())
    inputs = [s.attributes[names.GEN_AI_USAGE_INPUT_TOKENS] for s in sdk.spans() if s.name == "chat m-grow"]
    grow = {names.GEN_AI_REQUEST_MODEL: "m-grow"}
    assert _total(sdk, names.PROMPT_LATER_TURNS, **grow) == 4
    assert _total(sdk, names.PROMPT_TURN_DISTANCE, **grow) == 1 + 2 + 3 + 4
    assert _total(sdk, names.PROMPT_FIRST_TURN_TOKENS, **grow) == 4 * inputs[0]
    assert _total(sdk, names.PROMPT_EXCESS_TOKENS, **grow) == sum(value - inputs[0] for value in inputs[1:])
    assert _total(sdk, names.PROMPT_LATER_TURNS, **{names.GEN_AI_REQUEST_MODEL: "m-other"}) == 0
    # Each later turn carries the answers before it: the turns could not have been awaited together. The
    # call to the other model, with the first message only, could have run beside the last turn: a run of two.
    chatter = {names.OPERATION_KIND: names.KIND_AGENT, names.GEN_AI_AGENT_NAME: "Chatter"}
    assert _total(sdk, names.SEQUENTIAL_CALLS, **chatter) == 2


def test_the_findings_give_their_cost_first_and_keep_cost_order() -> None:
    planner = Row("agent", "Planner", calls=16, sequential_calls=48, sequential_seconds=1.23, recoverable_seconds=0.82)
    search = Row("tool", "search", calls=40, total_seconds=0.8, repeated_calls=8, repeated_seconds=0.16)
    writer = Row(
        "llm",
        "openai/writer",
        calls=20,
        total_seconds=0.3,
        later_turns=19,
        turn_distance=190,
        first_turn_tokens=19 * 100,
        excess_tokens=190 * 450,
        excess_seconds=0.5,
    )
    report = insights.bottlenecks([planner, search, writer])
    said = [line for line in report if " takes " not in line]  # the writer's own time, between them
    assert said[0].startswith("agent `Planner` ran 48 model or tool calls one after another")
    assert "820.0 ms recoverable" in said[0] and "410.0 ms instead of 1230.0 ms" in said[0]
    assert said[1].startswith("llm `openai/writer` prompts grow every turn: later turns took 500.0 ms more")
    assert "turn 20 costs 86.5x turn 1, +450 input tokens per turn" in said[1]
    assert said[2].startswith("tool `search` was called 8 times with the same arguments")
    invariants.check_text("Bottlenecks:\n" + "\n".join(f"- {line}" for line in report))


def test_a_second_turn_carrying_the_first_answer_is_not_growth() -> None:
    row = Row("llm", "openai/m", calls=2, later_turns=1, turn_distance=1, first_turn_tokens=100)
    row.excess_tokens, row.excess_seconds = 300, 0.1
    assert insights.growing_sentence(row) is None


def test_calls_queued_for_a_free_connection_count_the_wait_apart_from_the_server(sdk: Recorded, server: Any) -> None:
    app_events: list[str] = []  # the app's own trace extension on one request still hears every event

    async def app_trace(event: str, _info: Any) -> None:
        app_events.append(event)

    async def ask_four() -> list[float]:
        http = openai.DefaultAsyncHttpxClient(limits=httpx2.Limits(max_connections=1))
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="local", http_client=http)
        messages: Any = [{"role": "user", "content": "hi"}]
        await client.chat.completions.create(model="slow-5-m-warm", messages=messages)  # one connection, open

        async def timed() -> float:
            start = time.perf_counter()
            await client.chat.completions.create(model="slow-150-m-pool", messages=messages)
            return time.perf_counter() - start

        spent = await asyncio.gather(*(timed() for _ in range(4)))
        await http.aclose()
        return spent

    with pytest.MonkeyPatch.context() as patch:
        original = httpx2.AsyncClient.build_request

        def build_request(self: Any, *args: Any, **kwargs: Any) -> Any:
            request = original(self, *args, **kwargs)
            request.extensions["trace"] = app_trace
            return request

        patch.setattr(httpx2.AsyncClient, "build_request", build_request)
        spent = asyncio.run(ask_four())
    pool = {names.GEN_AI_REQUEST_MODEL: "slow-150-m-pool"}
    # One connection for four calls of 150 ms: each waits for the ones before it (0, 1, 2 and 3 answers).
    waited = _total(sdk, names.CONNECTION_WAIT_DURATION, **pool)
    stopwatch = sum(spent) - len(spent) * min(spent)  # each call beyond an unqueued one's time
    assert _total(sdk, names.CONNECTION_WAIT_CALLS, **pool) == 3
    assert waited == pytest.approx(stopwatch, rel=0.25)
    assert _total(sdk, names.CONNECTION_WAIT_POOL_LIMIT, **pool) == 3  # a pool of 1, once per waiting call
    assert _total(sdk, names.CONNECTION_WAIT_CALLS, **{names.GEN_AI_REQUEST_MODEL: "slow-5-m-warm"}) == 0
    spans = [s for s in sdk.spans() if s.name == "chat slow-150-m-pool"]
    on_spans = sum(float(s.attributes.get(names.CONNECTION_WAIT_DURATION, 0.0)) for s in spans)
    assert on_spans == pytest.approx(waited)
    assert "http11.send_request_headers.started" in app_events and "http11.response_closed.complete" in app_events
    row = Row("llm", "openai/slow-150-m-pool", calls=4, total_seconds=sum(spent))
    row.connection_wait_calls, row.connection_wait_seconds, row.connection_wait_limits = 3, waited, 3
    assert insights.connection_sentence(row) == (
        f"llm `openai/slow-150-m-pool`: 3 calls waited {waited * 1000:.1f} ms for a free HTTP connection "
        "(pool limit 1), before the server had them"
    )


def test_a_row_whose_later_turns_fall_short_of_growth_is_still_named_for_its_own_time() -> None:
    # Two turns per conversation (a plan call, then an answer call with a longer prompt): too few to be a
    # growing prompt, so no sentence explains its time, and it is named as the largest own time it is.
    answerer = Row(
        "llm",
        "openai/answerer",
        calls=24,
        total_seconds=2.8,
        self_seconds=2.8,
        later_turns=12,
        turn_distance=12,
        first_turn_tokens=12 * 7,
        excess_tokens=12 * 4,
        excess_seconds=2.4,
    )
    tool = Row("tool", "search_docs", calls=12, total_seconds=0.27, self_seconds=0.27)
    report = insights.bottlenecks([answerer, tool])
    assert report[0].startswith("llm `openai/answerer` takes 91% of the operations' own time (2800.0 ms")
    assert not any("prompts grow" in line for line in report)


def test_calls_one_after_another_that_would_save_little_run_together_are_no_finding() -> None:
    # One long call beside short ones: together they would take nearly as long.
    agent = Row(
        "agent", "Researcher", calls=12, sequential_calls=24, sequential_seconds=0.967, recoverable_seconds=0.002
    )
    assert not any("one after another" in line for line in insights.bottlenecks([agent]))


def test_a_saturated_loop_is_named_only_when_tasks_queued_for_it() -> None:
    """The demo's loop was busy 92% with its own imports and set-up, one window saturated, and no task
    waiting for it: "queued 0.0 ms" is no slowdown, and no sentence. Tasks queued for half its saturated
    time or more: the sentence, costed by what they queued."""

    def loop(queued: float) -> Row:
        return Row(
            "loop",
            "MainThread",
            loop_seconds=3.3,
            busy_seconds=3.0,
            saturated_seconds=0.2,
            saturated_queued_seconds=queued,
        )

    assert insights.saturation([loop(0.0)]) == []
    assert insights.saturation([loop(0.09)]) == []
    (found,) = insights.saturation([loop(0.1)])
    assert found.cost == 0.1
    assert found.sentence.startswith("loop `MainThread` was saturated: awaiting operations queued 100.0 ms")


def test_own_time_within_the_error_of_a_sampled_queue_is_not_named() -> None:
    """A search that only awaits ``sleep(0)`` behind fifty tasks: 17 s of self time, 15.4 s of it found queued
    by the sampler. The 1.6 s left is the estimate's residue (a tenth of the queue), not a cost of its own,
    and no sentence names it; a tool whose own time stands well above that error is named."""
    search = Row("tool", "search", calls=800, total_seconds=17.0, self_seconds=17.0, queued_seconds=15.4)
    assert insights.bottlenecks([search]) == []
    crunch = Row("tool", "crunch", calls=800, total_seconds=9.0, self_seconds=9.0, queued_seconds=5.0)
    said = insights.bottlenecks([search, crunch])
    assert said == [
        "tool `crunch` takes 71% of the operations' own time (4000.0 ms of 5600.0 ms, over 800 calls, p95 - ms)"
    ]


def test_held_time_under_the_threshold_in_all_is_no_finding_and_no_wait_is_claimed_unmeasured() -> None:
    """A model call got 3.6 ms of a block that began in the code around it: no block of its own, no
    sentence. A tool that held the loop 60 ms with nothing timed waiting for it is named, without a claim
    that other tasks waited."""
    model = Row("llm", "openai/m", calls=4, total_seconds=0.2, self_seconds=0.2, blocked_seconds=0.0036)
    tool = Row("tool", "crunch", calls=3, total_seconds=0.06, self_seconds=0.06, blocked_seconds=0.06)
    said = [line for line in insights.bottlenecks([model, tool]) if "held the asyncio event loop" in line]
    assert said == [
        "tool `crunch` held the asyncio event loop for 60.0 ms (synchronous work or I/O in async code): "
        "no operation awaiting on the loop was timed waiting for it"
    ]
