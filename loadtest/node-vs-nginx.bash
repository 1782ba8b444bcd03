#!/usr/bin/env bash
# node-vs-nginx.bash: the issue-2 benchmark, in one run: a LinkRing node's GET path against
# nginx answering `return 307` (the HTTP limit of this machine), then log replay speed and
# memory per key.
#
#   loadtest/node-vs-nginx.bash [--quick]        (LINKRING_NODE=path overrides the binary)
#
#   nginx, 1 worker, return 307 ────┐
#                                   ├── wrk -t1 -c64 -dD get_keys.lua (keys k1..kN, uniform),
#   linkring-node, fresh data dir ──┘   nginx and node alternating, R rounds; server CPU from
#     ▲ preload.py PUTs k1..kN          /proc/PID/stat (utime+stime) around every run
#   then: stop the node ─▶ gen_log.py writes M records ─▶ start a node on them R times, time
#   from start to its "listening on" line (polled every 10 ms); RSS (VmRSS) minus an empty
#   node's RSS, per key.
#
#   full:  N=100k, D=10s, R=3, M=1M     quick: N=10k, D=2s, R=1, M=100k
#
# Targets: median req/s node/nginx >= 0.9; replay >= 1M records/s. Exit status 0 even when a
# target fails (the verdict is in the table); 1 when the run itself fails (a server dies, a
# wrong answer). Uses the release binary as built; never builds it. Everything listens on
# 127.0.0.1, every wait and every load is bounded; output lands in loadtest/results/.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

keys=100000 duration_s=10 rounds=3 replay_records=1000000 mode=full
case "${1:-}" in
    --quick) keys=10000 duration_s=2 rounds=1 replay_records=100000 mode=quick ;;
    "") ;;
    *) die "usage: $0 [--quick]" ;;
esac
ratio_target=0.9 replay_target=1000000
node_bin=${LINKRING_NODE:-$REPO_DIR/.build/release/linkring-node}
[[ -x $node_bin ]] || die "$node_bin is missing: build it first (swift build -c release)"
need_command wrk wrk
need_command nginx nginx-light
need_command python3 python3
make_run_dir "node-vs-nginx-$mode"
on_exit "rm -rf '$RUN_DIR/data-bench' '$RUN_DIR/data-empty' '$RUN_DIR/data-replay'"
results="$RUN_DIR/runs.tsv"
log "run directory: $RUN_DIR"

# Prints the value of NAME=… from a `wrk-result`/`preload-result` line.
field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"; }

# A raw HTTP/1.1 GET with Connection: close; prints the whole answer (bounded by 5 s).
http_get() {
    local port=$1 path=$2 fd
    exec {fd}<>"/dev/tcp/127.0.0.1/$port"
    printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$path" >&"$fd"
    timeout 5 cat <&"$fd" || true
    exec {fd}>&-
}

start_nginx() {
    local dir="$RUN_DIR/nginx"
    nginx_port=$(free_port)
    mkdir -p "$dir/tmp"
    cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
    server {
        listen 127.0.0.1:$nginx_port;
        location / { return 307 http://example.com/; }
    }
}
EOF
    start_background nginx nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
    nginx_master=$BG_PID
    wait_for_port "$nginx_port" 10 || die "nginx did not start (see $dir/error.log)"
    nginx_worker=$(tr ' ' '\n' <"/proc/$nginx_master/task/$nginx_master/children" | head -n1)
    [[ -n $nginx_worker ]] || die "no nginx worker process"
    http_get "$nginx_port" /k1 | head -n1 | grep -q ' 307 ' || die "nginx does not answer 307"
}

# Starts a node on DIR; sets node_pid and node_port; prints nothing.
start_node() {
    local name=$1 dir=$2 address
    start_background "$name" "$node_bin" --listen 127.0.0.1:0 --data "$dir"
    node_pid=$BG_PID
    address=$(wait_for_listening "$node_pid" "$RUN_DIR/$name.out" 120) || die "$name did not start (see $RUN_DIR/$name.err)"
    node_port=${address##*:}
}

stop_node() {
    local status=0
    stop_process "$node_pid" || status=$?
    ((status == 0)) || log "WARNING: node $node_pid exited with status $status"
}

# One wrk run against TARGET (nginx|node); appends a line to runs.tsv.
run_wrk() {
    local target=$1 round=$2 seconds=$3 port pid out line before after
    if [[ $target == nginx ]]; then port=$nginx_port pid=$nginx_worker; else port=$node_port pid=$node_pid; fi
    is_running "$pid" || die "$target (pid $pid) is gone before round $round"
    out="$RUN_DIR/wrk-$target-$round.txt"
    before=$(cpu_ticks "$pid")
    timeout $((seconds + 30)) wrk -t1 -c64 -d"${seconds}s" --timeout 5s -s "$LOADTEST_DIR/wrk/get_keys.lua" \
        "http://127.0.0.1:$port" -- "$keys" >"$out" 2>&1 || die "wrk failed against $target (see $out)"
    after=$(cpu_ticks "$pid")
    is_running "$pid" || die "$target (pid $pid) died during round $round"
    [[ $round == warmup ]] && return 0
    line=$(grep '^wrk-result ' "$out") || die "no wrk-result line in $out"
    local requests errors
    requests=$(field requests "$line")
    errors=$(($(field connect "$line") + $(field read "$line") + $(field write "$line") + $(field timeout "$line")))
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$round" "$(field rps "$line")" \
        "$(field p50_us "$line")" "$(field p99_us "$line")" \
        "$(awk -v t=$((after - before)) -v r="$requests" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t * 1e6 / hz / r }')" \
        "$(field status "$line")" "$errors" >>"$results"
    log "$target round $round: $(field rps "$line") req/s, p99 $(field p99_us "$line") µs"
}

# median TARGET COLUMN (1-based in runs.tsv) over the rounds; also min and max.
stats() {
    awk -F'\t' -v t="$1" -v c="$2" '$1 == t { print $c }' "$results" | sort -g |
        awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR] }'
}

benchmark_get() {
    start_nginx
    start_node node-empty "$RUN_DIR/data-empty"
    sleep 0.5
    empty_rss_kb=$(rss_kb "$node_pid")
    stop_node
    start_node node-bench "$RUN_DIR/data-bench"
    preload_line=$(timeout 300 python3 "$LOADTEST_DIR/preload.py" --port "$node_port" --count "$keys" --timeout-s 240) ||
        die "preload failed: $preload_line"
    log "$preload_line"
    bench_rss_kb=$(rss_kb "$node_pid")
    run_wrk nginx warmup 1
    run_wrk node warmup 1
    local round
    for ((round = 1; round <= rounds; round++)); do
        if ((round % 2)); then run_wrk nginx "$round" "$duration_s"; run_wrk node "$round" "$duration_s"
        else run_wrk node "$round" "$duration_s"; run_wrk nginx "$round" "$duration_s"; fi
    done
    stop_node
}

# Replays the same M-record log R times; keeps every time and the first run's memory.
benchmark_replay() {
    mkdir -p "$RUN_DIR/data-replay"
    log "$(python3 "$LOADTEST_DIR/gen_log.py" "$RUN_DIR/data-replay/linkring.log" "$replay_records")"
    local round started probe=$((replay_records / 2 + 1))
    replay_times=()
    for ((round = 1; round <= rounds; round++)); do
        started=$EPOCHREALTIME
        start_node "node-replay-$round" "$RUN_DIR/data-replay"
        replay_times+=("$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')")
        log "replay round $round: ${replay_times[-1]} s to \"listening on\""
        if ((round == 1)); then
            sleep 0.5
            replay_rss_kb=$(rss_kb "$node_pid")
            replay_hwm_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$node_pid/status")
            http_get "$node_port" /_/health | grep -q "\"keys\":$replay_records," || die "the replayed node lacks keys"
            http_get "$node_port" "/k$probe" | grep -q "^Location: http://example.com/page/$probe" ||
                die "the replayed node answers GET /k$probe wrongly"
        fi
        stop_node
    done
    replay_s=$(printf '%s\n' "${replay_times[@]}" | sort -g |
        awk '{ v[NR] = $1 } END { printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
}

print_report() {
    local n ng r ratio verdict
    read -r n _ <<<"$(stats node 3)"
    read -r ng _ <<<"$(stats nginx 3)"
    ratio=$(awk -v a="$n" -v b="$ng" 'BEGIN { printf "%.2f", a / b }')
    verdict=$(awk -v r="$ratio" -v t="$ratio_target" 'BEGIN { print (r >= t ? "PASS" : "FAIL") }')
    row() {  # LABEL COLUMN SCALE FORMAT
        local label=$1 column=$2 scale=$3 format=$4 target values
        printf '| %s |' "$label"
        for target in nginx node; do
            values=$(stats "$target" "$column")
            awk -v v="$values" -v s="$scale" -v f="$format" -v n="$rounds" 'BEGIN {
                split(v, x, " "); if (n > 1) printf " " f " (" f "–" f ") |", x[1] / s, x[2] / s, x[3] / s
                else printf " " f " |", x[1] / s }'
        done
        printf '\n'
    }
    echo
    echo "LinkRing issue 2: node GET vs nginx ($mode mode), $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine: $(nproc) vCPU, $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r); load average at start: $load_at_start, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "load: wrk -t1 -c64 -d${duration_s}s GET /kI, I uniform over $keys stored keys; $rounds round(s), alternating; median (min–max)"
    echo
    echo "| GET | nginx 1.22, 1 worker, return 307 | linkring-node (release) |"
    echo "|---|---|---|"
    row "req/s" 3 1 "%.0f"
    row "p50 latency, ms" 4 1000 "%.2f"
    row "p99 latency, ms" 5 1000 "%.2f"
    row "server CPU, µs/req" 6 1 "%.2f"
    printf '| non-2xx/3xx answers, socket errors | %s, %s | %s, %s |\n' \
        "$(awk -F'\t' '$1 == "nginx" { s += $7 } END { print s + 0 }' "$results")" \
        "$(awk -F'\t' '$1 == "nginx" { s += $8 } END { print s + 0 }' "$results")" \
        "$(awk -F'\t' '$1 == "node" { s += $7 } END { print s + 0 }' "$results")" \
        "$(awk -F'\t' '$1 == "node" { s += $8 } END { print s + 0 }' "$results")"
    echo
    echo "GET ratio node/nginx (median req/s): $ratio (target >= $ratio_target): $verdict"
    echo "preload over HTTP (PUT, fsync always, 64 connections x 8 pipelined): $(field puts_per_s "$preload_line") PUT/s for $keys keys"
    r=$(awk -v n="$replay_records" -v s="$replay_s" 'BEGIN { printf "%.0f", n / s }')
    echo "replay: $replay_records records ($(stat -c %s "$RUN_DIR/data-replay/linkring.log") bytes), time from start to \"listening on\" (median of ${replay_times[*]} s): ${replay_s} s = $r records/s (target >= $replay_target): $(awk -v r="$r" -v t="$replay_target" 'BEGIN { print (r >= t ? "PASS" : "FAIL") }')"
    echo "memory: empty node RSS $((empty_rss_kb / 1024)) MiB; after replaying $replay_records keys $((replay_rss_kb / 1024)) MiB (peak VmHWM $((replay_hwm_kb / 1024)) MiB): $(( (replay_rss_kb - empty_rss_kb) * 1024 / replay_records )) bytes/key; after $keys HTTP PUTs: $(( (bench_rss_kb - empty_rss_kb) * 1024 / keys )) bytes/key"
    echo "node stderr warnings/errors: $(cat "$RUN_DIR"/node-*.err | grep -cvE ' INFO ' || true)"
}

load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
benchmark_get
benchmark_replay
print_report | tee "$RUN_DIR/summary.md"
