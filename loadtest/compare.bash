#!/usr/bin/env bash
# compare.bash: LinkRing against the systems a user would pick instead, all in one run on this
# machine, with the targets of issue 2 (node), issue 3 (proxy) and issue 16 (durable PUTs) as
# ratios and PASS/FAIL.
#
#   loadtest/compare.bash [--quick] [--only PATH,PATH…]
#                                       (LINKRING_BIN_DIR=dir: use the binaries there, no build)
#
#   wrk -t1 -c64 -dD, keys k1..kN uniform, every path alike (nginx answers any key):
#     nginx-307          nginx, 1 worker, return 307 (the HTTP limit)
#     nginx-proxy        nginx, 1 worker, keep-alive reverse proxy ─▶ nginx-307
#     webdis-get         webdis ─▶ redis (appendfsync no), GET /GET/kI
#     webdis-set-no      webdis ─▶ redis (appendfsync no), GET /SET/kI/…
#     webdis-set-always  webdis ─▶ redis (appendfsync always), GET /SET/kI/…
#     node-get, node-put     one linkring-node, fsync always
#     proxy-get, proxy-put   linkring-proxy ─▶ 4 nodes (fsync always), 2 replicas per key
#     webdis-set-always-c16, node-put-c16, proxy-put-c16   the same PUTs with 16 connections
#     webdis-set-everysec, node-put-everysec, proxy-put-everysec   appendfsync / --fsync everysec
#   redis-benchmark -c64 -r100000 -t set,get:
#     redis-get/set      redis direct          twemproxy-get/set  nutcracker ─▶ 2 redis (ketama)
#   then log replay of M records and memory per key (as issue 2 asks).
#
#   full: N=100k, D=10s, R=3 rounds (order rotated each round), M=1M; quick: N=10k, D=1s, R=1,
#   M=100k. Each path gets a 1 s warm-up. Server CPU per request sums every process of a path.
#   --only measures just the named paths (e.g. nginx-proxy,webdis-get,proxy-get: an A/B of
#   one target in a third of the time) and skips the replay; the tables show what was measured.
#
# Exit status 0 even when a target fails (the table says so; this machine is noisy); 1 when the
# run itself breaks: a server dies, a wrong answer, or LinkRing answers an error.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

keys=100000 duration_s=10 rounds=3 replay_records=1000000 bench_requests=400000 mode=full only=""
while (($# > 0)); do
    case $1 in
        --quick) keys=10000 duration_s=1 rounds=1 replay_records=100000 bench_requests=20000 mode=quick ;;
        --only) [[ -n ${2:-} ]] || die "--only needs PATH,PATH…"; only=$2; shift ;;
        *) die "usage: $0 [--quick] [--only PATH,PATH…]" ;;
    esac
    shift
done
for need in wrk:wrk nginx:nginx-light redis-server:redis-server redis-benchmark:redis-tools \
    webdis:webdis nutcracker:nutcracker python3:python3; do
    need_command "${need%%:*}" "${need#*:}"
done
make_run_dir "compare-$mode"
log "run directory: $RUN_DIR"
prepare_binaries
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)

start_everything() {
    start_nginx_307
    start_nginx_proxy "$NGINX_PORT"
    start_redis redis-no no; redis_no_port=$REDIS_PORT redis_no_pid=$REDIS_PID
    start_redis redis-no2 no; redis_no2_port=$REDIS_PORT redis_no2_pid=$REDIS_PID
    start_redis redis-always always; redis_always_port=$REDIS_PORT redis_always_pid=$REDIS_PID
    start_webdis "$redis_no_port"; webdis_no_port=$WEBDIS_PORT webdis_no_pid=$WEBDIS_PID
    start_webdis "$redis_always_port"; webdis_always_port=$WEBDIS_PORT webdis_always_pid=$WEBDIS_PID
    start_redis redis-everysec everysec; redis_everysec_port=$REDIS_PORT redis_everysec_pid=$REDIS_PID
    start_webdis "$redis_everysec_port"; webdis_everysec_port=$WEBDIS_PORT webdis_everysec_pid=$WEBDIS_PID
    start_node node-everysec --fsync everysec; node_everysec_port=$NODE_PORT node_everysec_pid=$NODE_PID
    start_cluster cluster-everysec 4 --fsync everysec
    proxy_everysec_port=$PROXY_PORT proxy_everysec_pids="$PROXY_PID ${CLUSTER_PIDS[*]}"
    start_nutcracker "$redis_no_port" "$redis_no2_port"
    start_node node
    sleep 0.5
    empty_rss_kb=$(rss_kb "$NODE_PID")
    start_cluster cluster 4
    redis_preload "$redis_no_port" "$keys"
    redis_preload "$redis_always_port" "$keys"
    preload_line=$(timeout 300 python3 "$LOADTEST_DIR/preload.py" --port "$NODE_PORT" --count "$keys" --timeout-s 240) ||
        die "preload of the node failed: $preload_line"
    node_rss_kb=$(rss_kb "$NODE_PID")
    proxy_preload_line=$(timeout 300 python3 "$LOADTEST_DIR/preload.py" --port "$PROXY_PORT" --count "$keys" --timeout-s 240) ||
        die "preload through the proxy failed: $proxy_preload_line"
    log "node: $preload_line"
    log "proxy: $proxy_preload_line"
}

# redis-benchmark -t set,get against PORT; records LABEL-set and LABEL-get.
run_redis_benchmark() {
    local label=$1 round=$2 port=$3 out before after test line
    local -a pids
    read -r -a pids <<<"$4"
    out="$RUN_DIR/redis-benchmark-$label-$round.csv"
    before=$(cpu_ticks_sum "${pids[@]}")
    timeout 300 redis-benchmark -h 127.0.0.1 -p "$port" -c 64 -n "$bench_requests" -r 100000 -t set,get --csv \
        >"$out" 2>"$RUN_DIR/redis-benchmark-$label-$round.err" || die "redis-benchmark failed on $label"
    after=$(cpu_ticks_sum "${pids[@]}")
    for test in set get; do
        # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
        line=$(grep -i "^\"$test\"," "$out" | tr -d '"') || die "no $test line in $out"
        IFS=, read -r _ rps _ _ p50 _ p99 _ <<<"$line"
        # CPU is shared by the SET and GET phases, so each gets the mean per request of both.
        record_row "$label-$test" "$round" "$rps" "$(awk -v v="$p50" 'BEGIN { print v * 1000 }')" \
            "$(awk -v v="$p99" 'BEGIN { print v * 1000 }')" - $((after - before)) $((2 * bench_requests)) 0 0
    done
    log "$label round $round: $(tr -d '"' <"$out" | awk -F, 'NR > 1 { printf "%s %s req/s  ", $1, $2 }')"
}

# One measurement of LABEL (see the list at the top); ROUND "warmup" is not recorded.
measure() {
    local label=$1 round=$2 seconds=$3 nginx="http://127.0.0.1:$NGINX_PORT" connections=64 script
    [[ $label != *-c16 ]] || connections=16
    script=$(case $label in *-get) echo get_keys.lua ;; *) echo put_keys.lua ;; esac)
    case $label in
        nginx-307) run_wrk "$label" "$round" "$seconds" 64 "$NGINX_PID" "$nginx" get_keys.lua "$keys" ;;
        nginx-proxy) run_wrk "$label" "$round" "$seconds" 64 "$NGINXRP_PID $NGINX_PID" \
            "http://127.0.0.1:$NGINXRP_PORT" get_keys.lua "$keys" ;;
        webdis-get) LOADTEST_API=webdis run_wrk "$label" "$round" "$seconds" 64 "$webdis_no_pid $redis_no_pid" \
            "http://127.0.0.1:$webdis_no_port" get_keys.lua "$keys" ;;
        webdis-set-no) LOADTEST_API=webdis run_wrk "$label" "$round" "$seconds" 64 "$webdis_no_pid $redis_no_pid" \
            "http://127.0.0.1:$webdis_no_port" put_keys.lua "$keys" ;;
        webdis-set-always | webdis-set-always-c16) LOADTEST_API=webdis run_wrk "$label" "$round" "$seconds" "$connections" \
            "$webdis_always_pid $redis_always_pid" "http://127.0.0.1:$webdis_always_port" put_keys.lua "$keys" ;;
        webdis-set-everysec) LOADTEST_API=webdis run_wrk "$label" "$round" "$seconds" 64 \
            "$webdis_everysec_pid $redis_everysec_pid" "http://127.0.0.1:$webdis_everysec_port" put_keys.lua "$keys" ;;
        node-get | node-put | node-put-c16) run_wrk "$label" "$round" "$seconds" "$connections" "$NODE_PID" \
            "http://127.0.0.1:$NODE_PORT" "$script" "$keys" ;;
        proxy-get | proxy-put | proxy-put-c16) run_wrk "$label" "$round" "$seconds" "$connections" "$PROXY_PID ${CLUSTER_PIDS[*]}" \
            "http://127.0.0.1:$PROXY_PORT" "$script" "$keys" ;;
        node-put-everysec) run_wrk "$label" "$round" "$seconds" 64 "$node_everysec_pid" \
            "http://127.0.0.1:$node_everysec_port" put_keys.lua "$keys" ;;
        proxy-put-everysec) run_wrk "$label" "$round" "$seconds" 64 "$proxy_everysec_pids" \
            "http://127.0.0.1:$proxy_everysec_port" put_keys.lua "$keys" ;;
        redis) [[ $round == warmup ]] || run_redis_benchmark redis "$round" "$redis_no_port" "$redis_no_pid" ;;
        twemproxy) [[ $round == warmup ]] || run_redis_benchmark twemproxy "$round" "$NUTCRACKER_PORT" \
            "$NUTCRACKER_PID $redis_no_pid $redis_no2_pid" ;;
        *) die "unknown path $label" ;;
    esac
}

paths=(nginx-307 nginx-proxy webdis-get webdis-set-no webdis-set-always node-get node-put proxy-get proxy-put redis twemproxy
    webdis-set-always-c16 node-put-c16 proxy-put-c16 webdis-set-everysec node-put-everysec proxy-put-everysec)
if [[ -n $only ]]; then
    IFS=, read -r -a chosen <<<"$only"
    for label in "${chosen[@]}"; do
        [[ " ${paths[*]} " == *" $label "* ]] || die "unknown path $label (paths: ${paths[*]})"
    done
    paths=("${chosen[@]}")
fi

run_rounds() {
    local label round index count=${#paths[@]}
    for label in "${paths[@]}"; do measure "$label" warmup 1; done
    for ((round = 1; round <= rounds; round++)); do
        for ((index = 0; index < count; index++)); do
            measure "${paths[(index + (round - 1) * 4) % count]}" "$round" "$duration_s"
        done
    done
}

# Starts a node on an M-record log R times: median time to "listening on"; memory of the first.
benchmark_replay() {
    local dir="$RUN_DIR/data-replay" round started probe=$((replay_records / 2 + 1)) times=()
    mkdir -p "$dir"
    on_exit "rm -rf '$dir'"
    log "$(python3 "$LOADTEST_DIR/gen_log.py" "$dir/linkring.log" "$replay_records")"
    replay_log_bytes=$(stat -c %s "$dir/linkring.log")
    for ((round = 1; round <= rounds; round++)); do
        started=$EPOCHREALTIME
        start_background "node-replay-$round" "$NODE_BIN" --listen 127.0.0.1:0 --data "$dir"
        local pid=$BG_PID address
        address=$(wait_for_listening "$pid" "$RUN_DIR/node-replay-$round.out" 120) || die "the replay node did not start"
        times+=("$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')")
        log "replay round $round: ${times[-1]} s to \"listening on\""
        if ((round == 1)); then
            sleep 0.5
            replay_rss_kb=$(rss_kb "$pid")
            replay_hwm_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
            http_get "${address##*:}" /_/health | grep -q "\"keys\":$replay_records," || die "the replayed node lacks keys"
            http_get "${address##*:}" "/k$probe" | grep -q "^Location: http://example.com/page/$probe" ||
                die "the replayed node answers GET /k$probe wrongly"
        fi
        stop_process "$pid" || die "the replay node did not stop cleanly"
    done
    replay_times="${times[*]}"
    replay_s=$(printf '%s\n' "${times[@]}" | median)
}

# Whether LABEL has results (every path does unless --only left it out).
measured() { awk -F'\t' -v l="$1" '$1 == l { found = 1 } END { exit !found }' "$RESULTS"; }

# One table row: LABEL, then median (min–max) of req/s, p50, p99, p99.9, CPU; errors.
row() {
    local label=$1 text=$2 column scale format
    measured "$label" || return 0
    printf '| %s |' "$text"
    for column in 3:1:%.0f 4:1000:%.2f 5:1000:%.2f 6:1000:%.2f 7:1:%.1f; do
        IFS=: read -r column scale format <<<"$column"
        awk -v v="$(stats "$label" "$column")" -v s="$scale" -v f="$format" -v n="$rounds" 'BEGIN {
            split(v, x, " "); if (x[1] == "-") { printf " – |"; exit }
            if (n > 1) printf " " f " (" f "–" f ") |", x[1] / s, x[2] / s, x[3] / s; else printf " " f " |", x[1] / s }'
    done
    printf ' %s, %s |\n' "$(total "$label" 8)" "$(total "$label" 9)"
}

# Ratio of the median req/s of A and B, the range of the per-round ratios, and the ratio of
# their server CPU per request (B's over A's: how many more requests A serves per CPU-second),
# which depends much less on what else runs on the machine.
ratio_row() {
    local a=$1 b=$2 text=$3 target=${4:-} value range by_cpu
    measured "$a" && measured "$b" || return 0
    value=$(ratio "$(stats "$a" 3 | cut -d' ' -f1)" "$(stats "$b" 3 | cut -d' ' -f1)")
    by_cpu=$(ratio "$(stats "$b" 7 | cut -d' ' -f1)" "$(stats "$a" 7 | cut -d' ' -f1)")
    range=$(awk -F'\t' -v a="$a" -v b="$b" '$1 == a { x[$2] = $3 } $1 == b { y[$2] = $3 }
        END { for (r in x) if (r in y && y[r] > 0) print x[r] / y[r] }' "$RESULTS" | sort -g |
        awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR > 1) printf "%.2f–%.2f", lo, hi; else print "–" }')
    if [[ -n $target ]]; then
        printf '| %s | **%s** | %s | %s | ≥ %s | **%s** |\n' "$text" "$value" "$range" "$by_cpu" "$target" "$(verdict "$value" "$target")"
    else
        printf '| %s | %s | %s | %s | – | reported |\n' "$text" "$value" "$range" "$by_cpu"
    fi
}

print_report() {
    local put p99 replay_rate
    echo "## Comparison ($mode mode), $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    describe_machine
    echo "binaries: linkring-node/-proxy built $BINARIES_BUILT (HEAD $(git -C "$REPO_DIR" rev-parse --short HEAD)); nginx $(nginx -v 2>&1 | sed 's/.*\///'), redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), wrk 4.1.0"
    echo "load average at start: $load_at_start, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "HTTP: wrk -t1 -c64 -d${duration_s}s, keys k1..k$keys uniform; redis: redis-benchmark -c64 -n$bench_requests -r100000; $rounds round(s), median (min–max)"
    echo
    echo "| path | req/s | p50 ms | p99 ms | p99.9 ms | server CPU µs/req | non-2xx/3xx, socket errors |"
    echo "|---|---|---|---|---|---|---|"
    row nginx-307 "nginx 1 worker, return 307 (the HTTP limit)"
    row nginx-proxy "nginx reverse proxy (keep-alive) → nginx 307"
    row webdis-get "webdis + redis GET"
    row webdis-set-no "webdis + redis SET, appendfsync no"
    row webdis-set-always "webdis + redis SET, appendfsync always"
    row redis-get "redis direct GET (redis-benchmark)"
    row twemproxy-get "twemproxy → 2 redis GET (redis-benchmark)"
    row redis-set "redis direct SET (redis-benchmark)"
    row twemproxy-set "twemproxy → 2 redis SET (redis-benchmark)"
    row node-get "**linkring-node GET**"
    row node-put "linkring-node PUT, fsync always"
    row proxy-get "**linkring-proxy → 4 nodes GET**"
    row proxy-put "**linkring-proxy → 4 nodes PUT, fsync always, 2 replicas**"
    row webdis-set-always-c16 "webdis + redis SET, appendfsync always, 16 connections"
    row node-put-c16 "linkring-node PUT, fsync always, 16 connections"
    row proxy-put-c16 "**linkring-proxy → 4 nodes PUT, fsync always, 2 replicas, 16 connections**"
    row webdis-set-everysec "webdis + redis SET, appendfsync everysec"
    row node-put-everysec "linkring-node PUT, fsync everysec"
    row proxy-put-everysec "linkring-proxy → 4 nodes PUT, fsync everysec, 2 replicas"
    echo
    echo "| ratio of req/s | median | per round | by CPU/req | target | verdict |"
    echo "|---|---|---|---|---|---|"
    ratio_row node-get nginx-307 "node GET / nginx 307 (issue 2)" 0.9
    ratio_row proxy-get nginx-proxy "proxy GET / nginx reverse proxy (issue 3)" 1.3
    ratio_row proxy-get webdis-get "proxy GET / webdis GET (issue 3)" 1.2
    ratio_row proxy-put webdis-set-always "proxy PUT (fsync always ×2) / webdis SET appendfsync always, c64 (issue 16)" 1.0
    ratio_row proxy-put-c16 webdis-set-always-c16 "proxy PUT / webdis SET appendfsync always, c16 (issue 16)" 1.0
    ratio_row node-put webdis-set-always "node PUT (fsync always) / webdis SET appendfsync always, c64 (issue 16)" 2.0
    ratio_row node-put-c16 webdis-set-always-c16 "node PUT / webdis SET appendfsync always, c16"
    ratio_row proxy-put-everysec webdis-set-everysec "proxy PUT (fsync everysec ×2) / webdis SET appendfsync everysec"
    ratio_row node-put-everysec webdis-set-everysec "node PUT (fsync everysec) / webdis SET appendfsync everysec"
    ratio_row proxy-get node-get "proxy hop, LinkRing: proxy GET / node GET"
    ratio_row nginx-proxy nginx-307 "proxy hop, nginx: reverse proxy / 307"
    ratio_row twemproxy-get redis-get "proxy hop, twemproxy: twemproxy GET / redis GET"
    if measured proxy-put; then
        echo
        echo "proxy PUT at c64: server CPU $(stats proxy-put 7 | cut -d' ' -f1) µs per PUT (target ≤ 40: **$(awk -v v="$(stats proxy-put 7 | cut -d' ' -f1)" 'BEGIN { print (v <= 40 ? "PASS" : "FAIL") }')**), p99 $(awk -v v="$(stats proxy-put 5 | cut -d' ' -f1)" 'BEGIN { printf "%.2f", v / 1000 }') ms (target ≤ 5: **$(awk -v v="$(stats proxy-put 5 | cut -d' ' -f1)" 'BEGIN { print (v <= 5000 ? "PASS" : "FAIL") }')**)"
    fi
    [[ -z $only ]] || return 0
    echo
    read -r put _ <<<"$(stats proxy-put 3)"
    read -r p99 _ <<<"$(stats proxy-put 5)"
    echo "PUT through the proxy at c=64 (fsync always on both replicas): $(printf '%.0f' "$put") req/s, p99 $(awk -v v="$p99" 'BEGIN { printf "%.2f", v / 1000 }') ms (median)."
    echo "preload over HTTP (64 connections × 8 pipelined PUTs): node $(field puts_per_s "$preload_line") PUT/s, proxy $(field puts_per_s "$proxy_preload_line") PUT/s for $keys keys."
    replay_rate=$(awk -v n="$replay_records" -v s="$replay_s" 'BEGIN { printf "%.0f", n / s }')
    echo "replay: $replay_records records ($replay_log_bytes bytes), start → \"listening on\" $replay_times s, median $replay_s s = **$replay_rate records/s** (target ≥ 1000000): **$(verdict "$replay_rate" 1000000)**"
    echo "memory: empty node RSS $((empty_rss_kb / 1024)) MiB; after replaying $replay_records keys $((replay_rss_kb / 1024)) MiB (peak $((replay_hwm_kb / 1024)) MiB) = **$(((replay_rss_kb - empty_rss_kb) * 1024 / replay_records)) bytes/key**; after $keys HTTP PUTs $(((node_rss_kb - empty_rss_kb) * 1024 / keys)) bytes/key"
    echo "LinkRing WARN/ERROR log lines: $(cat "$RUN_DIR"/node*.err "$RUN_DIR"/cluster-*.err | grep -cE ' (WARN|ERROR) ' || true)"
}

# LinkRing must answer every request: an error is a bug to report, so the run fails.
check_linkring_errors() {
    local label count=0
    for label in node-get node-put proxy-get proxy-put node-put-c16 proxy-put-c16 node-put-everysec proxy-put-everysec; do
        count=$((count + $(total "$label" 8) + $(total "$label" 9)))
    done
    ((count == 0)) || die "LinkRing answered $count errors (see $RESULTS and the wrk-*.txt files)"
}

start_everything
run_rounds
[[ -n $only ]] || benchmark_replay
print_report | tee "$RUN_DIR/summary.md"
check_linkring_errors
