#!/usr/bin/env bash
# scale.bash: one linkring-node filled through its HTTP API to growing key counts, and Redis with
# the same data, in one run: memory per key, restart time, peak start-up memory, GET/PUT rates.
#
#   loadtest/scale.bash [--sizes 100000,1000000] [--seconds 5]
#                                       (LINKRING_BIN_DIR=dir: use the binaries there, no build)
#
# For each size N (cumulative: the same node grows from one size to the next):
#   fill      preload.py PUTs k1..kN (64 connections × 8 pipelined, fsync always)
#   memory    (RSS − RSS of the empty node) / N, after the fill
#   GET       wrk -t1 -c64 get_keys.lua over k1..kN (uniform), --seconds
#   restart   SIGTERM (the hint file is written) ─▶ start ─▶ "listening on": time, VmHWM (peak
#             RSS while starting) and RSS per key after it; then kill -9 ─▶ start (no hint: the
#             log is replayed in chunks): time and VmHWM
#   PUT       wrk -t1 -c64 put_keys.lua over k1..kN (overwrites), --seconds
#   Redis     redis-server (no persistence) fed the same N keys by redis-cli --pipe:
#             (used_memory − used_memory empty) / N from INFO memory, and its RSS per key
# Prints a Markdown table (and RUN_DIR/scale.tsv, RUN_DIR/scale.png with gnuplot).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

sizes=100000,1000000 seconds=5
while (($# > 0)); do
    case $1 in
        --sizes) sizes=$2; shift ;;
        --seconds) seconds=$2; shift ;;
        *) die "usage: $0 [--sizes N,N…] [--seconds S]" ;;
    esac
    shift
done
need_command wrk wrk
need_command redis-server redis-server
need_command gnuplot gnuplot-nox
make_run_dir scale
NODE_BIN=${LINKRING_BIN_DIR:-$LOADTEST_DIR/../.build/release}/linkring-node
[[ -x $NODE_BIN ]] || die "no $NODE_BIN: build with swift build -c release --static-swift-stdlib"
DATA="$RUN_DIR/data"
mkdir -p "$DATA"
on_exit "rm -rf '$DATA'"
TSV="$RUN_DIR/scale.tsv"
printf 'keys\tnode_bytes_per_key\tnode_bytes_per_key_after_restart\thint_restart_s\thint_peak_mib\treplay_restart_s\treplay_peak_mib\tget_rps\tput_rps\tredis_used_bytes_per_key\tredis_rss_bytes_per_key\n' >"$TSV"

start_node() {  # NAME: starts the node on DATA; sets NODE_PID, NODE_PORT, START_S
    local started=$EPOCHREALTIME address
    start_background "$1" "$NODE_BIN" --listen 127.0.0.1:0 --data "$DATA" --fsync always
    NODE_PID=$BG_PID
    address=$(wait_for_listening "$NODE_PID" "$RUN_DIR/$1.out" 300) || die "the node did not start ($RUN_DIR/$1.err)"
    START_S=$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
    NODE_PORT=${address##*:}
}

peak_mib() { awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

wrk_rps() {  # SCRIPT N: requests per second of one wrk run against the node
    local out="$RUN_DIR/wrk-$1-$2.txt"
    timeout $((seconds + 30)) wrk -t1 -c64 -d"${seconds}s" --timeout 5s -s "$LOADTEST_DIR/wrk/$1" \
        "http://127.0.0.1:$NODE_PORT" -- "$2" >"$out" 2>&1 || die "wrk failed (see $out)"
    field rps "$(grep '^wrk-result ' "$out")"
}

redis_per_key() {  # N: "used-bytes-per-key rss-bytes-per-key" of a redis-server holding k1..kN
    local port pid empty used rss empty_rss
    port=$(free_port)
    start_background redis redis-server --port "$port" --save "" --appendonly no --bind 127.0.0.1
    pid=$BG_PID
    wait_for_port "$port" 10 || die "redis did not start"
    empty=$(redis-cli -p "$port" info memory | awk -F: '/^used_memory:/ { print $2 + 0 }')
    empty_rss=$(rss_kb "$pid")
    python3 -c "
import sys
out = sys.stdout.buffer
for i in range(1, $1 + 1):
    k = b'k%d' % i
    v = b'http://example.com/page/%d' % i
    out.write(b'*3\r\n\$3\r\nSET\r\n\$%d\r\n%s\r\n\$%d\r\n%s\r\n' % (len(k), k, len(v), v))
" | timeout 300 redis-cli -p "$port" --pipe >"$RUN_DIR/redis-pipe.txt" 2>&1 || die "redis-cli --pipe failed"
    used=$(redis-cli -p "$port" info memory | awk -F: '/^used_memory:/ { print $2 + 0 }')
    rss=$(rss_kb "$pid")
    stop_process "$pid" || true
    echo "$(((used - empty) / $1)) $(((rss - empty_rss) * 1024 / $1))"
}

start_node node-empty
sleep 0.3
empty_kb=$(rss_kb "$NODE_PID")
filled=0
IFS=, read -r -a counts <<<"$sizes"
for n in "${counts[@]}"; do
    log "filling to $n keys"
    timeout 1200 python3 "$LOADTEST_DIR/preload.py" --port "$NODE_PORT" --first $((filled + 1)) --count $((n - filled)) \
        --timeout-s 1200 >"$RUN_DIR/preload-$n.txt" || die "preload failed (see $RUN_DIR/preload-$n.txt)"
    filled=$n
    sleep 0.3
    per_key=$((($(rss_kb "$NODE_PID") - empty_kb) * 1024 / n))
    get_rps=$(wrk_rps get_keys.lua "$n")
    log "$n keys: $per_key bytes/key, GET $get_rps req/s"
    stop_process "$NODE_PID" || die "the node did not stop cleanly"
    start_node "node-hint-$n"
    grep -q "entries loaded" "$RUN_DIR/node-hint-$n.err" || die "the restart did not load the hint file"
    hint_s=$START_S hint_peak=$(peak_mib "$NODE_PID")
    sleep 0.3
    after_restart=$((($(rss_kb "$NODE_PID") - empty_kb) * 1024 / n))
    kill -KILL "$NODE_PID"
    stop_process "$NODE_PID" || true
    start_node "node-replay-$n"
    replay_s=$START_S replay_peak=$(peak_mib "$NODE_PID")
    [[ $(http_get "$NODE_PORT" /_/health) == *"\"keys\":$n,"* ]] || die "the replayed node lacks keys"
    put_rps=$(wrk_rps put_keys.lua "$n")
    read -r redis_used redis_rss <<<"$(redis_per_key "$n")"
    log "$n keys: restart $hint_s s (hint, peak $hint_peak MiB), $replay_s s (replay, peak $replay_peak MiB), PUT $put_rps req/s"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$per_key" "$after_restart" "$hint_s" "$hint_peak" "$replay_s" \
        "$replay_peak" "$get_rps" "$put_rps" "$redis_used" "$redis_rss" >>"$TSV"
done
stop_process "$NODE_PID" || true

echo "| keys | node RSS B/key (filled) | node RSS B/key (after restart) | restart with hint s (peak MiB) | restart by replay s (peak MiB) | GET req/s | PUT req/s | Redis used_memory B/key | Redis RSS B/key |"
echo "|---|---|---|---|---|---|---|---|---|"
awk -F'\t' 'NR > 1 { printf "| %s | %s | %s | %s (%s) | %s (%s) | %.0f | %.0f | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 }' "$TSV"
gnuplot <<EOF || log "gnuplot failed: no plot"
set terminal pngcairo size 900,500
set output "$RUN_DIR/scale.png"
set title "Memory per key: linkring-node vs Redis (same keys and URLs)"
set xlabel "keys"; set ylabel "bytes per key"; set logscale x; set key top left; set grid
plot "$TSV" using 1:2 skip 1 with linespoints title "node RSS (filled)", \
     "$TSV" using 1:3 skip 1 with linespoints title "node RSS (after restart)", \
     "$TSV" using 1:10 skip 1 with linespoints title "Redis used_memory", \
     "$TSV" using 1:11 skip 1 with linespoints title "Redis RSS"
EOF
log "results in $RUN_DIR (scale.tsv, scale.png)"
