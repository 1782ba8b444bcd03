#!/usr/bin/env bash
# Adds a storage node to the running cluster:  scripts/addNode.bash HOST PORT
#
# Appends HOST:PORT to the hosts file with the generation raised by one, starts the node
# (startNode.bash: over SSH for a remote host), copies the file to every remote host, sends
# SIGHUP to the proxy and every node, and waits until every node has handed the new node its
# keys (the proxy's /_/status). Clients see no miss meanwhile: the proxy writes to the old and
# new replicas and reads both (docs/DECISIONS.md, "Membership change").
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/cluster.bash
source "$(dirname "$0")/lib/cluster.bash"
# shellcheck source-path=SCRIPTDIR source=lib/membership.bash
source "$(dirname "$0")/lib/membership.bash"

main() {
    local new generation
    node_arguments "$@"
    new="$NODE_ADDRESS"
    current_addresses
    [[ " ${ADDRESSES[*]} " != *" $new "* ]] || die "$new is already in $LINKRING_HOSTS"
    generation=$(($(hosts_generation) + 1))
    write_hosts "$generation" "${ADDRESSES[@]}" "$new"
    "$LINKRING_ROOT/scripts/startNode.bash" "$NODE_HOST" "$NODE_PORT" </dev/null || die "node $new did not start; $LINKRING_HOSTS lists it (generation $generation): fix and run startNode.bash, or removeNode.bash"
    reload_everything "${ADDRESSES[@]}" "$new"
    wait_for_move "$generation"
    say "node $new added (generation $generation)"
}

main "$@"
