#!/usr/bin/env bash
# Backs up every node while the cluster serves:  scripts/backup.bash DIR
#
# DIR (new, or empty) gets one directory per node of the hosts file, DIR/node-HOST_PORT, made
# by `linkring-node backup` (docs/OPERATIONS.md, "Backups"): a consistent copy of the node's
# log segments, hint and id with a MANIFEST of sizes and CRC32C checksums, holding every write
# the node acknowledged before its backup began. A serving node pauses for well under a
# millisecond (a snapshot of hard links); a stopped one is copied as it is. A remote node is
# backed up on its host over SSH into LINKRING_REMOTE_DIR/run/backups/, copied here with tar
# and removed there. DIR/hosts.txt is the hosts file the backup was taken with. Exit 1 if any
# node's backup failed (the others are still made). Logs to run/logs/backup.log.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/nodeData.bash
source "$(dirname "$0")/lib/nodeData.bash"

main() {
    local dir i failed=0
    [[ $# -eq 1 && -n "$1" && "$1" != -* ]] || die "usage: backup.bash DIR (a new or empty directory)"
    dir="$(realpath -m "$1")"
    if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then die "$dir is not empty: a backup goes into a new directory"; fi
    ensure_binaries linkring-node
    load_hosts
    mkdir -p "$dir"
    cp "$LINKRING_HOSTS" "$dir/hosts.txt"
    say "backing up ${#NODE_HOSTS[@]} nodes of $LINKRING_HOSTS into $dir"
    for i in "${!NODE_HOSTS[@]}"; do
        (backup_one "${NODE_HOSTS[i]}" "${NODE_PORTS[i]}" "$dir/$(node_name "${NODE_HOSTS[i]}" "${NODE_PORTS[i]}")") </dev/null || failed=$((failed + 1))
    done
    [ "$failed" -eq 0 ] || die "$failed of ${#NODE_HOSTS[@]} node backups failed (see above and $LOG_FILE); $dir is incomplete"
    say "backup of ${#NODE_HOSTS[@]} nodes in $dir"
}

# backup_one HOST PORT DEST: here, or on the node's host and then copied here.
backup_one() {
    local host="$1" port="$2" dest="$3" remote
    if is_local_host "$host"; then
        backup_node "$host" "$port" "$dest"
        return
    fi
    remote="$(remote_dir "$host")/run/backups/$(basename "$dest").$$"
    on_node backup "$host" "$port" "$remote"
    mkdir -p "$dest"
    ssh_to "$host" "tar -C $(printf '%q' "$remote") -cf - . && rm -rf $(printf '%q' "$remote")" </dev/null | tar -C "$dest" -xf - ||
        die "copying the backup of node $(address "$host" "$port") from $host:$remote failed"
    say "copied the backup of node $(address "$host" "$port") from $host"
}

main "$@"
