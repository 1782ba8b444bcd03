#!/usr/bin/env bash
# catchup.bash: how fast a node that missed writes catches up, while the cluster serves GETs
# (issue 4's target: 100k missed keys in under 10 s), and what a no-difference anti-entropy
# round costs on the loop.
#
#   loadtest/catchup.bash [--keys N] [--quick]
#
# 4 nodes + proxy (release binaries, copies in the run dir). One node is killed before N keys
# are stored through the proxy (with 2 replicas of 4 nodes it misses about N/2 of them), then
# restarted under a wrk GET load; the time from its start to /_/health "ready" is the catch-up
# time. Default N = 200000 (≈100k missed); --quick uses 20000. Prints `catchup-result …`.
set -euo pipefail
source "$(dirname "$0")/lib.bash"

keys=200000
while [[ $# -gt 0 ]]; do
    case $1 in
    --keys) keys=$2; shift 2 ;;
    --quick) keys=20000; shift ;;
    *) die "usage: catchup.bash [--keys N] [--quick]" ;;
    esac
done
need_command wrk wrk
need_command curl curl
source "$REPO_DIR/scripts/lib/common.bash"
build_release
make_run_dir catchup
cp "$REPO_DIR/.build/release/linkring-node" "$REPO_DIR/.build/release/linkring-proxy" "$RUN_DIR/"
trap stop_everything EXIT

read -r -a ports <<<"$(free_ports 4)"
printf '127.0.0.1:%s\n' "${ports[@]}" >"$RUN_DIR/hosts.txt"
node_pids=()
start_node() {  # INDEX
    start_background "node$1" "$RUN_DIR/linkring-node" --listen "127.0.0.1:${ports[$1]}" --data "$RUN_DIR/data$1" \
        --hosts "$RUN_DIR/hosts.txt" --sync-interval-ms 2000
    node_pids[$1]=$BG_PID
    wait_for_listening "$BG_PID" "$RUN_DIR/node$1.out" 30 >/dev/null
}
for index in 0 1 2 3; do start_node "$index"; done
start_background proxy "$RUN_DIR/linkring-proxy" --listen 127.0.0.1:0 --hosts "$RUN_DIR/hosts.txt" --status-interval-s 0
proxy=$(wait_for_listening "$BG_PID" "$RUN_DIR/proxy.out" 30)
proxy_port=${proxy##*:}
proxy_pid=$BG_PID

victim=1
kill -9 "${node_pids[$victim]}"
log "node ${ports[$victim]} killed; storing $keys keys through the proxy"
python3 "$LOADTEST_DIR/preload.py" --port "$proxy_port" --count "$keys" --timeout-s 300 | tee "$RUN_DIR/preload.txt" >&2

load_seconds=$((keys >= 100000 ? 30 : 10))
timeout $((load_seconds + 30)) wrk -t1 -c16 -d"${load_seconds}s" --timeout 5s -s "$LOADTEST_DIR/wrk/get_keys.lua" \
    "http://127.0.0.1:$proxy_port" -- "$keys" >"$RUN_DIR/wrk-during.txt" 2>&1 &
wrk_pid=$!
sleep 1
started=$(date +%s.%N)
start_node "$victim"
deadline=$((SECONDS + 60))
until http_get "${ports[$victim]}" /_/health | grep -q '"state":"ready"'; do
    ((SECONDS < deadline)) || die "node not ready within 60 s"
    sleep 0.02
done
ready=$(date +%s.%N)
health=$(http_get "${ports[$victim]}" /_/health)
pulled=$(sed -n 's/.*"repaired":\([0-9]*\).*/\1/p' <<<"$health")
wait "$wrk_pid" || die "wrk failed during catch-up (see $RUN_DIR/wrk-during.txt)"
wrk_line=$(grep '^wrk-result ' "$RUN_DIR/wrk-during.txt")
seconds=$(awk -v a="$started" -v b="$ready" 'BEGIN { printf "%.2f", b - a }')

sleep 4.5  # two idle rounds: digests equal, nothing to pull
compare_us=$(for index in 0 1 2 3; do http_get "${ports[$index]}" /_/health | sed -n 's/.*"lastCompareMicroseconds":\([0-9]*\).*/\1/p'; done | sort -n | tail -1)
idle_round_ms=$(http_get "${ports[$victim]}" /_/health | sed -n 's/.*"lastRoundMs":\([0-9]*\).*/\1/p')
printf 'catchup-result keys_stored=%s records_pulled=%s seconds=%s records_per_s=%s get_rps_during=%s get_errors=%s idle_round_ms=%s compare_us_max=%s target=%s\n' \
    "$keys" "$pulled" "$seconds" "$(awk -v n="$pulled" -v s="$seconds" 'BEGIN { printf "%.0f", n / s }')" \
    "$(field rps "$wrk_line")" "$(($(field status "$wrk_line") + $(field connect "$wrk_line") + $(field read "$wrk_line") + $(field timeout "$wrk_line")))" \
    "$idle_round_ms" "$compare_us" "$(awk -v s="$seconds" 'BEGIN { print (s < 10 ? "PASS" : "FAIL") }')"
is_running "$proxy_pid" || die "proxy died"
