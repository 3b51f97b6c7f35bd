"""Helm 3 renders what Helm 4 renders. The random stream token (and the checksum derived from it) differ
between any two renders and are left out of the comparison."""

import copy

from kube import key


def _stable(objects: list) -> dict:
    out = {}
    for obj in objects:
        obj = copy.deepcopy(obj)
        if obj["kind"] == "Secret":
            obj.pop("data", None)
        template = obj.get("spec", {}).get("template", {}).get("metadata", {})
        (template.get("annotations") or {}).pop("checksum/stream-token", None)
        out[key(obj)] = obj
    return out


def differences(helm4_objects: list, helm3_objects: list) -> list:
    a, b = _stable(helm4_objects), _stable(helm3_objects)
    problems = [f"only Helm 4 renders {k}" for k in sorted(a.keys() - b.keys())]
    problems += [f"only Helm 3 renders {k}" for k in sorted(b.keys() - a.keys())]
    problems += [f"Helm 3 and 4 render {k} differently" for k in sorted(a.keys() & b.keys()) if a[k] != b[k]]
    return problems
