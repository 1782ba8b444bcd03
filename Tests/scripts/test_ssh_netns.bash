#!/usr/bin/env bash
# Proves deployment over SSH for real. Two network namespaces with their own addresses play two
# remote hosts, each running Debian's sshd (a temporary host key, root login with a temporary
# client key only, listening only on that namespace's address):
#
#   this namespace: the proxy ── tagR ══ hub namespace (bridge br0) ══ eth0 of A: 10.213.N.2
#   10.213.N.1/24                                                   ══ eth0 of B: 10.213.N.3
#
# startService.bash copies the node bundle and the cluster token to each host (a distinct
# LINKRING_REMOTE_DIR per host through %h, so the binaries that run are provably the copies)
# and starts two nodes on each over SSH; the proxy runs here. A PUT and a GET go through the
# proxy; the nodes answer 401 without the token, which each host holds (0600) and no command
# line shows; the copied binary runs with the toolchain's library directory hidden; a second
# start finds everything running and copies nothing; a changed bundle is copied over the
# running binaries; addNode.bash, removeNode.bash and replaceNode.bash change the membership
# over SSH (the new hosts file copied, every node told), the key readable throughout;
# clearDatabases.bash refuses while they run; backup.bash copies every node over SSH while it
# serves; stopService.bash stops the nodes over SSH; clearDatabases.bash then removes their data
# there and restore.bash brings it back (the key reads again). The namespaces, sshd and all
# files are removed on exit, whatever happened. Skips only where network namespaces cannot be
# created.
set -euo pipefail
# shellcheck source=Tests/scripts/lib.bash
source "$(dirname "$0")/lib.bash"

TAG="lr$(printf '%04x' $((RANDOM)))"
HUB="${TAG}hub"
NAMESPACES=()
SSHD_PIDS=()
MADE_PRIVSEP=no

cleanup() {
    local pid file ns
    stop_cluster
    ip link delete "${TAG}r" 2>/dev/null || true
    for file in "$TMP"/remote-*/run/pids/*.pid; do
        [ -e "$file" ] || continue
        pid="$(cat "$file")"
        if alive "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi
    done
    for pid in "${SSHD_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${SSHD_PIDS[@]}"; do wait_for 5 gone "$pid" || kill -9 "$pid" 2>/dev/null || true; done
    for ns in "${NAMESPACES[@]}"; do ip netns delete "$ns" 2>/dev/null || true; done
    [ "$MADE_PRIVSEP" = no ] || rmdir /run/sshd 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
gone() { ! alive "$1"; }

# pick_subnet: N for a 10.213.N.0/24 that no interface or route of this machine uses.
pick_subnet() {
    local attempt n
    for ((attempt = 0; attempt < 50; attempt++)); do
        n=$((20 + RANDOM % 230))
        ip -o addr show | grep -q " 10\.213\.$n\." && continue
        ip route show | grep -q "^10\.213\.$n\." && continue
        echo "$n"
        return 0
    done
    fail "no free 10.213.N.0/24"
}

make_network() {
    ip netns add "$HUB" 2>"$TMP/netns.err" || skip "network namespaces cannot be created here: $(cat "$TMP/netns.err")"
    NAMESPACES+=("$HUB")
    ip -n "$HUB" link add name br0 type bridge
    ip -n "$HUB" link set br0 up
    ip link add name "${TAG}r" type veth peer name r netns "$HUB"
    ip -n "$HUB" link set r master br0 up
    ip addr add "$NET.1/24" dev "${TAG}r"
    ip link set "${TAG}r" up
}

# make_host NAME ADDRESS: a namespace on the bridge with ADDRESS, running sshd on ADDRESS:22.
make_host() {
    local ns="$TAG$1" address="$2" dir="$TMP/sshd-$1"
    ip netns add "$ns"
    NAMESPACES+=("$ns")
    ip -n "$HUB" link add name "port-$1" type veth peer name eth0 netns "$ns"
    ip -n "$HUB" link set "port-$1" master br0 up
    ip -n "$ns" addr add "$address/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    mkdir -p "$dir"
    ssh-keygen -q -t ed25519 -N '' -C "$ns" -f "$dir/host_key"
    echo "$address $(cat "$dir/host_key.pub")" >>"$TMP/known_hosts"
    cat >"$dir/sshd_config" <<CONFIG
ListenAddress $address:22
HostKey $dir/host_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $TMP/client_key.pub
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
CONFIG
    ip netns exec "$ns" /usr/sbin/sshd -D -e -f "$dir/sshd_config" >"$dir/sshd.log" 2>&1 &
    SSHD_PIDS+=($!)
    wait_for 10 timeout 1 bash -c "exec 3<>/dev/tcp/$address/22" 2>/dev/null || fail "sshd on $address did not start: $(cat "$dir/sshd.log")"
}

install_missing "test -x /usr/sbin/sshd:openssh-server" "command -v ssh:openssh-client" || fail "openssh-server is missing and could not be installed"
NET="10.213.$(pick_subnet)"
HOST_A="$NET.2"
HOST_B="$NET.3"
make_network
[ -d /run/sshd ] || { mkdir -m 755 /run/sshd; MADE_PRIVSEP=yes; }
ssh-keygen -q -t ed25519 -N '' -C "$TAG-client" -f "$TMP/client_key"
make_host a "$HOST_A"
make_host b "$HOST_B"

read -r proxy_port <<<"$(free_ports 1)"
PROXY="127.0.0.1:$proxy_port"
use_cluster "$PROXY" "$HOST_A:9001" "$HOST_A:9002" "$HOST_B:9001" "$HOST_B:9002"
export LINKRING_SSH_USER=root LINKRING_SSH_KEY="$TMP/client_key" LINKRING_REMOTE_DIR="$TMP/remote-%h"
export LINKRING_SSH_OPTS="-F /dev/null -o UserKnownHostsFile=$TMP/known_hosts -o GlobalKnownHostsFile=/dev/null -o LogLevel=ERROR"

step "startService.bash deploys over SSH to $HOST_A and $HOST_B"
out="$("$SCRIPTS/startService.bash" 2>&1)" || fail "startService.bash failed: $out"
echo "$out"
expect_in "$out" "copied linkring-node, its runtime libraries and the node scripts to $HOST_A:$TMP/remote-$HOST_A" "the copy to A"
expect_in "$out" "$HOST_B: node $HOST_B:9002 started" "a node on B"
expect_in "$out" "the cluster is healthy" "the cluster's health"

step "the nodes run the copied binaries, in their namespaces"
for host in "$HOST_A" "$HOST_B"; do
    for port in 9001 9002; do
        pid="$(cat "$TMP/remote-$host/run/pids/node-${host}_$port.pid")"
        alive "$pid" || fail "node $host:$port (pid $pid) does not run"
        [ "$(readlink "/proc/$pid/exe")" = "$TMP/remote-$host/bin/linkring-node" ] || fail "node $host:$port runs $(readlink "/proc/$pid/exe")"
        [ "$(ip netns identify "$pid")" = "$TAG$([ "$host" = "$HOST_A" ] && echo a || echo b)" ] || fail "node $host:$port is not in its namespace"
    done
done

step "a PUT and a GET through the proxy"
[ "$(http_code "http://$PROXY/?short=over-ssh&long=https://example.org/ssh" -X PUT)" = 200 ] || fail "PUT through the proxy"
[ "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://$PROXY/over-ssh")" = "307 https://example.org/ssh" ] || fail "GET through the proxy"
copies=0
header="$(token_header "$LINKRING_RUN_DIR/cluster-token")"
for node in "$HOST_A:9001" "$HOST_A:9002" "$HOST_B:9001" "$HOST_B:9002"; do
    [ "$(http_code "http://$node/over-ssh" -H "@$header")" != 307 ] || copies=$((copies + 1))
    [ "$(http_code "http://$node/over-ssh")" = 401 ] || fail "node $node answers a GET without the cluster token"
done
[ "$copies" -eq 2 ] || fail "expected the key on 2 remote nodes, found it on $copies"

step "each host got the cluster token over SSH: the same token, mode 0600, on no command line"
for host in "$HOST_A" "$HOST_B"; do
    remote_token="$TMP/remote-$host/run/cluster-token"
    cmp -s "$LINKRING_RUN_DIR/cluster-token" "$remote_token" || fail "$host does not hold the cluster's token"
    [ "$(stat -c %a "$remote_token")" = 600 ] || fail "$remote_token is mode $(stat -c %a "$remote_token")"
done
token="$(cat "$LINKRING_RUN_DIR/cluster-token")"
for file in "$TMP"/remote-*/run/pids/node-*.pid "$LINKRING_RUN_DIR/pids/proxy.pid"; do
    [[ "$(tr '\0' ' ' <"/proc/$(cat "$file")/cmdline")" != *"$token"* ]] || fail "the token is on the command line of $file"
done

step "the copied runtime libraries suffice without the toolchain"
swift_lib="$(ldd "$LINKRING_BIN_DIR/linkring-node" | awk '/libswiftCore/ { print $3 }')"
if [ -n "$swift_lib" ]; then
    hide="mount -t tmpfs none $(dirname "$swift_lib")"
    unshare -m sh -c "$hide && $TMP/remote-$HOST_A/bin/linkring-node --help" >/dev/null || fail "the copied binary needs the toolchain"
    ! unshare -m sh -c "$hide && $LINKRING_BIN_DIR/linkring-node --help" >/dev/null 2>&1 || fail "hiding the toolchain had no effect"
fi

step "a second start finds everything running and copies nothing"
out="$("$SCRIPTS/startService.bash" 2>&1)" || fail "the second startService.bash failed: $out"
echo "$out"
[ "$(grep -c 'is already running' <<<"$out")" -eq 5 ] || fail "expected 5 'already running' lines"
[[ "$out" != *"copied linkring-node"* ]] || fail "the second start copied the bundle again"

step "a changed bundle (a new comment in the hosts file) is copied over the running binaries"
echo "# a comment changes the bundle, not the ring" >>"$LINKRING_HOSTS"
out="$("$SCRIPTS/startService.bash" 2>&1)" || fail "the third startService.bash failed: $out"
echo "$out"
[ "$(grep -c 'copied linkring-node' <<<"$out")" -eq 2 ] || fail "expected the bundle copied to both hosts"
[ "$(grep -c 'is already running' <<<"$out")" -eq 5 ] || fail "expected 5 'already running' lines"
cmp -s "$LINKRING_HOSTS" "$TMP/remote-$HOST_B/hosts.txt" || fail "$HOST_B did not get the new hosts file"

step "addNode.bash adds $HOST_B:9003 over SSH (generation 1); the key stays readable"
out="$("$SCRIPTS/addNode.bash" "$HOST_B" 9003 2>&1)" || fail "addNode.bash failed: $out"
echo "$out" | tail -n 3
expect_in "$out" "node $HOST_B:9003 added (generation 1)" "addNode over SSH"
expect_in "$(cat "$TMP/remote-$HOST_A/hosts.txt")" "generation 1" "host A's copy of the hosts file"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$PROXY/over-ssh")" = 307 ] || fail "the key is not readable after addNode"

step "removeNode.bash removes $HOST_A:9002 over SSH (generation 2): handed off, then stopped"
removed_pid="$(cat "$TMP/remote-$HOST_A/run/pids/node-${HOST_A}_9002.pid")"
out="$("$SCRIPTS/removeNode.bash" "$HOST_A" 9002 2>&1)" || fail "removeNode.bash failed: $out"
echo "$out" | tail -n 3
expect_in "$out" "node $HOST_A:9002 removed (generation 2)" "removeNode over SSH"
wait_for 10 gone "$removed_pid" || fail "the removed node (pid $removed_pid) still runs"

step "replaceNode.bash replaces $HOST_B:9001 by $HOST_A:9003 over SSH (generation 3)"
out="$("$SCRIPTS/replaceNode.bash" "$HOST_B:9001" "$HOST_A:9003" 2>&1)" || fail "replaceNode.bash failed: $out"
echo "$out" | tail -n 3
expect_in "$out" "replaced by $HOST_A:9003 (generation 3)" "replaceNode over SSH"
[ "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://$PROXY/over-ssh")" = "307 https://example.org/ssh" ] ||
    fail "the key is not readable after three membership changes"

step "clearDatabases.bash refuses while the remote nodes run, naming them"
out="$("$SCRIPTS/clearDatabases.bash" --yes 2>&1)" && fail "clearDatabases.bash ran while the cluster runs"
expect_in "$out" "$HOST_A: node $HOST_A:9001 runs (pid" "a remote node named"
[ -d "$TMP/remote-$HOST_A/run/data/node-${HOST_A}_9001" ] || fail "the refusal removed remote data"

step "backup.bash backs up the remote nodes over SSH while they serve"
out="$("$SCRIPTS/backup.bash" "$TMP/backup" 2>&1)" || fail "backup.bash failed: $out"
echo "$out" | tail -n 3
for node in "${HOST_A}_9001" "${HOST_A}_9003" "${HOST_B}_9002"; do
    expect_in "$(head -n 1 "$TMP/backup/node-$node/MANIFEST" 2>&1)" "linkring-backup 1" "the backup of node $node"
done
[ -z "$(ls "$TMP/remote-$HOST_A/run/backups" 2>/dev/null)" ] || fail "the remote copy of a backup was left on $HOST_A"

step "status.bash shows the remote nodes' keys and log size, read on their own hosts over SSH"
out="$("$SCRIPTS/status.bash" 2>&1)" || fail "status.bash failed: $out"
echo "$out"
for node in "$HOST_A:9001" "$HOST_A:9003" "$HOST_B:9002"; do
    row="$(awk -v n="$node" '$1 == n' <<<"$out")"
    [ -n "$row" ] || fail "status.bash lists no row for $node"
    awk '{ exit !($5 ~ /^[0-9]+$/ && $6 ~ /^[0-9.]+$/) }' <<<"$row" || fail "no keys or log size for $node: $row"
done

step "stopService.bash stops the remote nodes over SSH"
pids="$(cat "$TMP"/remote-*/run/pids/node-*.pid "$LINKRING_RUN_DIR/pids/proxy.pid")"
out="$("$SCRIPTS/stopService.bash" 2>&1)" || fail "stopService.bash failed: $out"
echo "$out"
expect_in "$out" "$HOST_B: node $HOST_B:9002 stopped" "stopping a node on B"
for pid in $pids; do ! alive "$pid" || fail "pid $pid still runs after stopService"; done

step "clearDatabases.bash --yes removes the remote nodes' data over SSH; restore.bash brings it back"
out="$("$SCRIPTS/clearDatabases.bash" --yes 2>&1)" || fail "clearDatabases.bash failed: $out"
echo "$out"
expect_in "$out" "$HOST_B: removed $TMP/remote-$HOST_B/run/data/node-${HOST_B}_9002 (" "a remote removal"
[ ! -e "$TMP/remote-$HOST_A/run/data/node-${HOST_A}_9001" ] || fail "the data of $HOST_A:9001 is still there"
expect_in "$(cat "$LINKRING_RUN_DIR/logs/clearDatabases.log")" "$HOST_A: removed" "the log of the removal"
out="$("$SCRIPTS/restore.bash" --yes "$TMP/backup" 2>&1)" || fail "restore.bash failed: $out"
echo "$out" | tail -n 2
"$SCRIPTS/startService.bash" >/dev/null 2>&1 || fail "startService.bash after the restore failed"
[ "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://$PROXY/over-ssh")" = "307 https://example.org/ssh" ] ||
    fail "the key is not readable after the restore over SSH"
"$SCRIPTS/stopService.bash" >/dev/null 2>&1 || fail "the last stopService.bash failed"
echo "ok"
