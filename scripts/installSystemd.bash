#!/usr/bin/env bash
# Installs LinkRing as systemd services:
#   scripts/installSystemd.bash [--root DIR] [--dry-run] [--enable] [--cluster-token-file FILE]
#
#   /usr/local/lib/linkring/         linkring-node, linkring-proxy, linkring-wait-healthy and the
#                                    Swift runtime libraries the binaries load from the toolchain
#                                    (found there through their $ORIGIN RUNPATH)
#   /usr/local/bin/linkring-{node,proxy}          symlinks to the binaries
#   /etc/systemd/system/             linkring-node@.service, linkring-proxy.service
#   /etc/linkring/                   node.env, proxy.env, hosts.txt (existing ones are kept),
#                                    cluster-token (root, 0600: a new random token on the first
#                                    install, kept after; the units load it as a credential)
#   /usr/local/share/doc/linkring/   OPERATIONS.md
# and creates the system user `linkring` and /var/lib/linkring, then reloads systemd. --enable
# then enables and starts linkring-node@PORT for each entry of /etc/linkring/hosts.txt that is
# on this machine, and linkring-proxy. --root DIR installs under DIR instead of / (no user, no
# systemctl: for packaging and tests). --dry-run only prints what it would do.
# --cluster-token-file FILE installs the token in FILE as /etc/linkring/cluster-token (replacing
# one already there): every host of a cluster needs the same token, so install the first host
# without it and the others with a copy of the first one's file.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/cluster.bash
source "$(dirname "$0")/lib/cluster.bash"

ROOT=""
DRY_RUN=no
ENABLE=no
TOKEN_SOURCE=""

main() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --root) [ $# -ge 2 ] || die "--root needs a directory"; ROOT="$(realpath -m "$2")"; shift 2 ;;
            --dry-run) DRY_RUN=yes; shift ;;
            --enable) ENABLE=yes; shift ;;
            --cluster-token-file)
                { [ $# -ge 2 ] && [ -r "$2" ]; } || die "--cluster-token-file needs a readable file"
                TOKEN_SOURCE="$(realpath "$2")"
                shift 2
                ;;
            *) die "usage: installSystemd.bash [--root DIR] [--dry-run] [--enable] [--cluster-token-file FILE]" ;;
        esac
    done
    [ -n "$ROOT" ] || [ "$DRY_RUN" = yes ] || [ "$(id -u)" -eq 0 ] || die "run as root (or with --root DIR or --dry-run)"
    ensure_binaries linkring-node linkring-proxy
    install_programs
    install_configuration
    if [ -z "$ROOT" ]; then
        act install_missing "ldconfig -p | grep -q libuv.so.1:libuv1" "command -v curl:curl"
        create_user
        reload_and_enable
    fi
    if [ "$DRY_RUN" = yes ]; then say "dry run: nothing was changed"; else say "installed LinkRing's systemd units under ${ROOT:-/}"; fi
}

# act COMMAND...: runs it, or with --dry-run only says it.
act() {
    if [ "$DRY_RUN" = yes ]; then
        say "would run: $*"
    else
        log_line "$*"
        "$@"
    fi
}

install_programs() {
    local lib="$ROOT/usr/local/lib/linkring" binary libraries
    mapfile -t libraries < <(runtime_libraries "$LINKRING_BIN_DIR/linkring-node"; runtime_libraries "$LINKRING_BIN_DIR/linkring-proxy")
    mapfile -t libraries < <(printf '%s\n' "${libraries[@]}" | sort -u | grep . || true)
    act install -d -m 755 "$lib" "$ROOT/usr/local/bin" "$ROOT/etc/systemd/system" "$ROOT/usr/local/share/doc/linkring"
    act install -m 755 "$LINKRING_BIN_DIR/linkring-node" "$LINKRING_BIN_DIR/linkring-proxy" \
        "$LINKRING_ROOT/systemd/linkring-wait-healthy" "$lib/"
    [ ${#libraries[@]} -eq 0 ] || act install -m 644 "${libraries[@]}" "$lib/"
    for binary in linkring-node linkring-proxy; do
        act ln -sfn "../lib/linkring/$binary" "$ROOT/usr/local/bin/$binary"
    done
    act install -m 644 "$LINKRING_ROOT/systemd/linkring-node@.service" \
        "$LINKRING_ROOT/systemd/linkring-proxy.service" "$ROOT/etc/systemd/system/"
    act install -m 644 "$LINKRING_ROOT/docs/OPERATIONS.md" "$ROOT/usr/local/share/doc/linkring/"
}

# install_configuration: the environment files, the hosts file and the cluster token, unless
# already there.
install_configuration() {
    local etc="$ROOT/etc/linkring" file
    act install -d -m 755 "$etc"
    for file in node.env proxy.env hosts.txt; do
        if [ -e "$etc/$file" ]; then
            say "keeping the existing $etc/$file"
        elif [ "$file" = hosts.txt ]; then
            act install -m 644 "$LINKRING_HOSTS" "$etc/hosts.txt"
        else
            act install -m 600 "$LINKRING_ROOT/systemd/$file" "$etc/$file"
        fi
    done
    install_cluster_token "$etc/cluster-token"
    if [ -n "$ROOT" ]; then act install -d -m 750 "$ROOT/var/lib/linkring"; fi
}

# install_cluster_token FILE: the token of --cluster-token-file, else the existing FILE, else
# a new random one; FILE is mode 0600, owned by whoever installs (root: the units load it as a
# credential, so the service user never reads it directly).
install_cluster_token() {
    if [ -n "$TOKEN_SOURCE" ]; then
        [ -s "$TOKEN_SOURCE" ] || die "$TOKEN_SOURCE is empty: it must hold the cluster token"
        act install -m 600 "$TOKEN_SOURCE" "$1"
    elif [ -e "$1" ]; then
        say "keeping the existing $1"
    else
        act create_token_file "$1"
        [ "$DRY_RUN" = yes ] || say "created the cluster token $1 (mode 0600); every host of the cluster needs this same file"
    fi
}

create_user() {
    if getent passwd linkring >/dev/null; then
        say "the system user linkring exists"
    else
        act useradd --system --user-group --home-dir /var/lib/linkring --no-create-home \
            --shell /usr/sbin/nologin linkring
    fi
    act install -d -m 750 -o linkring -g linkring /var/lib/linkring
}

reload_and_enable() {
    local i
    if [ ! -d /run/systemd/system ]; then
        say "systemd is not running here: not reloading or enabling anything"
        return 0
    fi
    act systemctl daemon-reload
    if [ "$ENABLE" = no ]; then
        say "enable with: systemctl enable --now linkring-node@PORT (one per local node) linkring-proxy"
        return 0
    fi
    LINKRING_HOSTS=/etc/linkring/hosts.txt
    load_hosts
    for i in "${!NODE_HOSTS[@]}"; do
        if is_local_host "${NODE_HOSTS[i]}"; then act systemctl enable --now "linkring-node@${NODE_PORTS[i]}"; fi
    done
    act systemctl enable --now linkring-proxy
}

main "$@"
