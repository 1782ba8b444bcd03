#!/usr/bin/env bash
# Stops the whole cluster:  scripts/stopService.bash
#
# Order matters: first the proxy watcher (checkProxyServer.bash --watch), so it does not start
# the proxy again; then the proxy, so its --restart-command does not start nodes again; then
# every node of the hosts file (stopNode.bash: locally by recorded PID, remote ones over SSH),
# and any other node this run directory still has a PID file for. Each gets SIGTERM and, after
# LINKRING_STOP_TIMEOUT_S, SIGKILL. Safe to run twice. A watcher that was never started is not
# mentioned (only logged).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/cluster.bash
source "$(dirname "$0")/lib/cluster.bash"

main() {
    local i file failed=0
    stop_recorded checkProxyServer "checkProxyServer.bash --watch" "proxy watcher" quiet
    stop_recorded proxy "linkring-proxy --listen $LINKRING_PROXY " "proxy $LINKRING_PROXY"
    load_hosts
    for i in "${!NODE_HOSTS[@]}"; do
        "$LINKRING_ROOT/scripts/stopNode.bash" "${NODE_HOSTS[i]}" "${NODE_PORTS[i]}" </dev/null || failed=$((failed + 1))
    done
    # Nodes started from an earlier version of the hosts file.
    for file in "$PID_DIR"/node-*.pid; do
        [ -e "$file" ] || continue
        file="$(basename "$file" .pid)"
        stop_recorded "$file" "linkring-node --listen " "$file (no longer in the hosts file)"
    done
    [ "$failed" -eq 0 ] || die "$failed nodes could not be stopped; see $LOG_DIR"
    say "LinkRing stopped"
}

main "$@"
