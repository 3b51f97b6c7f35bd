"""What must hold between the releases of one scenario (one cluster): nothing shared, nothing selected
across releases, the CRD the same for all, an IngressClass owned once."""

from itertools import combinations

from kube import key, matches, pod_labels, selectors


def no_shared_object(rendered: list) -> list:
    """No (kind, namespace, name) is rendered by two releases: namespaced or cluster-scoped."""
    problems = []
    for a, b in combinations(rendered, 2):
        for shared in sorted({key(o) for o in a.objects} & {key(o) for o in b.objects}):
            problems.append(f"{a.release.name} and {b.release.name} both render {shared}")
    return problems


def no_selector_crosses_releases(rendered: list) -> list:
    """No selector of one release (Deployment, Service, PDB, NetworkPolicy, ServiceMonitor) matches a pod
    or Service of another release in the same namespace (selectors never reach across namespaces)."""
    problems = []
    for a in rendered:
        for b in rendered:
            if a is b or a.release.namespace != b.release.namespace:
                continue
            for obj in a.objects:
                for selector in selectors(obj):
                    for labels in pod_labels(b.objects):
                        if matches(selector, labels):
                            problems.append(f"{a.release.name} {key(obj)} selects {labels} of {b.release.name}")
    return problems


def crds_are_identical(rendered: list) -> list:
    """The CRDs (crds/, installed once, shared) are byte-for-byte the same for every release."""
    first = rendered[0].crds
    names = sorted(c["metadata"]["name"] for c in first)
    if names != ["wasmplugins.extensions.higress.io"]:
        return [f"crds/ holds {names}, want the WasmPlugin CRD only"]
    return [f"{r.release.name} renders other CRDs than {rendered[0].release.name}" for r in rendered[1:] if r.crds != first]


CHECKS = [no_shared_object, no_selector_crosses_releases, crds_are_identical]
