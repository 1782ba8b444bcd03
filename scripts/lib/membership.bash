# Shared by the membership scripts (addNode, removeNode, replaceNode; sourced, not run): the
# hosts file's generation, writing a new file, handing it to every host and process, and
# waiting for the data to move (docs/OPERATIONS.md, "Changing the membership").
#
# A change is: a new hosts file with the generation raised by one, written beside the old one
# and renamed over it (a process never reads half a file); copied to every remote host of the
# old and new membership (the node bundle, lib/cluster.bash `deploy`); then SIGHUP to the
# proxy and to every node, old and new (the proxy first: it starts writing to both placements
# before any node refuses its older generation). Then the proxy's /_/status says when every
# node has handed its data off.

: "${LINKRING_MOVE_TIMEOUT_S:=600}"

# hosts_generation: the generation of the hosts file (0 without a `generation N` line).
hosts_generation() {
    awk '/^[[:space:]]*generation[[:space:]]/ { print $2; found = 1 } END { if (!found) print 0 }' "$LINKRING_HOSTS"
}

# write_hosts GENERATION ADDRESS...: the new hosts file, renamed over the old one.
write_hosts() {
    local generation="$1" temporary
    shift
    temporary="$(mktemp "$LINKRING_HOSTS.XXXXXX")"
    {
        printf '# LinkRing hosts file: one node HOST:PORT per line. Written by %s.bash on %s.\n' "$SCRIPT_NAME" "$(date -u +%FT%TZ)"
        printf '# Raise the generation whenever the node list changes (docs/OPERATIONS.md).\n'
        printf 'generation %s\n' "$generation"
        printf '%s\n' "$@"
    } >"$temporary"
    chmod 644 "$temporary"
    mv -f "$temporary" "$LINKRING_HOSTS"
    say "$LINKRING_HOSTS: generation $generation, $# nodes"
}

# current_addresses: ADDRESSES=( HOST:PORT of every node of the hosts file ).
current_addresses() {
    local i
    load_hosts
    ADDRESSES=()
    for i in "${!NODE_HOSTS[@]}"; do ADDRESSES+=("$(address "${NODE_HOSTS[i]}" "${NODE_PORTS[i]}")"); done
}

# split_address HOST:PORT: into SPLIT_HOST and SPLIT_PORT (IPv6 in brackets).
split_address() {
    [[ "$1" =~ ^\[?([^][]+)\]?:([0-9]+)$ ]] || die "'$1' is not HOST:PORT"
    SPLIT_HOST="${BASH_REMATCH[1]}"
    SPLIT_PORT="${BASH_REMATCH[2]}"
}

# reload_everything ADDRESS...: SIGHUP to the local proxy, then to every listed node (local ones
# by their recorded PID; remote ones get the new hosts file first, then the signal over SSH).
reload_everything() {
    local entry
    if is_running proxy "linkring-proxy --listen $LINKRING_PROXY "; then
        kill -HUP "$RUNNING_PID"
        say "proxy $LINKRING_PROXY: SIGHUP (pid $RUNNING_PID)"
    else
        warn "the proxy $LINKRING_PROXY is not running here: reload every other proxy yourself (SIGHUP)"
    fi
    for entry in "$@"; do
        split_address "$entry"
        "$LINKRING_ROOT/scripts/reloadNode.bash" "$SPLIT_HOST" "$SPLIT_PORT" </dev/null ||
            warn "node $entry could not be told (it reads the new file when it starts, or when it meets a newer generation)"
    done
}

# proxy_membership: the proxy's /_/status membership object, on one line ("" if it does not answer).
proxy_membership() {
    local status
    status="$(curl -fsS --max-time 2 "http://$(proxy_operator)/_/status" 2>/dev/null)" || return 0
    status="${status#*\"membership\":}"
    printf '%s\n' "${status%%\}*}}"
}

# wait_for_move GENERATION: until the proxy routes by GENERATION and no node hands data off;
# says the progress every few seconds.
wait_for_move() {
    local generation="$1" membership waited=0
    while :; do
        membership="$(proxy_membership)"
        if [[ "$membership" == *"\"generation\":$generation,\"moving\":false"* ]]; then
            say "generation $generation: every node has handed its data off (${waited}s)"
            return 0
        fi
        [ "$waited" -lt "$LINKRING_MOVE_TIMEOUT_S" ] ||
            die "generation $generation: data still moving after ${LINKRING_MOVE_TIMEOUT_S}s: $membership (see /_/status)"
        if ((waited % 5 == 0)); then say "waiting for the move to generation $generation: ${membership:-the proxy does not answer}"; fi
        sleep 1
        waited=$((waited + 1))
    done
}
