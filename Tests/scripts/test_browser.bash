#!/usr/bin/env bash
# The pages in a real browser (issue 17): headless Chromium (Debian's `chromium`) driven by
# Selenium (PyPI) through Debian's `chromium-driver`, both installed here when missing. Starts a
# local cluster (4 nodes and the proxy, the scripts' way) and a tiny local web server for the
# links to lead to, then Tests/scripts/browser_check.py: home page and form, the created page and
# its copy button, following the short URL to the local page, a taken name's error with the form
# refilled, and the dashboard listing every node. Screenshots go to LINKRING_SCREENSHOT_DIR
# (default: a temporary directory; docs/screenshots/ holds the committed ones:
# `LINKRING_SCREENSHOT_DIR=docs/screenshots Tests/scripts/run.bash browser`).
set -euo pipefail
# shellcheck source=Tests/scripts/lib.bash
source "$(dirname "$0")/lib.bash"
landing_pid=""
cleanup() {
    [ -z "$landing_pid" ] || kill "$landing_pid" 2>/dev/null || true
    stop_cluster
    rm -rf "$TMP"
}
trap cleanup EXIT

step "a browser and its driver"
install_browser_dependencies >"$TMP/install.log" 2>&1 \
    || skip "chromium, chromium-driver or selenium are missing and could not be installed: $(tail -n 2 "$TMP/install.log")"
echo "$(chromium --version 2>/dev/null), selenium $(python3 -c 'import selenium; print(selenium.__version__)')"

read -r proxy_port p1 p2 p3 p4 landing_port <<<"$(free_ports 6)"
PROXY="127.0.0.1:$proxy_port"
use_cluster "$PROXY" "127.0.0.1:$p1" "127.0.0.1:$p2" "127.0.0.1:$p3" "127.0.0.1:$p4"

step "a local page for the links to lead to"
mkdir -p "$TMP/site"
printf '<!DOCTYPE html><title>Arrived</title><h1>Arrived</h1>\n' >"$TMP/site/landing.html"
python3 -m http.server "$landing_port" --bind 127.0.0.1 --directory "$TMP/site" >"$TMP/site.log" 2>&1 &
landing_pid=$!
wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$landing_port/landing.html" || fail "the local web server did not start"

step "the cluster"
"$SCRIPTS/startService.bash" >"$TMP/start.log" 2>&1 || fail "startService.bash failed: $(tail -n 20 "$TMP/start.log")"
all_up() { [[ "$(curl -s --max-time 5 "http://$PROXY/_/health")" == *'"nodesUp":4,'* ]]; }
wait_for 15 all_up || fail "not every node is up: $(curl -s "http://$PROXY/_/health")"

shots="${LINKRING_SCREENSHOT_DIR:-$TMP/screenshots}"
mkdir -p "$shots"
step "the browser (screenshots in $shots)"
timeout 120 python3 "$(dirname "$0")/browser_check.py" "http://$PROXY" "http://127.0.0.1:$landing_port/landing.html" "$shots" \
    "127.0.0.1:$p1" "127.0.0.1:$p2" "127.0.0.1:$p3" "127.0.0.1:$p4" || fail "the browser check failed"
for page in home home-phone created error dashboard; do
    [ -s "$shots/$page.png" ] || fail "no screenshot of $page"
done
echo "ok"
