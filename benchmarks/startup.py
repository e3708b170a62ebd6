"""What installing otel-agentperf costs a process's start-up, and its first OpenAI call.

    python benchmarks/startup.py [--rounds 20] [--no-setup] [--before DIR]

Two virtual environments built from the same lock (``requirements/test.lock``): ``.venvs/bare`` has only
the lock, ``.venvs/with`` the lock plus this worktree installed as a wheel would be (not editable: an
editable install adds its own import finder to every process). Both are installed with their bytecode
compiled, as pip does. "Over the package not installed" means the same launcher, the same
opentelemetry-distro configurator, the same exporters (OTLP/HTTP traces and metrics to a receiver this
script runs on loopback, so every export succeeds), the same other instrumentor (system metrics, in the
lock): the only difference is the package's entry points: its environment check in the launcher's
process, its pre-instrument hook and its instrumentors in the app's, and what they record (the cold-start
metric, exported at exit).

(a) ``opentelemetry-instrument python -c pass``, whole process, wall clock and CPU (user + system).
(b) a fresh process under ``opentelemetry-instrument`` that imports openai, makes a client and one chat
call against ``examples/local_llm.py`` on loopback: its whole-process time and, measured inside it, the
import (our hooks patch the SDK as it is imported) and the call. In ``bare`` nothing instruments the
OpenAI SDK: that is the uninstrumented call, with the same SDK set up.

Each round runs both environments back to back, in alternating order, so the machine's drift hits both;
the figures are the minimum and median per environment and the median of the per-round differences.
``--before DIR`` adds a third environment, ``.venvs/before``, with the package installed from DIR (an
earlier commit's tree, e.g. from ``git archive``), measured in the same rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from examples.local_llm import running  # noqa: E402
from otel_agentperf.receiving.received import Received  # noqa: E402
from otel_agentperf.receiving.receiver import Receiver  # noqa: E402

VENVS = ROOT / ".venvs"
LOCK = ROOT / "requirements" / "test.lock"
BUILD_LOCK = ROOT / "requirements" / "build.lock"

FIRST_CALL = """
import json, sys, time
started = time.perf_counter()
import openai
imported = time.perf_counter()
client = openai.OpenAI(base_url=sys.argv[1], api_key="local", max_retries=0)
made = time.perf_counter()
client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
called = time.perf_counter()
print(json.dumps({"import_ms": 1000 * (imported - started), "call_ms": 1000 * (called - made),
                  "import_and_call_ms": 1000 * (called - started)}))
"""


def _uv(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "uv", *args], check=True, cwd=ROOT)


def set_up(sources: dict[str, Path]) -> None:
    """Build (or bring up to date) every environment; the package is reinstalled from its source each time."""
    for name in ("bare", *sources):
        venv = VENVS / name
        if not (venv / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        _uv("pip", "sync", "-q", "--compile-bytecode", "--python", str(venv / "bin" / "python"), str(LOCK))
    for name, source in sources.items():
        _uv(
            "pip",
            "install",
            "-q",
            "--compile-bytecode",
            "--no-deps",
            "--reinstall-package",
            "otel-agentperf",
            "--build-constraints",
            str(BUILD_LOCK),
            "--python",
            str(VENVS / name / "bin" / "python"),
            str(source),
        )


def _run(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall and CPU (user + system) milliseconds of one process, and what it printed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=tempfile.gettempdir())
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{command} failed ({result.returncode}):\n{result.stderr}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return 1000 * wall, 1000 * cpu, result.stdout


def _summary(title: str, samples: dict[str, dict[str, list[float]]]) -> None:
    """Each environment against ``bare``: min and median of both, and the median per-round difference."""
    print(f"\n{title}")
    print(
        f"  {'figure':<19} {'env':<7} {'bare min':>9} {'bare med':>9} {'min':>8} {'med':>8} {'diff med':>9} "
        f"{'diff quartiles':>16} {'ratio':>6}"
    )
    bare = samples["bare"]
    for figure in bare:
        for name in samples:
            if name == "bare":
                continue
            mine = samples[name][figure]
            differences = [m - b for m, b in zip(mine, bare[figure], strict=True)]
            ratios = [m / b for m, b in zip(mine, bare[figure], strict=True) if b]
            low, _, high = statistics.quantiles(differences, n=4)
            print(
                f"  {figure:<19} {name:<7} {min(bare[figure]):9.1f} {statistics.median(bare[figure]):9.1f} "
                f"{min(mine):8.1f} {statistics.median(mine):8.1f} {statistics.median(differences):+9.1f} "
                f"{f'{low:+.1f}..{high:+.1f}':>16} {statistics.median(ratios):6.3f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--no-setup", action="store_true", help="use the environments in .venvs as they are")
    parser.add_argument("--before", type=Path, help="also measure the package installed from this tree")
    args = parser.parse_args()
    sources = {"with": ROOT, **({"before": args.before.resolve()} if args.before else {})}
    if not args.no_setup:
        set_up(sources)
    names = ("bare", *sources)
    with Receiver(Received()) as receiver, running() as llm, tempfile.TemporaryDirectory() as scratch:
        app = Path(scratch) / "first_call.py"
        app.write_text(FIRST_CALL)
        env = {
            **os.environ,
            "OTEL_TRACES_EXPORTER": "otlp_proto_http",
            "OTEL_METRICS_EXPORTER": "otlp_proto_http",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        }
        env.pop("PYTHONPATH", None)
        startup: dict[str, dict[str, list[float]]] = {name: {"wall_ms": [], "cpu_ms": []} for name in names}
        first: dict[str, dict[str, list[float]]] = {
            name: {"wall_ms": [], "cpu_ms": [], "import_ms": [], "call_ms": [], "import_and_call_ms": []}
            for name in names
        }
        for index in range(args.rounds + 1):  # the first round warms the file cache and is not counted
            order = names if index % 2 else names[::-1]
            for name in order:
                bin_dir = VENVS / name / "bin"
                launcher = [str(bin_dir / "opentelemetry-instrument"), str(bin_dir / "python")]
                wall, cpu, _ = _run([*launcher, "-c", "pass"], env)
                if index:
                    startup[name]["wall_ms"].append(wall)
                    startup[name]["cpu_ms"].append(cpu)
            for name in order:
                bin_dir = VENVS / name / "bin"
                launcher = [str(bin_dir / "opentelemetry-instrument"), str(bin_dir / "python")]
                wall, cpu, printed = _run([*launcher, str(app), llm.base_url], env)
                if index:
                    first[name]["wall_ms"].append(wall)
                    first[name]["cpu_ms"].append(cpu)
                    for figure, value in json.loads(printed.splitlines()[-1]).items():
                        first[name][figure].append(value)
    print(f"{args.rounds} rounds, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; milliseconds")
    _summary("(a) opentelemetry-instrument python -c pass", startup)
    _summary("(b) fresh process: import openai, client, one chat call", first)


if __name__ == "__main__":
    main()
