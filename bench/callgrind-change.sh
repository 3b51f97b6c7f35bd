#!/usr/bin/env bash
# Instructions per config change, counted by callgrind (stable whatever else the machine runs): a standalone
# instance with N Ingresses (bench/gen_manifests.py, as bench/propagation.sh) runs under
# `valgrind --tool=callgrind`; once it serves, the counters are zeroed, C changes are applied one after
# another (a new Ingress file written atomically, waiting until its host answers 200, polled once a second),
# and the counters dumped. Everything the process did counts: watcher, manifest source, translate, runtime
# compilation, the polls (a few hundred thousand instructions). Prints instructions per change and the top
# functions (inclusive), so the share of translate and compile shows.
#
# Usage: bench/callgrind-change.sh [--ingresses N] [--changes C] [--top K]
#   Default: 10,000 Ingresses, 3 changes. OXIGRESS_BIN picks the binary (default: release build).
#   The profile (change.callgrind, for callgrind_annotate --inclusive=yes) stays in bench/results/callgrind/.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ingresses=10000 changes=3 top=30
while [ $# -gt 0 ]; do
    case "$1" in
        --ingresses) ingresses=$2; shift ;;
        --changes) changes=$2; shift ;;
        --top) top=$2; shift ;;
        *) echo "unknown flag $1" >&2; exit 2 ;;
    esac
    shift
done

need_apt valgrind:valgrind nginx-light:nginx
oxigress=$(oxigress_bin)
work="$bench_work"
here="$bench_root/bench"
mkdir -p "$results_dir/callgrind"
start_backend
python3 "$here/gen_manifests.py" manifests "$work/many" "$ingresses" "$backend_port"

serves() { # host
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $1" "http://127.0.0.1:$http_port/")" = 200 ]
}
wait_serving() { # seconds host
    local deadline=$((SECONDS + $1))
    until serves "$2"; do
        [ $SECONDS -ge "$deadline" ] && return 1
        sleep 1
    done
}

http_port=$(free_port)
out="$results_dir/callgrind/change.out"
rm -f "$out"*
valgrind --tool=callgrind --callgrind-out-file="$out" --trace-children=no "$oxigress" standalone \
    --manifests "$work/many" --bind 127.0.0.1 --http-port "$http_port" --https-port 0 --admin-port "$(free_port)" \
    --threads 1 2>"$work/valgrind.log" &
pid=$!; bench_pids+=($pid)
wait_serving 900 "app-$((ingresses - 1)).bench.local" || { echo "no answer under valgrind" >&2; tail "$work/valgrind.log" >&2; exit 1; }
callgrind_control -z "$pid" >/dev/null
for i in $(seq 1 "$changes"); do
    # Written next to the directory, then renamed into it: one file event, as bench/propagation.py's writes.
    python3 "$here/gen_manifests.py" ingress "$i" "$backend_port" > "$work/change-$i.tmp"
    mv "$work/change-$i.tmp" "$work/many/change-$i.yaml"
    wait_serving 300 "change-$i.bench.local" || { echo "change $i not serving" >&2; exit 1; }
done
callgrind_control -d "$pid" >/dev/null
kill "$pid"; wait "$pid" 2>/dev/null || true
dump="$out.1"
callgrind_annotate --inclusive=yes --threshold=100 "$dump" > "$results_dir/callgrind/change.txt" 2>/dev/null || true
total=$(grep -m1 'PROGRAM TOTALS' "$results_dir/callgrind/change.txt" | awk '{gsub(",","",$1); print $1}')
echo "== $((total / changes)) instructions per change ($total over $changes changes, $ingresses Ingresses)"
grep -A "$((top + 2))" 'file:function' "$results_dir/callgrind/change.txt" | tail -n "$top" | cut -c1-200
mv "$dump" "$results_dir/callgrind/change.callgrind"; rm -f "$out"*
