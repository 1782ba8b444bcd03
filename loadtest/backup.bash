#!/usr/bin/env bash
# backup.bash: `linkring-node backup` of a serving node holding 1,000,000 keys (issue 18):
# how long the backup takes, and how long the node's requests stall meanwhile.
#
#   loadtest/backup.bash [--quick] [--keys N]   (LINKRING_BIN_DIR=dir: use the binaries there, no build)
#
#   gen_log.py writes N keys as the node's log segment ─▶ the node starts (replays it; fsync
#   always) ─▶ two probes, one request at a time each (backup_probe.py): GETs of random keys and
#   PUTs of new ones, for the whole run ─▶ after 1.5 s, `linkring-node backup DATA DEST`, timed
#   ─▶ probes end 1.5 s later ─▶ the node's log line gives the snapshot's loop time; the probes'
#   latencies inside the backup's window against those before it give the stall ─▶ the backup
#   is restored into a new directory and a node started on it must hold every key.
# Targets: the backup ≤ 2 s; no probe request during it slower than 10 ms. A missed target is
# reported, not a failure (a shared 2-core machine is noisy); a wrong answer or a lost key is.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
# shellcheck source-path=SCRIPTDIR source=servers.bash
source "$LOADTEST_DIR/servers.bash"

keys=1000000 mode=full
while (($# > 0)); do
    case $1 in
        --quick) keys=20000 mode=quick ;;
        --keys) keys=$2; shift ;;
        *) die "usage: $0 [--quick] [--keys N]" ;;
    esac
    shift
done
make_run_dir "backup-$mode"
prepare_binaries
DATA="$RUN_DIR/data-node" BACKUP="$RUN_DIR/backup" RESTORED="$RUN_DIR/restored"
on_exit "rm -rf '$BACKUP' '$RESTORED'"
mkdir -p "$DATA"
log "writing $keys keys with gen_log.py"
python3 "$LOADTEST_DIR/gen_log.py" "$DATA/linkring-0000000001.log" "$keys" >/dev/null || die "gen_log.py failed"
start_node node --fsync always
log "node on port $NODE_PORT, $(du -sh "$DATA" | cut -f1) of log"

start_background probe-get python3 "$LOADTEST_DIR/backup_probe.py" --port "$NODE_PORT" --keys "$keys" --seconds 4.5
get_probe=$BG_PID
start_background probe-put python3 "$LOADTEST_DIR/backup_probe.py" --port "$NODE_PORT" --keys "$keys" --seconds 4.5 --put
put_probe=$BG_PID
sleep 1.5
begin=$(date +%s.%N)
"$NODE_BIN" backup "$DATA" "$BACKUP" >"$RUN_DIR/backup.txt" 2>&1 || die "the backup failed: $(cat "$RUN_DIR/backup.txt")"
end=$(date +%s.%N)
wait "$get_probe" || die "the GET probe failed: $(cat "$RUN_DIR/probe-get.err")"
wait "$put_probe" || die "the PUT probe failed: $(cat "$RUN_DIR/probe-put.err")"
snapshot_us=$(sed -n 's/.*backup snapshot .* taken in \([0-9]*\) µs.*/\1/p' "$RUN_DIR/node.err" | tail -n 1)
[[ -n $snapshot_us ]] || die "the node logged no snapshot"

# window FILE: "count max_us p99_us" of the probe's requests that started in the backup's window
# (and those that started before it and ended inside it).
window() {
    awk -v b="$begin" -v e="$end" '$1 + $2 / 1e6 >= b && $1 <= e { print $2 }' "$1" | sort -n |
        awk '{ v[NR] = $1 } END { if (NR == 0) { print "0 - -"; exit } i = int(NR * 0.99); if (i < 1) i = 1; print NR, v[NR], v[i] }'
}
before() {
    awk -v b="$begin" '$1 + $2 / 1e6 < b { print $2 }' "$1" | sort -n |
        awk '{ v[NR] = $1 } END { i = int(NR * 0.99); if (i < 1) i = 1; print NR, v[NR], v[i] }'
}
read -r get_n get_max get_p99 <<<"$(window "$RUN_DIR/probe-get.out")"
read -r put_n put_max put_p99 <<<"$(window "$RUN_DIR/probe-put.out")"
read -r _ get_max0 get_p990 <<<"$(before "$RUN_DIR/probe-get.out")"
read -r _ put_max0 put_p990 <<<"$(before "$RUN_DIR/probe-put.out")"
backup_ms=$(awk -v b="$begin" -v e="$end" 'BEGIN { printf "%d", (e - b) * 1000 }')
bytes=$(awk '$1 == "file" { s += $3 } END { print s }' "$BACKUP/MANIFEST")

log "restoring into a new directory and checking every key"
restore_started=$SECONDS
"$NODE_BIN" restore "$BACKUP" "$RESTORED" --whole-cluster >"$RUN_DIR/restore.txt" 2>&1 || die "the restore failed: $(cat "$RUN_DIR/restore.txt")"
stop_process "$NODE_PID" || true
start_background restored "$NODE_BIN" --listen 127.0.0.1:0 --data "$RESTORED"
address=$(wait_for_listening "$BG_PID" "$RUN_DIR/restored.out" 120) || die "the restored node did not start"
held=$(curl -s "http://$address/_/health" | sed -n 's/.*"keys":\([0-9]*\),.*/\1/p')
((held >= keys)) || die "the restored node holds $held keys, the backup was of $keys (and some PUTs)"
restore_s=$((SECONDS - restore_started))

verdict_ms() { if (($1 <= $2)); then echo "met (≤ $2 ms)"; else echo "MISSED (> $2 ms)"; fi; }
cat >"$RUN_DIR/summary.md" <<SUMMARY
## Backup of a serving node ($mode: $keys keys, $(numfmt --to=iec-i --suffix=B "$bytes") copied)

| figure | value | target |
|---|---|---|
| backup (linkring-node backup, wall) | $backup_ms ms | $(verdict_ms "$backup_ms" 2000) |
| the node's loop in the snapshot | $snapshot_us µs | |
| slowest GET during the backup ($get_n GETs; before it: $get_max0 µs, p99 $get_p990 µs) | $get_max µs (p99 $get_p99 µs) | $(verdict_ms $((get_max / 1000)) 10) |
| slowest PUT during the backup ($put_n PUTs, fsync always; before it: $put_max0 µs, p99 $put_p990 µs) | $put_max µs (p99 $put_p99 µs) | |
| restore + start of a node on it, all $held keys held | $restore_s s | |

$(cat "$RUN_DIR/backup.txt")
SUMMARY
cat "$RUN_DIR/summary.md"
