#!/usr/bin/env bash
# Runs every LinkRing test on a fresh Debian 12 machine (as root): installs what is missing,
# builds, then runs the unit tests and the integration tests against the real binaries (the
# release build: what operators run, and fast enough for the cluster scenarios).
#   scripts/test.bash            everything
#   scripts/test.bash FILTER     only Swift tests whose name matches FILTER (swift test --filter)
# After the Swift tests: a short libFuzzer run of each parser (LINKRING_FUZZ_SECONDS, default 10).
set -euo pipefail
source "$(dirname "$0")/lib/common.bash"
cd "$LINKRING_ROOT"

install_build_dependencies
swift build -c release
swift build --build-tests
export LINKRING_BIN_DIR="$LINKRING_ROOT/.build/release"
if [ $# -gt 0 ]; then
    swift test --skip-build --filter "$1"
    exit 0
fi
swift test --skip-build
bash scripts/fuzz.bash --seconds "${LINKRING_FUZZ_SECONDS:-10}"
