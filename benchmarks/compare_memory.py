"""Peak RSS of ``otel-agentperf compare`` on two large saved runs, and how long it takes.

A real app (the agent of ``run_memory.py``: four tiny tools, five spans a request) runs under
``otel-agentperf run --save`` for ``--seed-requests`` requests. Its saved run is then grown to ``--requests``
requests by writing its trace records again with fresh trace ids (the metric records are kept as they are:
metrics are cumulative, one stream's latest point stands for all before it), so a 100,000-request saved run
is made in seconds, not the minutes the app would take on a loaded machine. ``compare`` then reads two such
runs (the second a copy of the first) in its own process, whose ``VmHWM`` (peak resident set) is read from
``/proc`` as it exits.

    python benchmarks/compare_memory.py                       # 100,000 requests a side
    python benchmarks/compare_memory.py --requests 20000 --requests 100000
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_agentperf.receiving import saved

sys.path.insert(0, str(Path(__file__).parent))
from run_memory import APP  # the same agent app


def _seed(folder: Path, requests: int) -> Path:
    """A real saved run of ``requests`` requests."""
    app = folder / "app.py"
    app.write_text(APP)
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env["OTEL_BSP_MAX_QUEUE_SIZE"] = "65536"
    path = folder / "seed.otlp"
    cli = str(Path(sys.executable).parent / "otel-agentperf")
    command = [cli, "run", "--save", str(path), "--slowest", "0", "--", sys.executable, str(app), str(requests)]
    subprocess.run(command, env=env, cwd=folder, check=True, capture_output=True)
    return path


def _grow(seed: Path, copies: int, out: Path) -> None:
    """The seed's trace records ``copies`` times (each copy's trace ids changed), then its metric records."""
    with seed.open("rb") as stream:
        records = list(saved.records(stream))
    with out.open("wb") as sink:
        saved.start(sink)
        for copy in range(copies):
            for signal, payload in records:
                if signal != "traces":
                    continue
                request = ExportTraceServiceRequest.FromString(payload)
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        for span in scope.spans:
                            span.trace_id = copy.to_bytes(4, "big") + span.trace_id[4:]
                saved.append(sink, signal, request.SerializeToString())
        for signal, payload in records:
            if signal == "metrics":
                saved.append(sink, signal, payload)


def _compare(base: Path, new: Path) -> tuple[float, float, str]:
    """Peak RSS in MB, seconds, and the first line of ``compare``'s output."""
    cli = str(Path(sys.executable).parent / "otel-agentperf")
    script = (
        "import re, runpy, sys\n"
        f"sys.argv = [{cli!r}, 'compare', {str(base)!r}, {str(new)!r}]\n"
        "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\n"
        "finally:\n"
        "    status = open('/proc/self/status').read()\n"
        "    print('peak_kb', re.search(r'VmHWM:\\s+(\\d+) kB', status).group(1), file=sys.stderr)\n"
    )
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    took = time.perf_counter() - began
    peak = re.search(r"peak_kb (\d+)", done.stderr)
    if peak is None:
        raise SystemExit(f"compare failed:\n{done.stdout}\n{done.stderr}")
    return int(peak.group(1)) / 1024, took, done.stdout.splitlines()[0] if done.stdout else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, action="append", help="requests per saved run (repeatable)")
    parser.add_argument("--seed-requests", type=int, default=2000, help="requests the real app makes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        seed = _seed(folder, args.seed_requests)
        for requests in args.requests or [100_000]:
            copies = max(requests // args.seed_requests, 1)
            base, new = folder / f"base-{requests}.otlp", folder / f"new-{requests}.otlp"
            _grow(seed, copies, base)
            shutil.copyfile(base, new)
            peak, took, first = _compare(base, new)
            print(
                f"{copies * args.seed_requests:>8} requests a side ({base.stat().st_size / 1e6:.0f} MB each): "
                f"compare peak RSS {peak:.0f} MB in {took:.1f} s; {first}",
                flush=True,
            )
            base.unlink()
            new.unlink()


if __name__ == "__main__":
    main()
