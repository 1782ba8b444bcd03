# Shared by the cluster scripts (sourced, not run): configuration from the environment, one log
# file per script, PID files, process checks, local-versus-remote hosts and SSH deployment.
#
# Design:
#   - Every runtime file lives under LINKRING_RUN_DIR (default run/ in the repository):
#       logs/SCRIPT.log      what each script did, one timestamped line per event
#       logs/NAME.log        a process's event log (--log-file, and its stderr before that
#                            is open); logs/NAME.out its stdout (the `listening on` line)
#       pids/NAME.pid        the PID recorded when the process was started
#       data/NAME/           a node's data directory
#       cluster-token        the cluster token (mode 0600), see below
#     NAME is `proxy` or `node-HOST_PORT`.
#   - Every node and the proxy get the cluster token through --cluster-token-file, so it never
#     shows in `ps`; a node with a token answers nothing but /_/health without it. The first
#     start makes a random one (32 bytes from /dev/urandom, hex) in LINKRING_CLUSTER_TOKEN_FILE
#     (default run/cluster-token) under umask 077, and every later start reuses it; an explicit
#     LINKRING_CLUSTER_TOKEN replaces the file's token. A remote host gets the file over the SSH
#     connection's stdin (umask 077 there), never on a command line.
#   - A recorded PID counts only while that PID is alive, is not a zombie and its command line
#     still contains the binary and `--listen ADDR`; anything else is a stale file, removed.
#     Processes are stopped only through their recorded PID: SIGTERM, a deadline, then SIGKILL.
#   - A host is local when it is a loopback name or one of this machine's addresses. A remote
#     host gets a bundle (the binary, the Swift runtime libraries it needs, the node scripts and
#     the hosts file) copied over `ssh -o BatchMode=yes` into LINKRING_REMOTE_DIR, and the same
#     script runs there with LINKRING_REMOTE_SIDE=1, where the host is local by definition.
#   - Processes start as `setsid BINARY ... &`: non-interactive bash does not give background
#     jobs their own process group, so setsid execs in place and $! is the binary's PID, which
#     then sits in its own session, out of reach of the terminal's Ctrl-C and hang-up.

# shellcheck source-path=SCRIPTDIR source=common.bash
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"

SCRIPT_NAME="$(basename "$0" .bash)"

# Configuration. Exported so that child scripts, and the proxy's restart command, see the same.
binaries_given="${LINKRING_BIN_DIR:+yes}"
: "${LINKRING_HOSTS:=$LINKRING_ROOT/hosts.txt}"
: "${LINKRING_PROXY:=127.0.0.1:8080}"
: "${LINKRING_PROXY_ADMIN:=}"
: "${LINKRING_RUN_DIR:=$LINKRING_ROOT/run}"
: "${LINKRING_BIN_DIR:=$LINKRING_ROOT/.build/release}"
: "${LINKRING_CLUSTER_TOKEN:=}"
: "${LINKRING_ALLOWED_SCHEMES:=}"
: "${LINKRING_NODE_ARGS:=}"
: "${LINKRING_PROXY_ARGS:=}"
: "${LINKRING_RESTART_NODES:=1}"
: "${LINKRING_SSH_USER:=}"
: "${LINKRING_SSH_KEY:=}"
: "${LINKRING_SSH_OPTS:=}"
: "${LINKRING_REMOTE_DIR:=linkring}"
: "${LINKRING_START_TIMEOUT_S:=60}"
: "${LINKRING_STOP_TIMEOUT_S:=15}"
LINKRING_HOSTS="$(realpath -m "$LINKRING_HOSTS")"
LINKRING_RUN_DIR="$(realpath -m "$LINKRING_RUN_DIR")"
LINKRING_BIN_DIR="$(realpath -m "$LINKRING_BIN_DIR")"
: "${LINKRING_CLUSTER_TOKEN_FILE:=$LINKRING_RUN_DIR/cluster-token}"
LINKRING_CLUSTER_TOKEN_FILE="$(realpath -m "$LINKRING_CLUSTER_TOKEN_FILE")"
export LINKRING_HOSTS LINKRING_PROXY LINKRING_PROXY_ADMIN LINKRING_RUN_DIR LINKRING_BIN_DIR LINKRING_CLUSTER_TOKEN LINKRING_CLUSTER_TOKEN_FILE \
    LINKRING_ALLOWED_SCHEMES LINKRING_NODE_ARGS LINKRING_PROXY_ARGS LINKRING_RESTART_NODES LINKRING_SSH_USER \
    LINKRING_SSH_KEY LINKRING_SSH_OPTS LINKRING_REMOTE_DIR LINKRING_START_TIMEOUT_S \
    LINKRING_STOP_TIMEOUT_S

# proxy_operator: where the proxy's /_/status and /_/metrics answer: its admin address when
# LINKRING_PROXY_ADMIN gives one (--admin-listen), else its public port (to this host only).
proxy_operator() { printf '%s\n' "${LINKRING_PROXY_ADMIN:-$LINKRING_PROXY}"; }

LOG_DIR="$LINKRING_RUN_DIR/logs"
PID_DIR="$LINKRING_RUN_DIR/pids"
mkdir -p "$LOG_DIR" "$PID_DIR" "$LINKRING_RUN_DIR/data"
LOG_FILE="$LOG_DIR/$SCRIPT_NAME.log"

# --- messages: to the terminal and to this script's log -----------------------------------

log_line() { printf '%s %s[%d]: %s\n' "$(date -u +%FT%TZ)" "$SCRIPT_NAME" "$$" "$*" >>"$LOG_FILE"; }
say() { log_line "$*"; printf '%s\n' "$*"; }
warn() { log_line "warning: $*"; printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2; }
die() { log_line "error: $*"; printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2; exit 1; }

# ensure_binaries NAME...: builds the release binaries unless LINKRING_BIN_DIR was given; then
# each named binary must be there.
ensure_binaries() {
    if [ -z "$binaries_given" ]; then
        build_release 2>&1 | tee -a "$LOG_FILE" || die "building the release binaries failed (see $LOG_FILE)"
    fi
    local binary
    for binary in "$@"; do
        [ -x "$LINKRING_BIN_DIR/$binary" ] || die "$LINKRING_BIN_DIR/$binary is missing"
    done
}

# --- hosts file --------------------------------------------------------------------------

# load_hosts: fills NODE_HOSTS and NODE_PORTS from the hosts file (IPv6 brackets removed); the
# `generation N` line (docs/OPERATIONS.md, "Changing the membership") is not a node.
load_hosts() {
    local line entry
    NODE_HOSTS=()
    NODE_PORTS=()
    [ -r "$LINKRING_HOSTS" ] || die "cannot read the hosts file $LINKRING_HOSTS"
    while IFS= read -r line || [ -n "$line" ]; do
        entry="${line%%#*}"
        entry="${entry//[[:space:]]/}"
        [ -n "$entry" ] || continue
        [[ "$line" =~ ^[[:space:]]*generation[[:space:]] ]] && continue
        [[ "$entry" =~ ^\[?([^][]+)\]?:([0-9]+)$ ]] || die "$LINKRING_HOSTS: '$line' is not HOST:PORT"
        NODE_HOSTS+=("${BASH_REMATCH[1]}")
        NODE_PORTS+=("${BASH_REMATCH[2]}")
    done <"$LINKRING_HOSTS"
    [ ${#NODE_HOSTS[@]} -gt 0 ] || die "$LINKRING_HOSTS lists no node"
}

# address HOST PORT: the listen address as the binaries and the hosts file write it.
address() {
    local host="${1#[}"
    host="${host%]}"
    if [[ "$host" == *:* ]]; then echo "[$host]:$2"; else echo "$host:$2"; fi
}

# node_arguments ARGS...: a node script's `HOST PORT`, into NODE_HOST, NODE_PORT, NODE_ADDRESS.
# shellcheck disable=SC2034 # the node scripts read them
node_arguments() {
    [[ $# -eq 2 && "$2" =~ ^[0-9]+$ ]] || die "usage: $SCRIPT_NAME.bash HOST PORT"
    NODE_HOST="$1"
    NODE_PORT="$2"
    NODE_ADDRESS="$(address "$1" "$2")"
}

node_name() { local name; name="$(address "$1" "$2")"; echo "node-${name//[^A-Za-z0-9.-]/_}"; }

# is_local_host HOST: true for loopback names and this machine's own names and addresses.
is_local_host() {
    local host="${1#[}"
    host="${host%]}"
    [ "${LINKRING_REMOTE_SIDE:-0}" = 1 ] && return 0
    case "$host" in 127.* | localhost | ::1 | 0.0.0.0 | ::) return 0 ;; esac
    [ "$host" != "$(hostname)" ] || return 0
    local_addresses | grep -qxF -- "$host"
}

local_addresses() {
    if command -v ip >/dev/null; then
        ip -o addr show | awk '{ sub(/\/.*/, "", $4); print $4 }'
    else
        hostname -I | tr ' ' '\n'
    fi
}

# --- PID files and processes -------------------------------------------------------------

pid_file() { echo "$PID_DIR/$1.pid"; }

# process_alive PID: PID exists and is not a zombie.
process_alive() {
    local stat
    [[ "$1" =~ ^[0-9]+$ ]] || return 1
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [ "${stat%% *}" != Z ]
}

# process_matches PID NEEDLE: PID is alive and its command line contains NEEDLE.
process_matches() {
    local cmdline
    process_alive "$1" || return 1
    cmdline="$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null)" || return 1
    [[ "$cmdline" == *"$2"* ]]
}

# is_running NAME NEEDLE: true if the PID recorded for NAME still runs, and then RUNNING_PID
# holds it; a stale PID file (dead process, or the PID now belongs to something else) is removed.
is_running() {
    local file pid=""
    file="$(pid_file "$1")"
    RUNNING_PID=""
    [ -f "$file" ] || return 1
    read -r pid <"$file" || true
    if process_matches "$pid" "$2"; then
        RUNNING_PID="$pid"
        return 0
    fi
    say "removing stale PID file $file (no $1 runs as pid ${pid:-?})"
    rm -f "$file"
    return 1
}

# stop_pid PID NEEDLE WHAT: SIGTERM, wait up to LINKRING_STOP_TIMEOUT_S, then SIGKILL.
stop_pid() {
    local pid="$1" needle="$2" what="$3" tenths
    kill -TERM "$pid" 2>/dev/null || true
    for ((tenths = 0; tenths < LINKRING_STOP_TIMEOUT_S * 10; tenths++)); do
        process_matches "$pid" "$needle" || return 0
        sleep 0.1
    done
    warn "$what (pid $pid) still runs ${LINKRING_STOP_TIMEOUT_S}s after SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((tenths = 0; tenths < 50; tenths++)); do
        process_matches "$pid" "$needle" || return 0
        sleep 0.1
    done
    die "$what (pid $pid) survived SIGKILL"
}

# stop_recorded NAME NEEDLE WHAT [quiet]: stops the process recorded for NAME, if any; `quiet`
# says nothing when NAME never had a PID file (a watcher that was never started).
stop_recorded() {
    if [ "${4:-}" = quiet ] && [ ! -e "$(pid_file "$1")" ]; then
        log_line "$3 was not started (no $(pid_file "$1"))"
        return 0
    fi
    if is_running "$1" "$2"; then
        stop_pid "$RUNNING_PID" "$2" "$3"
        rm -f "$(pid_file "$1")"
        say "$3 stopped (pid $RUNNING_PID)"
    else
        say "$3 is not running"
    fi
}

# take_lock NAME: one starter per process at a time (fd 9; started processes must close it).
take_lock() {
    exec 9>"$PID_DIR/$1.lock"
    flock -w "$((LINKRING_START_TIMEOUT_S + 30))" 9 || die "another script holds $PID_DIR/$1.lock"
}

# start_process NAME WHAT BINARY ARGS...: starts BINARY in the background, records its PID and
# waits for its `listening on` line; fails with the end of its log if it exits or times out.
start_process() {
    local name="$1" what="$2" out="$LOG_DIR/$1.out" err="$LOG_DIR/$1.log" pid tenths logged
    shift 2
    : >"$out"
    logged="$(stat -c %s "$err" 2>/dev/null || echo 0)"
    setsid "$@" </dev/null >"$out" 2>>"$err" 9>&- &
    pid=$!
    echo "$pid" >"$(pid_file "$name")"
    for ((tenths = 0; tenths < LINKRING_START_TIMEOUT_S * 10; tenths++)); do
        if grep -q '^listening on ' "$out"; then
            say "$what started (pid $pid), log $err"
            return 0
        fi
        # Not process_matches: until the fork has exec'd, the command line is still bash's.
        if ! process_alive "$pid"; then
            rm -f "$(pid_file "$name")"
            # The cause is the first thing it wrote (earlier starts' lines come before it).
            die "$what exited during start: $(tail -c +$((logged + 1)) "$err" | head -n 5)
(the whole log: $err)"
        fi
        sleep 0.1
    done
    die "$what (pid $pid) did not report 'listening on' within ${LINKRING_START_TIMEOUT_S}s; see $err"
}

# extra_args VALUE: sets EXTRA_ARGS to the options every process of the cluster must share (the
# cluster token file, the allowed schemes of long URLs) and the words of VALUE.
extra_args() {
    local words
    EXTRA_ARGS=(--cluster-token-file "$LINKRING_CLUSTER_TOKEN_FILE")
    [ -z "$LINKRING_ALLOWED_SCHEMES" ] || EXTRA_ARGS+=(--allowed-schemes "$LINKRING_ALLOWED_SCHEMES")
    read -ra words <<<"$1"
    EXTRA_ARGS+=("${words[@]}")
}

# --- the cluster token -------------------------------------------------------------------

# ensure_cluster_token: LINKRING_CLUSTER_TOKEN_FILE holds the cluster token, mode 0600: the one
# already there, else LINKRING_CLUSTER_TOKEN if given, else a new random one. On a remote host
# the file must have been copied (send_cluster_token): a token made there would not match.
ensure_cluster_token() {
    local file="$LINKRING_CLUSTER_TOKEN_FILE"
    if [ -n "$LINKRING_CLUSTER_TOKEN" ]; then
        if [ "$(cat "$file" 2>/dev/null)" != "$LINKRING_CLUSTER_TOKEN" ]; then
            write_token_file "$file" "$LINKRING_CLUSTER_TOKEN" replace
            say "stored LINKRING_CLUSTER_TOKEN in $file (mode 0600)"
        fi
    elif [ -e "$file" ] && [ ! -s "$file" ]; then
        die "$file is empty: remove it (a new token is made) or give LINKRING_CLUSTER_TOKEN"
    elif [ ! -e "$file" ]; then
        [ "${LINKRING_REMOTE_SIDE:-0}" != 1 ] || die "no cluster token in $file (startNode.bash on the controlling host copies it)"
        create_token_file "$file"
        say "created the cluster token $file (mode 0600; every node and the proxy read it)"
    fi
    [ -r "$file" ] || die "cannot read the cluster token $file"
    if [ "$(stat -c %a "$file")" != 600 ]; then
        chmod 600 "$file" || die "cannot make $file mode 0600"
        warn "$file was readable by others; it is mode 0600 now"
    fi
}

# create_token_file FILE: a new random token (32 bytes from /dev/urandom, in hex) in FILE,
# mode 0600, unless FILE already exists. Used by installSystemd.bash too.
create_token_file() {
    write_token_file "$1" "$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" keep
}

# write_token_file FILE TOKEN replace|keep: writes TOKEN to FILE through a private temporary
# file (mode 0600). `keep` links it into place only if no FILE is there yet (ln fails on an
# existing name), so two scripts starting at once end up with the same token.
write_token_file() {
    local file="$1" staged
    mkdir -p "$(dirname "$file")"
    staged="$(umask 077 && mktemp "$file.XXXXXX")" || die "cannot create a file next to $file"
    printf '%s\n' "$2" >"$staged"
    if [ "$3" = replace ]; then
        mv -f "$staged" "$file" || die "cannot write $file"
    else
        ln "$staged" "$file" 2>/dev/null || true
        rm -f "$staged"
    fi
}

# send_cluster_token HOST: copies the token file to HOST's run directory over the SSH
# connection's stdin, written there under umask 077 and renamed into place.
send_cluster_token() {
    local host="$1" run staged
    run="$(remote_dir "$host")/run"
    staged="$(printf '%q' "$run/cluster-token.new")"
    ssh_to "$host" "umask 077 && mkdir -p $(printf '%q' "$run") && cat >$staged && mv -f $staged $(printf '%q' "$run/cluster-token")" \
        <"$LINKRING_CLUSTER_TOKEN_FILE" 2>>"$LOG_FILE" || die "copying the cluster token to $host:$run failed (see $LOG_FILE)"
    log_line "copied the cluster token to $host:$run/cluster-token"
}

# --- remote hosts ------------------------------------------------------------------------

# remote_dir HOST: LINKRING_REMOTE_DIR with %h replaced by HOST (relative = the remote home).
remote_dir() { echo "${LINKRING_REMOTE_DIR//%h/$1}"; }

# ssh_to HOST COMMAND: runs a shell command on HOST, never asking for a password.
ssh_to() {
    local host="${1#[}" opts=(-o BatchMode=yes -o ConnectTimeout=10 -o ServerAliveInterval=5) extra
    host="${host%]}"
    shift
    [ -z "$LINKRING_SSH_KEY" ] || opts+=(-i "$LINKRING_SSH_KEY")
    [ -z "$LINKRING_SSH_USER" ] || opts+=(-l "$LINKRING_SSH_USER")
    read -ra extra <<<"$LINKRING_SSH_OPTS"
    timeout "$((LINKRING_START_TIMEOUT_S + 120))" ssh "${opts[@]}" "${extra[@]}" "$host" "$@"
}

# runtime_libraries BINARY: shared libraries it loads from outside the system directories
# (the Swift runtime of the toolchain that built it), which a remote host may not have.
runtime_libraries() {
    ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' |
        grep -Ev '^/(usr/)?lib(64)?/([a-z0-9_]+-linux-gnu[a-z0-9_]*/)?[^/]+$' || true
}

# make_bundle DIR: what a remote node needs. The binaries' RUNPATH includes $ORIGIN, so the
# libraries copied next to them are found where the toolchain's directory does not exist.
make_bundle() {
    local dir="$1" libraries
    mkdir -p "$dir/bin" "$dir/scripts/lib"
    mapfile -t libraries < <(runtime_libraries "$LINKRING_BIN_DIR/linkring-node")
    cp -L "$LINKRING_BIN_DIR/linkring-node" "${libraries[@]}" "$dir/bin/"
    cp "$LINKRING_ROOT/scripts/startNode.bash" "$LINKRING_ROOT/scripts/stopNode.bash" "$LINKRING_ROOT/scripts/reloadNode.bash" "$dir/scripts/"
    cp "$LINKRING_ROOT/scripts/lib/common.bash" "$LINKRING_ROOT/scripts/lib/cluster.bash" "$LINKRING_ROOT/scripts/lib/nodeData.bash" "$dir/scripts/lib/"
    cp "$LINKRING_HOSTS" "$dir/hosts.txt"
    (cd "$dir" && find bin scripts hosts.txt -type f | sort | xargs sha256sum >MANIFEST)
}

# deploy HOST: copies the bundle to HOST unless the MANIFEST there already matches. GNU tar
# replaces an existing file by a new one (unlink, create), so a running binary is not touched.
deploy() {
    local host="$1" dir stage
    dir="$(remote_dir "$host")"
    stage="$(mktemp -d "$LINKRING_RUN_DIR/deploy.XXXXXX")"
    make_bundle "$stage"
    if ssh_to "$host" "cat $(printf '%q' "$dir")/MANIFEST 2>/dev/null || true" 2>>"$LOG_FILE" |
        cmp -s - "$stage/MANIFEST"; then
        log_line "$host:$dir is up to date"
    else
        tar -C "$stage" -czf - bin scripts hosts.txt MANIFEST |
            ssh_to "$host" "mkdir -p $(printf '%q' "$dir") && tar -C $(printf '%q' "$dir") -xzf -" 2>>"$LOG_FILE" || {
            rm -rf "$stage"
            die "copying the node bundle to $host:$dir failed (see $LOG_FILE)"
        }
        say "copied linkring-node, its runtime libraries and the node scripts to $host:$dir"
    fi
    rm -rf "$stage"
}

# run_remote HOST SCRIPT ARGS...: runs a deployed node script on HOST with this configuration.
run_remote() {
    local host="$1" script="$2" dir command
    shift 2
    dir="$(remote_dir "$host")"
    # A host where nothing was ever deployed has nothing to stop either.
    command="[ -f $(printf '%q' "$dir/scripts/$script") ] || { echo $(printf '%q' "nothing deployed in $dir"); exit 0; }; "
    command+="$(printf '%q ' env LINKRING_REMOTE_SIDE=1 "LINKRING_RUN_DIR=$dir/run" \
        "LINKRING_BIN_DIR=$dir/bin" "LINKRING_HOSTS=$dir/hosts.txt" \
        "LINKRING_ALLOWED_SCHEMES=$LINKRING_ALLOWED_SCHEMES" \
        "LINKRING_NODE_ARGS=$LINKRING_NODE_ARGS" \
        "LINKRING_START_TIMEOUT_S=$LINKRING_START_TIMEOUT_S" "LINKRING_STOP_TIMEOUT_S=$LINKRING_STOP_TIMEOUT_S" \
        bash "$dir/scripts/$script" "$@")"
    log_line "ssh $host: $dir/scripts/$script $*"
    ssh_to "$host" "$command" </dev/null
}

# prefix_lines PREFIX: says each line of stdin with PREFIX (the output of a remote script).
prefix_lines() {
    local line
    while IFS= read -r line; do say "$1: $line"; done
}
