#!/usr/bin/env bash
# Runs every LinkRing test on a fresh Debian 12 machine (as root): installs what is missing,
# builds, then runs each step below and ends with a summary.
#
#   scripts/test.bash            everything (what CI runs)
#   scripts/test.bash FILTER     only the Swift tests whose name matches FILTER
#
# Steps: the Swift unit and integration tests (integration tests start the release binaries:
# what operators run; only the crash-point test runs the debug node that `swift build
# --build-tests` makes, the one build with the LINKRING_TEST_HOOKS crash hook), a short libFuzzer run per parser (LINKRING_FUZZ_SECONDS, default 10),
# the unit tests under ASan and TSan and the integration tests against ASan binaries, the
# tests of the operations scripts and units, the multi-host fault suite's CI mode, and the load
# tests' quick mode (checks the scripts; the figures come from --full, docs/BENCHMARKS.md). Temporary files live in one directory per run,
# removed at the end.
set -euo pipefail
source "$(dirname "$0")/lib/common.bash"
cd "$LINKRING_ROOT"

install_build_dependencies
swift build -c release --static-swift-stdlib
swift build --build-tests
export LINKRING_BIN_DIR="$LINKRING_ROOT/.build/release"
TMPDIR=$(mktemp -d /tmp/linkring-tests.XXXXXX)
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT

if [ $# -gt 0 ]; then
    swift test --skip-build --filter "$1"
    exit 0
fi

passed=()
failed=()
failed_logs=()
step() {  # NAME COMMAND…  (its output is also kept, so the summary can name what failed)
    local name=$1 started=$SECONDS log="$TMPDIR/step-$((${#passed[@]} + ${#failed[@]})).log"
    shift
    echo "=== $name"
    if "$@" 2>&1 | tee "$log"; then
        passed+=("$name ($((SECONDS - started))s)")
    else
        failed+=("$name ($((SECONDS - started))s)")
        failed_logs+=("$log")
    fi
}
# The lines of a failed step's output that say what failed (a CI log may show only its tail).
failure_lines_max=40
print_failure_lines() {  # LOG
    grep -a -E '✘|error:|FAIL|[Ff]ailed|recorded an issue|Fatal|fatal' "$1" | grep -a -v -E '^PASS|, 0 failed' \
        | head -n "$failure_lines_max" | cut -c1-400 || true
}

step "swift tests" swift test --skip-build
step "fuzzing" bash scripts/fuzz.bash --seconds "${LINKRING_FUZZ_SECONDS:-10}"
step "sanitizers" bash scripts/sanitize.bash --integration
install_browser_dependencies || echo "the browser test will skip: its dependencies could not be installed" >&2
step "operations scripts" bash Tests/scripts/run.bash
step "fault injection" bash Tests/faults/run.bash --ci
step "load tests (quick)" bash loadtest/run.bash --quick

echo
for name in "${passed[@]}"; do echo "PASS $name"; done
for i in "${!failed[@]}"; do
    echo "FAIL ${failed[$i]}; what it said:"
    print_failure_lines "${failed_logs[$i]}" | sed 's/^/    /'
done
echo "${#passed[@]} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
