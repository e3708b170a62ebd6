"""Can ``otel-agentperf run`` keep up with an app doing 10,000 operations a second? Two measurements.

1. **The receiver alone**: a client under ``run`` posts ready-made OTLP trace requests (100 requests of five
   otel-agentperf spans each, 500 spans a post, as the SDK's batch processor sends them) to run's receiver as
   fast as it answers, from two threads, for ``--spans`` spans. Spans per second accepted is the receiver's
   ceiling on this machine: everything an app pays (the SDK, its exporter) is left out.
2. **The app, paired**: the agent of ``run_memory.py`` (five operations a request) as fast as it can, in
   alternating rounds, once under ``run`` and once under the launcher with its exporters off
   (``OTEL_TRACES_EXPORTER=none``, ``OTEL_METRICS_EXPORTER=none``: the same recording, nothing sent). The
   second is the app's own floor: the ops/s its instrumentation allows without any receiver. If the first
   is as fast and ``run`` received every span, the receiver is not what limits the app. ``run``'s peak RSS
   is read as in ``run_memory.py``.

    python benchmarks/run_throughput.py --spans 200000 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from run_memory import APP, SPANS_PER_REQUEST, _peak_kb  # the same agent app and RSS reading

CLIENT = """
import sys, threading, time, urllib.request
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

def kv(key, value):
    return KeyValue(key=key, value=AnyValue(string_value=value))

def payload(first):
    spans = []
    for number in range(first, first + 100):
        trace_id = number.to_bytes(16, "big")
        start = 10**18 + number * 10**6
        for child in range(4):
            spans.append(Span(trace_id=trace_id, span_id=(number * 10 + child + 2).to_bytes(8, "big"),
                parent_span_id=(number * 10 + 1).to_bytes(8, "big"), name="execute_tool step",
                start_time_unix_nano=start, end_time_unix_nano=start + 1000,
                attributes=[kv("agentperf.operation.kind", "tool"), kv("gen_ai.tool.name", "step")]))
        spans.append(Span(trace_id=trace_id, span_id=(number * 10 + 1).to_bytes(8, "big"), name="invoke_agent worker",
            start_time_unix_nano=start, end_time_unix_nano=start + 5000,
            attributes=[kv("agentperf.operation.kind", "agent"), kv("gen_ai.agent.name", "worker")]))
    resource = {"attributes": [kv("service.name", "replay")]}
    scoped = [ScopeSpans(scope={"name": "otel_agentperf"}, spans=spans)]
    request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(resource=resource, scope_spans=scoped)])
    return request.SerializeToString()

url = __import__("os").environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
posts = int(sys.argv[1]) // 500
bodies = [payload(i * 100) for i in range(posts)]
def send(mine):
    for body in mine:
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/x-protobuf"})
        with urllib.request.urlopen(request) as answer:
            assert answer.status == 200
began = time.perf_counter()
threads = [threading.Thread(target=send, args=(bodies[k::2],)) for k in range(2)]
for thread in threads: thread.start()
for thread in threads: thread.join()
took = time.perf_counter() - began
print(f"replayed {posts * 500} spans in {took:.2f} s", flush=True)
"""


def _watch(command: list[str], env: dict[str, str], folder: Path) -> tuple[str, float]:
    """Run a command, reading its peak RSS (MB) as it runs; its output."""
    process = subprocess.Popen(
        command, env=env, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    peak = 0
    while process.poll() is None:
        peak = max(peak, _peak_kb(process.pid) or 0)
        time.sleep(0.1)
    return process.stdout.read() if process.stdout is not None else "", peak / 1024


def _env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env["OTEL_BSP_MAX_QUEUE_SIZE"] = "65536"
    env.update(extra)
    return env


def receiver_alone(spans: int, folder: Path) -> None:
    cli = str(Path(sys.executable).parent / "otel-agentperf")
    (folder / "client.py").write_text(CLIENT)
    command = [cli, "run", "--slowest", "3", "--", sys.executable, str(folder / "client.py"), str(spans)]
    output, peak = _watch(command, _env(), folder)
    found = re.search(r"replayed (\d+) spans in ([\d.]+) s", output)
    received = re.search(r"received (\d+) spans?", output)
    if found is None or received is None:
        raise SystemExit(f"the replay failed:\n{output}")
    rate = int(found.group(1)) / float(found.group(2))
    print(f"receiver alone: {rate:,.0f} spans/s accepted ({received.group(1)} received), run peak RSS {peak:.0f} MB")


def app_paired(spans: int, rounds: int, folder: Path) -> None:
    cli = str(Path(sys.executable).parent / "otel-agentperf")
    launcher = str(Path(sys.executable).parent / "opentelemetry-instrument")
    (folder / "app.py").write_text(APP)
    requests = spans // SPANS_PER_REQUEST
    app = [sys.executable, str(folder / "app.py"), str(requests)]
    under_run, alone, peaks, complete = [], [], [], []
    for _ in range(rounds):
        output, peak = _watch([cli, "run", "--slowest", "3", "--", *app], _env(), folder)
        took = float(re.search(r"tool calls in ([\d.]+) s", output).group(1))  # type: ignore[union-attr]
        received = int(re.search(r"received (\d+) spans?", output).group(1))  # type: ignore[union-attr]
        under_run.append(requests * SPANS_PER_REQUEST / took)
        peaks.append(peak)
        complete.append(received == requests * SPANS_PER_REQUEST)
        output, _ = _watch(
            [launcher, *app],
            _env(OTEL_TRACES_EXPORTER="none", OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none"),
            folder,
        )
        took = float(re.search(r"tool calls in ([\d.]+) s", output).group(1))  # type: ignore[union-attr]
        alone.append(requests * SPANS_PER_REQUEST / took)
    ratios = [a / b for a, b in zip(under_run, alone, strict=True)]
    print(
        f"app, {spans} operations a round, {rounds} rounds: under run {statistics.median(under_run):,.0f} ops/s "
        f"(rounds {', '.join(f'{v:,.0f}' for v in under_run)}), exporters off {statistics.median(alone):,.0f} ops/s "
        f"(rounds {', '.join(f'{v:,.0f}' for v in alone)}); paired ratio median {statistics.median(ratios):.2f}; "
        f"every span received: {all(complete)}; run peak RSS {max(peaks):.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        receiver_alone(args.spans, Path(name))
        app_paired(args.spans, args.rounds, Path(name))


if __name__ == "__main__":
    main()
