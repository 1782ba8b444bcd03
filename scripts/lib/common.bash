# Shared by the scripts: install missing Debian packages, build the release binaries if they
# are missing or older than the sources. Sourced, not run.

LINKRING_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# install_missing COMMAND_OR_CHECK:PACKAGE ... — installs each package whose check fails.
install_missing() {
    local wanted=() entry check package
    for entry in "$@"; do
        check="${entry%%:*}"
        package="${entry#*:}"
        if ! eval "$check" >/dev/null 2>&1; then wanted+=("$package"); fi
    done
    [ ${#wanted[@]} -eq 0 ] && return 0
    echo "installing: ${wanted[*]}" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "need root to install ${wanted[*]} (or install them yourself)" >&2
        return 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${wanted[@]}" >/dev/null 2>&1 || {
        apt-get update -q >/dev/null 2>&1
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${wanted[@]}" >/dev/null
    }
}

# install_browser_dependencies: headless Chromium, its driver (Debian) and Selenium (PyPI), for
# Tests/scripts/test_browser.bash. scripts/test.bash runs it before the script tests, so the
# test's time limit is not spent downloading a browser.
install_browser_dependencies() {
    install_missing "command -v chromium:chromium" "command -v chromedriver:chromium-driver" || return 1
    python3 -c 'import selenium' 2>/dev/null && return 0
    python3 -m pip install -q selenium >/dev/null 2>&1 || python3 -m pip install -q --break-system-packages selenium >/dev/null
}

install_build_dependencies() {
    install_missing "pkg-config --exists libuv:libuv1-dev" "command -v pkg-config:pkg-config"
    command -v swift >/dev/null || { echo "swift is not on the PATH (Swift 6 toolchain needed)" >&2; return 1; }
}

# build_release: builds .build/release/linkring-{node,proxy} when a source is newer. The Swift
# runtime is linked in (--static-swift-stdlib), so the binaries run on hosts without the
# toolchain: they need only libc and libuv1.
build_release() {
    local node="$LINKRING_ROOT/.build/release/linkring-node"
    if [ ! -x "$node" ] || [ -n "$(find "$LINKRING_ROOT/Sources" "$LINKRING_ROOT/Package.swift" -newer "$node" -print -quit)" ]; then
        install_build_dependencies
        echo "building release binaries..." >&2
        (cd "$LINKRING_ROOT" && swift build -c release --static-swift-stdlib >&2)
    fi
}
