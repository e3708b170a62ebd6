#!/usr/bin/env bash
# Instructions per OpenAI call, and per operation of each kind, counted by valgrind's callgrind:
# repeatable on a noisy machine, where wall-clock figures are not. Each variant runs in its own process at
# N and 2N calls; the difference over N is what one call costs, set-up and warm-up cancelled out. Needs
# valgrind and contrib's openai-v2 in .venv/contrib (scripts/test.sh puts it there).
#     benchmarks/instructions.sh [N] [llm|kinds]    (both unless one is named)
set -euo pipefail
cd "$(dirname "$0")"
n=${1:-100}
only=${2:-}
count() {
    PYTHONPATH=../.venv/contrib valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        ../.venv/bin/python openai_overhead.py --variant "$1" --calls "$2" 2>&1 >/dev/null |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
per_call() { echo $(( ($(count "$1" $((2 * n))) - $(count "$1" "$n")) / n )); }
ratio() { python3 -c "print(f'{$1 / $2:.2f}x')"; }
for kind in "" " async" " stream"; do
    [ "$only" = kinds ] && break
    sdk=$(per_call "sdk$kind")
    floor=$(( $(per_call "sdk$kind + floor") - sdk ))
    ours=$(( $(per_call "ours$kind") - sdk ))
    contrib=$(( $(per_call "contrib$kind") - sdk ))
    printf 'sdk%-8s %9d instructions per call; added: floor %8d, ours %8d, contrib %8d (ours/contrib %s)\n' \
        "$kind" "$sdk" "$floor" "$ours" "$contrib" "$(ratio "$ours" "$contrib")"
done
# Operations of each kind around a plain function (overhead.py): against the floor (a span and one point)
# and, for the agent, against the floor with its three points.
ops() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        ../.venv/bin/python overhead.py --variant "$1" --calls "$2" 2>&1 >/dev/null |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
per_op() { echo $(( ($(ops "$1" $((8 * n))) - $(ops "$1" $((4 * n)))) / (4 * n) )); }
[ "$only" = llm ] && exit 0
bare=$(per_op bare)
floor=$(( $(per_op floor) - bare ))
floor3=$(( $(per_op floor3) - bare ))
printf 'floor %8d instructions per operation (span + 1 point); floor3 %8d (span + 3 points)\n' "$floor" "$floor3"
for kind in tool workflow config history segment decorated; do
    added=$(( $(per_op "$kind") - bare ))
    printf '%-9s %8d instructions per operation: %s floor' "${kind/decorated/agent}" "$added" "$(ratio "$added" "$floor")"
    [ "$kind" = decorated ] && printf ', %s floor3' "$(ratio "$added" "$floor3")"
    echo
done
# A request of five operations (an agent calling four tools), per operation, with and without its critical
# path (the request's latency point and each operation's part of the decomposition).
request=$(( ($(per_op request) - 5 * bare) / 5 ))
without=$(( ($(per_op request-no-path) - 5 * bare) / 5 ))
printf 'request   %8d instructions per operation (agent + 4 tools); without the critical path %d: +%s\n' \
    "$request" "$without" "$(python3 -c "print(f'{100 * ($request - $without) / $without:.1f}%')")"
