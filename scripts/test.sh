#!/usr/bin/env bash
# Set up .venv with the test dependencies, then lint, type-check and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
# System tools the tests drive for real: tmux (the live view's terminal test), Prometheus and promtool
# (dashboards and alert rules, from Debian's prometheus package).
missing=""
command -v tmux >/dev/null 2>&1 || missing="$missing tmux"
command -v promtool >/dev/null 2>&1 || missing="$missing prometheus"
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q $missing >/dev/null
fi
python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
# OpenTelemetry contrib's OpenAI instrumentation, for the duplicate-span test: kept outside site-packages
# so its entry point does not switch it on in the launcher tests.
if [ ! -d .venv/contrib/opentelemetry/instrumentation/openai_v2 ]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --target .venv/contrib \
        'opentelemetry-instrumentation-openai-v2==2.4b0' 'opentelemetry-util-genai==1.0b0'
fi
# The oldest supported OpenAI SDK (with the httpx it was released against), for a second run of its tests.
if [ ! -d .venv/openai-oldest/openai ]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --target .venv/openai-oldest \
        'openai==1.40.0' 'httpx==0.27.2'
fi
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
PYTHONPATH=.venv/openai-oldest .venv/bin/python -m pytest -q -m "not newer_openai" tests/test_openai.py
