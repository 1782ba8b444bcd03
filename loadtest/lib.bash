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
#   free_port · cpu_ticks PID · rss_kb PID

# shellcheck shell=bash disable=SC2034  # REPO_DIR and the helpers are used by the drivers
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
    RUN_DIR="$LOADTEST_DIR/results/$1-$(date +%Y%m%d-%H%M%S)"
    mkdir -p "$RUN_DIR"
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

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# utime + stime of the whole process (every thread), in clock ticks.
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
