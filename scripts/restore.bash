#!/usr/bin/env bash
# Restores a backup made by backup.bash:
#   scripts/restore.bash [--yes] DIR              every node of the hosts file, the cluster stopped
#   scripts/restore.bash [--yes] DIR HOST PORT    one node, into the running cluster
#
# Whole cluster (same hosts file as the backup): refused while any process of the cluster runs;
# each node's data directory gets DIR/node-HOST_PORT with `linkring-node restore --whole-cluster`
# (here, or on its host over SSH after copying the backup there); then start it with
# startService.bash. Every node then holds every write acknowledged before the backup began.
#
# One node: DIR is a backup.bash directory or one node's backup (it holds a MANIFEST). The node
# is stopped, restored and started again; anti-entropy then brings it up to date from its
# peers, deletes included. A backup older than the tombstone grace period less a tenth is
# refused (its peers may have forgotten deletes it would bring back; the node's own start-up
# refuses such data too: docs/OPERATIONS.md, "Backups").
#
# Each node's earlier files are kept in its data directory's before-restore-MS/. Asks for a
# typed `yes` unless --yes. Logs to run/logs/restore.log.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/nodeData.bash
source "$(dirname "$0")/lib/nodeData.bash"

main() {
    ASSUME_YES=no
    if [ "${1:-}" = --yes ]; then ASSUME_YES=yes; shift; fi
    [[ ($# -eq 1 || $# -eq 3) && -n "$1" && "$1" != -* ]] || die "usage: restore.bash [--yes] DIR [HOST PORT]"
    [ -d "$1" ] || die "$1 is not a directory (a backup made by backup.bash)"
    ensure_binaries linkring-node
    load_hosts
    if [ $# -eq 1 ]; then restore_cluster "$(realpath "$1")"; else restore_one "$(realpath "$1")" "$2" "$3"; fi
}

restore_cluster() {
    local dir="$1" i backup
    for i in "${!NODE_HOSTS[@]}"; do
        backup="$dir/$(node_name "${NODE_HOSTS[i]}" "${NODE_PORTS[i]}")"
        [ -f "$backup/MANIFEST" ] || die "$dir has no backup of node $(address "${NODE_HOSTS[i]}" "${NODE_PORTS[i]}") ($backup/MANIFEST): was it taken with this hosts file ($LINKRING_HOSTS)?"
    done
    refuse_while_running "restore the cluster"
    confirm "Replace the data of all ${#NODE_HOSTS[@]} nodes of $LINKRING_HOSTS with the backup in $dir"
    for i in "${!NODE_HOSTS[@]}"; do
        restore_from "$dir/$(node_name "${NODE_HOSTS[i]}" "${NODE_PORTS[i]}")" "${NODE_HOSTS[i]}" "${NODE_PORTS[i]}" --whole-cluster </dev/null
    done
    say "restored ${#NODE_HOSTS[@]} nodes from $dir; start the cluster: $LINKRING_ROOT/scripts/startService.bash"
}

restore_one() {
    local dir="$1" host="$2" port="$3" backup i listed=no
    for i in "${!NODE_HOSTS[@]}"; do
        [ "$(address "${NODE_HOSTS[i]}" "${NODE_PORTS[i]}")" = "$(address "$host" "$port")" ] && listed=yes
    done
    [ "$listed" = yes ] || die "$(address "$host" "$port") is not in $LINKRING_HOSTS"
    backup="$dir"
    [ -f "$backup/MANIFEST" ] || backup="$dir/$(node_name "$host" "$port")"
    [ -f "$backup/MANIFEST" ] || die "no backup of node $(address "$host" "$port") in $dir (neither $dir/MANIFEST nor $backup/MANIFEST)"
    confirm "Replace the data of node $(address "$host" "$port") with the backup in $backup"
    "$LINKRING_ROOT/scripts/stopNode.bash" "$host" "$port" </dev/null
    if ! (restore_from "$backup" "$host" "$port" </dev/null); then
        "$LINKRING_ROOT/scripts/startNode.bash" "$host" "$port" </dev/null || true
        die "node $(address "$host" "$port") was not restored (see above); it runs again with its own data"
    fi
    "$LINKRING_ROOT/scripts/startNode.bash" "$host" "$port" </dev/null
    say "node $(address "$host" "$port") restored from $backup and started; it catches up with its peers before it serves reads"
}

# restore_from BACKUP HOST PORT [--whole-cluster]: here, or copied to the node's host and restored there.
restore_from() {
    local backup="$1" host="$2" port="$3" remote
    shift 3
    if is_local_host "$host"; then
        restore_node "$host" "$port" "$backup" "$@"
        return
    fi
    remote="$(remote_dir "$host")/run/restores/$(basename "$backup").$$"
    tar -C "$backup" -cf - . | ssh_to "$host" "mkdir -p $(printf '%q' "$remote") && tar -C $(printf '%q' "$remote") -xf -" ||
        die "copying the backup of node $(address "$host" "$port") to $host:$remote failed"
    on_node restore "$host" "$port" "$remote" "$@"
    ssh_to "$host" "rm -rf $(printf '%q' "$remote")" </dev/null || warn "could not remove $host:$remote"
}

main "$@"
