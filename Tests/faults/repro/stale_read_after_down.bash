#!/usr/bin/env bash
# Reproduces, deterministically and on loopback, the stale reads the fault suite finds after a
# node was down: the proxy routes reads to a node as soon as a ping says "ready", although
# the node missed writes that the proxy sent only to the other replica while it counted the
# node down. The node serves its older value until anti-entropy repairs it.
#
#   Tests/faults/repro/stale_read_after_down.bash restart|sigstop [BIN_DIR]
#
#   restart  kill -9 the key's primary X; the proxy marks X down; PUT v2 (only on Y); restart X:
#            it pulls v2 from Y and says ready; PUT v3 before the proxy's next ping (only on Y)
#   sigstop  SIGSTOP X; the proxy marks X down; PUT v3 (only on Y); SIGCONT X
#   then:    wait for the proxy to log X up (ready); GET through the proxy
#
# The proxy pings every 3 s (a wide window instead of luck) and anti-entropy runs every 60 s
# (so it cannot hide the stale read). Prints what each step saw; exits 1 when the GET answers
# an older value than the acknowledged v3 (the bug), 0 when it answers v3.
# Stops every process it started, by PID, and removes its directory on exit.
set -euo pipefail

MODE="${1:?usage: $0 restart|sigstop [BIN_DIR]}"
BIN_DIR="${2:-$(cd "$(dirname "$0")/../../.." && pwd)/.build/release}"
WORK="$(mktemp -d /tmp/linkring-stale-repro.XXXXXX)"
BASE=$((20000 + RANDOM % 20000))
PROXY="127.0.0.1:$((BASE + 10))"
PIDS=()

# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -CONT "$pid" 2>/dev/null || true
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

start_node() {
    "$BIN_DIR/linkring-node" --listen "127.0.0.1:$((BASE + $1))" --data "$WORK/d$1" --hosts "$WORK/hosts.txt" \
        --sync-interval-ms 60000 >>"$WORK/n$1.out" 2>>"$WORK/n$1.err" &
    NODE_PID[$1]=$!
    PIDS+=("$!")
}

status_of() { curl -s "http://$PROXY/_/status" | grep -o "\"address\":\"$1\",\"state\":\"[a-z]*\"" | cut -d'"' -f8; }

# Sends reads of k (X is its primary) until the proxy counts X down: passive detection.
wait_down() {
    local attempt
    for ((attempt = 0; attempt < 100; attempt++)); do
        curl -s -o /dev/null -m 5 "http://$PROXY/k" || true
        [[ $(status_of "$1") == down ]] && return 0
        sleep 0.1
    done
    echo "the proxy never marked $1 down" >&2
    exit 2
}

wait_up() {
    local attempt
    for ((attempt = 0; attempt < 100; attempt++)); do
        [[ $(status_of "$1") == up ]] && return 0
        sleep 0.1
    done
    echo "the proxy never marked $1 up" >&2
    exit 2
}

put() { curl -s -o /dev/null -w "PUT k=$1: %{http_code}\n" -X PUT "http://$PROXY/?short=k&long=http://$1"; }

declare -a NODE_PID
for i in 0 1 2 3; do echo "127.0.0.1:$((BASE + i))"; done >"$WORK/hosts.txt"
for i in 0 1 2 3; do start_node "$i"; done
"$BIN_DIR/linkring-proxy" --listen "$PROXY" --hosts "$WORK/hosts.txt" --ping-interval-ms 3000 \
    --status-interval-s 0 >"$WORK/p.out" 2>"$WORK/p.err" &
PIDS+=("$!")
sleep 1.5
put v1
X="$(curl -s "http://$PROXY/_/status?key=k" | grep -o '"replicas":\["[0-9.:]*' | cut -d'"' -f4)"
XI=$(( ${X##*:} - BASE ))
echo "primary of k: $X"
if [[ $MODE == restart ]]; then
    kill -KILL "${NODE_PID[$XI]}"
    wait "${NODE_PID[$XI]}" 2>/dev/null || true
    wait_down "$X"
    put v2
    start_node "$XI"
    sleep 0.3
    echo "X's own health: $(curl -s "http://$X/_/health" | grep -o '"state":"[a-z]*"')"
    put v3
else
    kill -STOP "${NODE_PID[$XI]}"
    wait_down "$X"
    put v3
    kill -CONT "${NODE_PID[$XI]}"
fi
wait_up "$X"
grep -h "node $X is" "$WORK/p.err" | tail -n 1
ANSWER="$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://$PROXY/k")"
echo "GET k through the proxy: $ANSWER (acknowledged last: http://v3)"
echo "X holds: $(curl -s "http://$X/_/kv?short=k")"
if [[ $ANSWER == "307 http://v3/" || $ANSWER == "307 http://v3" ]]; then echo "ok: no stale read"; exit 0; fi
echo "STALE: the proxy read from X, which missed the acknowledged write v3"
exit 1
