#!/usr/bin/env bash
# Removes a storage node from the running cluster:  scripts/removeNode.bash HOST PORT
#
# Writes the hosts file without HOST:PORT, the generation raised by one, copies it to every
# remote host, sends SIGHUP to the proxy and every node (the removed one too: it hands every
# key it holds to the key's new replicas), waits until every node has handed its data off, then
# stops the removed node. A dead node is removed the same way: the surviving replica of each of
# its ranges gives the new replica its copy. At least --replicas nodes must remain.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/cluster.bash
source "$(dirname "$0")/lib/cluster.bash"
# shellcheck source-path=SCRIPTDIR source=lib/membership.bash
source "$(dirname "$0")/lib/membership.bash"

: "${LINKRING_REPLICAS:=2}"

main() {
    local gone generation entry kept=()
    node_arguments "$@"
    gone="$NODE_ADDRESS"
    current_addresses
    [[ " ${ADDRESSES[*]} " == *" $gone "* ]] || die "$gone is not in $LINKRING_HOSTS"
    for entry in "${ADDRESSES[@]}"; do [ "$entry" = "$gone" ] || kept+=("$entry"); done
    [ "${#kept[@]}" -ge "$LINKRING_REPLICAS" ] ||
        die "removing $gone would leave ${#kept[@]} node(s), fewer than the $LINKRING_REPLICAS replicas of every key"
    generation=$(($(hosts_generation) + 1))
    write_hosts "$generation" "${kept[@]}"
    reload_everything "${ADDRESSES[@]}"
    wait_for_move "$generation"
    "$LINKRING_ROOT/scripts/stopNode.bash" "$NODE_HOST" "$NODE_PORT" </dev/null || warn "stopping $gone failed; it holds no data anyone needs now"
    say "node $gone removed (generation $generation)"
}

main "$@"
