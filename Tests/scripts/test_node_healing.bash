#!/usr/bin/env bash
# scripts/testNodeHealing.bash on a private cluster (free ports, private run directory): a node
# killed with kill -9 under a write and read load, brought back, caught up; the script must
# print PASS and exit 0 (no failed request, every key equal on all its replicas).
set -euo pipefail
# shellcheck source=Tests/scripts/lib.bash
source "$(dirname "$0")/lib.bash"
trap 'stop_cluster; rm -rf "$TMP"' EXIT

read -r proxy_port p1 p2 p3 p4 <<<"$(free_ports 5)"
use_cluster "127.0.0.1:$proxy_port" "127.0.0.1:$p1" "127.0.0.1:$p2" "127.0.0.1:$p3" "127.0.0.1:$p4"
export LINKRING_HEAL_DOWN_S=2
step "start the cluster and run the healing test"
"$SCRIPTS/startService.bash" >/dev/null || fail "startService.bash failed"
out="$("$SCRIPTS/testNodeHealing.bash" 127.0.0.1 "$p2")" || fail "testNodeHealing.bash failed: $out"
echo "$out"
expect_in "$out" "PASS: node 127.0.0.1:$p2" "the healing verdict"
expect_in "$out" "write_failures=0" "no failed write"
expect_in "$out" "mismatches=0" "replicas equal"
