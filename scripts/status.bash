#!/usr/bin/env bash
# The cluster on the console:  scripts/status.bash [--watch SECONDS]
#
# One table, as the original's sentinel printed statuses: the proxy's view (/_/status: each
# node's state, readiness and share of the ring; the membership) and each node's own /_/health
# (keys, log size, its last repair round). A node gives its full /_/health only to its own
# host (docs/OPERATIONS.md, "Operator routes"), so a node on another host is asked over SSH
# (as the other scripts reach it: bash's /dev/tcp there, 2 s at most, all hosts at once); if
# that fails its row shows what any host may read. --watch refreshes every SECONDS until
# Ctrl-C. Exit 1 if the proxy does not answer (once; a watch keeps trying).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/cluster.bash
source "$(dirname "$0")/lib/cluster.bash"

main() {
    install_missing "command -v python3:python3" "command -v curl:curl" >>"$LOG_FILE" 2>&1 || die "python3 and curl are needed"
    if [ $# -eq 0 ]; then
        print_status
    elif [ $# -eq 2 ] && [ "$1" = --watch ] && [[ "$2" =~ ^[1-9][0-9]*$ ]]; then
        trap 'exit 0' INT TERM
        while :; do
            [ ! -t 1 ] || printf '\033[H\033[2J'
            print_status || true
            sleep "$2"
        done
    else
        die "usage: status.bash [--watch SECONDS]"
    fi
}

print_status() {
    local healths status=0
    healths="$(mktemp -d)"
    fetch_remote_healths "$healths"
    LINKRING_HEALTH_DIR="$healths" python3 "$LINKRING_ROOT/scripts/lib/status_table.py" "http://$(proxy_operator)/_/status" || status=$?
    rm -rf "$healths"
    [ "$status" -eq 0 ] ||
        { warn "the proxy at $(proxy_operator) does not answer /_/status: is the cluster started (scripts/startService.bash)?"; return 1; }
}

# fetch_remote_healths DIR: each remote node's full /_/health, read on its own host over SSH,
# into DIR/ADDRESS (ADDRESS as the hosts file writes it); a node that cannot be reached has none.
fetch_remote_healths() {
    local index host port name
    load_hosts
    for index in "${!NODE_HOSTS[@]}"; do
        host="${NODE_HOSTS[$index]}" port="${NODE_PORTS[$index]}"
        is_local_host "$host" && continue
        name="$(address "$host" "$port")"
        # shellcheck disable=SC2016 # expanded on the remote host
        ssh_to "$host" "timeout 2 bash -c 'exec 3<>/dev/tcp/\$0/\$1 && printf \"GET /_/health HTTP/1.0\\r\\n\\r\\n\" >&3 && cat <&3' '${host#[}' '$port'" \
            2>>"$LOG_FILE" | sed '1,/^\r\{0,1\}$/d' >"$1/$name" &
    done
    wait
}

main "$@"
