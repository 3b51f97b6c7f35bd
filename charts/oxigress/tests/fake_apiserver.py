"""A minimal Kubernetes API server on 127.0.0.1 for `helm template --dry-run=server`: discovery for the
kinds the chart renders, GET of the objects it is given (what `lookup` finds), 404 for anything else."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# groupVersion → (plural, kind, namespaced)
RESOURCES = {
    "v1": [("secrets", "Secret", True), ("services", "Service", True), ("serviceaccounts", "ServiceAccount", True),
           ("configmaps", "ConfigMap", True), ("namespaces", "Namespace", False)],
    "apps/v1": [("deployments", "Deployment", True)],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget", True)],
    "autoscaling/v2": [("horizontalpodautoscalers", "HorizontalPodAutoscaler", True)],
    "networking.k8s.io/v1": [("ingressclasses", "IngressClass", False), ("networkpolicies", "NetworkPolicy", True)],
    "rbac.authorization.k8s.io/v1": [("roles", "Role", True), ("rolebindings", "RoleBinding", True),
                                     ("clusterroles", "ClusterRole", False),
                                     ("clusterrolebindings", "ClusterRoleBinding", False)],
}


def object_path(obj: dict) -> str:
    gv = obj["apiVersion"]
    plural, _, namespaced = next(r for r in RESOURCES[gv] if r[1] == obj["kind"])
    base = "/api/v1" if gv == "v1" else f"/apis/{gv}"
    scope = f"/namespaces/{obj['metadata']['namespace']}" if namespaced else ""
    return f"{base}{scope}/{plural}/{obj['metadata']['name']}"


def _discovery(path: str):
    if path == "/version":
        return {"major": "1", "minor": "33", "gitVersion": "v1.33.0"}
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
    if path == "/apis":
        groups = []
        for gv in RESOURCES:
            if "/" in gv:
                version = {"groupVersion": gv, "version": gv.split("/")[1]}
                groups.append({"name": gv.split("/")[0], "versions": [version], "preferredVersion": version})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
    for gv, resources in RESOURCES.items():
        if path == ("/api/v1" if gv == "v1" else f"/apis/{gv}"):
            return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": [
                {"name": plural, "singularName": "", "namespaced": namespaced, "kind": kind, "verbs": ["get", "list"]}
                for plural, kind, namespaced in resources]}
    return None


class FakeApiServer:
    """Serves `objects` until stopped; `kubeconfig` is a file pointing at it."""

    def __init__(self, objects: list, workdir: Path):
        by_path = {object_path(o): o for o in objects}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path.split("?")[0]
                body = _discovery(path) or by_path.get(path)
                if body is None and path.endswith("/secrets"):
                    body = {"kind": "SecretList", "apiVersion": "v1", "items": []}  # Helm's release storage
                code = 200 if body is not None else 404
                data = json.dumps(body if body is not None else
                                  {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.kubeconfig = workdir / "kubeconfig"
        self.kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{self.server.server_address[1]}"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
            "users": [{"name": "fake", "user": {}}],
        }))

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
