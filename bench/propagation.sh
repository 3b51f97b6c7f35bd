#!/usr/bin/env bash
# Config propagation with 10,000 Ingresses (each with its Service and EndpointSlice, its own host):
# - full translate: the `translate_ms` of the first "translated configuration" log line of a standalone start,
#   and the wall time of `oxigress translate` (reads and parses the files, translates, prints the IR as JSON);
# - start-up time to ready, and snapshot memory per Ingress ((RSS with 10k - RSS with 1 Ingress) / 10k);
# - propagation: time from a file change (a new Ingress file, written atomically) to its host answering 200,
#   p50/p99 over 100 changes, polled with a fresh connection every millisecond;
# - nginx (1 worker) with the equivalent nginx.conf (10k server blocks): `nginx -t` time, start-up, and the
#   same change (a new server block + SIGHUP) to first 200, p50/p99.
# oxigress and nginx are pinned to one core, the poller to the other (when there are two).
#
# Usage: bench/propagation.sh [--quick] [--ingresses N] [--changes N]
#   --quick: 2,000 Ingresses, 20 changes (~1 minute). Default: 10,000 Ingresses, 100 changes.
# Results: bench/results/DATE-propagation.md.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ingresses=10000 changes=100 nginx_changes=""
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) ingresses=2000 changes=20 ;;
        --ingresses) ingresses=$2; shift ;;
        --changes) changes=$2; shift ;;
        *) echo "unknown flag $1" >&2; exit 2 ;;
    esac
    shift
done
# An nginx reload of 10k server blocks takes seconds: at most 20 of them.
nginx_changes=$(( changes < 20 ? changes : 20 ))

need_apt nginx-light:nginx
oxigress=$(oxigress_bin)
work="$bench_work"
here="$bench_root/bench"
pin_proxy=(taskset -c "$proxy_cpu")
pin_load=(taskset -c "$load_cpu")

# Backend: nginx answering 200 from memory.
start_backend "${pin_load[@]}"

python3 "$here/gen_manifests.py" manifests "$work/one" 1 "$backend_port"
python3 "$here/gen_manifests.py" manifests "$work/many" "$ingresses" "$backend_port"

# `oxigress translate` over the whole directory (load + translate + JSON), wall time.
t0=$(date +%s%N)
"${pin_proxy[@]}" "$oxigress" translate --manifests "$work/many" > "$work/ir.json"
translate_cli_ms=$(( ($(date +%s%N) - t0) / 1000000 ))

start_instance() { # manifests-dir -> sets inst_pid inst_http inst_admin inst_ready_ms
    inst_http=$(free_port); inst_admin=$(free_port)
    local t0; t0=$(date +%s%N)
    "${pin_proxy[@]}" "$oxigress" standalone --manifests "$1" --bind 127.0.0.1 --http-port "$inst_http" --https-port 0 \
        --admin-port "$inst_admin" --threads 1 2>"$work/oxigress-$(basename "$1").log" & inst_pid=$!; bench_pids+=($!)
    wait_until 120 curl -fs "http://127.0.0.1:$inst_admin/healthz/ready" || { echo "not ready" >&2; exit 1; }
    inst_ready_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    # Let start-up allocations settle before reading RSS.
    sleep 1
}

start_instance "$work/one"; rss_one=$(rss_kib "$inst_pid"); kill "$inst_pid"
start_instance "$work/many"; rss_many=$(rss_kib "$inst_pid"); ready_many_ms=$inst_ready_ms
# The log is coloured: strip the escapes before reading translate_ms.
translate_ms=$(sed 's/\x1b\[[0-9;]*m//g' "$work/oxigress-many.log" | grep -m1 'translated configuration' | grep -o 'translate_ms=[0-9.]*' | cut -d= -f2 | xargs printf '%.1f' || true)
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Host: app-$((ingresses - 1)).bench.local" "http://127.0.0.1:$inst_http/")" = 200 ] \
    || { echo "the last generated Ingress does not serve" >&2; exit 1; }
read -r ox_p50 ox_p99 ox_max ox_timeouts < <("${pin_load[@]}" python3 "$here/propagation.py" oxigress "$work/many" "$backend_port" "$inst_http" "$changes")
rss_after=$(rss_kib "$inst_pid")
# Each change re-translates everything: the median of those translations.
retranslate_ms=$(sed 's/\x1b\[[0-9;]*m//g' "$work/oxigress-many.log" | grep 'translated configuration' | tail -n +2 \
    | grep -o 'translate_ms=[0-9.]*' | cut -d= -f2 | sort -n | awk '{a[NR]=$1} END {if (NR) printf "%.1f", a[int((NR+1)/2)]; else print "n/a"}')
kill "$inst_pid"

# nginx with the equivalent configuration.
mkdir -p "$work/nginx/changes"
nginx_port=$(free_port)
python3 "$here/gen_manifests.py" nginx "$work/nginx/nginx.conf" "$ingresses" "$backend_port" "$nginx_port" "$work/nginx/changes/*.conf"
t0=$(date +%s%N)
"${pin_proxy[@]}" nginx -t -q -c "$work/nginx/nginx.conf"
nginx_test_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
t0=$(date +%s%N)
"${pin_proxy[@]}" nginx -c "$work/nginx/nginx.conf" -g 'daemon off;' & nginx_master=$!; bench_pids+=($!)
wait_until 60 curl -fs -o /dev/null -H "Host: app-0.bench.local" "http://127.0.0.1:$nginx_port/" || { echo "nginx not serving" >&2; exit 1; }
nginx_ready_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
nginx_rss=$(( $(rss_kib "$nginx_master") + $(rss_kib "$(pgrep -P "$nginx_master" | head -1)") ))
read -r ng_p50 ng_p99 ng_max ng_timeouts < <("${pin_load[@]}" python3 "$here/propagation.py" nginx "$work/nginx/changes" "$nginx_master" "$backend_port" "$nginx_port" "$nginx_changes")

mkdir -p "$results_dir"
out="$results_dir/$(date +%Y-%m-%d)-propagation.md"
per_ingress=$(python3 -c "print(f'{($rss_many - $rss_one) * 1024 / $ingresses:.0f}')")
{
    echo "# Config propagation with $ingresses Ingresses ($(date -u +%FT%TZ))"
    echo
    echo "- machine: $(machine_line); oxigress $(cd "$bench_root" && git rev-parse --short HEAD 2>/dev/null || echo ?) (1 worker thread), $(nginx -v 2>&1 | cut -d' ' -f3) (1 worker); load average at end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- each Ingress has its own host, Service and EndpointSlice (files of 100 Ingresses); a change adds one more Ingress in a new file"
    echo
    echo "| measure | oxigress | nginx | goal |"
    echo "|---|---|---|---|"
    echo "| change → new route serving, p50 ($changes changes; nginx $nginx_changes) | ${ox_p50} ms | ${ng_p50} ms (SIGHUP reload) | |"
    echo "| change → new route serving, p99 | ${ox_p99} ms | ${ng_p99} ms | < 100 ms |"
    echo "| change → new route serving, max / timeouts (10 s) | ${ox_max} ms / $ox_timeouts | ${ng_max} ms / $ng_timeouts | |"
    echo "| full translate of $ingresses Ingresses (log line translate_ms): at start / median per change | ${translate_ms:-n/a} ms / ${retranslate_ms} ms | | < 1 s |"
    echo "| \`oxigress translate\` wall time (read + parse + translate + JSON) / \`nginx -t\` | ${translate_cli_ms} ms | ${nginx_test_ms} ms | |"
    echo "| start-up to ready / serving | ${ready_many_ms} ms | ${nginx_ready_ms} ms | |"
    echo "| RSS with $ingresses Ingresses | $((rss_many / 1024)) MiB (after $changes changes: $((rss_after / 1024)) MiB) | $((nginx_rss / 1024)) MiB (master + worker) | |"
    echo "| snapshot memory per Ingress ((RSS $ingresses − RSS 1) / $ingresses) | $per_ingress bytes | | |"
} > "$out"
cat "$out"
echo "written: $out" >&2
