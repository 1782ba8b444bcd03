#!/usr/bin/env bash
# Replaces a node (typically a dead one) by a new one:  scripts/replaceNode.bash OLDHOST:OLDPORT NEWHOST:NEWPORT
#
# Writes the hosts file with the new entry in the old one's line, the generation raised by one;
# starts the new node; copies the file to every remote host; sends SIGHUP to the proxy and every
# node; waits until every node has handed its data off (the surviving replica of each of the old
# node's ranges gives the new node its copy; a live old node hands off its own); then stops the
# old node if it still runs.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/cluster.bash
source "$(dirname "$0")/lib/cluster.bash"
# shellcheck source-path=SCRIPTDIR source=lib/membership.bash
source "$(dirname "$0")/lib/membership.bash"

main() {
    local old new generation entry replaced=()
    [ $# -eq 2 ] || die "usage: replaceNode.bash OLDHOST:OLDPORT NEWHOST:NEWPORT"
    split_address "$1"
    old="$(address "$SPLIT_HOST" "$SPLIT_PORT")"
    local old_host="$SPLIT_HOST" old_port="$SPLIT_PORT"
    split_address "$2"
    new="$(address "$SPLIT_HOST" "$SPLIT_PORT")"
    local new_host="$SPLIT_HOST" new_port="$SPLIT_PORT"
    current_addresses
    [[ " ${ADDRESSES[*]} " == *" $old "* ]] || die "$old is not in $LINKRING_HOSTS"
    [[ " ${ADDRESSES[*]} " != *" $new "* ]] || die "$new is already in $LINKRING_HOSTS"
    for entry in "${ADDRESSES[@]}"; do
        if [ "$entry" = "$old" ]; then replaced+=("$new"); else replaced+=("$entry"); fi
    done
    generation=$(($(hosts_generation) + 1))
    write_hosts "$generation" "${replaced[@]}"
    "$LINKRING_ROOT/scripts/startNode.bash" "$new_host" "$new_port" </dev/null || die "node $new did not start; $LINKRING_HOSTS lists it (generation $generation)"
    reload_everything "${ADDRESSES[@]}" "$new"
    wait_for_move "$generation"
    "$LINKRING_ROOT/scripts/stopNode.bash" "$old_host" "$old_port" </dev/null || warn "stopping $old failed"
    say "node $old replaced by $new (generation $generation)"
}

main "$@"
