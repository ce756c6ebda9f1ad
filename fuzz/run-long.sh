#!/bin/bash
# Long fuzzing runs of the libFuzzer harnesses, with a summary table.
#
# usage: fuzz/run-long.sh [SECONDS] [HARNESS...]
#   SECONDS   per harness (default 600)
#   HARNESS   resp_parse resp_commands resp_session resp_cluster redis_cluster_bus spiped spiped_keylog (default: all)
#
# Environment:
#   FUZZ_BUILD_DIR  clang build with -DENABLE_FUZZING=ON (default: build-fuzz next to this
#                   folder's parent; configured here if it does not exist yet)
#   FUZZ_JOBS       harnesses run at the same time (default: number of CPUs)
#   FUZZ_ARGS       extra libFuzzer flags (e.g. "-use_value_profile=1")
#
# Each harness keeps its corpus in $FUZZ_BUILD_DIR/fuzz-work/corpus/fuzz_<name>/ (it grows
# from run to run), starts from the seeds in $FUZZ_BUILD_DIR/fuzz-seeds/fuzz_<name>/, writes
# crashing inputs to $FUZZ_BUILD_DIR/fuzz-work/artifacts/fuzz_<name>/ and its log to
# $FUZZ_BUILD_DIR/fuzz-work/logs/fuzz_<name>.log. Exit status 1 if any harness failed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
seconds=${1:-600}
shift $(( $# > 0 ? 1 : 0 ))
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(resp_parse resp_commands resp_session resp_cluster redis_cluster_bus spiped spiped_keylog)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
jobs=${FUZZ_JOBS:-$(nproc)}
work=$build/fuzz-work

case $seconds in ''|*[!0-9]*) echo "usage: $0 [SECONDS] [HARNESS...]" >&2; exit 2;; esac

if [ ! -f "$build/CMakeCache.txt" ]; then
    CC=clang cmake -S "$root" -B "$build" -DENABLE_FUZZING=ON >/dev/null || exit 1
fi
targets=()
for h in "${harnesses[@]}"; do targets+=(--target "fuzz_$h"); done
cmake --build "$build" "${targets[@]}" >/dev/null || exit 1
/usr/bin/python3 "$here/make-seeds.py" --out "$build/fuzz-seeds" --captures "$root/test-captures" \
    >/dev/null || exit 1

run_one() {
    local h=$1
    local dict=()
    mkdir -p "$work/corpus/fuzz_$h" "$work/artifacts/fuzz_$h" "$work/logs"
    [ -f "$build/fuzz-seeds/fuzz_$h.dict" ] && dict=(-dict="$build/fuzz-seeds/fuzz_$h.dict")
    # shellcheck disable=SC2086  # FUZZ_ARGS is a list of flags
    "$build/fuzz/fuzz_$h" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/fuzz_$h/" "${dict[@]}" ${FUZZ_ARGS:-} \
        "$work/corpus/fuzz_$h" "$build/fuzz-seeds/fuzz_$h" >"$work/logs/fuzz_$h.log" 2>&1
    echo $? >"$work/logs/fuzz_$h.status"
}

mkdir -p "$work/logs"
stamp=$work/logs/.started
touch "$stamp"
echo "fuzzing ${harnesses[*]} for $seconds s each, $jobs at a time; logs in $work/logs/"
running=0
for h in "${harnesses[@]}"; do
    run_one "$h" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

fail=0
printf '%-16s %7s %12s %8s %6s %7s %7s %s\n' harness seconds executions exec/s cov ft corpus crashes
for h in "${harnesses[@]}"; do
    log=$work/logs/fuzz_$h.log
    status=$(cat "$work/logs/fuzz_$h.status" 2>/dev/null || echo '?')
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | grep -E 'cov: ' | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
    # artifacts (crash-, leak-, timeout-, oom-) written by this run
    crashes=$(find "$work/artifacts/fuzz_$h" -type f -newer "$stamp" 2>/dev/null | wc -l)
    printf '%-16s %7s %12s %8s %6s %7s %7s %s\n' "$h" "$seconds" "${execs:-?}" "${rate:-?}" \
        "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes (exit $status)"
    [ "$status" = 0 ] || fail=1
done
exit $fail
