#!/usr/bin/env bash
# Proves that the scripts put the proxy's operator routes on an admin address when asked, on
# free ports and a private run directory: with LINKRING_PROXY_ADMIN, startService.bash starts the
# proxy with --admin-listen, waits for /_/status there and prints that URL; /_/status and
# /_/metrics answer there and 403 on the public port, /_/health answers on the public port;
# testNodeHealing.bash's check of every replica (healing_check.py verify) reads /_/status?key=
# there. Without it (the other script tests), they answer on the public port to this machine.
set -euo pipefail
# shellcheck source=Tests/scripts/lib.bash
source "$(dirname "$0")/lib.bash"
trap 'stop_cluster; rm -rf "$TMP"' EXIT

read -r proxy_port admin_port p1 p2 <<<"$(free_ports 4)"
PROXY="127.0.0.1:$proxy_port"
use_cluster "$PROXY" "127.0.0.1:$p1" "127.0.0.1:$p2"
export LINKRING_PROXY_ADMIN="127.0.0.1:$admin_port"

step "startService.bash with LINKRING_PROXY_ADMIN"
out="$("$SCRIPTS/startService.bash")" || fail "startService.bash failed: $out"
echo "$out"
expect_in "$out" "the cluster is healthy" "start"
expect_in "$out" "curl http://$LINKRING_PROXY_ADMIN/_/status" "the status URL on the admin address"

step "operator routes on the admin address only; /_/health on the public port"
expect_in "$(curl -s "http://$LINKRING_PROXY_ADMIN/_/status")" '"healthy":true' "/_/status on the admin address"
expect_in "$(curl -s "http://$LINKRING_PROXY_ADMIN/_/metrics")" 'linkring_proxy_requests_total' "/_/metrics on the admin address"
[ "$(http_code "http://$PROXY/_/status")" = 403 ] || fail "/_/status on the public port is not 403"
[ "$(http_code "http://$PROXY/_/metrics")" = 403 ] || fail "/_/metrics on the public port is not 403"
[ "$(http_code "http://$PROXY/_/health")" = 200 ] || fail "/_/health on the public port is not 200"

step "healing_check.py verify finds the replicas through the admin address"
[ "$(http_code "http://$PROXY/?short=adm&long=https://example.com/adm" -X PUT)" = 200 ] || fail "PUT through the proxy"
printf '{"key": "adm", "value": "https://example.com/adm", "order": 1}\n' >"$TMP/ledger"
out="$(python3 "$REPO/scripts/lib/healing_check.py" verify --proxy "$PROXY" --operator "$LINKRING_PROXY_ADMIN" \
    --ledger "$TMP/ledger" --token-file "$LINKRING_RUN_DIR/cluster-token")" || fail "verify failed: $out"
expect_in "$out" "verify-result keys=1 replicas_checked=2 mismatches=0" "verify"
echo "ok"
