#!/usr/bin/env bash
# The original's healing test, against the cluster of hosts.txt:  scripts/testNodeHealing.bash [HOST PORT]
#
#   1. starts the cluster with startService.bash if the proxy is not healthy;
#   2. runs a write and read load through the proxy (scripts/lib/healing_check.py load);
#   3. takes one node down with kill -9 while the load runs (default: the second in the file),
#      for LINKRING_HEAL_DOWN_S seconds (default 3), and shows requests still succeed;
#   4. brings it back with startNode.bash and waits until its /_/health says ready;
#   5. when the load ends, checks every key written on every replica that holds it: each holds
#      the last acknowledged value with the same version (healing_check.py verify, which asks
#      the nodes with the cluster token of LINKRING_CLUSTER_TOKEN_FILE, run/cluster-token).
# Prints PASS or FAIL with the counts; exits 1 on FAIL.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/cluster.bash
source "$(dirname "$0")/lib/cluster.bash"

DOWN_S="${LINKRING_HEAL_DOWN_S:-3}"
LOAD_S=$((DOWN_S + 8))
READY_TIMEOUT_S=10

main() {
    local host port pid started ready_after result=PASS
    load_hosts
    host="${1:-${NODE_HOSTS[1]:-${NODE_HOSTS[0]}}}"
    port="${2:-${NODE_PORTS[1]:-${NODE_PORTS[0]}}}"
    curl -fsS --max-time 2 "http://$LINKRING_PROXY/_/health" >/dev/null 2>&1 || "$LINKRING_ROOT/scripts/startService.bash" >/dev/null
    is_local_host "$host" || die "the node to take down must be on this machine (kill -9 needs its PID)"
    pid="$(cat "$(pid_file "$(node_name "$host" "$port")")" 2>/dev/null)" || die "no PID recorded for $host:$port"
    ledger="$(mktemp)"
    load_out="$(mktemp)"
    trap 'rm -f "$ledger" "$load_out"' EXIT  # globals: the trap runs after main returns
    say "load through $LINKRING_PROXY for ${LOAD_S}s; node $host:$port goes down for ${DOWN_S}s"
    python3 "$LINKRING_ROOT/scripts/lib/healing_check.py" load --proxy "$LINKRING_PROXY" --seconds "$LOAD_S" \
        --ledger "$ledger" --prefix "heal$$-" >"$load_out" &
    local load_pid=$!
    sleep 2
    kill -9 "$pid"
    say "node $host:$port killed (pid $pid)"
    sleep "$DOWN_S"
    "$LINKRING_ROOT/scripts/startNode.bash" "$host" "$port" >/dev/null
    started=$SECONDS
    until curl -fsS --max-time 1 "http://$(address "$host" "$port")/_/health" 2>/dev/null | grep -q '"state":"ready"'; do
        ((SECONDS - started < READY_TIMEOUT_S)) || { warn "node not ready within ${READY_TIMEOUT_S}s"; result=FAIL; break; }
        sleep 0.05
    done
    ready_after=$((SECONDS - started))
    say "node $host:$port back; ready after about ${ready_after}s"
    wait "$load_pid" || result=FAIL
    local load_line verify_line
    load_line="$(grep '^load-result' "$load_out")"
    say "$load_line"
    grep '^  ' "$load_out" || true
    [[ "$load_line" == *" write_failures=0 "* && "$load_line" == *" read_failures=0" ]] || result=FAIL
    sleep 1  # writes in flight when the load stopped reach every replica
    verify_line="$(python3 "$LINKRING_ROOT/scripts/lib/healing_check.py" verify --proxy "$LINKRING_PROXY" --ledger "$ledger" \
        --operator "$(proxy_operator)" --token-file "$LINKRING_CLUSTER_TOKEN_FILE")" || result=FAIL
    say "$verify_line"
    say "$result: node $host:$port down ${DOWN_S}s under load, ready ${ready_after}s after restart; ${load_line#load-result }; ${verify_line%%$'\n'*}"
    [ "$result" = PASS ]
}

main "$@"
