"""What each always-on mechanism of the recording adds to an operation, per operation, mechanism by mechanism.

    python benchmarks/always_on.py [--requests 200] [--rounds 9]      # paired wall clock
    python benchmarks/always_on.py --instructions 100 [--jobs 2]      # callgrind instruction counts

The operation measured is a request as apps make them: an agent calling a tool four times with plain
arguments (``search("flights to oslo", i)``), five operations, through the benchmarks' SDK pipeline. Each
mechanism is measured by taking it out of the same request (its one entry made a no-op) and comparing:

- ``critical path``: the decomposition of the request (``Invocation._end_path``, issue #27);
- ``argument digest``: the digest of each tool call's arguments that finds repeated calls and the check
  against the request's earlier calls (``fingerprints.of_call``, issue #29 item 3);
- ``overlap``: the run of calls awaited one after another, extended as each call finishes
  (``Invocation._child_done``, issue #29 item 2);
- ``request point``: of the critical path, the request's ``agentperf.request.duration`` point alone (one
  SDK histogram record per request), so the decomposition's own part is the critical path's less it.

The growth of prompts and the connection-pool check run on model calls only; ``--llm`` measures them on
a real OpenAI SDK call on ``httpx.MockTransport`` (a client with httpx's pooled transport, its pool
with room, as most calls find it), with and without each, against what our instrumentation adds to that
call.

Wall clock: each round runs every variant once, in rotation, in one process; the share is per round
(paired: the two ran back to back), median and quartiles over rounds (the machine is noisy). Instructions:
each variant runs in its own process under callgrind at N and 2N requests; the difference over N is one
request, set-up cancelled out (``--variant NAME --requests N`` is that process).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from time import perf_counter
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

OPERATIONS = 5  # per request: the agent and its four tool calls
MECHANISMS = ("critical path", "argument digest", "overlap", "request point")
LLM_MECHANISMS = ("prompt growth", "pool check")
VALGRIND = ("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null")


@contextmanager
def without(mechanism: str | None) -> Iterator[None]:
    """The recording with ``mechanism`` taken out (its one entry a no-op) while the block runs."""
    from otel_agentperf.recording import fingerprints
    from otel_agentperf.recording.invocations import Invocation, LLMInvocation
    from otel_agentperf.recording.recorder import Recorder

    def noop(*_: object) -> None:
        return None

    def paths_only(recorder: Any, kind: str, name: str, _seconds: float, parts: Any, _context: Any = None) -> None:
        recorder._critical_path.add(kind, name, parts)  # Recorder.request without its histogram point

    owner: Any
    owner, attribute, replacement = {
        None: (None, "", noop),
        "critical path": (Invocation, "_end_path", noop),
        "argument digest": (fingerprints, "of_call", noop),
        "overlap": (Invocation, "_child_done", noop),
        "request point": (Recorder, "request", paths_only),
        "prompt growth": (LLMInvocation, "_turn", noop),
        "pool check": (_attempts(), "_traced_safely", noop),
    }[mechanism]
    if owner is None:
        yield
        return
    kept = owner.__dict__[attribute]
    setattr(owner, attribute, replacement)
    try:
        yield
    finally:
        setattr(owner, attribute, kept)


def _attempts() -> Any:
    from otel_agentperf.instrumentation.llm import attempts

    return attempts


def request_function() -> Callable[[int], int]:
    """An agent calling a tool four times, each with plain arguments."""
    import otel_agentperf as ap

    @ap.tool
    def search(query: str, limit: int) -> int:
        return limit

    @ap.agent(name="Bench")
    def agent(i: int) -> int:
        for step in range(4):
            search("flights to oslo", i + step)
        return i

    return agent


def llm_function() -> tuple[Callable[[int], object], Callable[[], None]]:
    """One OpenAI chat call inside an agent (a second turn of its conversation, so growth is followed),
    and the switch that instruments the SDK."""
    import httpx
    import openai

    import otel_agentperf as ap
    from otel_agentperf.instrumentation.llm.openai_sdk import OpenAIInstrumentor

    completion = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "m1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14},
    }

    class Pooled(httpx.HTTPTransport):
        """httpx's own pooled transport (what the pool check reads), answering in the process."""

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, json=completion)

    http_client = httpx.Client(transport=Pooled())
    client = openai.OpenAI(api_key="k", base_url="http://bench.invalid/v1", http_client=http_client)
    messages: Any = [{"role": "user", "content": "hi"}]

    @ap.agent(name="Asker")
    def ask(i: int) -> object:
        client.chat.completions.create(model="m1", messages=messages)
        return client.chat.completions.create(model="m1", messages=messages)

    return ask, OpenAIInstrumentor().instrument


def _run_variant(variant: str, requests: int) -> None:
    from pipeline import providers

    providers()
    mechanism = None if variant == "all" else variant
    if mechanism in LLM_MECHANISMS or variant in ("llm", "sdk"):
        function, instrument = llm_function()
        if variant != "sdk":
            instrument()
        mechanism = None if variant in ("llm", "sdk") else mechanism
    else:
        function = request_function()
    with without(mechanism):
        for i in range(requests):
            function(i)


def instructions(requests: int, variants: tuple[str, ...], jobs: int) -> dict[str, float]:
    """Instructions per request of each variant, by callgrind (the difference of N and 2N requests)."""

    def count(variant: str, n: int) -> int:
        done = subprocess.run(
            [*VALGRIND, sys.executable, __file__, "--variant", variant, "--requests", str(n)],
            capture_output=True,
            text=True,
            check=True,
        )
        line = next(line for line in done.stderr.splitlines() if "Collected :" in line)
        return int(line.rsplit(":", 1)[1])

    runs = [(variant, n) for variant in variants for n in (requests, 2 * requests)]
    with ThreadPoolExecutor(jobs) as pool:  # one valgrind process each: callgrind runs a process on one core
        counts = dict(zip(runs, pool.map(lambda run: count(*run), runs), strict=True))
    return {variant: (counts[variant, 2 * requests] - counts[variant, requests]) / requests for variant in variants}


def wall_clock(requests: int, rounds: int, mechanisms: tuple[str, ...], llm: bool) -> dict[str, list[float]]:
    """Seconds per request of every variant in each round, variants in rotation."""
    from pipeline import providers

    providers()
    if llm:
        function, instrument = llm_function()
        instrument()
    else:
        function = request_function()
    for i in range(min(requests, 500)):
        function(i)
    times: dict[str, list[float]] = {variant: [] for variant in ("all", *mechanisms)}
    for _ in range(rounds):
        for variant, taken in times.items():
            with without(None if variant == "all" else variant):
                started = perf_counter()
                for i in range(requests):
                    function(i)
                taken.append((perf_counter() - started) / requests)
    return times


def _share(added: list[float], base: list[float]) -> str:
    shares = [100 * extra / whole for extra, whole in zip(added, base, strict=True)]
    quartiles = statistics.quantiles(shares, n=4)
    return f"median {statistics.median(shares):+.1f}% (quartiles {quartiles[0]:+.1f}..{quartiles[2]:+.1f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--llm", action="store_true", help="the model-call mechanisms, on an OpenAI SDK call")
    parser.add_argument("--instructions", type=int, metavar="N", help="count instructions at N and 2N requests")
    parser.add_argument("--jobs", type=int, default=2, help="callgrind processes at once")
    parser.add_argument("--variant", help="only make --requests requests of this variant, untimed (callgrind)")
    args = parser.parse_args()
    if args.variant:
        _run_variant(args.variant, args.requests)
        return
    mechanisms = LLM_MECHANISMS if args.llm else MECHANISMS
    per = 2 if args.llm else OPERATIONS  # operations per request: two model calls (the agent aside)
    what = "model call" if args.llm else "operation"
    if args.instructions:
        base = "llm" if args.llm else "all"
        counts = instructions(args.instructions, (base, *mechanisms, *(("sdk",) if args.llm else ())), args.jobs)
        print(f"instructions per {what} (callgrind, {args.instructions} and {2 * args.instructions} requests)")
        print(f"  everything on      {counts[base] / per:10.0f}")
        ours = (counts[base] - counts["sdk"]) / per if args.llm else None
        if ours is not None:
            print(f"  of which ours      {ours:10.0f} (over the SDK's own call)")
        for mechanism in mechanisms:
            added = (counts[base] - counts[mechanism]) / per
            share = f"{100 * added / (counts[mechanism] / per):+.2f}% of the {what}"
            if ours is not None:
                share += f", {100 * added / (ours - added):+.2f}% of what ours adds"
            print(f"  {mechanism:<18} {added:+10.0f} ({share})")
        return
    times = wall_clock(args.requests, args.rounds, mechanisms, args.llm)
    print(f"wall clock per {what}, {args.rounds} rounds of {args.requests} requests, variants in rotation")
    print(f"  everything on      {statistics.median(times['all']) / per * 1e6:8.1f} us")
    for mechanism in mechanisms:
        added = [(on - off) / per for on, off in zip(times["all"], times[mechanism], strict=True)]
        base = [off / per for off in times[mechanism]]
        print(f"  {mechanism:<18} {statistics.median(added) * 1e6:+8.2f} us, {_share(added, base)}")


if __name__ == "__main__":
    main()
