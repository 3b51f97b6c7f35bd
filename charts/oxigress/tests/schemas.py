"""Every rendered object against the Kubernetes 1.33 OpenAPI schemas (kubernetes-validate, offline,
strict: unknown fields are errors). Kinds without a bundled schema must be listed here."""

import functools

import kubernetes_validate
import kubernetes_validate.utils as utils

KUBERNETES_VERSION = "1.33.0"
# prometheus-operator's CRD kind: checked for shape by the scenario expectations instead.
NO_SCHEMA = {("monitoring.coreos.com/v1", "ServiceMonitor")}

# The schema files are large; read each once.
utils.schema_contents = functools.lru_cache(maxsize=None)(utils.schema_contents)


def invalid(objects: list) -> list:
    problems = []
    for obj in objects:
        if (obj["apiVersion"], obj["kind"]) in NO_SCHEMA:
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = "/".join(str(p) for p in error.path)
            problems.append(f"{obj['kind']} {obj['metadata'].get('name')}: {where}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            problems.append(f"{obj['kind']} {obj['metadata'].get('name')}: {error.message}")
    return problems
