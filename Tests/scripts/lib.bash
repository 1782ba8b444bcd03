# Shared by the script tests (sourced): a private cluster configuration per test, checks and
# clean-up. Each test gets its own temporary directory, run directory, hosts file and free
# ports, so it never meets a developer's running cluster or another test. Exit status of a
# test: 0 passed, 77 skipped (the reason is printed), anything else failed.

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SCRIPTS="$REPO/scripts"
TEST_NAME="$(basename "$0" .bash)"
TMP="$(mktemp -d "/tmp/linkring-$TEST_NAME.XXXXXX")"
# shellcheck source=scripts/lib/common.bash
source "$REPO/scripts/lib/common.bash"
# The binaries under test: Tests/scripts/run.bash chooses them.
export LINKRING_BIN_DIR="${LINKRING_BIN_DIR:?run the tests through Tests/scripts/run.bash, or set LINKRING_BIN_DIR}"

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
step() { echo "--- $*"; }

# expect_in TEXT NEEDLE WHAT: fails unless TEXT contains NEEDLE.
expect_in() { [[ "$1" == *"$2"* ]] || fail "$3: expected '$2' in:
$1"; }

# free_ports COUNT: COUNT consecutive free TCP ports below the ephemeral range, on one line.
free_ports() {
    local count="$1" attempt base port
    for ((attempt = 0; attempt < 50; attempt++)); do
        base=$((20000 + RANDOM % 12000))
        for ((port = base; port < base + count; port++)); do
            [ -z "$(ss -Htln "sport = :$port")" ] || continue 2
        done
        seq -s ' ' "$base" $((base + count - 1))
        return 0
    done
    fail "no $count free consecutive ports found"
}

# use_cluster PROXY NODE...: a hosts file with the NODEs and the environment the scripts read.
use_cluster() {
    export LINKRING_PROXY="$1"
    shift
    printf '# written by %s\n' "$TEST_NAME" >"$TMP/hosts.txt"
    printf '%s\n' "$@" >>"$TMP/hosts.txt"
    export LINKRING_HOSTS="$TMP/hosts.txt" LINKRING_RUN_DIR="$TMP/run"
    export LINKRING_START_TIMEOUT_S=30 LINKRING_STOP_TIMEOUT_S=10
}

# token_header FILE: the path of a curl header file (`curl -H @PATH`) that sends the cluster
# token of the token FILE, so the token never appears on a command line.
token_header() {
    local header="$TMP/token-header"
    (umask 077 && printf 'X-Cluster-Token: %s\n' "$(cat "$1")" >"$header") || fail "cannot read the cluster token $1"
    echo "$header"
}

# recorded_pids: every PID file of this test's run directory, as "NAME PID" lines.
recorded_pids() {
    local file
    for file in "$LINKRING_RUN_DIR"/pids/*.pid; do
        [ -e "$file" ] && echo "$(basename "$file" .pid) $(cat "$file")"
    done
    return 0
}

# alive PID: the process exists and is not a zombie.
alive() { [ -e "/proc/$1/stat" ] && [[ "$(cat "/proc/$1/stat" 2>/dev/null)" != *") Z "* ]]; }

# http_code URL [CURL ARGS...]: the status code of one request (000 when nothing answers).
http_code() {
    local url="$1"
    shift
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" "$url" || true
}

# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds or time runs out.
wait_for() {
    local tenths
    for ((tenths = 0; tenths < $1 * 10; tenths++)); do
        "${@:2}" && return 0
        sleep 0.1
    done
    return 1
}

# stop_cluster: the clean-up every cluster test runs on exit, whatever happened.
stop_cluster() {
    [ -z "${LINKRING_RUN_DIR:-}" ] || timeout 60 "$SCRIPTS/stopService.bash" >/dev/null 2>&1 || true
}
