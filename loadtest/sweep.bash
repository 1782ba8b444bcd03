#!/usr/bin/env bash
# sweep.bash: GET and PUT throughput and latency against concurrency, through the proxy and
# straight at one node; a CSV and two PNG plots (gnuplot).
#
#   loadtest/sweep.bash [--quick]       (LINKRING_BIN_DIR=dir: use the binaries there, no build)
#
#   for each round, for each concurrency c, for proxy and node, GET then PUT:
#     wrk -t1 -cC -dD get_keys.lua|put_keys.lua -- N     (keys k1..kN preloaded, uniform GETs,
#                                                         PUTs walk the key space, fsync always)
#   ─▶ runs.tsv ─▶ sweep.csv (median over the rounds) ─▶ plot/sweep.gp ─▶ sweep-get.png, sweep-put.png
#
#   full: c = 1 2 4 … 256, D=3s, R=3 rounds, N=100k;   quick: c = 1 16 256, D=1s, R=1, N=10k
#
# Exit status 1 when the run breaks or LinkRing answers an error; the figures are not judged.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

keys=100000 duration_s=3 rounds=3 mode=full concurrencies=(1 2 4 8 16 32 64 128 256)
case "${1:-}" in
    --quick) keys=10000 duration_s=1 rounds=1 mode=quick concurrencies=(1 16 256) ;;
    "") ;;
    *) die "usage: $0 [--quick]" ;;
esac
need_command wrk wrk
need_command gnuplot gnuplot-nox
need_command python3 python3
make_run_dir "sweep-$mode"
log "run directory: $RUN_DIR"
prepare_binaries
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)

start_linkring_preloaded "$keys"

measure() {  # TARGET METHOD CONNECTIONS ROUND SECONDS
    local server_pids=$NODE_PID port=$NODE_PORT
    [[ $1 == proxy ]] && server_pids="$PROXY_PID ${CLUSTER_PIDS[*]}" port=$PROXY_PORT
    run_wrk "$1-$2-c$3" "$4" "$5" "$3" "$server_pids" "http://127.0.0.1:$port" "$2_keys.lua" "$keys"
}

measure proxy get 64 warmup 1
measure node get 64 warmup 1
for ((round = 1; round <= rounds; round++)); do
    for c in "${concurrencies[@]}"; do
        for target in proxy node; do
            for method in get put; do measure "$target" "$method" "$c" "$round" "$duration_s"; done
        done
    done
done

csv="$RUN_DIR/sweep.csv"
echo "target,method,connections,rps,p50_ms,p99_ms,p999_ms,errors,cpu_us_per_req" >"$csv"
for target in proxy node; do
    for method in get put; do
        for c in "${concurrencies[@]}"; do
            label="$target-$method-c$c"
            printf '%s,%s,%s,%.0f,%.3f,%.3f,%.3f,%s,%.2f\n' "$target" "$method" "$c" \
                "$(stats "$label" 3 | cut -d' ' -f1)" \
                "$(awk -v v="$(stats "$label" 4 | cut -d' ' -f1)" 'BEGIN { print v / 1000 }')" \
                "$(awk -v v="$(stats "$label" 5 | cut -d' ' -f1)" 'BEGIN { print v / 1000 }')" \
                "$(awk -v v="$(stats "$label" 6 | cut -d' ' -f1)" 'BEGIN { print v / 1000 }')" \
                $(($(total "$label" 8) + $(total "$label" 9))) "$(stats "$label" 7 | cut -d' ' -f1)" >>"$csv"
        done
    done
done

when=$(date -u '+%Y-%m-%d %H:%M UTC')
for method in get put; do
    gnuplot -e "csv='$csv'; method='$method'; out='$RUN_DIR/sweep-$method.png'" \
        -e "title='LinkRing ${method^^}: wrk -t1 -d${duration_s}s, ${keys} keys, median of $rounds, $(nproc) vCPU shared with wrk ($when)'" \
        "$LOADTEST_DIR/plot/sweep.gp" || die "gnuplot failed for $method"
done

{
    echo "## Concurrency sweep ($mode mode), $when"
    echo
    describe_machine
    echo "binaries built $BINARIES_BUILT; load average at start: $load_at_start, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "wrk -t1 -cC -d${duration_s}s, k1..k$keys; median of $rounds round(s); PUT with fsync always (proxy: on both replicas)"
    echo
    echo "| target | method | c | req/s | p50 ms | p99 ms | p99.9 ms | errors | server CPU µs/req |"
    echo "|---|---|---|---|---|---|---|---|---|"
    tail -n +2 "$csv" | sed 's/,/ | /g; s/^/| /; s/$/ |/'
    echo
    echo "CSV: $csv; plots: $RUN_DIR/sweep-get.png, $RUN_DIR/sweep-put.png"
} | tee "$RUN_DIR/summary.md"
errors=$(awk -F, 'NR > 1 { s += $8 } END { print s + 0 }' "$csv")
((errors == 0)) || die "LinkRing answered $errors errors during the sweep (see $RESULTS)"
