#!/usr/bin/env bash
# loads.bash: the original project's load tests, against LinkRing through the proxy and
# straight at one node: read, write and mixed loads over a key set, uniform or Zipf-like, with
# keep-alive (wrk), and the original's ab style (no keep-alive, ms per request).
#
#   loadtest/loads.bash [--quick]       (LINKRING_BIN_DIR=dir: use the binaries there, no build)
#
#   wrk -t1 -c64 -dD, keys k1..kN preloaded (see wrk/keys.lua for the distributions):
#     read-uniform    get_keys.lua N uniform        read-zipf    get_keys.lua N zipf
#     write           put_keys.lua N  (every PUT a different key, fsync always)
#     mixed-uniform   mixed.lua N 10 uniform (90 % GET, 10 % PUT)   mixed-zipf   mixed.lua N 10 zipf
#   ab -n A -c 4 (a new connection per request), GET /k1 and PUT /?short=ab&long=…; nginx
#   `return 307` as well, since at this rate ab itself is the limit.
#   Each against: proxy (4 nodes, 2 replicas) and node (one node); R rounds, order rotated.
#
#   full: N=100k, D=5s, R=3, A=4000;   quick: N=10k, D=1s, R=1, A=400
#
# Exit status 1 when the run breaks or LinkRing answers an error; the figures are not judged.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

keys=100000 duration_s=5 rounds=3 ab_requests=4000 mode=full
case "${1:-}" in
    --quick) keys=10000 duration_s=1 rounds=1 ab_requests=400 mode=quick ;;
    "") ;;
    *) die "usage: $0 [--quick]" ;;
esac
need_command wrk wrk
need_command ab apache2-utils
need_command nginx nginx-light
need_command python3 python3
make_run_dir "loads-$mode"
log "run directory: $RUN_DIR"
prepare_binaries
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)

start_nginx_307
start_linkring_preloaded "$keys"

# ab against TARGET (proxy|node|nginx) with METHOD (get|put); records TARGET-ab-METHOD.
run_ab() {
    local target=$1 method=$2 round=$3 port pids out before after url=/k1 flags=()
    case $target in
        proxy) port=$PROXY_PORT pids="$PROXY_PID ${CLUSTER_PIDS[*]}" ;;
        node) port=$NODE_PORT pids=$NODE_PID ;;
        nginx) port=$NGINX_PORT pids=$NGINX_PID ;;
    esac
    [[ $method == put ]] && url="/?short=ab$round&long=http://example.com/ab" flags=(-m PUT)
    out="$RUN_DIR/ab-$target-$method-$round.txt"
    # shellcheck disable=SC2086  # pids is a list
    before=$(cpu_ticks_sum $pids)
    timeout 120 ab -q -n "$ab_requests" -c 4 -e "$out.csv" "${flags[@]}" "http://127.0.0.1:$port$url" >"$out" 2>&1 ||
        die "ab failed on $target $method (see $out)"
    # shellcheck disable=SC2086
    after=$(cpu_ticks_sum $pids)
    local rps p50 p99 failed non2xx expected_non2xx=0
    rps=$(awk '/^Requests per second:/ { print $4 }' "$out")
    p50=$(awk -F, '$1 == 50 { print $2 * 1000 }' "$out.csv")  # -e: ms per percentile, as floats
    p99=$(awk -F, '$1 == 99 { print $2 * 1000 }' "$out.csv")
    failed=$(awk '/^Failed requests:/ { print $3 }' "$out")
    non2xx=$(awk '/^Non-2xx responses:/ { print $3 }' "$out")
    # A GET answers 307, which ab counts as non-2xx: every one of them is expected.
    [[ $method == get ]] && expected_non2xx=$ab_requests
    record_row "$target-ab-$method" "$round" "$rps" "$p50" "$p99" - $((after - before)) "$ab_requests" \
        $((${non2xx:-0} - expected_non2xx)) "$failed"
    log "ab $target $method round $round: $rps req/s"
}

loads=(read-uniform read-zipf write mixed-uniform mixed-zipf)
measure() {  # TARGET LOAD ROUND SECONDS
    local target=$1 load=$2 server_pids=$NODE_PID port=$NODE_PORT script args
    [[ $target == proxy ]] && server_pids="$PROXY_PID ${CLUSTER_PIDS[*]}" port=$PROXY_PORT
    case $load in
        read-*) script=get_keys.lua args=("$keys" "${load#read-}") ;;
        write) script=put_keys.lua args=("$keys") ;;
        mixed-*) script=mixed.lua args=("$keys" 10 "${load#mixed-}") ;;
    esac
    run_wrk "$target-$load" "$3" "$4" 64 "$server_pids" "http://127.0.0.1:$port" "$script" "${args[@]}"
}

measure proxy read-uniform warmup 1
measure node read-uniform warmup 1
for ((round = 1; round <= rounds; round++)); do
    for ((index = 0; index < ${#loads[@]}; index++)); do
        load=${loads[(index + round - 1) % ${#loads[@]}]}
        measure proxy "$load" "$round" "$duration_s"
        measure node "$load" "$round" "$duration_s"
    done
    for target in proxy node nginx; do
        run_ab "$target" get "$round"
        [[ $target == nginx ]] || run_ab "$target" put "$round"
    done
done

cell() {  # LABEL COLUMN SCALE FORMAT: median (min–max)
    awk -v v="$(stats "$1" "$2")" -v s="$3" -v f="$4" -v n="$rounds" 'BEGIN { split(v, x, " ")
        if (x[1] == "-") printf "–"; else if (n > 1) printf f " (" f "–" f ")", x[1] / s, x[2] / s, x[3] / s
        else printf f, x[1] / s }'
}
{
    echo "## Loads ($mode mode), $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    describe_machine
    echo "binaries built $BINARIES_BUILT; load average at start: $load_at_start, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "wrk -t1 -c64 -d${duration_s}s over k1..k$keys; PUTs with fsync always; $rounds round(s), median (min–max)"
    echo
    echo "| load | proxy req/s | proxy p99 ms | node req/s | node p99 ms | errors (proxy, node) |"
    echo "|---|---|---|---|---|---|"
    for load in "${loads[@]}"; do
        printf '| %s | %s | %s | %s | %s | %s, %s |\n' "$load" "$(cell "proxy-$load" 3 1 %.0f)" \
            "$(cell "proxy-$load" 5 1000 %.2f)" "$(cell "node-$load" 3 1 %.0f)" "$(cell "node-$load" 5 1000 %.2f)" \
            $(($(total "proxy-$load" 8) + $(total "proxy-$load" 9))) $(($(total "node-$load" 8) + $(total "node-$load" 9)))
    done
    echo
    echo "ab -n $ab_requests -c 4 (no keep-alive): ms per request = 1000 / (req/s), the original's figure"
    echo
    echo "| ab | req/s | ms per request | p50 ms | p99 ms | server CPU µs/req | errors |"
    echo "|---|---|---|---|---|---|---|"
    for label in proxy-ab-get proxy-ab-put node-ab-get node-ab-put nginx-ab-get; do
        printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$(cell "$label" 3 1 %.0f)" \
            "$(awk -v r="$(stats "$label" 3 | cut -d' ' -f1)" 'BEGIN { printf "%.3f", 1000 / r }')" \
            "$(cell "$label" 4 1000 %.2f)" "$(cell "$label" 5 1000 %.2f)" "$(cell "$label" 7 1 %.1f)" \
            $(($(total "$label" 8) + $(total "$label" 9)))
    done
} | tee "$RUN_DIR/summary.md"

errors=$(awk -F'\t' '$1 !~ /^nginx/ { s += $8 + $9 } END { print s + 0 }' "$RESULTS")
((errors == 0)) || die "LinkRing answered $errors errors (see $RESULTS)"
