#!/usr/bin/env bash
# Regenerate the locks the tests install from (requirements/*.lock) with uv's pip compile.
# The main lock resolves the test dependency group and the top extra for every Python the package
# supports (3.10+); the side locks resolve the extra environments test.sh builds against the main lock,
# so what they share with it is at the main lock's version and only what differs is installed beside it.
# Run with uv on PATH (pip install uv); pass --upgrade to move every package to its newest release.
set -euo pipefail
# Never fetch an interpreter: the locks are resolved for every supported Python from the one at hand.
export UV_PYTHON_DOWNLOADS=never
cd "$(dirname "$0")/../requirements"
compile() { uv pip compile --universal --python-version 3.10 --custom-compile-command scripts/lock.sh "$@"; }
compile ../pyproject.toml --group ../pyproject.toml:test --extra top -o test.lock "$@"
compile build.in -o build.lock "$@"
compile contrib-openai-v2.in -c test.lock --no-annotate -o contrib-openai-v2.lock "$@"
main_without_oldest=$(mktemp)
trap 'rm -f "$main_without_oldest"' EXIT
grep -vE '^(openai|httpx)==' test.lock >"$main_without_oldest"
compile openai-oldest.in -c "$main_without_oldest" --no-annotate -o openai-oldest.lock "$@"
grep -vE '^agent-framework-core==' test.lock >"$main_without_oldest"
compile agent-framework-oldest.in -c "$main_without_oldest" --no-annotate -o agent-framework-oldest.lock "$@"
grep -vE '^litellm==' test.lock >"$main_without_oldest"
compile litellm-oldest.in -c "$main_without_oldest" --no-annotate -o litellm-oldest.lock "$@"
