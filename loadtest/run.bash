#!/usr/bin/env bash
# run.bash: every LinkRing load test in one command, the entry point of loadtest/.
#
#   loadtest/run.bash --quick   tiny durations, under 2 minutes: checks that every script still
#                               works (the test suite runs this); the figures mean little
#   loadtest/run.bash --full    the figures of docs/BENCHMARKS.md (about 20 minutes); copies the
#                               plots and their CSVs to loadtest/plots/
#
#   build_release (unless LINKRING_BIN_DIR is set) ─▶ copy the binaries once into RUN_DIR/bin
#   ─▶ compare.bash ─▶ sweep.bash ─▶ loads.bash ─▶ failover.bash ─▶ pause.bash ─▶ rebalance.bash ─▶ backup.bash, each with the same copy and
#   its results under RUN_DIR ─▶ RUN_DIR/summary.md (every driver's report, in order)
#
# Exit status 1 when a driver breaks (a server dies, a wrong answer, LinkRing answers an error,
# a plot cannot be drawn); a missed performance target is not a failure: CI machines are noisy.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

case "${1:-}" in
    --quick) mode=quick ;;
    --full) mode=full ;;
    *) die "usage: $0 --quick|--full" ;;
esac
LOADTEST_RESULTS='' make_run_dir "run-$mode"
prepare_binaries
export LINKRING_BIN_DIR="$RUN_DIR/bin" LOADTEST_RESULTS="$RUN_DIR"
log "run directory: $RUN_DIR (binaries built $BINARIES_BUILT)"

flag=() failed=()
[[ $mode == quick ]] && flag=(--quick)
for driver in compare sweep loads failover pause rebalance backup; do
    started=$SECONDS
    if "$LOADTEST_DIR/$driver.bash" "${flag[@]}" >"$RUN_DIR/$driver.log" 2>&1; then
        log "$driver: ok ($((SECONDS - started)) s)"
    else
        log "$driver: FAILED ($((SECONDS - started)) s); the end of $RUN_DIR/$driver.log:"
        tail -n 15 "$RUN_DIR/$driver.log" >&2
        failed+=("$driver")
    fi
done

for driver in compare sweep loads failover pause rebalance backup; do
    cat "$RUN_DIR/$driver-$mode/summary.md" 2>/dev/null && echo
done >"$RUN_DIR/summary.md"
if [[ $mode == full ]]; then
    mkdir -p "$LOADTEST_DIR/plots"
    cp "$RUN_DIR"/sweep-full/sweep-{get,put}.png "$RUN_DIR/sweep-full/sweep.csv" "$LOADTEST_DIR/plots/" || failed+=(plots)
    cp "$RUN_DIR/failover-full/failover.png" "$LOADTEST_DIR/plots/" || failed+=(plots)
    cp "$RUN_DIR/failover-full/per_second.csv" "$LOADTEST_DIR/plots/failover.csv" || failed+=(plots)
    cp "$RUN_DIR/pause-full/failover.png" "$LOADTEST_DIR/plots/pause.png" || failed+=(plots)
    cp "$RUN_DIR/rebalance-full/rebalance.png" "$LOADTEST_DIR/plots/" || failed+=(plots)
    cp "$RUN_DIR/rebalance-full/per_second.csv" "$LOADTEST_DIR/plots/rebalance.csv" || failed+=(plots)
    cp "$RUN_DIR/pause-full/per_second.csv" "$LOADTEST_DIR/plots/pause.csv" || failed+=(plots)
fi
log "summary: $RUN_DIR/summary.md"
((${#failed[@]} == 0)) || die "failed: ${failed[*]}"
log "every load test ran ($mode mode, $SECONDS s)"
