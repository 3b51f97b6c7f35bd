#!/usr/bin/env bash
# Cost of the plugin chain: proxied requests/s through one oxigress instance with an empty chain vs with
# request-block (20 rules, none matching) and vs request-block + key-auth (the request carries a valid
# key), same run, same machine; three interleaved rounds, median reported.
# Backend: nginx (Debian) answering 200 from memory, so the gateway is the bottleneck.
# Usage: bench/plugin-chain.sh [seconds per run]   (needs wrk and nginx: apt-get install wrk nginx-light)
#   OXIGRESS_BIN=path measures that binary instead of building the release one.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-5}"
source bench/lib.sh
bin=$(oxigress_bin)
work="$bench_work"
start_backend

for chain in empty request-block auth; do
    python3 bench/gen_manifests.py catch-all "$work/$chain" "$backend_port"
    python3 bench/gen_manifests.py plugins "$work/$chain" "$chain"
done
auth_header=$(bench_auth_header)

run() { # manifests-dir -> requests/s
    local http admin
    http=$(free_port); admin=$(free_port)
    "$bin" standalone --manifests "$1" --bind 127.0.0.1 --http-port "$http" --https-port 0 --admin-port "$admin" \
        --threads 1 2>/dev/null & local pid=$!
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$admin/healthz/ready" >/dev/null && break; sleep 0.1; done
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H "$auth_header" "http://127.0.0.1:$http/")" = 200 ] || { echo "gateway does not route the benchmark request" >&2; exit 1; }
    wrk -t1 -c32 -d"${secs}s" -H "$auth_header" "http://127.0.0.1:$http/api/items?id=1" | awk '/Requests\/sec/ {print $2}'
    kill "$pid"; wait "$pid" 2>/dev/null || true
}
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
best() { printf '%s\n' "$@" | sort -n | tail -1; }
e=(); p=(); a=()
for _ in 1 2 3; do
    e+=("$(run "$work/empty")"); p+=("$(run "$work/request-block")"); a+=("$(run "$work/auth")")
done
empty=$(median "${e[@]}"); plugins=$(median "${p[@]}"); auth=$(median "${a[@]}")
ratio=$(python3 -c "print(f'{$plugins/$empty:.3f}')")
ratio_auth=$(python3 -c "print(f'{$auth/$empty:.3f}')")
best_ratio=$(python3 -c "print(f'{$(best "${p[@]}")/$(best "${e[@]}"):.3f}')")
best_ratio_auth=$(python3 -c "print(f'{$(best "${a[@]}")/$(best "${e[@]}"):.3f}')")
mkdir -p bench/results
out="bench/results/$(date +%Y-%m-%d)-plugin-chain.md"
{
    echo "# Plugin chain cost ($(date -u +%FT%TZ), $(nproc) cores, gateway 1 worker thread, wrk -t1 -c32 -d${secs}s, median of 3 interleaved rounds)"
    echo
    echo "| chain | requests/s (median) | rounds | ratio to empty |"
    echo "|---|---|---|---|"
    echo "| empty | $empty | ${e[*]} | 1.000 |"
    echo "| request-block (20 rules) | $plugins | ${p[*]} | $ratio |"
    echo "| request-block + key-auth | $auth | ${a[*]} | $ratio_auth |"
    echo
    echo "best-round ratios (least disturbed by other load): request-block $best_ratio, request-block + key-auth $best_ratio_auth"
    echo
    echo "target: every ratio ≥ 0.90"
} | tee "$out"
