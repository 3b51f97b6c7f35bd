#!/usr/bin/env bash
# Cost of a plugin that reads the request body: HTTP/1.1 POSTs of a 16 KiB body through one oxigress
# instance, with no plugin and with request-block `block_bodies` (the body is read whole, searched, and
# sent upstream from the one copy the gateway keeps for retries); requests/s and CPU per request (user and
# system, from /proc/PID/stat), three interleaved rounds, medians reported. Gateway pinned to one core,
# wrk and the backend to the other.
# Backend: nginx (Debian) answering 200 from memory, so the gateway is the bottleneck.
# Usage: bench/plugin-body.sh [--quick | seconds per run (5)] [body bytes (16384)]   (installs wrk and nginx-light)
#   OXIGRESS_BIN=path measures that binary instead of building the release one; OXIGRESS_BASELINE=path
#   adds a second binary (e.g. the previous commit), measured in the same rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-5}"
[ "$secs" = --quick ] && secs=2
body_bytes="${2:-16384}"
source bench/lib.sh
need_apt wrk:wrk nginx-light:nginx
bin=$(oxigress_bin)
work="$bench_work"
start_backend taskset -c "$load_cpu"

for chain in empty body; do
    python3 bench/gen_manifests.py catch-all "$work/$chain" "$backend_port"
    python3 bench/gen_manifests.py plugins "$work/$chain" "$chain"
done
printf 'wrk.method = "POST"\nwrk.body = string.rep("x", %d)\nwrk.headers["Content-Type"] = "application/octet-stream"\n' \
    "$body_bytes" > "$work/post.lua"

run() { # binary manifests-dir -> "requests/s cpu-µs/request failed"
    local http admin pid before after out
    http=$(free_port); admin=$(free_port)
    taskset -c "$proxy_cpu" "$1" standalone --manifests "$2" --bind 127.0.0.1 --http-port "$http" --https-port 0 \
        --admin-port "$admin" --threads 1 2>/dev/null & pid=$!
    wait_until 10 curl -fs "http://127.0.0.1:$admin/healthz/ready" || { echo "gateway not ready" >&2; exit 1; }
    [ "$(curl -s -o /dev/null -w '%{http_code}' -d 'forbidden-word' "http://127.0.0.1:$http/")" = "$([ "$2" = "$work/body" ] && echo 403 || echo 200)" ] \
        || { echo "the body plugin does not answer as expected" >&2; exit 1; }
    taskset -c "$load_cpu" wrk -t1 -c32 -d1s -s "$work/post.lua" "http://127.0.0.1:$http/" >/dev/null
    before=$(cpu_ticks "$pid")
    out=$(taskset -c "$load_cpu" wrk -t1 -c32 -d"${secs}s" -s "$work/post.lua" "http://127.0.0.1:$http/")
    after=$(cpu_ticks "$pid")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    python3 - "$out" "$before" "$after" "$clk_tck" <<'PY'
import re, sys
out, before, after, tck = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
total = int(re.search(r"(\d+) requests in", out).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
print(f"{rps:.0f} {(after - before) / tck * 1e6 / total:.1f} {(int(bad.group(1)) if bad else 0) + errors}")
PY
}

declare -A results
binaries=(oxigress)
declare -A path=([oxigress]="$bin")
[ -n "${OXIGRESS_BASELINE:-}" ] && { binaries+=(oxigress-base); path[oxigress-base]="$OXIGRESS_BASELINE"; }
for _ in 1 2 3; do
    for b in "${binaries[@]}"; do
        for chain in empty body; do
            results[$b/$chain]+="$(run "${path[$b]}" "$work/$chain");"
        done
    done
done

median() { # "a b c;a b c;..." field -> median of that field
    tr ';' '\n' <<<"$1" | awk -v f="$2" 'NF {print $f}' | sort -n | sed -n 2p
}
mkdir -p bench/results
out="bench/results/$(date +%Y-%m-%d)-plugin-body.md"
{
    echo "# Plugin reading the request body ($(date -u +%FT%TZ), $(machine_line); gateway 1 worker thread, POST of $body_bytes bytes, wrk -t1 -c32 -d${secs}s, median of 3 interleaved rounds)"
    echo
    echo "| binary | chain | requests/s | CPU µs/request | failed (all rounds) | rounds (req/s, µs, failed) |"
    echo "|---|---|---|---|---|---|"
    for b in "${binaries[@]}"; do
        for chain in empty body; do
            r="${results[$b/$chain]}"
            failed=$(tr ';' '\n' <<<"$r" | awk 'NF {s += $3} END {print s + 0}')
            echo "| $b | $chain | $(median "$r" 1) | $(median "$r" 2) | $failed | ${r//;/ · } |"
        done
    done
    echo
    echo "chain body = request-block with block_bodies (reads the whole body); empty = no plugin"
} | tee "$out"
