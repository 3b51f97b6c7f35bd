#!/usr/bin/env bash
# Footprint of one standalone instance: RSS when idle (one Ingress) and with 10,000 Ingresses (routes), after
# 1,000 proxied requests, and start-up time from exec to /healthz/ready (median of several starts), with one
# worker thread and with the default (one per core).
#
# Usage: bench/footprint.sh [--quick] [--ingresses N] [--starts N]
#   --quick: 3 starts each (~1 minute). Default: 10,000 Ingresses, 7 starts each.
# Results: bench/results/DATE-footprint.md.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ingresses=10000 starts=7
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) starts=3 ;;
        --ingresses) ingresses=$2; shift ;;
        --starts) starts=$2; shift ;;
        *) echo "unknown flag $1" >&2; exit 2 ;;
    esac
    shift
done

need_apt nginx-light:nginx wrk:wrk
oxigress=$(oxigress_bin)
work="$bench_work"
here="$bench_root/bench"

start_backend
python3 "$here/gen_manifests.py" manifests "$work/one" 1 "$backend_port"
python3 "$here/gen_manifests.py" manifests "$work/many" "$ingresses" "$backend_port"

# One start: prints "ready_ms rss_idle_kib rss_after_load_kib threads".
one_start() { # manifests-dir threads-flag...
    local dir=$1; shift
    local http admin t0 pid ready rss_idle rss_load
    http=$(free_port); admin=$(free_port)
    t0=$(date +%s%N)
    RUST_LOG=warn "$oxigress" standalone --manifests "$dir" --bind 127.0.0.1 --http-port "$http" --https-port 0 \
        --admin-port "$admin" "$@" 2>>"$work/oxigress.log" & pid=$!; bench_pids+=($!)
    wait_until 120 curl -fs "http://127.0.0.1:$admin/healthz/ready" || { echo "not ready" >&2; exit 1; }
    ready=$(( ($(date +%s%N) - t0) / 1000000 ))
    sleep 1
    rss_idle=$(rss_kib "$pid")
    wrk -t1 -c8 -d1s -H "Host: app-0.bench.local" "http://127.0.0.1:$http/" >/dev/null
    rss_load=$(rss_kib "$pid")
    echo "$ready $rss_idle $rss_load $(ls /proc/$pid/task | wc -l)"
    kill "$pid"; wait "$pid" 2>/dev/null || true
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A ready rss_idle rss_load threads
for cfg in "one:--threads 1" "many:--threads 1" "one:" "many:"; do
    dir=${cfg%%:*}; flags=${cfg#*:}
    key="$dir/${flags:-default}"
    r=() i=() l=() t=""
    for _ in $(seq "$starts"); do
        # shellcheck disable=SC2086
        read -r a b c d < <(one_start "$work/$dir" $flags)
        r+=("$a"); i+=("$b"); l+=("$c"); t=$d
    done
    ready[$key]=$(printf '%s\n' "${r[@]}" | median)
    rss_idle[$key]=$(printf '%s\n' "${i[@]}" | median)
    rss_load[$key]=$(printf '%s\n' "${l[@]}" | median)
    threads[$key]=$t
    echo "$key: ready ${ready[$key]} ms, RSS idle ${rss_idle[$key]} KiB, after load ${rss_load[$key]} KiB, ${threads[$key]} threads" >&2
done

mkdir -p "$results_dir"
out="$results_dir/$(date +%Y-%m-%d)-footprint.md"
mib() { python3 -c "print(f'{$1/1024:.1f}')"; }
{
    echo "# Footprint of one standalone instance ($(date -u +%FT%TZ))"
    echo
    echo "- machine: $(machine_line); oxigress $(cd "$bench_root" && git rev-parse --short HEAD 2>/dev/null || echo ?); medians of $starts starts"
    echo "- RSS idle: 1 s after ready; after load: after 1 s of wrk -c8 through one route"
    echo
    echo "| configuration | worker threads | start-up to ready | RSS idle | RSS after load | goal |"
    echo "|---|---|---|---|---|---|"
    for key in "one/--threads 1" "one/default" "many/--threads 1" "many/default"; do
        what="1 Ingress"; [ "${key%%/*}" = many ] && what="$ingresses Ingresses"
        goal=""; [ "${key%%/*}" = one ] && goal="idle < 30 MB"
        echo "| $what, ${key#*/} | ${threads[$key]} (process) | ${ready[$key]} ms | $(mib "${rss_idle[$key]}") MiB | $(mib "${rss_load[$key]}") MiB | $goal |"
    done
} > "$out"
cat "$out"
echo "written: $out" >&2
