#!/usr/bin/env bash
# Two isolated gateway instances over one manifests folder, with echo backends and an LLM stand-in:
#   higress-prod: HTTP 8080, HTTPS 8443, admin 15021, serves IngressClass higress-prod (+ ai-proxy to qwen)
#   higress-test: HTTP 8081, HTTPS 8444, admin 15022, serves IngressClass higress-test
# Ctrl-C stops everything.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."
scripts/install-build-deps
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/oxigress-target}"
cargo build --release -p oxigress
bin="$CARGO_TARGET_DIR/release/oxigress"
manifests="$here/manifests"

pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null' EXIT INT TERM
"$bin" echo --port 9101 --namespace shop-prod --pod shop-prod-7d9f-x1 --service shop & pids+=($!)
"$bin" echo --port 9102 --namespace shop-test --pod shop-test-5c2a-y2 --service shop & pids+=($!)
"$bin" echo --port 9103 --namespace legacy --pod legacy-1b3c-z3 --service legacy & pids+=($!)
"$bin" llm-mock --port 9104 --name llm-mock & pids+=($!)
"$bin" standalone --manifests "$manifests" --instance-name higress-prod --ingress-class higress-prod \
    --http-port 8080 --https-port 8443 --admin-port 15021 & pids+=($!)
"$bin" standalone --manifests "$manifests" --instance-name higress-test --ingress-class higress-test \
    --http-port 8081 --https-port 8444 --admin-port 15022 & pids+=($!)

for port in 15021 15022; do
    for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/healthz/ready" >/dev/null 2>&1 && break; sleep 0.1; done
done
cat <<MSG

Both instances are ready. Try:
  curl -H 'Host: shop.example.com'      http://127.0.0.1:8080/   # prod instance -> shop-prod
  curl -k --http2 --resolve shop.example.com:8443:127.0.0.1 https://shop.example.com:8443/   # TLS by SNI, h2
  curl -H 'Host: shop.test.example.com' http://127.0.0.1:8080/   # 404: not prod's class
  curl -H 'Host: shop.test.example.com' http://127.0.0.1:8081/   # test instance -> shop-test
  curl -H 'Host: shop.example.com'      http://127.0.0.1:8080/admin   # 403: prod's request-block plugin
  curl -H 'Host: shop.test.example.com' http://127.0.0.1:8081/admin   # 200: the plugin is prod's only
  curl -H 'Host: legacy.example.com'    http://127.0.0.1:8081/   # 404: class nginx, served by neither
  curl -H 'Host: llm.example.com' -H 'Content-Type: application/json' http://127.0.0.1:8080/v1/chat/completions \\
       -d '{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}]}'   # prod's ai-proxy -> qwen-max
  curl -H 'Host: llm.test.example.com' -H 'Content-Type: application/json' http://127.0.0.1:8081/v1/chat/completions \\
       -d '{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}]}'   # 401: test adds no key
  curl -N -H 'Host: llm.example.com' -H 'Content-Type: application/json' http://127.0.0.1:8080/v1/chat/completions \\
       -d '{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hello"}]}'   # SSE
  curl -s http://127.0.0.1:15021/metrics | grep oxigress_ai_   # LLM requests, tokens, time to first token
  curl http://127.0.0.1:15021/debug/config        # prod's routes, each with its owning Ingress
  curl http://127.0.0.1:15022/debug/diagnostics   # problems the test instance found
Edit $manifests/*.yaml: changes apply within a second. Ctrl-C stops.
MSG
wait
