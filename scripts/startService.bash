#!/usr/bin/env bash
# Starts the whole cluster:  scripts/startService.bash
#
# On a fresh Debian 12 machine, as root, it first installs what is missing (curl, and libuv1-dev
# and pkg-config to build; the Swift 6 toolchain must be on the PATH) and builds the release
# binaries. Then it starts every node of the hosts file with startNode.bash (entries on this
# machine directly, the others over SSH), then the proxy with startProxyServer.bash, waits until
# the proxy's /_/health answers 200, and prints what to try, where to look and how to stop.
# The first start makes the cluster token (run/cluster-token, mode 0600; lib/cluster.bash);
# every process reads it, later starts reuse it, and a node answers only /_/health without it.
# Safe to run twice: whatever already runs is left alone. Exit 1 if any part did not start.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/cluster.bash
source "$(dirname "$0")/lib/cluster.bash"

main() {
    local i failed=0 scripts="$LINKRING_ROOT/scripts"
    install_missing "command -v curl:curl" 2>&1 | tee -a "$LOG_FILE" || die "curl is missing (apt-get install curl)"
    ensure_binaries linkring-node linkring-proxy
    load_hosts
    ensure_cluster_token
    say "starting ${#NODE_HOSTS[@]} nodes from $LINKRING_HOSTS"
    for i in "${!NODE_HOSTS[@]}"; do
        "$scripts/startNode.bash" "${NODE_HOSTS[i]}" "${NODE_PORTS[i]}" </dev/null || failed=$((failed + 1))
    done
    "$scripts/startProxyServer.bash" </dev/null || die "the proxy did not start"
    wait_healthy || failed=$((failed + 1))
    print_usage
    [ "$failed" -eq 0 ] || die "not everything started; see the messages above and $LOG_DIR"
}

# wait_healthy: polls the proxy, for at most LINKRING_START_TIMEOUT_S, until /_/health answers
# 200 (every key range has a live replica) and /_/status shows every node pinged at least once:
# until its first ping round the proxy counts nodes of unknown state as live.
# /_/status is read where the proxy serves it (proxy_operator: its admin address, if any).
wait_healthy() {
    local url="http://$LINKRING_PROXY/_" status tenths
    status="http://$(proxy_operator)/_/status"
    for ((tenths = 0; tenths < LINKRING_START_TIMEOUT_S * 10; tenths++)); do
        if curl -fsS -o /dev/null --max-time 1 "$url/health" 2>/dev/null &&
            [[ "$(curl -fsS --max-time 1 "$status" 2>/dev/null)" != *'"state":"unknown"'* ]]; then
            say "the cluster is healthy ($url/health answers 200)"
            return 0
        fi
        sleep 0.1
    done
    warn "$url/health did not answer 200 within ${LINKRING_START_TIMEOUT_S}s: $(curl -sS --max-time 1 "$url/health" 2>&1 || true)"
    return 1
}

print_usage() {
    local url="http://$LINKRING_PROXY" operator
    operator="http://$(proxy_operator)"
    cat <<USAGE

LinkRing: ${#NODE_HOSTS[@]} nodes from $LINKRING_HOSTS, proxy on $url
Try:
  curl -X PUT '$url/?short=gh&long=https://github.com/'
  curl -i $url/gh
  curl -X DELETE $url/gh
Status:  curl $operator/_/status    (also $operator/_/metrics; $url/_/health for load balancers)
Logs:    $LOG_DIR/
Stop:    $LINKRING_ROOT/scripts/stopService.bash
USAGE
}

main "$@"
