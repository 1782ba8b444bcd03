#!/usr/bin/env bash
# Deletes every node's database:  scripts/clearDatabases.bash [--yes]
#
# The original course project's reset script ("empty databases satisfy the requirements for
# our architecture"): removes the data directory of every node of the hosts file, here or on
# its host over SSH (run/data/node-HOST_PORT there), so the next startService.bash starts an
# empty cluster. It refuses while any process of the cluster runs, naming each (the proxy
# watcher, the proxy, a node by its PID file or by its data directory's LOCK), asks for a typed
# `yes` unless --yes, and logs what it removed to run/logs/clearDatabases.log.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/nodeData.bash
source "$(dirname "$0")/lib/nodeData.bash"

main() {
    local i
    case "$*" in
        "") ASSUME_YES=no ;;
        --yes) ASSUME_YES=yes ;;
        *) die "unknown argument '$*'; usage: clearDatabases.bash [--yes]" ;;
    esac
    load_hosts
    refuse_while_running "delete the databases"
    confirm "Delete the data of all ${#NODE_HOSTS[@]} nodes of $LINKRING_HOSTS"
    for i in "${!NODE_HOSTS[@]}"; do
        on_node clear "${NODE_HOSTS[i]}" "${NODE_PORTS[i]}" </dev/null
    done
    say "the databases of ${#NODE_HOSTS[@]} nodes are empty"
}

main "$@"
