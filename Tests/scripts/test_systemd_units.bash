#!/usr/bin/env bash
# Proves the systemd side: installSystemd.bash --root puts the binaries, the runtime libraries,
# the units, the environment files and a random cluster token (0600, kept by a second install,
# replaced by --cluster-token-file) where the units expect them; `systemd-analyze verify`
# accepts both units (the proxy and an instance of the node template) against that tree, with
# no warning at all; --dry-run changes nothing; linkring-wait-healthy, the units' readiness
# check, waits for a real node's /_/health and gives up on a closed port within its time-out.
set -euo pipefail
# shellcheck source=Tests/scripts/lib.bash
source "$(dirname "$0")/lib.bash"
node_pid=""
trap '[ -z "$node_pid" ] || kill "$node_pid" 2>/dev/null; rm -rf "$TMP"' EXIT
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
