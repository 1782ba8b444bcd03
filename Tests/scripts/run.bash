#!/usr/bin/env bash
# Runs the tests of the operations scripts and units:  Tests/scripts/run.bash [FILTER]
#
# Each Tests/scripts/test_*.bash (whose name contains FILTER, if given) runs on its own with a
# time limit. One line per test: PASS, SKIP (with the reason) or FAIL (with the end of its
# output), then a summary line `N passed, N failed, N skipped`. Exit 1 if any test failed.
# The binaries: LINKRING_BIN_DIR if set; else the newer of .build/debug and .build/release
# that has both (the suite runs right after `swift build`); else a release build.
set -euo pipefail
DIR="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/lib/common.bash
source "$DIR/../../scripts/lib/common.bash"
TEST_TIMEOUT_S=180

main() {
    local test name log status started passed=0 failed=0 skipped=0
    choose_binaries
    echo "script tests with the binaries in $LINKRING_BIN_DIR"
    for test in "$DIR"/test_*.bash; do
        name="$(basename "$test" .bash)"
        [[ "$name" == *"${1:-}"* ]] || continue
        log="$(mktemp "/tmp/linkring-$name.XXXXXX.log")"
        started=$SECONDS
        status=0
        timeout -k 10 "$TEST_TIMEOUT_S" bash "$test" >"$log" 2>&1 || status=$?
        case "$status" in
            0) echo "PASS $name ($((SECONDS - started))s)"; passed=$((passed + 1)) ;;
            77) echo "SKIP $name: $(grep '^SKIP: ' "$log" | tail -n 1 | cut -c7-)"; skipped=$((skipped + 1)) ;;
            *)
                echo "FAIL $name (exit $status after $((SECONDS - started))s); the end of its output:"
                tail -n 40 "$log" | sed 's/^/    /'
                failed=$((failed + 1))
                ;;
        esac
        rm -f "$log"
    done
    echo "$passed passed, $failed failed, $skipped skipped"
    [ "$failed" -eq 0 ]
}

choose_binaries() {
    local candidate newest=""
    if [ -z "${LINKRING_BIN_DIR:-}" ]; then
        for candidate in "$LINKRING_ROOT/.build/debug" "$LINKRING_ROOT/.build/release"; do
            [[ -x "$candidate/linkring-node" && -x "$candidate/linkring-proxy" ]] || continue
            if [ -z "$newest" ] || [ "$candidate/linkring-node" -nt "$newest/linkring-node" ]; then newest="$candidate"; fi
        done
        if [ -z "$newest" ]; then
            build_release
            newest="$LINKRING_ROOT/.build/release"
        fi
        LINKRING_BIN_DIR="$newest"
    fi
    export LINKRING_BIN_DIR
}

main "$@"
