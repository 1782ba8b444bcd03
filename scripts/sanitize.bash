#!/usr/bin/env bash
# Runs LinkRing under the sanitizers.
#
#   scripts/sanitize.bash              unit tests under AddressSanitizer and ThreadSanitizer
#   scripts/sanitize.bash --integration   also every integration test against node and proxy
#                                      binaries built with AddressSanitizer: any memory error
#                                      they report fails the run
#
# Builds go to .build-asan and .build-tsan so the main build is untouched. Every build in one
# folder needs the same --sanitize flag: a plain `swift test` there rebuilds the executables
# without it (until 2026-11-27 the integration run did exactly that, and tested unsanitized
# binaries); the run checks the executables carry AddressSanitizer before it starts.
# The integration run's binaries are optimised (-c release) with assertions kept
# (-assert-config Debug): AddressSanitizer checks every access of optimised code as well, and
# unoptimised ones made the run 32 of CI's 63 minutes (docs/DECISIONS.md "Sanitized
# integration run"). The tests themselves are the main build's (they only start processes and
# send requests: nothing to sanitize in them).
# Leaks: the unit tests run with LeakSanitizer (a leak inside XCTest's own runner is
# suppressed, scripts/sanitizers/lsan.supp; nothing of ours is). The node and proxy processes
# do not: a server keeps its object graph (the loop's handles and the callbacks that own each
# other) until exit and frees nothing then, so LeakSanitizer at their exit reports that graph,
# not a leak; memory that grows while they serve is what the memory tests measure (their
# RSS figures are skipped here: the sanitizer's quarantine keeps freed memory).
set -euo pipefail
source "$(dirname "$0")/lib/common.bash"
cd "$LINKRING_ROOT"
install_build_dependencies

integration=false
[[ ${1:-} == --integration ]] && integration=true
export LSAN_OPTIONS="suppressions=$LINKRING_ROOT/scripts/sanitizers/lsan.supp:print_suppressions=0"

echo "== unit tests under AddressSanitizer"
swift test --scratch-path .build-asan --sanitize=address --filter LinkRingCoreTests
echo "== unit tests under ThreadSanitizer"
swift test --scratch-path .build-tsan --sanitize=thread --filter LinkRingCoreTests

if $integration; then
    echo "== integration tests against AddressSanitizer binaries"
    for binary in linkring-node linkring-proxy; do
        swift build -c release --scratch-path .build-asan --sanitize=address --product "$binary" \
            -Xswiftc -assert-config -Xswiftc Debug
        # grep -c reads all of nm's output (grep -q would stop early: SIGPIPE under pipefail).
        if [[ $(nm "$LINKRING_ROOT/.build-asan/release/$binary" | grep -c __asan_report_load) -eq 0 ]]; then
            echo "FAIL: .build-asan/release/$binary is not built with AddressSanitizer"
            exit 1
        fi
    done
    swift build --build-tests
    reports=$(mktemp -d)
    trap 'rm -rf "$reports"' EXIT
    ASAN_OPTIONS="log_path=$reports/asan:detect_leaks=0" LINKRING_SANITIZED=address \
        LINKRING_BIN_DIR="$LINKRING_ROOT/.build-asan/release" \
        swift test --skip-build --filter IntegrationTests
    if compgen -G "$reports/asan*" >/dev/null; then
        echo "FAIL: sanitizer reports from the binaries:"
        grep -h -E "ERROR|SUMMARY" "$reports"/asan* | sort | uniq -c
        grep -h -A14 -E "ERROR: AddressSanitizer" "$reports"/asan* | head -60
        exit 1
    fi
    echo "no sanitizer report from any node or proxy process"
fi
