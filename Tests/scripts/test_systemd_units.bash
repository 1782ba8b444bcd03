#!/usr/bin/env bash
# Proves the systemd side: installSystemd.bash --root puts the binaries, the runtime libraries,
# the units, the environment files and a random cluster token (0600, kept by a second install,
# replaced by --cluster-token-file) where the units expect them; `systemd-analyze verify`
# accepts both units (the proxy and an instance of the node template) against that tree, with
# no warning at all; `systemd-analyze security` rates both at or below 1.3 (they carry the
# hardening issue 19 asked for), and every system call the binaries make, traced with strace,
# is in the units' SystemCallFilter (@system-service); --dry-run changes nothing; linkring-wait-healthy, the units' readiness
# check, waits for a real node's /_/health and gives up on a closed port within its time-out.
set -euo pipefail
# shellcheck source=Tests/scripts/lib.bash
source "$(dirname "$0")/lib.bash"
# The highest `systemd-analyze security` exposure either unit may have, in tenths (docs/OPERATIONS.md).
EXPOSURE_MAX_TENTHS=13
node_pid="" traced_pids=()
# The process strace started (its one child): the server itself, which a signal must reach.
traced_server() {
    local children
    children="$(cat "/proc/$1/task/$1/children" 2>/dev/null)" || return 1
    echo "${children%% *}"
}
clean_up() {
    local pid
    # A killed strace lets its tracee run on: stop the servers first.
    for pid in "${traced_pids[@]}"; do kill "$(traced_server "$pid")" 2>/dev/null || true; done
    for pid in $node_pid "${traced_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap clean_up EXIT
export LINKRING_RUN_DIR="$TMP/run"
install_missing "command -v systemd-analyze:systemd" || fail "systemd-analyze is missing and could not be installed"

step "installSystemd.bash --root"
root="$TMP/root"
"$SCRIPTS/installSystemd.bash" --root "$root" || fail "installSystemd.bash --root failed"
for path in usr/local/bin/linkring-node usr/local/bin/linkring-proxy usr/local/lib/linkring/linkring-wait-healthy; do
    [ -x "$root/$path" ] || fail "$path is not an executable in the installed tree"
done
for path in etc/systemd/system/linkring-node@.service etc/systemd/system/linkring-proxy.service \
    etc/linkring/node.env etc/linkring/proxy.env etc/linkring/hosts.txt; do
    [ -f "$root/$path" ] || fail "$path was not installed"
done
[ "$(stat -c %a "$root/etc/linkring/node.env")" = 600 ] || fail "node.env is not mode 600"
token_file="$root/etc/linkring/cluster-token"
[ "$(stat -c %a "$token_file")" = 600 ] || fail "cluster-token is not mode 600"
token="$(cat "$token_file")"
[[ "$token" =~ ^[0-9a-f]{64}$ ]] || fail "cluster-token does not hold 32 random bytes in hex: '$token'"
for unit in linkring-node@.service linkring-proxy.service; do
    expect_in "$(cat "$root/etc/systemd/system/$unit")" "--cluster-token-file %d/cluster-token" "$unit passes the token file"
    expect_in "$(cat "$root/etc/systemd/system/$unit")" "LoadCredential=cluster-token:/etc/linkring/cluster-token" "$unit loads the token"
done
"$root/usr/local/bin/linkring-node" --help >/dev/null || fail "the installed linkring-node does not run"
out="$("$SCRIPTS/installSystemd.bash" --root "$root")" || fail "a second install failed"
expect_in "$out" "keeping the existing $root/etc/linkring/node.env" "a second install keeps the configuration"
expect_in "$out" "keeping the existing $token_file" "a second install keeps the token"
[ "$(cat "$token_file")" = "$token" ] || fail "a second install changed the cluster token"
printf 'shared-token\n' >"$TMP/shared-token"
"$SCRIPTS/installSystemd.bash" --root "$root" --cluster-token-file "$TMP/shared-token" >/dev/null || fail "--cluster-token-file failed"
[ "$(cat "$token_file")" = shared-token ] || fail "--cluster-token-file did not install the given token"
[ "$(stat -c %a "$token_file")" = 600 ] || fail "--cluster-token-file installed the token with mode $(stat -c %a "$token_file")"

step "systemd-analyze verify"
# verify resolves the units' dependencies (sysinit.target …) and their commands inside --root,
# so the tree also gets the distribution's units and the system command a unit names (kill).
mkdir -p "$root/usr/lib/systemd" "$root/usr/bin"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
cp /usr/bin/kill "$root/usr/bin/kill"
ln -s usr/bin "$root/bin"
cp "$root/etc/systemd/system/linkring-node@.service" "$root/etc/systemd/system/linkring-node@9001.service"
out="$(systemd-analyze verify --root="$root" /etc/systemd/system/linkring-proxy.service \
    /etc/systemd/system/linkring-node@9001.service 2>&1)" || fail "systemd-analyze verify failed: $out"
[ -z "$out" ] || fail "systemd-analyze verify warned: $out"
rm "$root/usr/local/lib/linkring/linkring-wait-healthy"
out="$(systemd-analyze verify --root="$root" /etc/systemd/system/linkring-node@9001.service 2>&1)" &&
    fail "verify accepted a unit whose ExecStartPost is missing"
expect_in "$out" "linkring-wait-healthy is not executable" "verify checks the commands"

step "systemd-analyze security: hardened, and the score stays at or below 1.3"
# --threshold is the exposure level times ten; without systemd running, --offline=yes rates the
# file alone. Before issue 19 both units scored 3.0, and this step failed.
for unit in linkring-proxy.service linkring-node@.service; do
    file="$root/etc/systemd/system/$unit"
    for directive in SystemCallFilter=@system-service MemoryDenyWriteExecute=yes PrivateUsers=yes ProcSubset=pid \
        RemoveIPC=yes PrivateMounts=yes DevicePolicy=closed MemoryMax= TasksMax=; do
        expect_in "$(cat "$file")" "$directive" "$unit hardening"
    done
    out="$(systemd-analyze security --offline=yes --threshold="$EXPOSURE_MAX_TENTHS" "$file" 2>&1)" ||
        fail "$unit is rated above $EXPOSURE_MAX_TENTHS/10: $(grep 'Overall exposure' <<<"$out")"
    expect_in "$out" "Overall exposure level for ${unit/@/@i}: 1.3" "$unit's score (update docs/OPERATIONS.md and this test when it changes)"
done

step "every system call the binaries make is in @system-service"
# The units' SystemCallFilter makes any other call fail (EPERM): trace a node, its peer and a
# proxy doing everything they do in service (writes, reads, repair, a restart command, SIGHUP
# reopening logs, SIGTERM) and compare the calls with the group, its nested groups expanded.
install_missing "command -v strace:strace" || skip "strace is missing and could not be installed"
traced_calls() { grep -ohE '^[0-9]+ +(<\.\.\. )?[a-z0-9_]+' "$@" | awk '{print $NF}' | sort -u; }
group_calls() {
    systemd-analyze syscall-filter "$1" | awk 'NR > 1 && $1 !~ /^#/ && NF {print $1}' | while read -r name; do
        if [[ $name == @* ]]; then group_calls "$name"; else echo "$name"; fi
    done
}
read -r peer_port node_port down_port proxy_port <<<"$(free_ports 4)"
printf '127.0.0.1:%s\n' "$peer_port" "$node_port" "$down_port" >"$TMP/trace-hosts.txt"
printf 'trace-token\n' >"$TMP/trace-token"
common=(--hosts "$TMP/trace-hosts.txt" --cluster-token-file "$TMP/trace-token")
"$LINKRING_BIN_DIR/linkring-node" --listen "127.0.0.1:$peer_port" --data "$TMP/peer" "${common[@]}" --sync-interval-ms 100 \
    >/dev/null 2>&1 &
peer_pid=$!
traced_pids+=("$peer_pid")
strace -f -qq -o "$TMP/trace.node" "$LINKRING_BIN_DIR/linkring-node" --listen "127.0.0.1:$node_port" --data "$TMP/traced" \
    "${common[@]}" --sync-interval-ms 100 --log-file "$TMP/node.log" --access-log "$TMP/node-access.log" >/dev/null 2>&1 &
node_trace_pid=$!
traced_pids+=("$node_trace_pid")
strace -f -qq -o "$TMP/trace.proxy" "$LINKRING_BIN_DIR/linkring-proxy" --listen "127.0.0.1:$proxy_port" "${common[@]}" \
    --ping-interval-ms 50 --restart-command "echo restarted >>$TMP/restarts" --restart-after-ms 100 --log-file "$TMP/proxy.log" \
    >/dev/null 2>&1 &
proxy_trace_pid=$!
traced_pids+=("$proxy_trace_pid")
wait_for 20 curl -sf -o /dev/null "http://127.0.0.1:$node_port/_/health" || fail "the traced node did not start"
wait_for 20 curl -sf -o /dev/null "http://127.0.0.1:$proxy_port/_/status" || fail "the traced proxy did not start"
for key in a b c d e f; do
    curl -sf -o /dev/null -X PUT "http://127.0.0.1:$proxy_port/?short=$key&long=https://$key.example/" || fail "PUT $key"
    curl -s -o /dev/null "http://127.0.0.1:$proxy_port/$key"
    curl -s -o /dev/null -X DELETE "http://127.0.0.1:$proxy_port/$key"
    curl -s -o /dev/null -X DELETE "http://127.0.0.1:$proxy_port/absent-$key"
done
wait_for 20 grep -qs "restarted 127.0.0.1 $down_port" "$TMP/restarts" || fail "the proxy ran no restart command: $(cat "$TMP/proxy.log")"
sleep 0.5
# strace's child is the server: signal it by its PID, as systemd would.
node_server="$(traced_server "$node_trace_pid")" proxy_server="$(traced_server "$proxy_trace_pid")"
kill -HUP "$node_server" "$proxy_server"
sleep 0.3
kill -TERM "$node_server" "$proxy_server"
wait "$node_trace_pid" || fail "the traced node did not exit 0 on SIGTERM"
wait "$proxy_trace_pid" || fail "the traced proxy did not exit 0 on SIGTERM"
kill "$peer_pid"; wait "$peer_pid" || true
allowed="$(group_calls @system-service | sort -u)"
[ "$(wc -l <<<"$allowed")" -gt 300 ] || fail "@system-service expanded to too few calls: $allowed"
outside="$(comm -23 <(traced_calls "$TMP/trace.node" "$TMP/trace.proxy") <(echo "$allowed"))"
[ -z "$outside" ] || fail "calls outside @system-service, which the units' filter refuses: $outside"
echo "traced $(traced_calls "$TMP/trace.node" "$TMP/trace.proxy" | wc -l) distinct calls, all in @system-service"

step "installSystemd.bash --dry-run changes nothing"
before="$(ls -d /etc/linkring /usr/local/lib/linkring /etc/systemd/system/linkring-proxy.service 2>/dev/null || true)"
out="$("$SCRIPTS/installSystemd.bash" --dry-run)" || fail "--dry-run failed: $out"
expect_in "$out" "would run: install -m 644 $REPO/systemd/linkring-node@.service" "the dry run"
[ "$(ls -d /etc/linkring /usr/local/lib/linkring /etc/systemd/system/linkring-proxy.service 2>/dev/null || true)" = "$before" ] ||
    fail "--dry-run changed the system"

step "linkring-wait-healthy"
read -r port closed <<<"$(free_ports 2)"
wait_healthy="$REPO/systemd/linkring-wait-healthy"
"$LINKRING_BIN_DIR/linkring-node" --listen "127.0.0.1:$port" --data "$TMP/node" >/dev/null 2>&1 &
node_pid=$!
"$wait_healthy" "127.0.0.1:$port" 10 || fail "linkring-wait-healthy did not see the node"
started=$SECONDS
"$wait_healthy" --any-status "127.0.0.1:$closed" 1 2>/dev/null && fail "linkring-wait-healthy accepted a closed port"
[ $((SECONDS - started)) -le 4 ] || fail "linkring-wait-healthy overran its 1 s time-out"
kill "$node_pid"
wait "$node_pid" || fail "the node did not exit 0 on SIGTERM"
node_pid=""
echo "ok"
