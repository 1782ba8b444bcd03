#!/usr/bin/env bash
# Runs LinkRing under the sanitizers.
#
#   scripts/sanitize.bash              unit tests under AddressSanitizer and ThreadSanitizer
#   scripts/sanitize.bash --integration   also every integration test against node and proxy
#                                      binaries built with AddressSanitizer: any memory error,
#                                      or any leak at exit (LeakSanitizer), fails the run
#
# Builds go to .build-asan and .build-tsan so the main build is untouched. A leak inside
# XCTest's own runner is suppressed (scripts/sanitizers/lsan.supp); nothing of ours is.
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
    swift build --scratch-path .build-asan --sanitize=address --product linkring-node
    swift build --scratch-path .build-asan --sanitize=address --product linkring-proxy
    reports=$(mktemp -d)
    trap 'rm -rf "$reports"' EXIT
    ASAN_OPTIONS="log_path=$reports/asan" LINKRING_BIN_DIR="$LINKRING_ROOT/.build-asan/debug" \
        swift test --scratch-path .build-asan --filter IntegrationTests
    if compgen -G "$reports/asan*" >/dev/null; then
        echo "FAIL: sanitizer reports from the binaries:"
        grep -h -E "ERROR|SUMMARY" "$reports"/asan* | sort | uniq -c
        grep -h -A14 -E "ERROR: AddressSanitizer|Direct leak" "$reports"/asan* | head -60
        exit 1
    fi
    echo "no sanitizer report from any node or proxy process"
fi
