#!/usr/bin/env python3
"""Generates N Ingresses (each with its own Service and EndpointSlice, host app-I.bench.local, all pointing at
one backend 127.0.0.1:PORT) into DIR as files of 100 Ingresses each, and optionally the equivalent nginx.conf
(one server block per host, the same backend).

  gen_manifests.py manifests DIR N BACKEND_PORT
  gen_manifests.py nginx FILE N BACKEND_PORT LISTEN_PORT INCLUDE_GLOB
  gen_manifests.py ingress I BACKEND_PORT      -> one more Ingress (host change-I.bench.local) on stdout
  gen_manifests.py catch-all DIR BACKEND_PORT  -> one Ingress for every host
  gen_manifests.py plugins DIR CHAIN           -> the WasmPlugins of a benchmark chain into DIR: CHAIN is
      empty, request-block (20 rules, none matching an ordinary request) or auth (request-block + key-auth;
      requests carry `x-api-key: token-two`, see AUTH_HEADER) or body (request-block with block_bodies:
      the whole request body is read and searched for `forbidden-word`)
"""
import os
import sys

HEADER = """apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: higress}
"""


def app(i, port, host=None, name=None):
    host = host or f"app-{i}.bench.local"
    name = name or f"app-{i}"
    return f"""---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: bench}}
spec: {{ports: [{{port: 80}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: {name}-1, namespace: bench, labels: {{kubernetes.io/service-name: {name}}}}}
addressType: IPv4
ports: [{{name: "", port: {port}}}]
endpoints: [{{addresses: ["127.0.0.1"]}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: {name}, namespace: bench}}
spec:
  ingressClassName: higress
  rules:
  - host: {host}
    http: {{paths: [{{path: /, pathType: Prefix, backend: {{service: {{name: {name}, port: {{number: 80}}}}}}}}]}}
"""


AUTH_HEADER = "x-api-key: token-two"

def wasm_plugin(name, config):
    """A WasmPlugin `name` (the built-in of that name) in higress-system, `config` its defaultConfig lines."""
    return """apiVersion: extensions.higress.io/v1alpha1
kind: WasmPlugin
metadata: {name: %s, namespace: higress-system}
spec:
  url: oci://higress-registry.cn-hangzhou.cr.aliyuncs.com/plugins/%s:1.0.0
  defaultConfig:
%s""" % (name, name, "".join(f"    {line}\n" for line in config))


REQUEST_BLOCK = wasm_plugin("request-block", [
    "block_urls: [%s]" % ", ".join(f"/blocked-{i}" for i in range(1, 11)),
    "block_regexp_urls: [%s]" % ", ".join(f'"^/re-{i}/.*"' for i in range(1, 6)),
    "block_headers: [%s]" % ", ".join(f"bad-agent-{i}" for i in range(1, 6)),
])

BODY_BLOCK = wasm_plugin("request-block", ["block_bodies: [forbidden-word]"])

KEY_AUTH = wasm_plugin("key-auth", [
    "global_auth: true",
    "keys: [x-api-key]",
    "in_header: true",
    "consumers: [{name: consumer1, credential: token-one}, {name: consumer2, credential: token-two}]",
])


def plugins(directory, chain):
    files = {"empty": {}, "request-block": {"request-block": REQUEST_BLOCK},
             "auth": {"request-block": REQUEST_BLOCK, "key-auth": KEY_AUTH},
             "body": {"request-block": BODY_BLOCK}}[chain]
    os.makedirs(directory, exist_ok=True)
    for name, text in files.items():
        with open(os.path.join(directory, f"plugin-{name}.yaml"), "w") as f:
            f.write(text)


def manifests(directory, n, port):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "class.yaml"), "w") as f:
        f.write(HEADER)
    for start in range(0, n, 100):
        with open(os.path.join(directory, f"apps-{start // 100:04d}.yaml"), "w") as f:
            for i in range(start, min(n, start + 100)):
                f.write(app(i, port))


def nginx(path, n, port, listen, include):
    with open(path, "w") as f:
        f.write(f"""worker_processes 1;
user root;
pid {os.path.dirname(path)}/nginx.pid;
error_log {os.path.dirname(path)}/error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    server_names_hash_max_size 65536;
    server_names_hash_bucket_size 128;
    upstream backend {{ server 127.0.0.1:{port}; keepalive 64; }}
    server {{ listen 127.0.0.1:{listen} default_server; return 404; }}
    include {include};
""")
        for i in range(n):
            f.write(f"    server {{ listen 127.0.0.1:{listen}; server_name app-{i}.bench.local; "
                    "location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }\n")
        f.write("}\n")


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "manifests":
        manifests(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif mode == "nginx":
        nginx(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
    elif mode == "catch-all":
        os.makedirs(sys.argv[2], exist_ok=True)
        text = HEADER + app(0, int(sys.argv[3]))
        text = text.replace("  - host: app-0.bench.local\n    http:", "  - http:")
        with open(os.path.join(sys.argv[2], "app.yaml"), "w") as f:
            f.write(text)
    elif mode == "plugins":
        plugins(sys.argv[2], sys.argv[3])
    elif mode == "ingress":
        i = int(sys.argv[2])
        sys.stdout.write(app(i, int(sys.argv[3]), host=f"change-{i}.bench.local", name=f"change-{i}"))
    else:
        sys.exit(f"unknown mode {mode}")
