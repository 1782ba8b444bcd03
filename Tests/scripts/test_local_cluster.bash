#!/usr/bin/env bash
# Proves the cluster scripts on this machine, on free ports and a private run directory:
# startService starts 4 nodes and the proxy (cleaning a stale PID file on the way) and the
# cluster answers through the proxy; a second start says everything is already running and
# changes nothing; startNode.bash HOST PORT (the proxy's restart command) brings back a stopped
# node, and so does the proxy, running it as its --restart-command for a node killed with
# kill -9; checkProxyServer.bash, once and as a watcher, brings back a proxy killed with kill -9;
# stopService stops every recorded process and is safe to run twice.
set -euo pipefail
# shellcheck source=Tests/scripts/lib.bash
source "$(dirname "$0")/lib.bash"
trap 'stop_cluster; rm -rf "$TMP"' EXIT

read -r proxy_port p1 p2 p3 p4 <<<"$(free_ports 5)"
PROXY="127.0.0.1:$proxy_port"
use_cluster "$PROXY" "127.0.0.1:$p1" "127.0.0.1:$p2" "127.0.0.1:$p3" "127.0.0.1:$p4"
export LINKRING_PROXY_ARGS="--restart-after-ms 300"
proxy_pid() { cat "$LINKRING_RUN_DIR/pids/proxy.pid" 2>/dev/null || true; }
healthy() { [ "$(http_code "http://$PROXY/_/health")" = 200 ]; }
new_proxy_runs() { local pid; pid="$(proxy_pid)"; [ -n "$pid" ] && [ "$pid" != "$1" ] && alive "$pid"; }

step "start, with a stale proxy PID file (a live PID that is not a proxy)"
mkdir -p "$LINKRING_RUN_DIR/pids"
echo $$ >"$LINKRING_RUN_DIR/pids/proxy.pid"
out="$("$SCRIPTS/startService.bash")" || fail "startService.bash failed: $out"
echo "$out"
expect_in "$out" "removing stale PID file" "the stale PID file"
expect_in "$out" "the cluster is healthy" "start"
expect_in "$out" "curl -X PUT 'http://$PROXY/?short=" "the usage lines"
[ "$(recorded_pids | wc -l)" -eq 5 ] || fail "expected 5 PID files: $(recorded_pids)"

step "status through the proxy"
[ "$(http_code "http://$PROXY/_/health")" = 200 ] || fail "/_/health is not 200"
[ "$(http_code "http://$PROXY/?short=ops&long=https://example.com/a?b=1%26c=2" -X PUT)" = 200 ] || fail "PUT is not 200"
location="$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://$PROXY/ops")"
[ "$location" = "307 https://example.com/a?b=1%26c=2" ] || fail "GET answered '$location' (a long URL is kept as sent)"
all_up() { [[ "$(curl -s --max-time 5 "http://$PROXY/_/health")" == *'"nodesUp":4,'* ]]; }
wait_for 10 all_up || fail "/_/health does not count 4 nodes up: $(curl -s "http://$PROXY/_/health")"
expect_in "$(curl -s "http://$PROXY/_/status")" '"healthy":true' "/_/status"

step "a second start says it is already running and changes nothing"
before="$(recorded_pids)"
out="$("$SCRIPTS/startService.bash")" || fail "the second startService.bash failed: $out"
echo "$out"
[ "$(grep -c 'is already running' <<<"$out")" -eq 5 ] || fail "expected 5 'already running' lines"
[ "$(recorded_pids)" = "$before" ] || fail "PIDs changed: $before -> $(recorded_pids)"

step "startNode.bash HOST PORT brings back a stopped node, with its data"
"$SCRIPTS/stopNode.bash" 127.0.0.1 "$p1"
"$SCRIPTS/startNode.bash" 127.0.0.1 "$p1"
wait_for 10 healthy || fail "not healthy after restarting node $p1"
[ "$(http_code "http://127.0.0.1:$p1/_/health")" = 200 ] || fail "node $p1 is not back"

step "the proxy's --restart-command (startNode.bash) brings back a node killed with kill -9"
node_file="$LINKRING_RUN_DIR/pids/node-127.0.0.1_$p2.pid"
old="$(cat "$node_file")"
kill -9 "$old"
node_back() { local pid; pid="$(cat "$node_file" 2>/dev/null)" && [ "$pid" != "$old" ] && alive "$pid"; }
wait_for 20 node_back || fail "the proxy did not restart node $p2: $(tail -n 5 "$LINKRING_RUN_DIR/logs/proxy.log")"
wait_for 10 all_up || fail "node $p2 is not up again"

step "checkProxyServer.bash (one-shot) brings back a proxy killed with kill -9"
old="$(proxy_pid)"
kill -9 "$old"
gone() { ! alive "$1"; }
wait_for 5 gone "$old" || fail "proxy $old survived kill -9"
out="$("$SCRIPTS/checkProxyServer.bash")" || fail "checkProxyServer.bash failed: $out"
echo "$out"
expect_in "$out" "is not running; starting it" "the one-shot check"
new_proxy_runs "$old" || fail "no new proxy"
wait_for 10 healthy || fail "not healthy after the proxy restart"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$PROXY/ops")" = 307 ] || fail "the key is gone"
expect_in "$("$SCRIPTS/checkProxyServer.bash")" "is running (pid $(proxy_pid))" "a check of a live proxy"

step "checkProxyServer.bash --watch 1 brings it back too; a second watcher declines"
"$SCRIPTS/checkProxyServer.bash" --watch 1 >"$TMP/watch.out" 2>&1 &
watcher=$!
wait_for 5 test -s "$LINKRING_RUN_DIR/pids/checkProxyServer.pid" || fail "the watcher did not record its PID"
expect_in "$("$SCRIPTS/checkProxyServer.bash" --watch 1)" "already watched (pid $watcher)" "a second watcher"
old="$(proxy_pid)"
kill -9 "$old"
wait_for 10 new_proxy_runs "$old" || fail "the watcher did not restart the proxy: $(cat "$TMP/watch.out")"
wait_for 10 healthy || fail "not healthy after the watcher's restart"

step "stop: every recorded process ends, and a second stop is fine"
pids="$(recorded_pids | awk '{ print $2 }')"
[ "$(wc -w <<<"$pids")" -eq 6 ] || fail "expected 6 recorded PIDs (4 nodes, proxy, watcher): $pids"
out="$("$SCRIPTS/stopService.bash")" || fail "stopService.bash failed: $out"
echo "$out"
for pid in $pids; do ! alive "$pid" || fail "pid $pid still runs after stopService"; done
[ -z "$(recorded_pids)" ] || fail "PID files left: $(recorded_pids)"
[ "$(http_code "http://$PROXY/_/health")" = 000 ] || fail "something still answers on $PROXY"
wait "$watcher" || true
out="$("$SCRIPTS/stopService.bash")" || fail "the second stopService.bash failed: $out"
expect_in "$out" "proxy $PROXY is not running" "the second stop"
echo "ok"
