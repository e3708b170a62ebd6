"""How often ``compare`` calls a change where there is none: the same app against itself, many times.

    python benchmarks/no_change.py [--comparisons 20] [--repeat 5] [--app tests/apps/critical_path_app.py]

Each comparison runs the app ``--repeat`` times into one saved run, twice (``otel-agentperf run --repeat``),
and compares the two with ``otel-agentperf compare --format json``. Counted: comparisons that report a
significant timing regression (a root whose mean latency rose, judged significant by compare's test at
its default alpha) and comparisons that report any per-request count as changed (calls, tokens: compared
exactly). With alpha = 0.01, about 1 in 100 timing verdicts is a false alarm by design; a count change
is always a bug. The app talks to the local OpenAI-compatible server (``examples/local_llm.py``),
started here on loopback. Minutes of runs: not part of the test suite (issue #27 asks for the figure).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).parent / "otel-agentperf")


def _saved(app: Path, repeat: int, path: Path, env: dict[str, str]) -> None:
    command = [CLI, "run", "--repeat", str(repeat), "--slowest", "0", "--save", str(path), "--"]
    subprocess.run([*command, sys.executable, str(app)], env=env, check=True, capture_output=True, timeout=900)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--comparisons", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--app", type=Path, default=ROOT / "tests" / "apps" / "critical_path_app.py")
    parser.add_argument("--keep", type=Path, help="copy the two saved runs of a comparison that says a count changed")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "examples"))
    import local_llm

    timing, counts = 0, 0
    with local_llm.running() as server, tempfile.TemporaryDirectory() as folder:
        env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
        env["OPENAI_BASE_URL"] = server.base_url
        for index in range(args.comparisons):
            base, new = Path(folder) / "base.otlp", Path(folder) / "new.otlp"
            _saved(args.app, args.repeat, base, env)
            _saved(args.app, args.repeat, new, env)
            compared = subprocess.run(
                [CLI, "compare", str(base), str(new), "--format", "json"], check=True, capture_output=True, text=True
            )
            found = json.loads(compared.stdout)
            regressed = [
                root["lead"]
                for root in found["roots"]
                if root["test"] and root["test"]["significant"] and root["delta_mean_seconds"] > 0
            ]
            changed = [figure["name"] for figure in found["per_request"] if figure["exact"] and figure["changed"]]
            timing += bool(regressed)
            counts += bool(changed)
            if changed and args.keep is not None:
                kept = args.keep / f"comparison-{index + 1}"
                kept.mkdir(parents=True, exist_ok=True)
                shutil.copy(base, kept / base.name)
                shutil.copy(new, kept / new.name)
            tests = "; ".join(f"{root['name']} p = {root['test']['p']:.3g}" for root in found["roots"] if root["test"])
            print(f"comparison {index + 1}: {tests}; regressed: {regressed or 'no'}; counts changed: {changed or 'no'}")
    print(
        f"{args.comparisons} comparisons of --repeat {args.repeat} runs of {args.app.name} against itself: "
        f"{timing} reported a significant timing regression, {counts} a changed count"
    )


if __name__ == "__main__":
    main()
