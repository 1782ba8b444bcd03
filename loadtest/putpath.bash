#!/usr/bin/env bash
# putpath.bash: where a durable PUT's time and CPU go (issue 16), next to webdis + redis SET with
# appendfsync always in the same run.
#
#   loadtest/putpath.bash [--seconds S] [--connections "16 64"] [--no-perf]
#
# For each connection count: a wrk PUT load (put_keys.lua, every PUT a new key) through the
# proxy (4 nodes, fsync always, 2 replicas), at one node alone, and at webdis + redis. Around
# each load it reads
#   - every server process's user and system CPU (/proc/PID/stat), per request;
#   - the system calls each made (perf stat on the syscalls:sys_enter_* tracepoints), per request;
#   - each node's flushes (batches written with an fdatasync) and records per flush, from the
#     logBatches / logBatchRecords counters of its /_/health.
# Then (unless --no-perf) a `perf record -g` of every server at the highest connection count
# gives the top functions per process (RUN_DIR/perf-*.txt). Results: RUN_DIR/putpath.tsv and a
# Markdown summary on stdout (docs/BENCHMARKS.md, "The PUT path").
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

seconds=10 connection_counts="16 64" with_perf=1
while (($# > 0)); do
    case $1 in
        --seconds) seconds=${2:?}; shift ;;
        --connections) connection_counts=${2:?}; shift ;;
        --no-perf) with_perf=0 ;;
        *) die "usage: $0 [--seconds S] [--connections \"16 64\"] [--no-perf]" ;;
    esac
    shift
done
for need in wrk:wrk redis-server:redis-server webdis:webdis perf:linux-perf python3:python3; do
    need_command "${need%%:*}" "${need#*:}"
done
make_run_dir putpath
log "run directory: $RUN_DIR"
prepare_binaries
keys=200000
syscalls="fdatasync fsync write writev pwrite64 pwritev read readv recvfrom sendto sendmsg epoll_wait epoll_pwait io_uring_enter futex"

start_redis redis-always always
start_webdis "$REDIS_PORT"
start_node node
start_cluster cluster 4
TSV="$RUN_DIR/putpath.tsv"
printf 'path\tconnections\tputs_per_s\tp99_us\tprocess\tuser_us_per_put\tsys_us_per_put\tflushes_per_s\trecords_per_flush\tsyscalls_per_put\n' >"$TSV"

user_sys_ticks() { awk '{ sub(/^.*\) /, ""); print $12, $13 }' "/proc/$1/stat"; }

# "batches records" from a node's /_/health.
node_batches() {
    http_get "$1" /_/health | tr -d '\r' | tail -n 1 | python3 -c '
import json, sys
h = json.loads(sys.stdin.read())
print(h["logBatches"], h["logBatchRecords"], h.get("logBatchesOnLoop", 0), h.get("logSlowBatches", 0))'
}

# measure PATH CONNECTIONS URL "NAME:PID …" "NODE_PORTS…" [API]
measure() {
    local path=$1 connections=$2 url=$3 named=$4 ports=$5 api=${6:-linkring} entry name pid port out line puts rps p99
    local -A user0 sys0 batches0 records0 onloop0 slow0 perfpid
    local -a entries
    read -r -a entries <<<"$named"
    for entry in "${entries[@]}"; do
        name=${entry%%:*} pid=${entry#*:}
        read -r "user0[$name]" "sys0[$name]" <<<"$(user_sys_ticks "$pid")"
        perf stat -x, -o "$RUN_DIR/syscalls-$path-$connections-$name.csv" \
            $(for s in $syscalls; do printf -- '-e syscalls:sys_enter_%s ' "$s"; done) -p "$pid" &
        perfpid[$name]=$!
    done
    for port in $ports; do read -r "batches0[$port]" "records0[$port]" "onloop0[$port]" "slow0[$port]" <<<"$(node_batches "$port")"; done
    out="$RUN_DIR/wrk-$path-$connections.txt"
    LOADTEST_API=$api timeout $((seconds + 30)) wrk -t1 -c"$connections" -d"${seconds}s" --timeout 5s \
        -s "$LOADTEST_DIR/wrk/put_keys.lua" "$url" -- "$keys" >"$out" 2>&1 || die "wrk failed on $path (see $out)"
    line=$(grep '^wrk-result ' "$out") || die "no wrk-result line in $out"
    rps=$(field rps "$line") p99=$(field p99_us "$line") puts=$(field requests "$line")
    ((puts > 0)) || die "$path: no PUT completed"
    local flushes=0 records=0 onloop=0 slow=0 b r o w
    for port in $ports; do
        read -r b r o w <<<"$(node_batches "$port")"
        flushes=$((flushes + b - batches0[$port])) records=$((records + r - records0[$port]))
        onloop=$((onloop + o - onloop0[$port])) slow=$((slow + w - slow0[$port]))
    done
    for entry in "${entries[@]}"; do
        name=${entry%%:*} pid=${entry#*:}
        kill -INT "${perfpid[$name]}"; wait "${perfpid[$name]}" || true
        read -r u s <<<"$(user_sys_ticks "$pid")"
        local calls
        calls=$(awk -F, '$1 ~ /^[0-9]+$/ { n += $1 } END { print n + 0 }' "$RUN_DIR/syscalls-$path-$connections-$name.csv")
        awk -v p="$path" -v c="$connections" -v rps="$rps" -v p99="$p99" -v n="$name" -v u=$((u - user0[$name])) \
            -v s=$((s - sys0[$name])) -v puts="$puts" -v f="$flushes" -v r="$records" -v sec="$seconds" -v calls="$calls" \
            -v nodes="$ports" 'BEGIN {
                tick = 1e6 / 100
                printf "%s\t%s\t%.0f\t%s\t%s\t%.1f\t%.1f\t%s\t%s\t%.2f\n", p, c, rps, p99, n, u * tick / puts, s * tick / puts,
                    (nodes == "" ? "-" : sprintf("%.0f", f / sec)), (f > 0 ? sprintf("%.1f", r / f) : "-"), calls / puts }' >>"$TSV"
    done
    log "$path c$connections: $rps PUT/s, p99 $p99 µs; flushes $flushes ($onloop on the loop, $slow slow), records $records"
}

# Top functions of each server at the highest connection count.
profile() {
    local connections=$1 url=$2 named=$3 api=${4:-linkring} entry name pid
    local -a entries pids=()
    read -r -a entries <<<"$named"
    for entry in "${entries[@]}"; do pids+=("${entry#*:}"); done
    perf record -g -o "$RUN_DIR/perf-$5.data" -p "$(IFS=,; echo "${pids[*]}")" -- sleep "$seconds" >/dev/null 2>&1 &
    local perf_pid=$!
    LOADTEST_API=$api timeout $((seconds + 30)) wrk -t1 -c"$connections" -d"${seconds}s" --timeout 5s \
        -s "$LOADTEST_DIR/wrk/put_keys.lua" "$url" -- "$keys" >/dev/null 2>&1 || true
    wait "$perf_pid" || true
    # `head` closes the pipe early: the writers' SIGPIPE must not end the script (pipefail).
    { perf report -i "$RUN_DIR/perf-$5.data" --no-children --sort comm,dso --stdio -g none 2>/dev/null | grep -v '^$' | head -40 \
        >"$RUN_DIR/perf-$5-by-process.txt"; } || true
    { perf report -i "$RUN_DIR/perf-$5.data" --no-children --sort comm,symbol --stdio -g none 2>/dev/null | grep -v '^#' \
        | grep -v '^$' | head -60 >"$RUN_DIR/perf-$5-symbols.txt"; } || true
}

node_ports="${CLUSTER_PORTS[*]}"
cluster_named="proxy:$PROXY_PID"
for i in "${!CLUSTER_PIDS[@]}"; do cluster_named+=" node$i:${CLUSTER_PIDS[i]}"; done
for connections in $connection_counts; do
    measure proxy "$connections" "http://127.0.0.1:$PROXY_PORT" "$cluster_named" "$node_ports"
    measure node "$connections" "http://127.0.0.1:$NODE_PORT" "node:$NODE_PID" "$NODE_PORT"
    measure webdis "$connections" "http://127.0.0.1:$WEBDIS_PORT" "webdis:$WEBDIS_PID redis:$REDIS_PID" "" webdis
done
if ((with_perf)); then
    top=${connection_counts##* }
    profile "$top" "http://127.0.0.1:$PROXY_PORT" "$cluster_named" linkring proxy
    profile "$top" "http://127.0.0.1:$WEBDIS_PORT" "webdis:$WEBDIS_PID redis:$REDIS_PID" webdis webdis
fi

echo "## The PUT path, $(date -u '+%Y-%m-%d %H:%M UTC') (HEAD $(git -C "$REPO_DIR" rev-parse --short HEAD)), wrk -t1 -d${seconds}s"
echo
echo "| path | c | PUT/s | p99 ms | process | user µs/PUT | sys µs/PUT | flushes/s | records/flush | syscalls/PUT |"
echo "|---|---|---|---|---|---|---|---|---|---|"
awk -F'\t' 'NR > 1 { printf "| %s | %s | %s | %.2f | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4 / 1000, $5, $6, $7, $8, $9, $10 }' "$TSV"
echo
echo "perf profiles: $RUN_DIR/perf-*-by-process.txt, perf-*-symbols.txt"
