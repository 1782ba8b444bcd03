#!/usr/bin/env bash
# Stops one storage node:  scripts/stopNode.bash HOST PORT
#
# Local node: SIGTERM to the PID recorded by startNode.bash (the node stops accepting, finishes
# the requests in flight and syncs its log), SIGKILL after LINKRING_STOP_TIMEOUT_S. Remote
# node: the same, run on that host over SSH. A node that is not running is not an error.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/cluster.bash
source "$(dirname "$0")/lib/cluster.bash"

main() {
    node_arguments "$@"
    if is_local_host "$NODE_HOST"; then
        stop_recorded "$(node_name "$NODE_HOST" "$NODE_PORT")" "linkring-node --listen $NODE_ADDRESS " "node $NODE_ADDRESS"
    else
        run_remote "$NODE_HOST" stopNode.bash "$NODE_HOST" "$NODE_PORT" 2>&1 | prefix_lines "$NODE_HOST" ||
            die "stopping node $NODE_ADDRESS on $NODE_HOST over SSH failed (see $LOG_FILE)"
    fi
}

main "$@"
