# lib.bash: helpers shared by the load-test drivers; source it, do not run it.
#
# Design: a driver starts every server it needs itself, on loopback, in the background, and
# keeps its PID here (started as `cmd &`, never through a `cd … &&` subshell, so the PID is the
# server's own). An EXIT trap stops them all, newest first, by PID: SIGTERM, a bounded wait,
# then SIGKILL. Every wait has a time-out in seconds; nothing here waits forever. Output of a
# run goes to a fresh directory under loadtest/results/ (gitignored).
#
#   need_command CMD PKG      apt-get install PKG when CMD is missing (CI: fresh Debian 12, root)
#   make_run_dir NAME         sets RUN_DIR=loadtest/results/NAME-YYYYmmdd-HHMMSS
#   start_background NAME CMD…  stdout/stderr to RUN_DIR/NAME.out/.err; sets BG_PID
#   wait_for_listening PID FILE SECONDS   prints HOST:PORT from the "listening on" line
#   wait_for_port PORT SECONDS · stop_process PID [SECONDS] · is_running PID · on_exit "CMD"
#   free_port · free_ports N · cpu_ticks PID · rss_kb PID
#   http_get PORT PATH · http_status PORT PATH · wait_for_status PORT PATH CODE SECONDS
#   run_wrk LABEL ROUND SECONDS CONNECTIONS "PIDS" URL SCRIPT [ARGS…]   one wrk load → $RESULTS
#   record_row LABEL ROUND RPS P50_US P99_US P999_US CPU_TICKS REQUESTS STATUS_ERR SOCKET_ERR
#   stats LABEL COLUMN → "median min max" · total LABEL COLUMN · summarize, median (of stdin)
#   field NAME LINE · ratio A B · verdict VALUE TARGET · describe_machine
#
# $RESULTS columns: label round rps p50_us p99_us p999_us cpu_us_per_req status_errors
# socket_errors requests  ("-" where a tool does not give the figure). Server CPU is utime+stime
# of every server PID in the path (from /proc/PID/stat), summed, per completed request.

# shellcheck shell=bash source-path=SCRIPTDIR disable=SC2034  # REPO_DIR and the helpers are used by the drivers
LOADTEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$LOADTEST_DIR/.." && pwd)
STARTED_PIDS=()
EXIT_COMMANDS=()
STOP_TIMEOUT_S=15

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

need_command() {
    local cmd=$1 package=$2
    command -v "$cmd" >/dev/null 2>&1 && return 0
    log "$cmd missing: apt-get install -y $package"
    if [[ -z ${APT_UPDATED:-} ]]; then
        DEBIAN_FRONTEND=noninteractive timeout 300 apt-get update -q >&2
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q "$package" >&2
    command -v "$cmd" >/dev/null 2>&1 || die "$cmd still missing after installing $package"
}

make_run_dir() {
    if [[ -n ${LOADTEST_RESULTS:-} ]]; then RUN_DIR="$LOADTEST_RESULTS/$1"
    else RUN_DIR="$LOADTEST_DIR/results/$1-$(date +%Y%m%d-%H%M%S)"; fi
    mkdir -p "$RUN_DIR"
    RESULTS="$RUN_DIR/runs.tsv"
    : >"$RESULTS"
}

# Runs the command itself in the background (not a subshell), so BG_PID is the server's PID.
start_background() {
    local name=$1
    shift
    : >"$RUN_DIR/$name.out"  # so a poll never sees an earlier run's line
    "$@" >>"$RUN_DIR/$name.out" 2>>"$RUN_DIR/$name.err" &
    BG_PID=$!
    STARTED_PIDS+=("$BG_PID")
}

# Polls FILE (the process's stdout) for "listening on HOST:PORT"; fails if PID dies first.
wait_for_listening() {
    local pid=$1 file=$2 seconds=$3 line
    local deadline=$((SECONDS + seconds))
    while ((SECONDS < deadline)); do
        if [[ -s $file ]] && IFS= read -r line <"$file" && [[ $line == "listening on "* ]]; then
            printf '%s\n' "${line#listening on }"
            return 0
        fi
        is_running "$pid" || { log "process $pid exited before listening"; return 1; }
        sleep 0.01
    done
    log "no 'listening on' line from $pid within ${seconds}s"
    return 1
}

wait_for_port() {
    local port=$1 seconds=$2
    local deadline=$((SECONDS + seconds))
    while ((SECONDS < deadline)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    log "nothing listens on 127.0.0.1:$port after ${seconds}s"
    return 1
}

# SIGTERM, wait up to SECONDS, then SIGKILL; forgets the PID (it may be reused later).
# Returns the process's exit status when it is our child.
stop_process() {
    local pid=$1 seconds=${2:-$STOP_TIMEOUT_S} status=0 index
    for index in "${!STARTED_PIDS[@]}"; do
        [[ ${STARTED_PIDS[index]} == "$pid" ]] && unset 'STARTED_PIDS[index]'
    done
    if is_running "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        local deadline=$((SECONDS + seconds))
        while is_running "$pid" && ((SECONDS < deadline)); do sleep 0.05; done
        if is_running "$pid"; then
            log "process $pid ignored SIGTERM for ${seconds}s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || status=$?
    return "$status"
}

# True while PID exists and has not exited (a zombie waiting to be reaped counts as exited).
is_running() {
    local state
    state=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n $state && $state != Z ]]
}

on_exit() { EXIT_COMMANDS+=("$1"); }

stop_everything() {
    local pids=("${STARTED_PIDS[@]}") index
    for ((index = ${#pids[@]} - 1; index >= 0; index--)); do
        stop_process "${pids[index]}" || true
    done
    for index in "${!EXIT_COMMANDS[@]}"; do eval "${EXIT_COMMANDS[index]}" || true; done
}
trap stop_everything EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { free_ports 1; }

# N distinct ports that are free now (all bound at once, then released), below the kernel's
# ephemeral range: a port it hands out for outbound connections could be taken by a node's
# connection to a peer before the node that should listen there starts (or restarts).
free_ports() {
    python3 -c 'import random, socket, sys
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
sockets = []
for candidate in random.sample(range(20000, min(low, 32768)), 400):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", candidate))
        sockets.append(s)
    except OSError:
        s.close()
    if len(sockets) == int(sys.argv[1]):
        break
else:
    sys.exit("no free port found below the ephemeral range")
print(" ".join(str(s.getsockname()[1]) for s in sockets))' "$1"
}

# utime + stime of the whole process (every thread), in clock ticks.
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# A raw HTTP/1.1 request with Connection: close; prints the whole answer (bounded by 5 s).
http_get() {
    local port=$1 path=$2 fd
    exec {fd}<>"/dev/tcp/127.0.0.1/$port" || return 1
    printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$path" >&"$fd"
    timeout 5 cat <&"$fd" || true
    exec {fd}>&-
}

# The status code of GET PATH, or 000 when nothing answers.
http_status() {
    local line
    line=$(http_get "$1" "$2" 2>/dev/null | head -n1) || true
    [[ $line =~ ^HTTP/1\.[01]\ ([0-9]{3}) ]] && echo "${BASH_REMATCH[1]}" || echo 000
}

wait_for_status() {
    local port=$1 path=$2 code=$3 seconds=$4
    local deadline=$((SECONDS + seconds))
    while ((SECONDS < deadline)); do
        [[ $(http_status "$port" "$path") == "$code" ]] && return 0
        sleep 0.05
    done
    log "GET 127.0.0.1:$port$path did not answer $code within ${seconds}s"
    return 1
}

# Prints the value of NAME=… from a `wrk-result`/`preload-result` line.
field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"; }

cpu_ticks_sum() {
    local pid total=0
    for pid in "$@"; do total=$((total + $(cpu_ticks "$pid"))); done
    echo "$total"
}

record_row() {  # LABEL ROUND RPS P50_US P99_US P999_US CPU_TICKS REQUESTS STATUS_ERR SOCKET_ERR
    local cpu
    cpu=$(awk -v t="$7" -v r="$8" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (r > 0 ? t * 1e6 / hz / r : 0) }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$cpu" "$9" "${10}" "$8" >>"$RESULTS"
}

# One wrk load; its output is kept in RUN_DIR/wrk-LABEL-ROUND.txt. ROUND "warmup" is not recorded.
# Dies when wrk fails or a server in PIDS is gone; errors in the answers are recorded, not fatal.
run_wrk() {
    local label=$1 round=$2 seconds=$3 connections=$4 url=$6 script=$7 pid out line before after
    local -a pids
    read -r -a pids <<<"$5"
    shift 7
    for pid in "${pids[@]}"; do is_running "$pid" || die "$label: server $pid is gone before round $round"; done
    out="$RUN_DIR/wrk-$label-$round.txt"
    before=$(cpu_ticks_sum "${pids[@]}")
    timeout $((seconds + 30)) wrk -t1 -c"$connections" -d"${seconds}s" --timeout 5s -s "$LOADTEST_DIR/wrk/$script" \
        "$url" -- "$@" >"$out" 2>&1 || die "wrk failed on $label (see $out)"
    after=$(cpu_ticks_sum "${pids[@]}")
    for pid in "${pids[@]}"; do is_running "$pid" || die "$label: server $pid died during round $round"; done
    [[ $round == warmup ]] && return 0
    line=$(grep '^wrk-result ' "$out") || die "no wrk-result line in $out"
    record_row "$label" "$round" "$(field rps "$line")" "$(field p50_us "$line")" "$(field p99_us "$line")" \
        "$(field p999_us "$line")" $((after - before)) "$(field requests "$line")" "$(field status "$line")" \
        $(($(field connect "$line") + $(field read "$line") + $(field write "$line") + $(field timeout "$line")))
    log "$label round $round: $(field rps "$line") req/s, p99 $(field p99_us "$line") µs, errors $(field status "$line")"
}

# "median min max" of the numbers on stdin, one per line (others are skipped); "- - -" if none.
summarize() {
    grep -E '^-?[0-9.]+([eE][-+]?[0-9]+)?$' | sort -g | awk '{ v[NR] = $1 } END {
        if (!NR) print "- - -"; else print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[1], v[NR] }'
}

median() { summarize | cut -d' ' -f1; }

# "median min max" of COLUMN (1-based in $RESULTS) over the rounds of LABEL.
stats() { awk -F'\t' -v l="$1" -v c="$2" '$1 == l { print $c }' "$RESULTS" | summarize; }

# Sum of COLUMN over the rounds of LABEL.
total() { awk -F'\t' -v l="$1" -v c="$2" '$1 == l { s += $c } END { print s + 0 }' "$RESULTS"; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }

# PASS or FAIL for VALUE >= TARGET.
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v != "-" && v + 0 >= t + 0 ? "PASS" : "FAIL") }'; }

# The conditions of a run, for its report.
describe_machine() {
    echo "machine: $(nproc) vCPU $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)"
}

# start_failover_load NAME KEYS DURATION_S GETS PUTS: failover_load.py against the proxy
# (PROXY_PORT), output in RUN_DIR; waits for its start line. Sets LOAD_PID and START_EPOCH and
# defines since_start WALL (seconds since the load began) and sleep_until T.
start_failover_load() {
    local name=$1 deadline
    start_background "$name" python3 "$LOADTEST_DIR/failover_load.py" --port "$PROXY_PORT" --keys "$2" \
        --duration-s "$3" --out-dir "$RUN_DIR" --get-connections "$4" --put-connections "$5"
    LOAD_PID=$BG_PID
    deadline=$((SECONDS + 10))
    until START_EPOCH=$(sed -n 's/^failover-start epoch=//p' "$RUN_DIR/$name.out") && [[ -n $START_EPOCH ]]; do
        { ((SECONDS < deadline)) && is_running "$LOAD_PID"; } || die "the load generator did not start (see $RUN_DIR/$name.err)"
        sleep 0.05
    done
}
since_start() { awk -v a="$START_EPOCH" -v b="$1" 'BEGIN { printf "%.2f", b - a }'; }
sleep_until() { sleep "$(awk -v a="$START_EPOCH" -v t="$1" -v now="$EPOCHREALTIME" 'BEGIN { d = a + t - now; print (d > 0 ? d : 0) }')"; }

# shellcheck source=servers.bash
source "$LOADTEST_DIR/servers.bash"
