#!/usr/bin/env bash
# Tests/faults/run.bash: LinkRing's multi-host fault-injection suite (issue 7).
#
#   Tests/faults/run.bash --ci      every scenario with few cycles, well under 5 minutes (CI)
#   Tests/faults/run.bash --full    100 kill -9 cycles, 10 of each other fault (about 12 minutes)
#   options: --only kill9,diskfull   some scenarios · --seed N   another random choice of victims
#            --keep                  keep data directories and histories of a passing run too
#            --tolerate-stale-reads  count stale reads during the run without failing on them
#   environment: LINKRING_BIN_DIR=DIR  run these binaries instead of building the release ones
#                LINKRING_FAULTS_RESULTS=DIR  where runs go (default Tests/faults/results)
#
# Prints `PASS|FAIL|SKIP scenario figures…` per scenario and `N passed, N failed, N skipped`;
# exits 1 on any FAIL. Needs root (namespaces, iptables, tmpfs); installs iproute2 and iptables
# when missing. Scenarios, checker and figures: docs/RELIABILITY.md.
#
# Design: this script owns the machine-level resources, harness.py the processes and faults.
# Every host is a network namespace named with this run's prefix, on a bridge in a hub
# namespace; nothing of ours sits in the root namespace, and no packet leaves the namespaces:
#
#   lrf<PID>-hub: br0 ─┬─ veth ─ lrf<PID>-ctl    10.211.N.1        harness.py, workload.py
#                      ├─ veth ─ lrf<PID>-p0     10.211.N.2        proxy 1 (:8080)
#                      ├─ veth ─ lrf<PID>-p1     10.211.N.3        proxy 2 (:8080)
#                      └─ veth ─ lrf<PID>-n0…n3  10.211.N.10…13    nodes (:7000)
#
# Every namespace gets its own resolv.conf (/etc/netns/NS/resolv.conf, which `ip netns exec`
# bind-mounts over /etc/resolv.conf) naming ctl as its name server: the dns scenario answers
# nothing there, and no query ever leaves the namespaces. The cleanup removes those files.
#
# The harness runs inside ctl (so it reaches every host) and starts each server with
# `ip netns exec`. The EXIT trap, whatever happened, kills every process still in one of this
# run's namespaces (all ours: nobody else can be in a namespace made a moment ago), then deletes
# the namespaces and with them every veth, the bridge and every iptables rule. The harness's
# tmpfs mounts live in its own mount namespace (ip netns exec makes one), so they vanish with
# its processes and never appear in the root mount namespace.
set -euo pipefail

FAULTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib/common.bash
source "$FAULTS_DIR/../../scripts/lib/common.bash"

MODE=ci
ONLY=""
SEED=1
KEEP=no
PREFIX="lrf$$-"  # the dash ends the prefix: lrf12-… never matches lrf123-…
SUBNET="10.211.$((20 + $$ % 200))"
HUB="${PREFIX}hub"
# name:last octet of every host; n* are nodes, p* proxies, ctl the harness.
HOSTS=(ctl:1 p0:2 p1:3 n0:10 n1:11 n2:12 n3:13)
HARNESS_TIMEOUT_S=900
SKIP_REASON=""
HARNESS_PID=""
EXTRA=()

usage() { sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

parse_arguments() {
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --ci) MODE=ci; HARNESS_TIMEOUT_S=900 ;;
            --full) MODE=full; HARNESS_TIMEOUT_S=5400 ;;
            --only) ONLY="${2:?--only needs scenario names}"; shift ;;
            --seed) SEED="${2:?--seed needs a number}"; shift ;;
            --keep) KEEP=yes ;;
            --tolerate-stale-reads) EXTRA+=(--tolerate-stale-reads) ;;
            -h|--help) usage 0 ;;
            *) echo "unknown argument: $1" >&2; usage 2 ;;
        esac
        shift
    done
}

our_namespaces() { ip netns list 2>/dev/null | awk '{print $1}' | grep "^$PREFIX" || true; }

# Kills what is left in our namespaces (SIGCONT first: a stopped process must see the SIGKILL),
# deletes them; then trims the results of a passing run.
cleanup() {
    local status=$? ns pid attempt
    trap - EXIT INT TERM
    for ns in $(our_namespaces); do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -CONT "$pid" 2>/dev/null || true
            kill -KILL "$pid" 2>/dev/null || true
        done
    done
    for ((attempt = 0; attempt < 50; attempt++)); do
        pid=""
        for ns in $(our_namespaces); do pid+="$(ip netns pids "$ns" 2>/dev/null)"; done
        [[ -z $pid ]] && break
        sleep 0.1
    done
    [[ -z $HARNESS_PID ]] || wait "$HARNESS_PID" 2>/dev/null || true  # reaped quietly
    for ns in $(our_namespaces); do ip netns delete "$ns" 2>/dev/null || echo "could not delete namespace $ns" >&2; done
    rm -rf "/etc/netns/$PREFIX"*
    rmdir /etc/netns 2>/dev/null || true
    if [[ -n ${RUN_DIR:-} && -d $RUN_DIR ]]; then
        if [[ $status -eq 0 && $KEEP == no ]]; then
            rm -rf "${RUN_DIR:?}/bin" "$RUN_DIR"/*/data-* "$RUN_DIR"/*/tmpfs-* "$RUN_DIR"/*/history.jsonl
        fi
        echo "results: $RUN_DIR" >&2
    fi
    exit "$status"
}

make_host() {
    local name=$1 octet=$2 ns="$PREFIX$1"
    ip netns add "$ns"
    mkdir -p "/etc/netns/$ns"
    printf 'nameserver %s.1\noptions timeout:30 attempts:2\n' "$SUBNET" >"/etc/netns/$ns/resolv.conf"
    ip -n "$HUB" link add "v$name" type veth peer name eth0 netns "$ns"
    ip -n "$HUB" link set "v$name" master br0 up
    ip -n "$ns" addr add "$SUBNET.$octet/24" dev eth0
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
}

# Makes the hub namespace, or returns 1 with SKIP_REASON set when namespaces cannot be made.
make_hub() {
    local error
    if [[ $(id -u) -ne 0 ]]; then SKIP_REASON="not root: network namespaces need root"; return 1; fi
    if ! error=$(ip netns add "$HUB" 2>&1); then SKIP_REASON="network namespaces cannot be created: $error"; return 1; fi
}

make_hosts() {
    local entry
    ip -n "$HUB" link add br0 type bridge
    ip -n "$HUB" link set br0 up
    for entry in "${HOSTS[@]}"; do make_host "${entry%%:*}" "${entry#*:}"; done
}

host_arguments() {
    local entry name
    for entry in "${HOSTS[@]}"; do
        name="${entry%%:*}"
        [[ $name == ctl ]] || printf -- '--host\n%s=%s%s=%s.%s\n' "$name" "$PREFIX" "$name" "$SUBNET" "${entry#*:}"
    done
}

prepare_binaries() {
    local source_dir="${LINKRING_BIN_DIR:-}"
    if [[ -z $source_dir ]]; then
        build_release
        source_dir="$LINKRING_ROOT/.build/release"
    fi
    mkdir -p "$RUN_DIR/bin"
    cp "$source_dir/linkring-node" "$source_dir/linkring-proxy" "$RUN_DIR/bin/"
}

main() {
    parse_arguments "$@"
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    export PYTHONDONTWRITEBYTECODE=1
    local results="${LINKRING_FAULTS_RESULTS:-$FAULTS_DIR/results}" status=0
    RUN_DIR="$results/$MODE-$(date +%Y%m%d-%H%M%S)-$$"
    mkdir -p "$RUN_DIR"
    if [[ $(id -u) -eq 0 ]]; then
        install_missing "command -v ip:iproute2" "command -v iptables:iptables" "command -v python3:python3"
    fi
    python3 "$FAULTS_DIR/test_checker.py" >"$RUN_DIR/test_checker.out" 2>&1 \
        || { cat "$RUN_DIR/test_checker.out" >&2; echo "FAIL checker unit tests"; exit 1; }
    if ! make_hub; then
        python3 "$FAULTS_DIR/harness.py" --skip-all "$SKIP_REASON" --only "$ONLY" --run-dir "$RUN_DIR"
        return 0
    fi
    make_hosts
    prepare_binaries
    local hosts
    mapfile -t hosts < <(host_arguments)
    # In the background and waited for: bash runs a trap only between commands, and `wait`
    # returns at once on a signal, so an interrupted run cleans up at once. The subshell's own
    # stderr (where bash would announce the harness "Killed" by the cleanup) goes to /dev/null;
    # the harness writes to the real stderr through fd 3.
    (timeout --kill-after=30 "$HARNESS_TIMEOUT_S" ip netns exec "${PREFIX}ctl" \
        python3 "$FAULTS_DIR/harness.py" --mode "$MODE" --run-dir "$RUN_DIR" --bin-dir "$RUN_DIR/bin" \
        --only "$ONLY" --seed "$SEED" "${EXTRA[@]}" "${hosts[@]}" 2>&3; exit "$?") 3>&2 2>/dev/null &
    HARNESS_PID=$!
    wait "$HARNESS_PID" || status=$?
    [[ $status -ne 124 ]] || echo "FAIL the suite did not finish within ${HARNESS_TIMEOUT_S}s"
    return "$status"
}

main "$@"
