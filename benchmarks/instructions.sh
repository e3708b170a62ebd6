#!/usr/bin/env bash
# Instructions per OpenAI call, counted by valgrind's callgrind: repeatable on a noisy machine, where
# wall-clock figures are not. Each variant runs in its own process at N and 2N calls; the difference over
# N is what one call costs, set-up and warm-up cancelled out. Needs valgrind and contrib's openai-v2 in
# .venv/contrib (scripts/test.sh puts it there).
#     benchmarks/instructions.sh [N]
set -euo pipefail
cd "$(dirname "$0")"
n=${1:-100}
count() {
    PYTHONPATH=../.venv/contrib valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        ../.venv/bin/python openai_overhead.py --variant "$1" --calls "$2" 2>&1 >/dev/null |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
per_call() { echo $(( ($(count "$1" $((2 * n))) - $(count "$1" "$n")) / n )); }
for kind in "" " async" " stream"; do
    sdk=$(per_call "sdk$kind")
    floor=$(( $(per_call "sdk$kind + floor") - sdk ))
    ours=$(( $(per_call "ours$kind") - sdk ))
    contrib=$(( $(per_call "contrib$kind") - sdk ))
    printf 'sdk%-8s %9d instructions per call; added: floor %8d, ours %8d, contrib %8d (ours/contrib %s)\n' \
        "$kind" "$sdk" "$floor" "$ours" "$contrib" "$(python3 -c "print(f'{$ours / $contrib:.2f}x')")"
done
