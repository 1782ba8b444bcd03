#!/usr/bin/env bash
# Proves backups while serving and restores (issue 18), on this machine: with two writers
# PUTting new keys through the proxy, backup.bash copies every node; then the cluster is stopped,
# wiped (clearDatabases.bash) and restored from the backup (restore.bash, the whole cluster):
# every write acknowledged before the backup began reads back and every key deleted before it
# stays deleted. Then one node is restored from that older backup into the running cluster after
# a key it holds was deleted: the delete wins (repair brings the tombstone; the node never serves
# the old value). A backup older than the tombstone grace period is refused for one node, and
# accepted for the whole cluster; a damaged backup is refused and leaves the node unable to
# start until restored properly.
set -euo pipefail
# shellcheck source=Tests/scripts/lib.bash
source "$(dirname "$0")/lib.bash"
writers=()
trap 'for pid in "${writers[@]}"; do kill "$pid" 2>/dev/null || true; done; stop_cluster; rm -rf "$TMP"' EXIT

read -r proxy_port p1 p2 p3 p4 <<<"$(free_ports 5)"
PROXY="127.0.0.1:$proxy_port"
use_cluster "$PROXY" "127.0.0.1:$p1" "127.0.0.1:$p2" "127.0.0.1:$p3" "127.0.0.1:$p4"
export LINKRING_PROXY_ARGS="--restart-after-ms 600000" LINKRING_NODE_ARGS="--sync-interval-ms 300"
"$SCRIPTS/startService.bash" >/dev/null || fail "startService.bash failed"
get() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$PROXY/$1"; }
put() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X PUT "http://$PROXY/?short=$1&long=https://b.example/$1"; }

step "keys written and deleted before the backup"
for i in $(seq 1 40); do [ "$(put "pre$i")" = 200 ] || fail "PUT pre$i"; done
for i in $(seq 1 10); do [ "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "http://$PROXY/pre$i")" = 200 ] || fail "DELETE pre$i"; done

# writer NAME: PUTs NAME-1, NAME-2, … until killed; each acknowledged key is appended to $TMP/acked-NAME.
writer() {
    local i=0
    while :; do
        i=$((i + 1))
        if [ "$(put "$1-$i")" = 200 ]; then echo "$1-$i" >>"$TMP/acked-$1"; fi
    done
}
for name in wa wb; do
    : >"$TMP/acked-$name"
    writer "$name" &
    writers+=($!)
done
sleep 1

step "backup.bash under the write load"
cat "$TMP"/acked-* >"$TMP/acked-before-backup"
out="$("$SCRIPTS/backup.bash" "$TMP/backup" 2>&1)" || fail "backup.bash failed: $out"
echo "$out"
sleep 0.5
for pid in "${writers[@]}"; do kill "$pid"; wait "$pid" 2>/dev/null || true; done
writers=()
[ "$(wc -l <"$TMP/acked-before-backup")" -ge 10 ] || fail "the writers acknowledged only $(wc -l <"$TMP/acked-before-backup") writes before the backup"
expect_in "$out" "backup of 4 nodes in $TMP/backup" "backup.bash"
expect_in "$out" "its node serving" "a snapshot of a serving node"
for port in "$p1" "$p2" "$p3" "$p4"; do
    expect_in "$(head -n 1 "$TMP/backup/node-127.0.0.1_$port/MANIFEST")" "linkring-backup 1" "node $port's MANIFEST"
done
expect_in "$(cat "$LINKRING_RUN_DIR/logs/node-127.0.0.1_$p1.log")" "backup snapshot" "the node's log"
[ -z "$(find "$LINKRING_RUN_DIR/data" -maxdepth 2 -name 'backup-*')" ] || fail "a snapshot or request was left in a data directory"
out="$("$SCRIPTS/backup.bash" "$TMP/backup" 2>&1)" && fail "backup.bash wrote into a directory that is not empty"
expect_in "$out" "is not empty" "a second backup into the same directory"

step "stop, wipe, restore the whole cluster, start: every write acknowledged before the backup reads back"
"$SCRIPTS/stopService.bash" >/dev/null
"$SCRIPTS/clearDatabases.bash" --yes >/dev/null || fail "clearDatabases.bash failed"
out="$("$SCRIPTS/restore.bash" "$TMP/backup" </dev/null 2>&1)" && fail "restore.bash ran without confirmation"
out="$("$SCRIPTS/restore.bash" --yes "$TMP/backup" 2>&1)" || fail "restore.bash failed: $out"
echo "$out"
expect_in "$out" "restored 4 nodes from $TMP/backup" "the whole-cluster restore"
"$SCRIPTS/startService.bash" >/dev/null || fail "startService.bash after the restore failed"
count=0
while read -r key; do
    code="$(get "$key")"
    [ "$code" = 307 ] || fail "$key, acknowledged before the backup began, answers $code after the restore"
    count=$((count + 1))
done < <(cat "$TMP/acked-before-backup"; seq -f 'pre%g' 11 40)
for i in $(seq 1 10); do [ "$(get "pre$i")" = 404 ] || fail "pre$i, deleted before the backup, answers $(get "pre$i")"; done
echo "$count keys read back, 10 deletes held"
out="$("$SCRIPTS/restore.bash" --yes "$TMP/backup" 2>&1)" && fail "restore.bash ran over a running cluster"
expect_in "$out" "refusing to restore the cluster while the cluster runs" "a restore over a running cluster"

step "one node restored from the older backup after a delete: the delete wins"
holder=""
for port in "$p1" "$p2" "$p3" "$p4"; do
    if grep -q ' put pre20 ' <("$LINKRING_BIN_DIR/linkring-node" dump "$TMP/backup/node-127.0.0.1_$port"); then holder="$port"; break; fi
done
[ -n "$holder" ] || fail "no node's backup holds pre20"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "http://$PROXY/pre20")" = 200 ] || fail "DELETE pre20"
out="$("$SCRIPTS/restore.bash" --yes "$TMP/backup" 127.0.0.1 "$holder" 2>&1)" || fail "restore.bash of one node failed: $out"
echo "$out"
expect_in "$out" "node 127.0.0.1:$holder restored from $TMP/backup/node-127.0.0.1_$holder and started" "the one-node restore"
header="$(token_header "$LINKRING_RUN_DIR/cluster-token")"
ready() { [[ "$(curl -s --max-time 2 "http://127.0.0.1:$holder/_/health")" == *'"state":"ready"'* ]]; }
wait_for 30 ready || fail "the restored node did not become ready"
[ "$(http_code "http://127.0.0.1:$holder/pre20" -H "@$header")" = 404 ] || fail "the restored node serves pre20, deleted after its backup"
[ "$(get pre20)" = 404 ] || fail "pre20 came back through the proxy"
[ "$(get pre30)" = 307 ] || fail "pre30 is lost after the one-node restore"
compgen -G "$LINKRING_RUN_DIR/data/node-127.0.0.1_$holder/before-restore-*/linkring-*.log" >/dev/null || fail "the node's earlier files were not kept"

step "a backup older than the tombstone grace period is refused for one node, taken for the whole cluster"
sleep 1
out="$(LINKRING_NODE_ARGS="--tombstone-grace-ms 1000" "$SCRIPTS/restore.bash" --yes "$TMP/backup" 127.0.0.1 "$p1" 2>&1)" && fail "an old backup was restored into one node"
echo "$out"
expect_in "$out" "could bring back keys deleted since" "the refusal"
expect_in "$out" "node 127.0.0.1:$p1 started" "the node started again with its own data"
[ "$(get pre30)" = 307 ] || fail "pre30 after the refused restore"
"$SCRIPTS/stopService.bash" >/dev/null
out="$(LINKRING_NODE_ARGS="--tombstone-grace-ms 1000" "$SCRIPTS/restore.bash" --yes "$TMP/backup" 2>&1)" || fail "the whole-cluster restore of an old backup failed: $out"

step "a damaged backup is refused, and the node does not start on the unfinished restore"
cp -r "$TMP/backup/node-127.0.0.1_$p1" "$TMP/damaged"
segments=("$TMP/damaged"/linkring-*.log)
segment="${segments[0]}"
# Byte 20 inverted (a fixed byte written there was already that byte in about one run of 256:
# the first record's version, and the restore then rightly found nothing damaged).
byte="$(od -An -tu1 -j20 -N1 "$segment" | tr -d ' ')"
# shellcheck disable=SC2059  # the format is the escape of the one byte to write
printf "\\$(printf '%03o' $((byte ^ 0xFF)))" | dd of="$segment" bs=1 seek=20 conv=notrunc 2>/dev/null
[ "$(od -An -tu1 -j20 -N1 "$segment" | tr -d ' ')" = $((byte ^ 0xFF)) ] || fail "could not damage $segment"
data="$LINKRING_RUN_DIR/data/node-127.0.0.1_$p1"
status=0
out="$("$LINKRING_BIN_DIR/linkring-node" restore "$TMP/damaged" "$data" 2>&1)" || status=$?
echo "$out"
[ "$status" = 1 ] || fail "the damaged restore exited $status"
expect_in "$out" "its checksum differs from the manifest's: the backup is damaged" "the damaged backup"
out="$(timeout 10 "$LINKRING_BIN_DIR/linkring-node" --listen "127.0.0.1:$p1" --data "$data" 2>&1)" && fail "a node started on an unfinished restore"
expect_in "$out" "holds an unfinished restore (RESTORING)" "the unfinished restore"
"$LINKRING_BIN_DIR/linkring-node" restore "$TMP/backup/node-127.0.0.1_$p1" "$data" --whole-cluster >/dev/null || fail "the restore after the damaged one"
echo "ok"
