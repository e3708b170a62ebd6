#!/usr/bin/env bash
# Drift run, not CI: the locked test environment with every instrumented library (and the libraries the
# tests reach them through) moved to its newest release, then the suite. A new release that breaks us is
# found here on purpose; the README's test command stays on the lock. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export UV_PYTHON_DOWNLOADS=never PIP_DISABLE_PIP_VERSION_CHECK=1
venv=.venvs/latest
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --no-deps "$(grep '^uv==' requirements/test.lock)"
uv=("$venv/bin/uv" pip)
"${uv[@]}" sync -q --python "$venv/bin/python" requirements/test.lock
"${uv[@]}" install -q --python "$venv/bin/python" --no-deps --build-constraints requirements/build.lock -e .
# The libraries our instrumentors declare, read from their entry points, so a new instrumentor is included.
mapfile -t instrumented < <("$venv/bin/python" - <<'PY'
from importlib.metadata import entry_points

from packaging.requirements import Requirement

for entry in entry_points(group="opentelemetry_instrumentor"):
    if entry.name.startswith("otel_agentperf"):
        for requirement in entry.load()().instrumentation_dependencies():
            print(Requirement(requirement).name)
PY
)
# Reached through these in the tests: ChatOpenAI, the SQLite checkpointer, DSPy's LiteLLM engine.
through=(langchain-openai langgraph-checkpoint-sqlite litellm)
"${uv[@]}" install -q --python "$venv/bin/python" --upgrade "${instrumented[@]}" "${through[@]}"
echo "Moved past the lock:"
"${uv[@]}" freeze --python "$venv/bin/python" | grep -vxFf <(grep -o '^[^ ;]*==[^ ;]*' requirements/test.lock) \
    | grep -vE "^(-e |pip==|setuptools==)" | sed "s/^/  /"
# Contrib's OpenAI instrumentation beside the venv, as in scripts/test.sh (a peer, not a library we instrument).
extra=$(mktemp)
grep -vxFf <(grep '==' requirements/test.lock) <(grep '==' requirements/contrib-openai-v2.lock) >"$extra" || true
"${uv[@]}" install -q --python "$venv/bin/python" --no-deps --target "$venv/contrib" -r "$extra"
rm -f "$extra"
# The environment is off the lock on purpose here.
"$venv/bin/python" -m pytest --deselect tests/test_lock.py::test_the_environment_holds_exactly_the_locked_packages "$@"
