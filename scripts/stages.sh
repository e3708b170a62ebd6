# Sourced by scripts/test.sh: `stage NAME COMMAND...` runs one check stage and notes its failure instead of
# stopping the script (a lint error or one failing run must not hide the stages after it, such as the oldest
# SDKs and the other Pythons); `stages_summary` names the failed stages and returns non-zero if any failed.
failed_stages=()

stage() {
    local name=$1 status
    shift
    echo "test.sh: stage: $name" >&2
    # errexit is the caller's (test.sh runs with -e); off around the stage, so its status is noted, not fatal.
    set +e
    "$@"
    status=$?
    set -e
    [ "$status" = 0 ] || failed_stages+=("$name (exit $status)")
}

stages_summary() {
    if [ "${#failed_stages[@]}" -gt 0 ]; then
        echo "test.sh: ${#failed_stages[@]} stage(s) failed:" >&2
        printf '  %s\n' "${failed_stages[@]}" >&2
        return 1
    fi
    echo "test.sh: every stage passed" >&2
}
