#!/usr/bin/env bash
# One node's data directory on this host, for clearDatabases.bash, backup.bash and restore.bash:
#
#   lib/nodeData.bash check HOST PORT                     prints `RUNNING: node HOST:PORT runs (…)` if it runs
#   lib/nodeData.bash clear HOST PORT                     removes its data directory (refused while it runs)
#   lib/nodeData.bash backup HOST PORT DEST               linkring-node backup DATA DEST (while it serves, too)
#   lib/nodeData.bash restore HOST PORT BACKUP [--whole-cluster]   linkring-node restore BACKUP DATA
#
# The controlling host runs these functions directly for a local node, and this script on the
# node's host over SSH for a remote one (lib/cluster.bash run_remote; it is in the node bundle).
# A node runs when its recorded PID does, or when anything holds its data directory's LOCK (a
# node started by hand, a backup or a restore in progress): the LOCK names its pid and role.

# shellcheck source-path=SCRIPTDIR source=cluster.bash
source "$(dirname "${BASH_SOURCE[0]}")/cluster.bash"

data_dir() { echo "$LINKRING_RUN_DIR/data/$(node_name "$1" "$2")"; }

# node_running HOST PORT: true if the node runs here; RUNNING_WHAT says how it was found.
node_running() {
    local name dir holder
    name="$(node_name "$1" "$2")"
    dir="$(data_dir "$1" "$2")"
    if is_running "$name" "linkring-node --listen $(address "$1" "$2") " >/dev/null; then
        RUNNING_WHAT="node $(address "$1" "$2") runs (pid $RUNNING_PID)"
        return 0
    fi
    if [ -f "$dir/LOCK" ] && ! flock -n "$dir/LOCK" true 2>/dev/null; then
        holder="$(head -n 1 "$dir/LOCK" 2>/dev/null)"
        RUNNING_WHAT="$dir is in use by linkring-node (${holder:+pid }${holder:-its LOCK is held})"
        return 0
    fi
    return 1
}

# clear_node HOST PORT: removes the node's data directory, saying what it held.
clear_node() {
    local dir
    dir="$(data_dir "$1" "$2")"
    if node_running "$1" "$2"; then die "not removing $dir: $RUNNING_WHAT"; fi
    if [ ! -d "$dir" ]; then
        say "node $(address "$1" "$2"): no data directory ($dir)"
        return 0
    fi
    say "removed $dir ($(find "$dir" -type f | wc -l) files, $(du -sh "$dir" | cut -f1))"
    rm -rf "$dir"
}

# backup_node HOST PORT DEST: a consistent copy of the node's data into DEST (a new directory).
backup_node() {
    local dir out
    dir="$(data_dir "$1" "$2")"
    [ -d "$dir" ] || die "node $(address "$1" "$2") has no data directory here ($dir): was it ever started on this host?"
    out="$("$LINKRING_BIN_DIR/linkring-node" backup "$dir" "$3" 2>&1)" || die "backup of node $(address "$1" "$2") failed: $out"
    say "$out"
}

# restore_node HOST PORT BACKUP [--whole-cluster]: BACKUP (a node's backup) into its data directory.
restore_node() {
    local dir out grace=()
    dir="$(data_dir "$1" "$2")"
    # The grace period the node runs with decides how old a backup may be.
    [[ " $LINKRING_NODE_ARGS " =~ \ --tombstone-grace-ms[\ =]([0-9]+)\  ]] && grace=(--tombstone-grace-ms "${BASH_REMATCH[1]}")
    out="$("$LINKRING_BIN_DIR/linkring-node" restore "$3" "$dir" "${grace[@]}" "${@:4}" 2>&1)" ||
        die "restore of node $(address "$1" "$2") failed: $out"
    say "$out"
}

# --- on the controlling host ---------------------------------------------------------------

# cluster_processes: RUNNING_LIST=( one line per process of the cluster that runs: the proxy
# watcher, the proxy, each node of the hosts file here or over SSH ). After load_hosts.
cluster_processes() {
    local i line
    RUNNING_LIST=()
    if is_running checkProxyServer "checkProxyServer.bash --watch" >/dev/null; then RUNNING_LIST+=("proxy watcher (pid $RUNNING_PID)"); fi
    if is_running proxy "linkring-proxy --listen $LINKRING_PROXY " >/dev/null; then RUNNING_LIST+=("proxy $LINKRING_PROXY (pid $RUNNING_PID)"); fi
    for i in "${!NODE_HOSTS[@]}"; do
        if is_local_host "${NODE_HOSTS[i]}"; then
            if node_running "${NODE_HOSTS[i]}" "${NODE_PORTS[i]}"; then RUNNING_LIST+=("$RUNNING_WHAT"); fi
        else
            deploy "${NODE_HOSTS[i]}" >/dev/null  # a bundle from before this script would say "nothing deployed"
            line="$(run_remote "${NODE_HOSTS[i]}" lib/nodeData.bash check "${NODE_HOSTS[i]}" "${NODE_PORTS[i]}" 2>&1)" ||
                die "cannot tell over SSH whether node $(address "${NODE_HOSTS[i]}" "${NODE_PORTS[i]}") runs: $line"
            line="$(grep '^RUNNING: ' <<<"$line" || true)"
            if [ -n "$line" ]; then RUNNING_LIST+=("${NODE_HOSTS[i]}: ${line#RUNNING: }"); fi
        fi
    done
}

# refuse_while_running WHAT: dies naming every process of the cluster that runs.
refuse_while_running() {
    cluster_processes
    [ ${#RUNNING_LIST[@]} -eq 0 ] && return 0
    die "refusing to $1 while the cluster runs: $(printf '%s; ' "${RUNNING_LIST[@]}")stop it first (scripts/stopService.bash)"
}

# confirm QUESTION: true after a typed `yes`; refuses without a terminal (give --yes).
confirm() {
    local answer
    [ "${ASSUME_YES:-no}" = yes ] && return 0
    [ -t 0 ] || die "$1? Not confirmed: no terminal to ask on; give --yes"
    read -r -p "$1? Type yes to go on: " answer
    [ "$answer" = yes ] || die "not confirmed; nothing changed"
}

# on_node ACTION HOST PORT ARGS...: the action here for a local node, over SSH for a remote one.
on_node() {
    local action="$1" host="$2" port="$3"
    shift 3
    if is_local_host "$host"; then
        "${action}_node" "$host" "$port" "$@"
    else
        deploy "$host"
        run_remote "$host" lib/nodeData.bash "$action" "$host" "$port" "$@" 2>&1 | prefix_lines "$host" ||
            die "$action of node $(address "$host" "$port") on $host over SSH failed (see $LOG_FILE)"
    fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    action="${1:-}"
    shift || true
    [ $# -ge 2 ] || die "usage: lib/nodeData.bash check|clear|backup|restore HOST PORT [ARGS]"
    case "$action" in
        check) if node_running "$1" "$2"; then echo "RUNNING: $RUNNING_WHAT"; fi ;;
        clear) clear_node "$@" ;;
        backup) backup_node "$@" ;;
        restore) restore_node "$@" ;;
        *) die "unknown action '$action'" ;;
    esac
fi
