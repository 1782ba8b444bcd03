#!/usr/bin/env bash
# Tells one storage node to re-read its hosts file:  scripts/reloadNode.bash HOST PORT
#
# Local node: SIGHUP to the PID recorded by startNode.bash. Remote node: the node bundle (with
# this machine's hosts file) is copied there first, then the same script runs there over SSH.
# A node that is not running is not an error: it reads the file when it starts.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/cluster.bash
source "$(dirname "$0")/lib/cluster.bash"

main() {
    node_arguments "$@"
    if is_local_host "$NODE_HOST"; then
        if is_running "$(node_name "$NODE_HOST" "$NODE_PORT")" "linkring-node --listen $NODE_ADDRESS "; then
            kill -HUP "$RUNNING_PID"
            say "node $NODE_ADDRESS: SIGHUP (pid $RUNNING_PID)"
        else
            say "node $NODE_ADDRESS is not running"
        fi
    else
        deploy "$NODE_HOST"
        run_remote "$NODE_HOST" reloadNode.bash "$NODE_HOST" "$NODE_PORT" 2>&1 | prefix_lines "$NODE_HOST" ||
            die "telling node $NODE_ADDRESS on $NODE_HOST over SSH failed (see $LOG_FILE)"
    fi
}

main "$@"
