#!/usr/bin/env bash
# Starts the proxy on this machine:  scripts/startProxyServer.bash
#
# Listens on LINKRING_PROXY (default 127.0.0.1:8080) and spreads keys over the nodes of the
# hosts file. With LINKRING_RESTART_NODES=1 (the default) it gets scripts/startNode.bash as its
# --restart-command, so a node that stays down is started again (locally or over SSH). Waits
# for the proxy's `listening on` line; the nodes need not be up. Already running → exit 0.
# Its event log is run/logs/proxy.log (--log-file: SIGHUP reopens it, and re-reads the hosts
# file); SIGTERM stops it cleanly. It sends the cluster token (--cluster-token-file, made on
# first use: lib/cluster.bash) on every request to a node. With LINKRING_PROXY_ADMIN=HOST:PORT
# it serves /_/status and /_/metrics there (--admin-listen) instead of on its public port, which
# otherwise answers them to this machine only.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/cluster.bash
source "$(dirname "$0")/lib/cluster.bash"

main() {
    local restart=() admin=()
    is_local_host "${LINKRING_PROXY%:*}" || die "the proxy runs on this machine; LINKRING_PROXY=$LINKRING_PROXY is not local"
    ensure_binaries linkring-proxy
    ensure_cluster_token
    take_lock proxy
    if is_running proxy "linkring-proxy --listen $LINKRING_PROXY "; then
        say "proxy $LINKRING_PROXY is already running (pid $RUNNING_PID)"
        return 0
    fi
    [ -r "$LINKRING_HOSTS" ] || die "cannot read the hosts file $LINKRING_HOSTS"
    # The proxy runs `/bin/sh -c 'CMD "$@"' HOST PORT`, hence the quoting of the path.
    [ "$LINKRING_RESTART_NODES" != 1 ] ||
        restart=(--restart-command "$(printf '%q' "$LINKRING_ROOT/scripts/startNode.bash")")
    [ -z "$LINKRING_PROXY_ADMIN" ] || admin=(--admin-listen "$LINKRING_PROXY_ADMIN")
    extra_args "$LINKRING_PROXY_ARGS"
    start_process proxy "proxy $LINKRING_PROXY" "$LINKRING_BIN_DIR/linkring-proxy" \
        --listen "$LINKRING_PROXY" --hosts "$LINKRING_HOSTS" --log-file "$LOG_DIR/proxy.log" \
        "${restart[@]}" "${admin[@]}" "${EXTRA_ARGS[@]}"
}

main "$@"
