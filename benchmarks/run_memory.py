"""Peak RSS of the ``otel-agentperf run`` process, and the spans per second it accepts, at 10^5 and 10^6 spans.

A real app runs under ``otel-agentperf run`` (the launcher, OTLP/HTTP to run's receiver on loopback): an
agent calling four tiny tools, as fast as it can, so each request is a trace of five spans exported in
the SDK's batches. While it runs, run's ``VmHWM`` (its peak resident set, from ``/proc``) is read every
tenth of a second; the last reading before run exits is its peak. The report's agent and tool counts are
compared with the app's own. Spans per second: the spans run received over the seconds the app took making
them (the app is not paced: if run could not keep up, the app's span queue would fill and drop spans,
which the comparison of counts would show).

    python benchmarks/run_memory.py                 # 10^5 and 10^6 spans
    python benchmarks/run_memory.py --spans 100000  # one size
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOOLS = 4
SPANS_PER_REQUEST = TOOLS + 1

APP = f"""
import sys, time
import otel_agentperf as perf

@perf.tool
def step(value: int) -> int:
    return value + 1

@perf.agent
def worker(value: int) -> int:
    for _ in range({TOOLS}):
        value = step(value)
    return value

requests = int(sys.argv[1])
began = time.perf_counter()
for number in range(requests):
    worker(number)
took = time.perf_counter() - began
print(f"app: {{requests}} requests, {{requests * {TOOLS}}} tool calls in {{took:.2f}} s", flush=True)
"""


def _peak_kb(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(found.group(1)) if found else None


def measure(spans: int, save: bool) -> dict[str, float]:
    requests = spans // SPANS_PER_REQUEST
    cli = str(Path(sys.executable).parent / "otel-agentperf")
    with tempfile.TemporaryDirectory() as folder:
        app = Path(folder) / "app.py"
        app.write_text(APP)
        env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
        env["OTEL_BSP_MAX_QUEUE_SIZE"] = "65536"  # the app's queue: a receiver that falls behind still shows
        saving = ["--save", str(Path(folder) / "run.otlp")] if save else []
        command = [cli, "run", *saving, "--slowest", "3", "--", sys.executable, str(app), str(requests)]
        began = time.perf_counter()
        run = subprocess.Popen(
            command, env=env, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        peak = 0
        while run.poll() is None:
            peak = max(peak, _peak_kb(run.pid) or 0)
            time.sleep(0.1)
        wall = time.perf_counter() - began
        output = run.stdout.read() if run.stdout is not None else ""
        saved_mb = (Path(folder) / "run.otlp").stat().st_size / 1e6 if save else 0.0
    app_seconds = float(re.search(r"tool calls in ([\d.]+) s", output).group(1))  # type: ignore[union-attr]
    received = int(re.search(r"received (\d+) spans?", output).group(1))  # type: ignore[union-attr]
    rows = {line.split()[1]: line.split() for line in output.splitlines() if line.startswith(("agent ", "tool "))}
    agent_calls, tool_calls = int(rows["worker"][2]), int(rows["step"][2])
    return {
        "spans": requests * SPANS_PER_REQUEST,
        "received": received,
        "peak_mb": peak / 1024,
        "spans_per_s": received / app_seconds,
        "ops_per_s": requests * SPANS_PER_REQUEST / app_seconds,
        "app_s": app_seconds,
        "wall_s": wall,
        "counts_equal": float(agent_calls == requests and tool_calls == requests * TOOLS),
        "saved_mb": saved_mb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, action="append", help="spans to make (repeatable; 10^5 and 10^6)")
    parser.add_argument("--save", action="store_true", help="run with --save too (the saved run's size is shown)")
    args = parser.parse_args()
    for spans in args.spans or [10**5, 10**6]:
        got = measure(spans, args.save)
        print(
            f"{int(got['spans']):>9} spans: run peak RSS {got['peak_mb']:.0f} MB; received {int(got['received'])} "
            f"({got['spans_per_s']:.0f} spans/s while the app made {got['ops_per_s']:.0f} ops/s); report counts "
            f"{'equal' if got['counts_equal'] else 'DIFFER from'} the app's; app {got['app_s']:.1f} s, "
            f"run {got['wall_s']:.1f} s" + (f"; saved {got['saved_mb']:.0f} MB" if args.save else ""),
            flush=True,
        )


if __name__ == "__main__":
    main()
