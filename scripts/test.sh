#!/usr/bin/env bash
# Set up .venv from the lock (requirements/test.lock), then lint, type-check and run the whole test suite in
# random order with every test run twice (but the end-to-end modules that start a new process per test, which
# say so and run once: CI time); then the OpenAI tests on the oldest supported SDK and the Agent Framework and LiteLLM tests
# on their oldest releases, and the core, targets and OpenAI tests on Python 3.10 and 3.13. Extra arguments go to the main pytest run.
# Set-up (system tools, interpreters, environments) stops at its first failure; the check stages after it all
# run even when one fails (a lint error must not hide a failure on Python 3.13), and the script ends by naming
# the stages that failed and exiting non-zero if any did.
set -euo pipefail
cd "$(dirname "$0")/.."
export UV_PYTHON_DOWNLOADS=never PIP_DISABLE_PIP_VERSION_CHECK=1
# System tools the tests drive for real: tmux (the live view's terminal test), Prometheus and promtool
# (dashboards and alert rules, from Debian's prometheus package), and Chromium (the HTML report, driven
# headless by Playwright: the distribution's browser, never one Playwright downloads).
missing=""
command -v tmux >/dev/null 2>&1 || missing="$missing tmux"
command -v promtool >/dev/null 2>&1 || missing="$missing prometheus"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q $missing >/dev/null
fi
# The other Pythons the package claims (requires-python >= 3.10): missing is a failure, never a skip.
# A pyenv shim answers `command -v` for versions that are installed but not selected, so each candidate
# must really run; pyenv's own install folders are tried after PATH.
find_python() {
    local candidate
    for candidate in "python$1" "$(pyenv root 2>/dev/null || echo /nonexistent)"/versions/"$1".*/bin/"python$1"; do
        if "$candidate" -c 'import sys' >/dev/null 2>&1; then
            echo "$candidate"
            return 0
        fi
    done
    echo "test.sh: no working python$1 (on PATH or installed by pyenv); the suite runs on it too" >&2
    return 1
}
python310=$(find_python 3.10)
python313=$(find_python 3.13)

# A virtual environment holding exactly the lock's packages and this package (editable), nothing else.
locked_env() {
    local dir=$1 python=$2
    [ -x "$dir/bin/python" ] || "$python" -m venv "$dir"
    "$dir/bin/python" -m pip install -q --no-deps "$(grep '^uv==' requirements/test.lock)"
    "$dir/bin/uv" pip sync -q --python "$dir/bin/python" requirements/test.lock
    "$dir/bin/uv" pip install -q --python "$dir/bin/python" --no-deps \
        --build-constraints requirements/build.lock -e .
}
# What a side lock names beyond the main lock, installed into a folder outside site-packages.
beside() {
    local lock=$1 dir=$2 extra
    extra=$(mktemp)
    grep -vxFf <(grep '==' requirements/test.lock) <(grep '==' "$lock") >"$extra" || true
    rm -rf "$dir"
    .venv/bin/uv pip install -q --python .venv/bin/python --no-deps --target "$dir" -r "$extra"
    rm -f "$extra"
}

locked_env .venv python3
# OpenTelemetry contrib's OpenAI instrumentation, for the duplicate-span test: kept outside site-packages
# so its entry point does not switch it on in the launcher tests.
beside requirements/contrib-openai-v2.lock .venv/contrib
# The oldest supported OpenAI SDK (with the httpx it was released against), for a second run of its tests.
beside requirements/openai-oldest.lock .venv/openai-oldest
# The oldest supported Agent Framework and LiteLLM, likewise.
beside requirements/agent-framework-oldest.lock .venv/agent-framework-oldest
beside requirements/litellm-oldest.lock .venv/litellm-oldest

core_tests="tests/test_api.py tests/test_recording.py tests/test_targets.py tests/test_openai.py"
for version in 3.10 3.13; do
    python="python${version/./}"
    locked_env ".venvs/py$version" "${!python}"
done

# shellcheck source=scripts/stages.sh
source scripts/stages.sh
stage "ruff check" .venv/bin/ruff check .
stage "ruff format" .venv/bin/ruff format --check .
stage "mypy" .venv/bin/mypy
stage "pytest" .venv/bin/python -m pytest --count 2 --durations=25 "$@"
stage "openai oldest" env PYTHONPATH=.venv/openai-oldest .venv/bin/python -m pytest -q -m "not newer_openai" tests/test_openai.py
stage "agent-framework oldest" env PYTHONPATH=.venv/agent-framework-oldest .venv/bin/python -m pytest -q tests/test_agent_framework.py
stage "litellm oldest" env PYTHONPATH=.venv/litellm-oldest .venv/bin/python -m pytest -q tests/test_litellm.py
for version in 3.10 3.13; do
    # shellcheck disable=SC2086 # one path a word
    stage "python $version" ".venvs/py$version/bin/python" -m pytest -q $core_tests
done

stages_summary
