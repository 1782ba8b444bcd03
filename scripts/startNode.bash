#!/usr/bin/env bash
# Starts one storage node:  scripts/startNode.bash HOST PORT
#
# HOST:PORT is an entry of the hosts file. On this machine the node starts directly, with its
# data in run/data/node-HOST_PORT, its PID in run/pids/ and its event log in run/logs/. On
# another machine the node bundle and the cluster token file are first copied there over SSH
# (see lib/cluster.bash) and this same script runs there. The node reads the token with
# --cluster-token-file. A node that already runs is left alone (exit 0). The proxy's
# --restart-command runs `CMD HOST PORT`, so this script serves as that command as it is.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/cluster.bash
source "$(dirname "$0")/lib/cluster.bash"

main() {
    node_arguments "$@"
    ensure_binaries linkring-node
    ensure_cluster_token
    if is_local_host "$NODE_HOST"; then
        start_local
    else
        deploy "$NODE_HOST"
        send_cluster_token "$NODE_HOST"
        run_remote "$NODE_HOST" startNode.bash "$NODE_HOST" "$NODE_PORT" 2>&1 | prefix_lines "$NODE_HOST" ||
            die "starting node $NODE_ADDRESS on $NODE_HOST over SSH failed (see $LOG_FILE)"
    fi
}

start_local() {
    local name addr="$NODE_ADDRESS"
    name="$(node_name "$NODE_HOST" "$NODE_PORT")"
    take_lock "$name"
    if is_running "$name" "linkring-node --listen $addr "; then
        say "node $addr is already running (pid $RUNNING_PID)"
        return 0
    fi
    check_libraries
    extra_args "$LINKRING_NODE_ARGS"
    start_process "$name" "node $addr" "$LINKRING_BIN_DIR/linkring-node" --listen "$addr" \
        --data "$LINKRING_RUN_DIR/data/$name" --hosts "$LINKRING_HOSTS" --log-file "$LOG_DIR/$name.log" \
        "${EXTRA_ARGS[@]}"
}

# check_libraries: a fresh host may lack libuv (Debian libuv1); install it when root.
check_libraries() {
    local missing
    missing="$(ldd "$LINKRING_BIN_DIR/linkring-node" 2>/dev/null | awk '/not found/ { print $1 }' || true)"
    [ -n "$missing" ] || return 0
    [[ "$missing" == libuv.so.1 ]] || die "linkring-node needs libraries missing here: $missing"
    install_missing "false:libuv1" >>"$LOG_FILE" 2>&1 || die "libuv1 is missing and could not be installed (apt-get install libuv1)"
    say "installed libuv1"
}

main "$@"
