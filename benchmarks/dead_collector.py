"""What a dead collector costs an app: per-call p50/p99 while it runs, and the time it takes to exit.

    python benchmarks/dead_collector.py [--calls 2000] [--runs 3]

The same small app (a decorated tool called in a loop, OTLP/HTTP traces and metrics) runs under the real
``opentelemetry-instrument`` against a healthy receiver, a refused port and a blackholed one (a socket
that accepts connections and never answers), with otel-agentperf on and with it switched off (the stock
SDK alone, recording one span per call itself), at the default exporter timeout and at 2 s. Exit time
is from the app's last call to the process's end.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = """
import sys, time
from opentelemetry import trace
import otel_agentperf as ap

tracer = trace.get_tracer("bench")

@ap.tool
def step(x):
    with tracer.start_as_current_span("inner"):
        return x + 1

timings = []
for i in range(int(sys.argv[1])):
    started = time.perf_counter_ns()
    step(i)
    timings.append(time.perf_counter_ns() - started)
timings.sort()
print(timings[len(timings) // 2], timings[len(timings) * 99 // 100], flush=True)
"""


@contextmanager
def endpoint(kind: str) -> Iterator[str]:
    if kind == "healthy":
        sys.path.insert(0, str(ROOT))
        from tests.otlp_receiver import http_receiver

        with http_receiver() as (url, _received):
            yield url
        return
    with socket.socket() as dead:
        dead.bind(("127.0.0.1", 0))
        port = dead.getsockname()[1]
        if kind == "blackholed":
            dead.listen(0)
            yield f"http://127.0.0.1:{port}"
            return
    yield f"http://127.0.0.1:{port}"  # refused: nothing listens there any more


def run(app: Path, url: str, calls: int, ours: bool, timeout: str | None) -> tuple[float, float, float]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env.update(
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_METRICS_EXPORTER="otlp",
        OTEL_LOGS_EXPORTER="none",
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_EXPORTER_OTLP_ENDPOINT=url,
    )
    if timeout:
        env["OTEL_EXPORTER_OTLP_TIMEOUT"] = timeout
    if not ours:
        env["OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"] = "otel_agentperf"
    launcher = str(Path(sys.executable).parent / "opentelemetry-instrument")
    process = subprocess.Popen(
        [launcher, sys.executable, str(app), str(calls)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    p50, p99 = (int(value) / 1000 for value in process.stdout.readline().split())
    done = time.monotonic()
    process.wait(timeout=300)
    return p50, p99, time.monotonic() - done


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = Path(folder) / "app.py"
        app.write_text(APP)
        print("endpoint     timeout  who     p50 us  p99 us  exit s (min of runs; median p50/p99)")
        for kind in ("healthy", "refused", "blackholed"):
            for timeout in (None, "2"):
                for ours in (True, False):
                    results = []
                    for _ in range(args.runs):
                        with endpoint(kind) as url:
                            results.append(run(app, url, args.calls, ours, timeout))
                    p50 = sorted(r[0] for r in results)[len(results) // 2]
                    p99 = sorted(r[1] for r in results)[len(results) // 2]
                    exit_s = min(r[2] for r in results)
                    who = "ours" if ours else "stock"
                    print(f"{kind:<12} {timeout or 'default':<8} {who:<7} {p50:6.1f}  {p99:6.1f}  {exit_s:6.1f}")


if __name__ == "__main__":
    main()
