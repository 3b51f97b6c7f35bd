#!/usr/bin/env bash
# Profile-guided build of oxigress (PGO). An instrumented release build serves a training load in front of
# an nginx backend (every scenario of bench/proxy.sh: HTTP/1.1 keep-alive and `Connection: close`, small
# and 64 KiB, HTTP/1.1 and h2 over TLS; then the request-block + key-auth chain, with and without the key),
# LLVM merges what it counted, and the release build is redone with that profile: the code a request runs
# is laid out together and inlined by measured frequency. Why it matters: a proxied request misses the
# 32 KiB L1 instruction cache ~2,400 times (callgrind's cache simulation; nginx ~730): its code is spread
# over far more than the cache holds, and the kernel's runs between every two system calls. With the
# profile: ~1,300 (bench/README.md, session 20).
#
# Usage: bench/pgo.sh [--secs S]    (S seconds per training load, default 3; about 20 minutes on 2 cores)
#   Prints the PGO binary's path on its last line; bench/proxy.sh takes it as OXIGRESS_BIN.
#   Needs rustup's llvm-tools component (llvm-profdata of rustc's own LLVM; added when missing).
#   Target dir: OXIGRESS_PGO_TARGET (default $HOME/.cache/oxigress-pgo): apart from the plain build's,
#   since the flags differ. The profile stays there as pgo/oxigress-<hash>.profdata.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

secs=3
while [ $# -gt 0 ]; do
    case "$1" in
        --secs) secs=$2; shift ;;
        *) echo "unknown flag $1" >&2; exit 2 ;;
    esac
    shift
done

need_apt nginx-light:nginx wrk:wrk nghttp2-client:h2load openssl:openssl
host=$(rustc -vV | awk '/^host:/ {print $2}')
profdata_tool="$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata"
[ -x "$profdata_tool" ] || rustup component add llvm-tools >&2
target_dir=${OXIGRESS_PGO_TARGET:-$HOME/.cache/oxigress-pgo}
binary="$target_dir/$host/release/oxigress"
work="$bench_work"

# With --target, RUSTFLAGS reach only the binary's code, not build scripts and proc macros.
build() { # rustflags
    echo "building oxigress with RUSTFLAGS=$1" >&2
    (cd "$bench_root" && RUSTFLAGS="$1" CARGO_TARGET_DIR="$target_dir" \
        cargo build --release -q -p oxigress --target "$host" >&2)
}

raw="$work/profraw"
build "-Cprofile-generate=$raw"

make_bench_cert "$work"
start_backend
write_bench_ingress "$work/plain" "$work"
mkdir -p "$work/plugins"
cp "$work/plain/app.yaml" "$work/plugins/"
python3 "$bench_root/bench/gen_manifests.py" plugins "$work/plugins" auth
auth_header=$(bench_auth_header)

# Serves the manifests in DIR while `loads` runs, then stops (the profile is written at a clean exit).
train() { # dir loads
    local http https pid
    http=$(free_port); https=$(free_port)
    RUST_LOG=warn "$binary" standalone --manifests "$1" --bind 127.0.0.1 --http-port "$http" \
        --https-port "$https" --admin-port "$(free_port)" --threads 1 2>"$work/train.log" & pid=$!
    wait_until 30 curl -fs -o /dev/null -H "$auth_header" "http://127.0.0.1:$http/small" \
        || { echo "the instrumented oxigress does not proxy: $(tail -5 "$work/train.log")" >&2; exit 1; }
    "$2" "$http" "$https"
    kill -INT "$pid"
    wait "$pid" || true
}
plain_loads() { # http_port https_port
    local d="${secs}s"
    wrk -t1 -c32 -d"$d" "http://127.0.0.1:$1/small" >/dev/null
    wrk -t1 -c32 -d"$d" "http://127.0.0.1:$1/64k" >/dev/null
    wrk -t1 -c32 -d"$d" -H 'Connection: close' "http://127.0.0.1:$1/small" >/dev/null
    wrk -t1 -c32 -d"$d" "https://127.0.0.1:$2/small" >/dev/null
    h2load -t1 -c32 -m1 -D "$secs" "https://127.0.0.1:$2/small" >/dev/null
    h2load -t1 -c32 -m1 -D "$secs" "https://127.0.0.1:$2/64k" >/dev/null
}
plugin_loads() { # http_port https_port
    wrk -t1 -c32 -d"${secs}s" -H "$auth_header" "http://127.0.0.1:$1/small" >/dev/null
    wrk -t1 -c8 -d1s "http://127.0.0.1:$1/small" >/dev/null # 401: no key
}
train "$work/plain" plain_loads
train "$work/plugins" plugin_loads

ls "$raw"/*.profraw >/dev/null 2>&1 || { echo "no profile written under $raw" >&2; exit 1; }
mkdir -p "$target_dir/pgo"
"$profdata_tool" merge -o "$work/merged.profdata" "$raw"
# Named by content: cargo does not look into files named in RUSTFLAGS, so a new profile needs a new name.
profile="$target_dir/pgo/oxigress-$(sha256sum "$work/merged.profdata" | cut -c1-16).profdata"
mv "$work/merged.profdata" "$profile"
build "-Cprofile-use=$profile"
echo "$binary"
