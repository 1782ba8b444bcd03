# servers.bash: start every server a load test needs, on loopback, each with its own config in
# RUN_DIR; sourced by lib.bash (uses its start_background / wait_* helpers), not run.
#
# Design: each start_X sets X_PORT and X_PID (the PIDs whose CPU a measurement charges) and
# registers the process for the EXIT trap; data directories are removed on exit. LinkRing runs
# from copies of the release binaries in RUN_DIR/bin, made once at the start of a run, so a
# rebuild by someone else cannot change them mid-run.
#
#   prepare_binaries                 NODE_BIN, PROXY_BIN (LINKRING_BIN_DIR=dir: copy from there,
#                                    else build_release from scripts/lib/common.bash, then copy)
#   start_node NAME [OPTIONS…]       a lone node on a fresh data dir: NODE_PID NODE_PORT
#   start_cluster NAME N [OPTIONS…]  N nodes (ports in a hosts file) + a proxy, all up:
#                                    CLUSTER_PIDS[] CLUSTER_PORTS[] PROXY_PID PROXY_PORT
#   restart_cluster_node I           starts node I again (same port, data, options)
#   start_linkring_preloaded N       start_node node + start_cluster cluster 4, k1..kN stored in each
#   start_nginx_307                  nginx, 1 worker, `return 307`: NGINX_PORT NGINX_PID (worker)
#   start_nginx_proxy UPSTREAM_PORT  nginx, 1 worker, keep-alive reverse proxy: NGINXRP_*
#   start_redis NAME always|no       redis, appendfsync as given: REDIS_PORT REDIS_PID
#   start_webdis REDIS_PORT          webdis (threads 2, Debian's default): WEBDIS_PORT WEBDIS_PID
#   start_nutcracker P1 P2           twemproxy, ketama over two redis: NUTCRACKER_PORT/_PID
#   redis_preload PORT N             SET k1..kN http://example.com/page/I (redis-cli --pipe)

# shellcheck shell=bash source-path=SCRIPTDIR disable=SC2034  # the variables set here are read by the drivers

prepare_binaries() {
    local source_dir=${LINKRING_BIN_DIR:-}
    if [[ -z $source_dir ]]; then
        # shellcheck source=../scripts/lib/common.bash
        source "$REPO_DIR/scripts/lib/common.bash"
        build_release || die "the release build failed"
        source_dir="$REPO_DIR/.build/release"
    fi
    mkdir -p "$RUN_DIR/bin"
    cp -p "$source_dir/linkring-node" "$source_dir/linkring-proxy" "$RUN_DIR/bin/" || die "no binaries in $source_dir"
    NODE_BIN="$RUN_DIR/bin/linkring-node" PROXY_BIN="$RUN_DIR/bin/linkring-proxy"
    { "$NODE_BIN" --help && "$PROXY_BIN" --help; } >/dev/null || die "the copied binaries do not run"
    BINARIES_BUILT=$(date -u -r "$source_dir/linkring-node" '+%Y-%m-%d %H:%M UTC')
}

start_node() {
    local name=$1 address
    shift
    start_background "$name" "$NODE_BIN" --listen 127.0.0.1:0 --data "$RUN_DIR/data-$name" "$@"
    NODE_PID=$BG_PID
    on_exit "rm -rf '$RUN_DIR/data-$name'"
    address=$(wait_for_listening "$NODE_PID" "$RUN_DIR/$name.out" 120) || die "$name did not start (see $RUN_DIR/$name.err)"
    NODE_PORT=${address##*:}
}

start_cluster() {
    local name=$1 count=$2 index address
    shift 2
    CLUSTER_NAME=$name CLUSTER_OPTIONS=("$@") CLUSTER_PIDS=() CLUSTER_STARTS=()
    read -r -a CLUSTER_PORTS <<<"$(free_ports "$count")"
    CLUSTER_HOSTS="$RUN_DIR/$name-hosts.txt"
    printf '127.0.0.1:%s\n' "${CLUSTER_PORTS[@]}" >"$CLUSTER_HOSTS"
    for ((index = 0; index < count; index++)); do
        on_exit "rm -rf '$RUN_DIR/data-$name-$index'"
        restart_cluster_node "$index"
    done
    start_background "$name-proxy" "$PROXY_BIN" --listen 127.0.0.1:0 --hosts "$CLUSTER_HOSTS" --status-interval-s 0
    PROXY_PID=$BG_PID
    address=$(wait_for_listening "$PROXY_PID" "$RUN_DIR/$name-proxy.out" 30) || die "the proxy did not start (see $RUN_DIR/$name-proxy.err)"
    PROXY_PORT=${address##*:}
    wait_for_status "$PROXY_PORT" /_/health 200 30 || die "the cluster is not healthy (see $RUN_DIR/$name-proxy.err)"
}

start_linkring_preloaded() {
    local keys=$1 port line
    start_node node
    start_cluster cluster 4
    for port in "$NODE_PORT" "$PROXY_PORT"; do
        line=$(timeout 300 python3 "$LOADTEST_DIR/preload.py" --port "$port" --count "$keys" --timeout-s 240) ||
            die "preload failed: $line"
    done
}

# Every start of node I gets its own output files: NAME-nodeI-S.out/.err, S = 1, 2, …
restart_cluster_node() {
    local index=$1 name start
    start=$((${CLUSTER_STARTS[index]:-0} + 1))
    CLUSTER_STARTS[index]=$start
    name="$CLUSTER_NAME-node$index-$start"
    start_background "$name" "$NODE_BIN" --listen "127.0.0.1:${CLUSTER_PORTS[index]}" \
        --data "$RUN_DIR/data-$CLUSTER_NAME-$index" --hosts "$CLUSTER_HOSTS" "${CLUSTER_OPTIONS[@]}"
    CLUSTER_PIDS[index]=$BG_PID
    wait_for_listening "$BG_PID" "$RUN_DIR/$name.out" 120 >/dev/null || die "$name did not start (see $RUN_DIR/$name.err)"
}

# Writes an nginx config for one worker on PORT with the server body given; starts it.
# Sets NGINX_STARTED_PORT and NGINX_STARTED_WORKER.
start_nginx_with() {
    local name=$1 body=$2 dir="$RUN_DIR/$1" master worker
    NGINX_STARTED_PORT=$(free_port)
    mkdir -p "$dir/tmp"
    cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
$body
    server {
        listen 127.0.0.1:$NGINX_STARTED_PORT;
        location / { $3 }
    }
}
CONF
    start_background "$name" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
    master=$BG_PID
    wait_for_port "$NGINX_STARTED_PORT" 10 || die "$name did not start (see $dir/error.log)"
    worker=$(tr ' ' '\n' <"/proc/$master/task/$master/children" | head -n1)
    [[ -n $worker ]] || die "no $name worker process"
    NGINX_STARTED_WORKER=$worker
}

start_nginx_307() {
    start_nginx_with nginx-307 "" 'return 307 http://example.com/;'
    NGINX_PORT=$NGINX_STARTED_PORT NGINX_PID=$NGINX_STARTED_WORKER
    http_get "$NGINX_PORT" /k1 | head -n1 | grep -q ' 307 ' || die "nginx does not answer 307"
}

start_nginx_proxy() {
    start_nginx_with nginx-proxy "    upstream backend { server 127.0.0.1:$1; keepalive 64; keepalive_requests 1000000000; }" \
        'proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection "";'
    NGINXRP_PORT=$NGINX_STARTED_PORT NGINXRP_PID=$NGINX_STARTED_WORKER
    http_get "$NGINXRP_PORT" /k1 | head -n1 | grep -q ' 307 ' || die "the nginx reverse proxy does not answer 307"
}

start_redis() {
    local name=$1 fsync=$2 dir="$RUN_DIR/$1"
    REDIS_PORT=$(free_port)
    mkdir -p "$dir"
    on_exit "rm -rf '$dir/appendonlydir'"
    cat >"$dir/redis.conf" <<CONF
bind 127.0.0.1
port $REDIS_PORT
daemonize no
save ""
appendonly yes
appendfsync $fsync
dir $dir
logfile $dir/redis.log
CONF
    start_background "$name" redis-server "$dir/redis.conf"
    REDIS_PID=$BG_PID
    wait_for_port "$REDIS_PORT" 10 || die "$name did not start (see $dir/redis.log)"
    timeout 10 redis-cli -p "$REDIS_PORT" ping | grep -q PONG || die "$name does not answer PING"
}

start_webdis() {
    local redis_port=$1 dir="$RUN_DIR/webdis-$1"
    WEBDIS_PORT=$(free_port)
    mkdir -p "$dir"
    cat >"$dir/webdis.json" <<CONF
{
    "redis_host": "127.0.0.1", "redis_port": $redis_port, "redis_auth": null,
    "http_host": "127.0.0.1", "http_port": $WEBDIS_PORT, "threads": 2,
    "daemonize": false, "database": 0, "verbosity": 1, "logfile": "$dir/webdis.log"
}
CONF
    start_background "webdis-$redis_port" webdis "$dir/webdis.json"
    WEBDIS_PID=$BG_PID
    wait_for_port "$WEBDIS_PORT" 10 || die "webdis did not start (see $dir/webdis.log)"
}

start_nutcracker() {
    local dir="$RUN_DIR/nutcracker" stats_port
    read -r NUTCRACKER_PORT stats_port <<<"$(free_ports 2)"
    mkdir -p "$dir"
    cat >"$dir/nutcracker.yml" <<CONF
linkring:
  listen: 127.0.0.1:$NUTCRACKER_PORT
  hash: fnv1a_64
  distribution: ketama
  redis: true
  auto_eject_hosts: false
  server_connections: 1
  servers:
   - 127.0.0.1:$1:1
   - 127.0.0.1:$2:1
CONF
    start_background nutcracker nutcracker -c "$dir/nutcracker.yml" -a 127.0.0.1 -s "$stats_port" \
        -o "$dir/nutcracker.log" -p "$dir/nutcracker.pid"
    NUTCRACKER_PID=$BG_PID
    wait_for_port "$NUTCRACKER_PORT" 10 || die "nutcracker did not start (see $dir/nutcracker.log)"
}

redis_preload() {
    local port=$1 count=$2 reply
    # shellcheck disable=SC2016  # the $ are RESP bulk-string markers, for Python
    reply=$(python3 -c 'import sys
out = sys.stdout.buffer
for i in range(1, int(sys.argv[1]) + 1):
    k, v = b"k%d" % i, b"http://example.com/page/%d" % i
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))' "$count" |
        timeout 120 redis-cli -p "$port" --pipe 2>&1) || die "redis preload failed: $reply"
    grep -q "errors: 0, replies: $count" <<<"$reply" || die "redis preload failed: $reply"
}
