#!/usr/bin/env bash
# Proves that the scripts run the cluster with a token, on free ports and a private run
# directory: the first startService.bash makes run/cluster-token (64 hex digits, mode 0600) and
# a second start reuses it unchanged; a node started by the scripts answers 401 to a PUT, a GET
# and a DELETE without the token (and changes nothing) and its health check without it, while
# the proxy serves PUT and GET; the token is on no process's command line; a node restarted by
# startNode.bash gets the same token. After a stop, an explicit LINKRING_CLUSTER_TOKEN replaces
# the file's token (still 0600) and the cluster runs with it.
set -euo pipefail
# shellcheck source=Tests/scripts/lib.bash
source "$(dirname "$0")/lib.bash"
trap 'stop_cluster; rm -rf "$TMP"' EXIT

read -r proxy_port p1 p2 <<<"$(free_ports 3)"
PROXY="127.0.0.1:$proxy_port"
NODE="127.0.0.1:$p1"
use_cluster "$PROXY" "$NODE" "127.0.0.1:$p2"
TOKEN_FILE="$LINKRING_RUN_DIR/cluster-token"

# no_command_line_has TOKEN: no process this test started shows TOKEN in its command line.
no_command_line_has() {
    local name pid
    while read -r name pid; do
        [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline")" != *"$1"* ]] || fail "the token is on the command line of $name"
    done < <(recorded_pids)
}

step "the first start creates the token file, mode 0600"
[ ! -e "$TOKEN_FILE" ] || fail "the run directory already has a token"
out="$("$SCRIPTS/startService.bash")" || fail "startService.bash failed: $out"
echo "$out"
expect_in "$out" "created the cluster token $TOKEN_FILE" "the creation message"
[ "$(stat -c %a "$TOKEN_FILE")" = 600 ] || fail "$TOKEN_FILE is mode $(stat -c %a "$TOKEN_FILE"), not 600"
token="$(cat "$TOKEN_FILE")"
[[ "$token" =~ ^[0-9a-f]{64}$ ]] || fail "the token is not 32 random bytes in hex: '$token'"
no_command_line_has "$token"

step "a node answers 401 without the token and changes nothing; the proxy serves"
[ "$(http_code "http://$PROXY/?short=kept&long=https://example.com/kept" -X PUT)" = 200 ] || fail "PUT through the proxy"
[ "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://$PROXY/kept")" = "307 https://example.com/kept" ] ||
    fail "GET through the proxy"
[ "$(http_code "http://$NODE/?short=planted&long=https://evil.example/" -X PUT)" = 401 ] || fail "a token-less PUT to a node"
[ "$(http_code "http://$NODE/kept" -X DELETE)" = 401 ] || fail "a token-less DELETE to a node"
[ "$(http_code "http://$NODE/kept")" = 401 ] || fail "a token-less GET to a node"
[ "$(http_code "http://$NODE/_/keys?r=0&from=0")" = 401 ] || fail "a token-less /_/keys to a node"
[ "$(http_code "http://$NODE/kept" -H "X-Cluster-Token: wrong")" = 401 ] || fail "a GET with a wrong token"
[ "$(http_code "http://$NODE/_/health")" = 200 ] || fail "the node's /_/health needs no token"
header="$(token_header "$TOKEN_FILE")"
[ "$(http_code "http://$NODE/kept" -H "@$header")" = 307 ] || fail "a GET with the token"
[ "$(http_code "http://$PROXY/planted")" = 404 ] || fail "the refused PUT planted a key"
[ "$(http_code "http://$PROXY/kept")" = 307 ] || fail "the refused DELETE removed a key"

step "a second start reuses the token"
out="$("$SCRIPTS/startService.bash")" || fail "the second startService.bash failed: $out"
[[ "$out" != *"created the cluster token"* ]] || fail "the second start made a new token"
[ "$(cat "$TOKEN_FILE")" = "$token" ] || fail "the token changed on the second start"

step "a node restarted by startNode.bash reads the same token"
"$SCRIPTS/stopNode.bash" 127.0.0.1 "$p1" >/dev/null
"$SCRIPTS/startNode.bash" 127.0.0.1 "$p1" >/dev/null
[ "$(cat "$TOKEN_FILE")" = "$token" ] || fail "startNode.bash changed the token"
node_serves_with_token() { [ "$(http_code "http://$NODE/kept" -H "@$header")" = 307 ]; }
wait_for 10 node_serves_with_token || fail "the restarted node does not take the token"
[ "$(http_code "http://$NODE/kept")" = 401 ] || fail "the restarted node answers without the token"

step "an explicit LINKRING_CLUSTER_TOKEN replaces the file's token"
"$SCRIPTS/stopService.bash" >/dev/null
explicit="explicit-$RANDOM$RANDOM"
out="$(LINKRING_CLUSTER_TOKEN="$explicit" "$SCRIPTS/startService.bash")" || fail "startService.bash with a token failed: $out"
expect_in "$out" "stored LINKRING_CLUSTER_TOKEN in $TOKEN_FILE" "the message"
[ "$(cat "$TOKEN_FILE")" = "$explicit" ] || fail "the file does not hold the explicit token"
[ "$(stat -c %a "$TOKEN_FILE")" = 600 ] || fail "the replaced token file is mode $(stat -c %a "$TOKEN_FILE")"
no_command_line_has "$explicit"
[ "$(http_code "http://$NODE/kept" -H "X-Cluster-Token: $explicit")" = 307 ] || fail "the node does not take the explicit token"
[ "$(http_code "http://$NODE/kept" -H "@$header")" = 401 ] || fail "the node still takes the old token"
[ "$(http_code "http://$PROXY/kept")" = 307 ] || fail "the proxy does not reach the nodes with the explicit token"
echo "ok"
