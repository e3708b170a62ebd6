#!/usr/bin/env bash
# Main job: set up .venv, run the example agent app under opentelemetry-instrument, print what was recorded.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
# The versions the tests run against: the lock constrains every package the examples extra installs.
.venv/bin/python -m pip install -q --disable-pip-version-check -c requirements/test.lock -e '.[examples]'
.venv/bin/python examples/run_demo.py
