#!/usr/bin/env bash
# Proves the membership scripts on this machine, on free ports and a private run directory,
# with a writer and a reader through the proxy the whole time: addNode.bash grows the cluster
# 4 → 5 (generation 1), removeNode.bash shrinks it back (generation 2, the removed node stopped
# after it handed its data off), replaceNode.bash swaps a node killed with kill -9 for a new one
# (generation 3). Every key written before and during the changes reads back; no read of an
# acknowledged key misses. Bad input changes nothing: a node already listed, a node not listed.
set -euo pipefail
# shellcheck source=Tests/scripts/lib.bash
source "$(dirname "$0")/lib.bash"
trap 'kill "${load_pid:-0}" 2>/dev/null || true; stop_cluster; rm -rf "$TMP"' EXIT

read -r proxy_port p1 p2 p3 p4 p5 p6 <<<"$(free_ports 7)"
PROXY="127.0.0.1:$proxy_port"
use_cluster "$PROXY" "127.0.0.1:$p1" "127.0.0.1:$p2" "127.0.0.1:$p3" "127.0.0.1:$p4"
export LINKRING_PROXY_ARGS="--restart-after-ms 600000" LINKRING_NODE_ARGS="--sync-interval-ms 500"
"$SCRIPTS/startService.bash" >/dev/null || fail "startService.bash failed"

# load KEYS_FILE MISSES_FILE: PUTs new keys and GETs earlier ones until killed; a GET of an
# acknowledged key that is not 307 is a miss.
load() {
    local i=0 code
    while :; do
        code="$(curl -s -o /dev/null -w '%{http_code}' -X PUT "http://$PROXY/?short=m$i&long=https://m.example/$i")"
        if [ "$code" = 200 ]; then echo "m$i" >>"$1"; else echo "PUT m$i: $code" >>"$2"; fi
        if [ $i -gt 0 ]; then
            local key="m$((RANDOM % i))"
            if grep -qx "$key" "$1"; then
                code="$(curl -s -o /dev/null -w '%{http_code}' "http://$PROXY/$key")"
                [ "$code" = 307 ] || echo "GET $key: $code" >>"$2"
            fi
        fi
        i=$((i + 1))
    done
}
keys="$TMP/keys" misses="$TMP/misses"
: >"$keys"
: >"$misses"
load "$keys" "$misses" &
load_pid=$!
sleep 1

step "addNode.bash grows the cluster to 5 (generation 1)"
out="$("$SCRIPTS/addNode.bash" 127.0.0.1 "$p5")" || fail "addNode.bash failed: $out"
echo "$out" | tail -n 3
expect_in "$out" "node 127.0.0.1:$p5 added (generation 1)" "addNode"
expect_in "$(cat "$LINKRING_HOSTS")" "generation 1" "the hosts file"
expect_in "$(curl -s "http://$PROXY/_/status")" '"membership":{"generation":1,"moving":false' "/_/status"
keys_on_new="$(curl -s "http://127.0.0.1:$p5/_/health" | sed -n 's/.*"keys":\([0-9]*\),.*/\1/p')"
[ "${keys_on_new:-0}" -gt 0 ] || fail "the new node holds no key"

step "bad input changes nothing"
out="$("$SCRIPTS/addNode.bash" 127.0.0.1 "$p5" 2>&1)" && fail "adding a listed node succeeded"
expect_in "$out" "is already in" "addNode of a listed node"
out="$("$SCRIPTS/removeNode.bash" 127.0.0.1 "$p6" 2>&1)" && fail "removing an unlisted node succeeded"
expect_in "$out" "is not in" "removeNode of an unlisted node"
expect_in "$(cat "$LINKRING_HOSTS")" "generation 1" "the hosts file after refusals"

step "removeNode.bash shrinks it to 4 (generation 2) and stops the removed node"
out="$("$SCRIPTS/removeNode.bash" 127.0.0.1 "$p2")" || fail "removeNode.bash failed: $out"
echo "$out" | tail -n 3
expect_in "$out" "node 127.0.0.1:$p2 removed (generation 2)" "removeNode"
[ "$(http_code "http://127.0.0.1:$p2/_/health")" = 000 ] || fail "the removed node still answers"

step "replaceNode.bash replaces a node killed with kill -9 (generation 3)"
kill -9 "$(cat "$LINKRING_RUN_DIR/pids/node-127.0.0.1_$p3.pid")"
out="$("$SCRIPTS/replaceNode.bash" "127.0.0.1:$p3" "127.0.0.1:$p6")" || fail "replaceNode.bash failed: $out"
echo "$out" | tail -n 3
expect_in "$out" "replaced by 127.0.0.1:$p6 (generation 3)" "replaceNode"

kill "$load_pid"
wait "$load_pid" 2>/dev/null || true
step "every acknowledged key reads back; no miss during the changes"
count=0
while read -r key; do
    code="$(curl -s -o /dev/null -w '%{http_code}' "http://$PROXY/$key")"
    [ "$code" = 307 ] || fail "$key answers $code after the changes"
    count=$((count + 1))
done <"$keys"
[ "$count" -gt 50 ] || fail "only $count keys were written"
[ ! -s "$misses" ] || fail "$(wc -l <"$misses") misses or failed writes during the changes: $(head -n 5 "$misses")"
echo "$count keys written during three changes, all read back; no miss"
