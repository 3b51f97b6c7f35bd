"""Small helpers over rendered Kubernetes objects: keys, lookups, paths, label selectors."""

import re

CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "IngressClass", "CustomResourceDefinition",
                  "Namespace", "PriorityClass", "StorageClass"}


def key(obj: dict) -> tuple:
    """(kind, namespace, name); namespace "" for cluster-scoped kinds."""
    meta = obj["metadata"]
    namespace = "" if obj["kind"] in CLUSTER_SCOPED else meta.get("namespace", "")
    return obj["kind"], namespace, meta["name"]


def find(objects: list, kind: str, name: str, namespace: str) -> dict | None:
    for obj in objects:
        if key(obj) == (kind, namespace, name):
            return obj
    return None


def of_kind(objects: list, kind: str) -> list:
    return [obj for obj in objects if obj["kind"] == kind]


def container(deployment: dict, name: str) -> dict:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == name)


def flags(args: list) -> dict:
    """`--name=value` arguments as a dict (a bare `--flag` maps to "")."""
    out = {}
    for arg in args:
        if arg.startswith("--"):
            name, _, value = arg[2:].partition("=")
            out[name] = value
    return out


_SEGMENT = re.compile(r"^([^\[\]]+)?((?:\[[^\]]+\])*)$")
MISSING = object()


def get_path(obj, path: str):
    """`a.b[0].c[name=x].d` (a `[k=v]` picks the list item whose k is v); MISSING when absent."""
    current = obj
    for segment in path.split("."):
        match = _SEGMENT.match(segment)
        if not match:
            raise ValueError(f"bad path segment {segment!r} in {path!r}")
        name, selectors = match.groups()
        if name is not None:
            if not isinstance(current, dict) or name not in current:
                return MISSING
            current = current[name]
        for selector in re.findall(r"\[([^\]]+)\]", selectors or ""):
            if not isinstance(current, list):
                return MISSING
            if "=" in selector:
                field, _, want = selector.partition("=")
                current = next((item for item in current if str(item.get(field)) == want), MISSING)
            else:
                index = int(selector)
                current = current[index] if index < len(current) else MISSING
            if current is MISSING:
                return MISSING
    return current


def selectors(obj: dict) -> list:
    """The label selectors an object uses to pick pods (or Services, for a ServiceMonitor)."""
    spec = obj.get("spec") or {}
    kind = obj["kind"]
    if kind == "Service":
        return [spec["selector"]] if spec.get("selector") else []
    if kind in ("Deployment", "PodDisruptionBudget", "ServiceMonitor"):
        return [spec["selector"]["matchLabels"]]
    if kind == "NetworkPolicy":
        found = [spec["podSelector"]["matchLabels"]]
        for rule in spec.get("ingress") or []:
            found += [peer["podSelector"]["matchLabels"] for peer in rule.get("from") or [] if "podSelector" in peer]
        return found
    return []


def pod_labels(objects: list) -> list:
    """Labels of every pod template (and every Service, which ServiceMonitors select)."""
    labels = [d["spec"]["template"]["metadata"]["labels"] for d in of_kind(objects, "Deployment")]
    labels += [s["metadata"].get("labels") or {} for s in of_kind(objects, "Service")]
    return labels


def matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())
