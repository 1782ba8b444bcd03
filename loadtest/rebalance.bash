#!/usr/bin/env bash
# rebalance.bash: membership change under load (issue 14). With N keys on 4 nodes, a 5th node
# is added while GETs and PUTs run through the proxy, then node 0 is removed (handed off, then
# stopped); per second: answers, client-visible errors (a miss is an error: failover_load.py
# checks every Location) and p99 latency, plotted. Reports each change's time, records and MB
# handed off, and the foreground throughput and p99 during each move against before; and the
# GET p99 of a light wrk probe (loadtest/wrk/probe_get.lua) before and in the first seconds of
# each move, as a client that does not itself starve for CPU sees it; and per second, the GET
# p99 of a per-request probe through the whole load (latency_probe.py, probe_seconds.csv).
#
#   loadtest/rebalance.bash [--quick] [--keys N]   (LINKRING_BIN_DIR=dir: those binaries, no build)
#
#   full: N = 1,000,000, 80 s of load      quick: N = 20,000, 24 s
#   (the load outlasts both changes at their 30 s limit; a change that ends after it fails the run)
#   targets (full): each change done in ≤ 30 s; throughput while moving ≥ 70 % of before;
#   0 errors, 0 misses; every acknowledged PUT reads back afterwards.
#
# A change is what scripts/addNode.bash and removeNode.bash do: the hosts file rewritten (by
# rename) with the generation raised, SIGHUP to the proxy and then to every node; done when
# the proxy's /_/status says no node hands data off any more.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

keys=1000000 duration_s=80 add_at_s=10 gap_s=6 probe_s=12 mode=full
while [[ $# -gt 0 ]]; do
    case $1 in
        --quick) keys=20000 duration_s=24 add_at_s=5 gap_s=4 probe_s=2 mode=quick; shift ;;
        --keys) keys=$2; shift 2 ;;
        *) die "usage: $0 [--quick] [--keys N]" ;;
    esac
done
need_command gnuplot gnuplot-nox
need_command python3 python3
need_command curl curl
need_command wrk wrk
make_run_dir "rebalance-$mode"
log "run directory: $RUN_DIR"
prepare_binaries
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)

start_cluster cluster 4 --sync-interval-ms 2000
log "storing $keys keys through the proxy"
line=$(timeout 900 python3 "$LOADTEST_DIR/preload.py" --port "$PROXY_PORT" --count "$keys" --timeout-s 800) ||
    die "preload failed: $line"
log "$line"
# wait_for_quiet_repair: until every node has completed two repair rounds in a row that pulled
# nothing (at most 60 s). The first rounds after the bulk preload page the ranges its partial
# writes left different: one of them, 6 s long, fell in the load's first seconds and made the
# before-window's worst p99 55 ms (a change's 2× bound then passes whatever it does).
wait_for_quiet_repair() {
    python3 - "${CLUSTER_PORTS[@]}" <<'PY'
import http.client, json, sys, time
def sync(port):
    connection = http.client.HTTPConnection("127.0.0.1", int(port), timeout=5)
    connection.request("GET", "/_/health")
    return json.loads(connection.getresponse().read())["sync"]
last = {port: sync(port) for port in sys.argv[1:]}
quiet = dict.fromkeys(last, 0)
deadline = time.time() + 60
while time.time() < deadline and min(quiet.values()) < 2:
    time.sleep(0.5)
    for port, before in last.items():
        now = sync(port)
        if now["rounds"] > before["rounds"]:
            quiet[port] = quiet[port] + 1 if now["repaired"] == before["repaired"] else 0
            last[port] = now
sys.exit(0 if min(quiet.values()) >= 2 else 1)
PY
}
quiet_from=$SECONDS
if wait_for_quiet_repair; then
    log "repair quiet after the preload: $((SECONDS - quiet_from)) s"
else
    log "repair still pulled records 60 s after the preload: the before-window may include a round"
fi
CLUSTER_PORTS[4]=$(free_port)
on_exit "rm -rf '$RUN_DIR/data-cluster-4'"

# write_hosts GENERATION INDEX…: the hosts file of those nodes, renamed over the old one.
write_hosts() {
    local generation=$1 index
    shift
    { echo "generation $generation"; for index in "$@"; do echo "127.0.0.1:${CLUSTER_PORTS[index]}"; done; } >"$CLUSTER_HOSTS.new"
    mv -f "$CLUSTER_HOSTS.new" "$CLUSTER_HOSTS"
}
hang_up_all() {
    local pid
    kill -HUP "$PROXY_PID"
    for pid in "${CLUSTER_PIDS[@]}"; do is_running "$pid" && kill -HUP "$pid"; done
}
# watch_moved GENERATION [LEAVING_PORT]: in the background, until the proxy routes by it alone;
# then writes the seconds since the start, and the records and bytes every node reported
# sending in its handoff, to moved-GENERATION.txt; sets WATCH_PID. One process asks every
# 100 ms on one kept-alive connection: the shell loop it replaces (http_get, timeout, cat, grep
# and sleep 20 times a second) took 4 % of the machine's CPU, in the moves' figures only. It
# starts a second before the change: the interpreter's own start (about 100 ms of CPU) fell in
# the change's first second, the one that decides its p99; for the same reason it reads the
# handoff figures itself (a new interpreter for them started in the move's last second). The
# figures: the nodes of the proxy's status, and a leaving node at LEAVING_PORT asked itself
# (the proxy no longer asks it, and its status lacked the largest part of the remove).
watch_moved() {
    python3 - "$PROXY_PORT" "$1" "$START_EPOCH" "${2:-}" >"$RUN_DIR/moved-$1.txt" <<'PY' &
import http.client, json, sys, time
port, generation, start, leaving = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4]
wanted = '"membership":{"generation":%s,"moving":false' % generation
def get(port, path):
    connection = http.client.HTTPConnection("127.0.0.1", int(port), timeout=5)
    connection.request("GET", path)
    return json.loads(connection.getresponse().read())
def handed_off():
    sent = {n["address"]: n.get("handoff") or {} for n in get(port, "/_/status")["nodes"]}
    if leaving:
        sent["127.0.0.1:" + leaving] = (get(leaving, "/_/health").get("membership") or {}).get("handoff") or {}
    return sum(h.get("sentRecords", 0) for h in sent.values()), sum(h.get("sentBytes", 0) for h in sent.values())
deadline = time.time() + 300
connection = None
while time.time() < deadline:
    try:
        connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/_/status")
        if wanted in connection.getresponse().read().decode():
            moved = time.time() - start
            print("%.2f %d %d" % ((moved,) + handed_off()))
            sys.exit(0)
    except (OSError, http.client.HTTPException):
        connection = None
    time.sleep(0.1)
sys.exit(1)
PY
    WATCH_PID=$!
    on_exit "kill $WATCH_PID 2>/dev/null || true"
}

start_failover_load rebalance-load "$keys" "$duration_s" 8 4
load_pid=$LOAD_PID
# Per-second GET latency of a light probe through the whole load (latency_probe.py).
python3 "$LOADTEST_DIR/latency_probe.py" "$PROXY_PORT" "$keys" "$duration_s" "$START_EPOCH" 2 "$RUN_DIR/probe_seconds.csv" "$RUN_DIR/probe_requests.csv" \
    >"$RUN_DIR/latency_probe.out" 2>&1 &
latency_probe_pid=$!
# probe NAME SECONDS: a light GET latency probe (wrk, one connection, ~400 requests/s) beside the
# load, in the background; its wrk-result line goes to probe-NAME.txt.
probe() {
    timeout $(($2 + 20)) wrk -t1 -c1 -d"$2s" --timeout 5s -s "$LOADTEST_DIR/wrk/probe_get.lua" \
        "http://127.0.0.1:$PROXY_PORT" -- "$keys" 2 >"$RUN_DIR/probe-$1.txt" 2>&1 &
}
# probe_p99 NAME: the probe's p99 in ms ("-" if it gave no result).
probe_p99() {
    awk '/^wrk-result/ { for (i = 2; i <= NF; i++) if ($i ~ /^p99_us=/) { split($i, kv, "="); printf "%.1f", kv[2] / 1000; found = 1 } }
         END { if (!found) printf "-" }' "$RUN_DIR/probe-$1.txt" 2>/dev/null || echo "-"
}
sleep 2
probe before $((add_at_s - 3))

sleep_until $((add_at_s - 1))
watch_moved 1
sleep_until "$add_at_s"
# change GENERATION WHAT: SIGHUP everywhere (the hosts file is written), and the wait for the
# move (watch_moved GENERATION started before); sets CHANGE_T, MOVED_T, RECORDS, BYTES.
change() {
    local generation=$1 what=$2
    CHANGE_T=$(since_start "$EPOCHREALTIME")
    probe "generation-$generation" "$probe_s"
    hang_up_all
    log "$what at t=${CHANGE_T}s"
    wait "$WATCH_PID" || die "generation $generation still moving after 300 s"
    read -r MOVED_T RECORDS BYTES <"$RUN_DIR/moved-$generation.txt"
    log "generation $generation moved at t=${MOVED_T}s: $RECORDS records, $BYTES bytes handed off"
}
write_hosts 1 0 1 2 3 4
CLUSTER_STARTS[4]=0
restart_cluster_node 4
change 1 "node 4 (127.0.0.1:${CLUSTER_PORTS[4]}) added"
add_t=$CHANGE_T added_t=$MOVED_T add_records=$RECORDS add_bytes=$BYTES
remove_at_s=$(awk -v t="$added_t" -v g="$gap_s" 'BEGIN { print int(t + g + 1) }')
sleep_until $((remove_at_s - 1))
watch_moved 2 "${CLUSTER_PORTS[0]}"
sleep_until "$remove_at_s"
write_hosts 2 1 2 3 4
change 2 "node 0 (127.0.0.1:${CLUSTER_PORTS[0]}) removed"
remove_t=$CHANGE_T removed_t=$MOVED_T remove_records=$RECORDS remove_bytes=$BYTES
stop_process "${CLUSTER_PIDS[0]}" || die "node 0 did not stop"

deadline=$((SECONDS + duration_s + 180))
while is_running "$load_pid" && ((SECONDS < deadline)); do sleep 0.2; done
stop_process "$load_pid" 5 || die "the load generator failed (see $RUN_DIR/rebalance-load.err)"
wait "$latency_probe_pid" || die "the latency probe failed (see $RUN_DIR/latency_probe.out)"
result=$(grep '^failover-result ' "$RUN_DIR/rebalance-load.out") || die "no failover-result line"
errors=$(($(field get_errors "$result") + $(field put_errors "$result")))

# window FROM TO: mean answers/s, lowest answers/s, worst GET p99 and worst PUT p99 over the
# whole seconds in [FROM, TO) (a second with no row had no answers).
window() {
    awk -F, -v from="$1" -v to="$2" 'NR > 1 { a[$1] = $2 + $3; g[$1] = $8; p[$1] = $9 }
        END { for (s = int(from); s < to; s++) { n++; sum += a[s]; if (low == "" || a[s] < low) low = a[s] + 0
                                                   if (g[s] > gw) gw = g[s]; if (p[s] > pw) pw = p[s] }
              printf "%.0f %d %.1f %.1f\n", n ? sum / n : 0, low, gw, pw }' "$RUN_DIR/per_second.csv"
}
# A second past the load's end has no answers: a window reaching it would count them as a stall.
[[ $mode != full ]] || awk -v t="$removed_t" -v d="$duration_s" 'BEGIN { exit !(t + 1 <= d) }' \
    || die "the remove ended at t=${removed_t}s, after the load's ${duration_s} s: its figures would count seconds without load"
read -r before_rps _ before_get_p99 before_put_p99 <<<"$(window 1 "$add_at_s")"
# Each move's window ends after the second it was done in.
add_end=$(awk -v t="$added_t" 'BEGIN { print t + 1 }') remove_end=$(awk -v t="$removed_t" 'BEGIN { print t + 1 }')
read -r add_rps add_low add_get_p99 add_put_p99 <<<"$(window "$add_t" "$add_end")"
read -r remove_rps remove_low remove_get_p99 remove_put_p99 <<<"$(window "$remove_t" "$remove_end")"
# probe_seconds FROM TO: the median and the worst of latency_probe.py's per-second p99 over
# the whole seconds in [FROM, TO).
probe_seconds() {
    local values
    values=$(awk -F, -v from="$1" -v to="$2" 'NR > 1 && $1 >= int(from) && $1 < to { print $4 }' "$RUN_DIR/probe_seconds.csv" | sort -n)
    [[ -n $values ]] || { echo "-"; return; }
    awk '{ v[NR] = $1 } END { printf "median %.1f ms, worst %.1f ms", v[int((NR + 1) / 2)], v[NR] }' <<<"$values"
}
percent() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", b ? a * 100 / b : 0 }'; }
seconds_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
add_s=$(seconds_between "$add_t" "$added_t") remove_s=$(seconds_between "$remove_t" "$removed_t")
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }
megabytes() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f MB (%.1f MB/s)", n / 1e6, (s > 0 ? n / 1e6 / s : 0) }'; }
when=$(date -u '+%Y-%m-%d %H:%M UTC')
gnuplot -e "csv='$RUN_DIR/per_second.csv'; out='$RUN_DIR/rebalance.png'; errors_total=$errors; duration=$duration_s" \
    -e "add_t=$add_t; added_t=$added_t; remove_t=$remove_t; removed_t=$removed_t" \
    -e "title='LinkRing: add a 5th node, then remove one, $keys keys, 8 GET + 4 PUT connections via the proxy ($when)'" \
    "$LOADTEST_DIR/plot/rebalance.gp" || die "gnuplot failed"
verdict() { [[ $mode == full ]] || { echo "-"; return; }; awk -v ok="$1" 'BEGIN { print (ok ? "PASS" : "FAIL") }'; }
# The issue's p99 target: GET and PUT p99 during the change (the worst second) within 2× of before (the worst second).
p99_verdict() {
    verdict "$(awk -v g="$1" -v p="$2" -v bg="$before_get_p99" -v bp="$before_put_p99" 'BEGIN { print (g <= 2 * bg && p <= 2 * bp) }')"
}
{
    echo "## Rebalance ($mode mode), $when"
    echo
    describe_machine
    echo "binaries built $BINARIES_BUILT; load average at start: $load_at_start, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "data: $keys keys on 4 nodes (2 replicas), stored by preload.py ($line)"
    echo "load: failover_load.py, 8 GET connections (k1..k$keys) + 4 PUT connections (new keys), ${duration_s}s"
    echo
    echo "| change | took, s (≤ 30) | records handed off | records/s | bytes | answers/s during (before: $before_rps) | lowest second | GET / PUT p99 during, ms (before: $before_get_p99 / $before_put_p99; ≤ 2×) |"
    echo "|---|---|---|---|---|---|---|---|"
    echo "| add node 4 (4 → 5) | $add_s $(verdict "$(awk -v s="$add_s" 'BEGIN { print (s <= 30) }')") | $add_records | $(rate "$add_records" "$add_s") | $(megabytes "$add_bytes" "$add_s") | $add_rps ($(percent "$add_rps" "$before_rps") % $(verdict "$(awk -v a="$add_rps" -v b="$before_rps" 'BEGIN { print (a >= 0.7 * b) }')")) | $add_low | $add_get_p99 / $add_put_p99 $(p99_verdict "$add_get_p99" "$add_put_p99") |"
    echo "| remove node 0 (5 → 4) | $remove_s $(verdict "$(awk -v s="$remove_s" 'BEGIN { print (s <= 30) }')") | $remove_records | $(rate "$remove_records" "$remove_s") | $(megabytes "$remove_bytes" "$remove_s") | $remove_rps ($(percent "$remove_rps" "$before_rps") % $(verdict "$(awk -v a="$remove_rps" -v b="$before_rps" 'BEGIN { print (a >= 0.7 * b) }')")) | $remove_low | $remove_get_p99 / $remove_put_p99 $(p99_verdict "$remove_get_p99" "$remove_put_p99") |"
    echo
    echo "- GET p99 of a light probe beside the load (wrk, 1 connection, ~400 requests/s; the load generator is Python and"
    echo "  shares the two cores, so its own queueing is in the figures above): before $(probe_p99 before) ms, first ${probe_s} s of"
    echo "  the add $(probe_p99 generation-1) ms, first ${probe_s} s of the remove $(probe_p99 generation-2) ms"
    echo "- per-second GET p99 of a per-request probe (latency_probe.py, 1 connection, a GET every 2 ms;"
    echo "  probe_seconds.csv): before $(probe_seconds 1 "$add_at_s"); add $(probe_seconds "$add_t" "$add_end");"
    echo "  remove $(probe_seconds "$remove_t" "$remove_end")"
    echo "- client-visible errors and misses during the load: **$errors** (GET $(field get_errors "$result"), PUT $(field put_errors "$result"))"
    echo "- acknowledged PUTs read back after the run: $(field verified "$result") right, $(field verify_wrong "$result") wrong, $(field verify_unchecked "$result") not read in time"
    echo "- proxy counters: $(http_get "$PROXY_PORT" /_/metrics | grep -E '^linkring_proxy_(held_for_membership|failovers|retries|partial_writes|moving_reads_at_keeper|moving_reads_everywhere|hedged_reads)_total' | tr '\n' ' ')"
    if [[ -s $RUN_DIR/errors.txt ]]; then
        echo
        echo "first errors (all in $RUN_DIR/errors.txt):"
        head -n 20 "$RUN_DIR/errors.txt" | sed 's/^/    /'
    fi
    echo
    echo "plot: $RUN_DIR/rebalance.png"
} | tee "$RUN_DIR/summary.md"
((errors == 0)) || die "clients saw $errors errors or misses during the changes (see $RUN_DIR/errors.txt)"
(($(field verify_wrong "$result") == 0)) || die "acknowledged writes were lost"
