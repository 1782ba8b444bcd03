#!/usr/bin/env bash
# The cluster on the console:  scripts/status.bash [--watch SECONDS]
#
# One table, as the original's sentinel printed statuses: the proxy's view (/_/status: each
# node's state, readiness and share of the ring; the membership) and each node's own /_/health
# (keys, log size, its last repair round). Nodes on this machine give their full /_/health;
# a remote node shows only its state and repair rounds there (its counters are for its own
# host's operators: docs/OPERATIONS.md, "Operator routes"). --watch refreshes every SECONDS
# until Ctrl-C. Exit 1 if the proxy does not answer (once; a watch keeps trying).
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
    python3 "$LINKRING_ROOT/scripts/lib/status_table.py" "http://$(proxy_operator)/_/status" ||
        { warn "the proxy at $(proxy_operator) does not answer /_/status: is the cluster started (scripts/startService.bash)?"; return 1; }
}

main "$@"
