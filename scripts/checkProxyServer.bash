#!/usr/bin/env bash
# Restarts the proxy if it is not running.
#   scripts/checkProxyServer.bash                  check once (for cron: * * * * * …/checkProxyServer.bash)
#   scripts/checkProxyServer.bash --watch SECONDS  check every SECONDS until SIGTERM or Ctrl-C
#
# "Running" means the PID recorded by startProxyServer.bash is alive and is that proxy. A dead
# proxy (crashed, killed) is started again with startProxyServer.bash. The watcher records its
# own PID (run/pids/checkProxyServer.pid) so that stopService.bash stops it first, and a second
# watcher says one is already watching and exits 0.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/cluster.bash
source "$(dirname "$0")/lib/cluster.bash"

PROXY_NEEDLE="linkring-proxy --listen $LINKRING_PROXY "
WATCH_NEEDLE="checkProxyServer.bash --watch"

main() {
    if [ $# -eq 0 ]; then
        check_once say
    elif [ $# -eq 2 ] && [ "$1" = --watch ] && [[ "$2" =~ ^[1-9][0-9]*$ ]]; then
        watch "$2"
    else
        die "usage: checkProxyServer.bash [--watch SECONDS]"
    fi
}

# check_once REPORT: REPORT (say or log_line) tells that the proxy runs; a dead one is restarted.
check_once() {
    if is_running proxy "$PROXY_NEEDLE"; then
        "$1" "proxy $LINKRING_PROXY is running (pid $RUNNING_PID)"
        return 0
    fi
    say "proxy $LINKRING_PROXY is not running; starting it"
    "$LINKRING_ROOT/scripts/startProxyServer.bash" </dev/null || warn "starting the proxy failed; see $LOG_DIR/startProxyServer.log"
}

watch() {
    local sleeper=""
    if is_running checkProxyServer "$WATCH_NEEDLE"; then
        say "the proxy is already watched (pid $RUNNING_PID)"
        return 0
    fi
    echo $$ >"$(pid_file checkProxyServer)"
    trap 'exit 0' TERM INT HUP
    trap '[ -z "$sleeper" ] || kill "$sleeper" 2>/dev/null; rm -f "$(pid_file checkProxyServer)"; log_line "watch ended"' EXIT
    say "watching proxy $LINKRING_PROXY every $1s (pid $$)"
    while true; do
        check_once true
        sleep "$1" &
        sleeper=$!
        wait "$sleeper" || true
        sleeper=""
    done
}

main "$@"
