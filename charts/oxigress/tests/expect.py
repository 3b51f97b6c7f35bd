"""A scenario's `expect:` entries: {kind, name, namespace (default: the release's), path, and one of
equals / contains / absent}. Without a path, `absent: true` means the object is not rendered. With
`yaml: PATH` the value at `path` is a YAML document (e.g. a ConfigMap's data key) and PATH is looked up
in it."""

import yaml

from kube import MISSING, find, get_path


def unmet(objects: list, release_namespace: str, expectations: list) -> list:
    problems = []
    for e in expectations:
        namespace = e.get("namespace", release_namespace)
        obj = find(objects, e["kind"], e["name"], namespace)
        where = f"{e['kind']} {namespace}/{e['name']}"
        if "path" not in e:
            if e.get("absent") and obj is not None:
                problems.append(f"{where} is rendered, want it absent")
            elif not e.get("absent") and obj is None:
                problems.append(f"{where} is not rendered")
            continue
        if obj is None:
            problems.append(f"{where} is not rendered")
            continue
        value = get_path(obj, e["path"])
        label = f"{where} {e['path']}"
        if "yaml" in e and isinstance(value, str):
            value = get_path(yaml.safe_load(value) or {}, e["yaml"])
            label = f"{label} (YAML) {e['yaml']}"
        elif "yaml" in e:
            value = MISSING
        if e.get("absent"):
            if value is not MISSING:
                problems.append(f"{label} = {value!r}, want it absent")
        elif value is MISSING:
            problems.append(f"{label} is absent")
        elif "equals" in e and str(value) != str(e["equals"]) and value != e["equals"]:
            problems.append(f"{label} = {value!r}, want {e['equals']!r}")
        elif "contains" in e and e["contains"] not in value:
            problems.append(f"{label} = {value!r}, want it to contain {e['contains']!r}")
    return problems
