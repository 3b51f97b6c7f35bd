#!/usr/bin/env bash
# Instructions per proxied request, counted by callgrind (stable whatever else the machine runs): the proxy
# runs under `valgrind --tool=callgrind` with one worker; after a warm-up the counters are zeroed, N HTTP/1.1
# keep-alive requests (8 connections, small body, same nginx backend as bench/proxy.sh) are sent, the
# counters dumped. Prints instructions per request and the top functions (inclusive of nothing: self cost).
#
# Usage: bench/callgrind.sh [--requests N] [--proxy oxigress|nginx|envoy|haproxy ...] [--top K] [--chain C] [--close]
#   Default: 5,000 requests, oxigress and nginx. --chain gives oxigress a plugin chain (empty, request-block or
#   auth, as bench/plugin-chain.sh; requests then carry the key-auth header). --close: every counted request
#   says `Connection: close` (a new connection per request). OXIGRESS_ARGS adds flags to oxigress (e.g.
#   --work-stealing). The profiles (P.callgrind, for callgrind_annotate --tree=caller) and their annotation
#   (P.txt) stay in bench/results/callgrind/ (not committed).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

requests=5000 top=25 proxies=() chain=empty close=()
while [ $# -gt 0 ]; do
    case "$1" in
        --requests) requests=$2; shift ;;
        --proxy) proxies+=("$2"); shift ;;
        --top) top=$2; shift ;;
        --chain) chain=$2; shift ;;
        --quick) requests=2000 ;;
        --close) close=(-H 'Connection: close') ;;
        *) echo "unknown flag $1" >&2; exit 2 ;;
    esac
    shift
done
[ ${#proxies[@]} -eq 0 ] && proxies=(oxigress nginx)

auth_header=$(bench_auth_header)
need_apt valgrind:valgrind nginx-light:nginx nghttp2-client:h2load
work="$bench_work"
mkdir -p "$results_dir/callgrind"

start_backend

start_proxy() { # name port -> prints the command to run under valgrind
    local port=$2
    case "$1" in
        oxigress)
            rm -rf "$work/ox"; mkdir -p "$work/ox"
            python3 "$bench_root/bench/gen_manifests.py" catch-all "$work/ox" "$backend_port"
            python3 "$bench_root/bench/gen_manifests.py" plugins "$work/ox" "$chain"
            echo "$(oxigress_bin) standalone --manifests $work/ox --bind 127.0.0.1 --http-port $port --https-port 0 --admin-port $(free_port) --threads 1 ${OXIGRESS_ARGS:-}"
            ;;
        nginx)
            mkdir -p "$work/np"
            cat > "$work/np/nginx.conf" <<CONF
worker_processes 1;
master_process off;
daemon off;
user root;
pid $work/np/nginx.pid;
error_log $work/np/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    upstream backend { server 127.0.0.1:$backend_port; keepalive 64; }
    server { listen 127.0.0.1:$port; keepalive_requests 10000000;
        location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}
CONF
            echo "nginx -c $work/np/nginx.conf"
            ;;
        haproxy)
            cat > "$work/haproxy.cfg" <<CONF
global
    nbthread 1
    maxconn 4000
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    http-reuse always
frontend fe
    bind 127.0.0.1:$port
    default_backend be
backend be
    server s1 127.0.0.1:$backend_port
CONF
            echo "haproxy -db -f $work/haproxy.cfg"
            ;;
        envoy)
            cat > "$work/envoy.yaml" <<YAML
static_resources:
  listeners:
  - address: {socket_address: {address: 127.0.0.1, port_value: $port}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: http
          route_config: {virtual_hosts: [{name: all, domains: ["*"], routes: [{match: {prefix: "/"}, route: {cluster: backend}}]}]}
          http_filters: [{name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}]
  clusters:
  - name: backend
    type: STATIC
    load_assignment: {cluster_name: backend, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: $backend_port}}}}]}]}
YAML
            echo "$(envoy_bin) -c $work/envoy.yaml --concurrency 1 -l error --base-id $$"
            ;;
    esac
}

summary=()
for p in "${proxies[@]}"; do
    port=$(free_port)
    cmd=$(start_proxy "$p" "$port")
    out="$results_dir/callgrind/$p.out"
    rm -f "$out"*
    # shellcheck disable=SC2086
    RUST_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$out" --trace-children=no $cmd 2>"$work/$p.valgrind.log" &
    pid=$!; bench_pids+=($pid)
    wait_until 180 curl -fs -o /dev/null -H "$auth_header" "http://127.0.0.1:$port/" || { echo "$p does not answer under valgrind" >&2; tail "$work/$p.valgrind.log" >&2; exit 1; }
    h2load --h1 -n 1000 -c 8 -t 1 -H "$auth_header" "http://127.0.0.1:$port/" >/dev/null
    callgrind_control -z "$pid" >/dev/null
    h2load --h1 -n "$requests" -c 8 -t 1 -H "$auth_header" "${close[@]}" "http://127.0.0.1:$port/" > "$work/$p.h2load"
    grep -q "$requests succeeded" "$work/$p.h2load" || { echo "$p: not all requests succeeded" >&2; cat "$work/$p.h2load" >&2; }
    callgrind_control -d "$pid" >/dev/null
    kill "$pid"; wait "$pid" 2>/dev/null || true
    # `callgrind_control -d` wrote $out.1 (from the zeroing to the dump); $out is the shutdown.
    dump="$out.1"
    callgrind_annotate --threshold=100 "$dump" > "$results_dir/callgrind/$p.txt" 2>/dev/null || true
    total=$(grep -m1 'PROGRAM TOTALS' "$results_dir/callgrind/$p.txt" | awk '{gsub(",","",$1); print $1}')
    per=$((total / requests))
    summary+=("$p $per")
    echo "== $p: $per instructions per request ($total over $requests)"
    grep -A "$((top + 2))" 'file:function' "$results_dir/callgrind/$p.txt" | tail -n "$top" | cut -c1-200
    mv "$dump" "$results_dir/callgrind/$p.callgrind"; rm -f "$out"*
done
echo
printf '%s\n' "${summary[@]}" | awk '{printf "%-10s %8d instructions/request\n", $1, $2}'
