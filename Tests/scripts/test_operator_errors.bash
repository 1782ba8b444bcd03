#!/usr/bin/env bash
# Proves what a new operator meets first (issue 18), each by its text and exit status:
# startNode.bash for a node the hosts file does not list shows that cause, not the end of a
# usage; an argument error prints the error and one line pointing to --help; a port in use is
# named; a data path that is a file says "not a directory"; stopService.bash does not mention a
# watcher that was never started. Then status.bash prints the node table (once and with
# --watch), and clearDatabases.bash refuses while the cluster runs, naming each process, asks
# for confirmation, and with --yes removes every node's data once it is stopped, logging it.
set -euo pipefail
# shellcheck source=Tests/scripts/lib.bash
source "$(dirname "$0")/lib.bash"
trap 'stop_cluster; [ -z "${holder:-}" ] || kill "$holder" 2>/dev/null || true; rm -rf "$TMP"' EXIT

read -r proxy_port p1 p2 p3 p4 spare <<<"$(free_ports 6)"
PROXY="127.0.0.1:$proxy_port"
use_cluster "$PROXY" "127.0.0.1:$p1" "127.0.0.1:$p2" "127.0.0.1:$p3" "127.0.0.1:$p4"
node="$LINKRING_BIN_DIR/linkring-node"

step "startNode.bash for a node not in the hosts file: the cause, exit 1"
status=0
out="$("$SCRIPTS/startNode.bash" 127.0.0.1 "$spare" 2>&1)" || status=$?
echo "$out"
[ "$status" = 1 ] || fail "startNode.bash of an unlisted node exited $status"
expect_in "$out" "127.0.0.1:$spare is not listed in $LINKRING_HOSTS" "the cause"
[[ "$out" != *"--max-connections"* ]] || fail "startNode.bash printed the usage instead of the cause"

step "an argument error: the error and one line pointing to --help, exit 2"
status=0
out="$("$node" --listen 127.0.0.1:1 --data "$TMP/d" --fsync sometimes 2>&1)" || status=$?
echo "$out"
[ "$status" = 2 ] || fail "a bad --fsync exited $status"
[ "$(printf '%s\n' "$out" | wc -l)" -eq 2 ] || fail "expected 2 lines, got: $out"
expect_in "$out" "--fsync must be always, everysec or never, not 'sometimes'" "the error"
expect_in "$out" "Run 'linkring-node --help' for the options." "the pointer to --help"
out="$("$LINKRING_BIN_DIR/linkring-proxy" --listen 127.0.0.1:1 --bogus 2>&1)" && fail "the proxy took --bogus"
[ "$(printf '%s\n' "$out" | wc -l)" -eq 2 ] || fail "the proxy's argument error is not 2 lines: $out"
expect_in "$("$node" --help 2>&1)" "--max-connections" "--help still prints the usage"

step "a port in use is named; a data path that is a file is not a directory"
python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(); time.sleep(60)' "$spare" &
holder=$!
wait_for 5 bash -c "ss -Htln 'sport = :$spare' | grep -q ." || fail "the port holder did not listen"
status=0
out="$(timeout 10 "$node" --listen "127.0.0.1:$spare" --data "$TMP/in-use" 2>&1)" || status=$?
echo "$out"
[ "$status" = 1 ] || fail "a port in use exited $status"
expect_in "$out" " 127.0.0.1:$spare: address already in use" "the address in use"
kill "$holder"
wait "$holder" 2>/dev/null || true
holder=""
touch "$TMP/a-file"
status=0
out="$(timeout 10 "$node" --listen 127.0.0.1:0 --data "$TMP/a-file" 2>&1)" || status=$?
echo "$out"
[ "$status" = 1 ] || fail "a data path that is a file exited $status"
expect_in "$out" "data directory $TMP/a-file: not a directory" "a file as the data directory"
[[ "$out" != *"permission denied"* ]] || fail "still 'permission denied'"

step "startService; status.bash prints the node table, once and with --watch"
"$SCRIPTS/startService.bash" >/dev/null || fail "startService.bash failed"
[ "$(http_code "http://$PROXY/?short=st&long=https://example.com/st" -X PUT)" = 200 ] || fail "PUT"
out="$("$SCRIPTS/status.bash")" || fail "status.bash failed: $out"
echo "$out"
expect_in "$out" "NODE" "the table's header"
expect_in "$out" "LAST REPAIR" "the table's header"
for port in "$p1" "$p2" "$p3" "$p4"; do
    line="$(grep "^127.0.0.1:$port " <<<"$out")" || fail "no line for node $port"
    [[ "$line" =~ \ up\ .*%\ +[0-9]+\ +[0-9.]+\ (B|KiB) ]] || fail "node $port's line lacks state, share, keys or log: $line"
done
out="$(timeout 3.5 "$SCRIPTS/status.bash" --watch 1 || true)"
[ "$(grep -c '^NODE' <<<"$out")" -ge 2 ] || fail "--watch 1 did not refresh: $out"
out="$("$SCRIPTS/status.bash" --watch 0 2>&1)" && fail "--watch 0 was accepted"
expect_in "$out" "usage: status.bash [--watch SECONDS]" "a bad --watch"

step "clearDatabases.bash refuses while the cluster runs, naming each process"
status=0
out="$("$SCRIPTS/clearDatabases.bash" --yes 2>&1)" || status=$?
echo "$out"
[ "$status" = 1 ] || fail "clearDatabases.bash exited $status while the cluster runs"
expect_in "$out" "refusing to delete the databases while the cluster runs" "the refusal"
expect_in "$out" "proxy $PROXY (pid" "the proxy named"
expect_in "$out" "node 127.0.0.1:$p3 runs (pid" "a node named"
[ -d "$LINKRING_RUN_DIR/data/node-127.0.0.1_$p1" ] || fail "the refusal removed data"

step "stopService.bash says nothing of a watcher that was never started"
out="$("$SCRIPTS/stopService.bash" 2>&1)" || fail "stopService.bash failed: $out"
echo "$out"
[[ "$out" != *watcher* ]] || fail "stopService.bash mentions the watcher: $out"

step "a node started by hand on a data directory (its LOCK) counts as running"
"$node" --listen "127.0.0.1:$p2" --data "$LINKRING_RUN_DIR/data/node-127.0.0.1_$p2" >/dev/null 2>&1 &
holder=$!
wait_for 10 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$p2/_/health)\" = 200 ]" || fail "the hand-started node"
out="$("$SCRIPTS/clearDatabases.bash" --yes 2>&1)" && fail "clearDatabases.bash ran beside a node started by hand"
expect_in "$out" "is in use by linkring-node (pid $holder node)" "the hand-started node named"
kill "$holder"
wait "$holder" || true
holder=""

step "stopped: without a terminal it asks for --yes; with --yes it removes every node's data"
out="$("$SCRIPTS/clearDatabases.bash" </dev/null 2>&1)" && fail "clearDatabases.bash ran without confirmation"
expect_in "$out" "Not confirmed: no terminal to ask on; give --yes" "the confirmation"
out="$("$SCRIPTS/clearDatabases.bash" --yes 2>&1)" || fail "clearDatabases.bash --yes failed: $out"
echo "$out"
for port in "$p1" "$p2" "$p3" "$p4"; do
    [ ! -e "$LINKRING_RUN_DIR/data/node-127.0.0.1_$port" ] || fail "node $port's data is still there"
    expect_in "$(cat "$LINKRING_RUN_DIR/logs/clearDatabases.log")" "removed $LINKRING_RUN_DIR/data/node-127.0.0.1_$port (" "the log"
done
out="$("$SCRIPTS/startService.bash")" || fail "startService.bash after the wipe failed"
[ "$(http_code "http://$PROXY/st")" = 404 ] || fail "a key survived the wipe"
echo "ok"
