#!/usr/bin/env bash
# Proves the operations scripts and these tests are shellcheck-clean (every severity).
set -euo pipefail
# shellcheck source=Tests/scripts/lib.bash
source "$(dirname "$0")/lib.bash"
trap 'rm -rf "$TMP"' EXIT
install_missing "command -v shellcheck:shellcheck" || fail "shellcheck is missing and could not be installed"
cd "$REPO"
shellcheck -x scripts/lib/cluster.bash scripts/lib/nodeData.bash scripts/{start,stop,check,install,clear,backup,restore,status}*.bash \
    systemd/linkring-wait-healthy Tests/scripts/*.bash
echo "ok"
