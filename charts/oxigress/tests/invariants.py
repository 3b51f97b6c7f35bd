"""What must hold for every release, whatever its values. Each check returns a list of problems."""

import yaml

from kube import CLUSTER_SCOPED, container, find, flags, key, of_kind, selectors

STREAM_TOKEN_FILE = "/etc/oxigress/stream-token/token"
INGRESS_GROUP = "networking.k8s.io"


def names_are_release_scoped(r) -> list:
    """Every name starts with the release; outside the release namespace with <release>-<namespace>."""
    rel, ns = r.release.name, r.release.namespace
    problems = []
    for obj in r.objects:
        kind, namespace, name = key(obj)
        if kind == "IngressClass":
            continue  # named by global.ingressClass, guarded against double ownership
        prefix = f"{rel}-{ns}-" if (kind in CLUSTER_SCOPED or namespace != ns) else f"{rel}-"
        if not (name.startswith(prefix) or (prefix == f"{rel}-" and name == rel)):
            problems.append(f"{kind} {namespace}/{name} does not start with {prefix!r}")
    return problems


def objects_carry_the_instance_label(r) -> list:
    rel = r.release.name
    return [f"{key(obj)} lacks the label app.kubernetes.io/instance={rel}" for obj in r.objects
            if (obj["metadata"].get("labels") or {}).get("app.kubernetes.io/instance") != rel]


def selectors_carry_the_instance(r) -> list:
    rel = r.release.name
    problems = []
    for obj in r.objects:
        for selector in selectors(obj):
            if selector.get("app.kubernetes.io/instance") != rel:
                problems.append(f"{key(obj)} selector {selector} lacks app.kubernetes.io/instance={rel}")
    return problems


def controller_args(r) -> list:
    rel, ns = r.release.name, r.release.namespace
    deployment = find(r.objects, "Deployment", f"{rel}-controller", ns)
    if not deployment:
        return [f"no Deployment {rel}-controller"]
    ctl = container(deployment, "controller")
    args = flags(ctl["args"])
    want = {
        "instance-name": rel, "instance-namespace": ns, "gateway-service": f"{rel}-gateway",
        "admin-bind": "0.0.0.0", "admin-port": "8888", "xds-port": "15051", "identity": "$(POD_NAME)",
        "stream-token-file": STREAM_TOKEN_FILE,
    }
    problems = [f"controller --{k}={args.get(k)}, want {v}" for k, v in want.items() if args.get(k) != v]
    if ctl["args"][0] != "controller":
        problems.append(f"controller runs {ctl['args'][0]!r}, not `oxigress controller`")
    for required in ("ingress-class", "enable-status"):
        if required not in args:
            problems.append(f"controller lacks --{required}")
    if args.get("enable-status") not in ("true", "false"):
        problems.append(f"--enable-status={args.get('enable-status')}")
    pod_name = next((e for e in ctl["env"] if e["name"] == "POD_NAME"), None)
    if not pod_name or pod_name.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") != "metadata.name":
        problems.append("controller POD_NAME is not from the downward API (metadata.name)")
    return problems


def gateway_args_and_ports(r) -> list:
    """The gateway dials its own controller Service; its listeners, container ports and Service agree."""
    rel, ns = r.release.name, r.release.namespace
    deployment = find(r.objects, "Deployment", f"{rel}-gateway", ns)
    if not deployment:
        return [f"no Deployment {rel}-gateway"]
    gw = container(deployment, "gateway")
    args = flags(gw["args"])
    problems = []
    if gw["args"][0] != "gateway":
        problems.append(f"gateway runs {gw['args'][0]!r}, not `oxigress gateway`")
    want = {"controller": f"{rel}-controller.{ns}.svc:15051", "instance-name": rel, "admin-bind": "0.0.0.0",
            "admin-port": "15021", "stream-token-file": STREAM_TOKEN_FILE}
    problems += [f"gateway --{k}={args.get(k)}, want {v}" for k, v in want.items() if args.get(k) != v]
    ports = {p["name"]: p["containerPort"] for p in gw["ports"]}
    for listener in ("http", "https"):
        if str(ports.get(listener)) != args.get(f"{listener}-port"):
            problems.append(f"gateway container port {listener}={ports.get(listener)} but --{listener}-port={args.get(f'{listener}-port')}")
    controller_service = find(r.objects, "Service", f"{rel}-controller", ns)
    if not controller_service or 15051 not in [p["port"] for p in controller_service["spec"]["ports"]]:
        problems.append(f"Service {rel}-controller does not expose 15051")
    service = find(r.objects, "Service", f"{rel}-gateway", ns)
    if service:
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            if target not in ports and target not in ports.values():
                problems.append(f"gateway Service port {port['name']} targets {target}, no such container port")
    return problems


def probes_use_the_admin_port(r) -> list:
    rel, ns = r.release.name, r.release.namespace
    problems = []
    for component, port in (("controller", 8888), ("gateway", 15021)):
        deployment = find(r.objects, "Deployment", f"{rel}-{component}", ns)
        c = container(deployment, component)
        admin = next(p["containerPort"] for p in c["ports"] if p["name"] == "admin")
        if admin != port:
            problems.append(f"{component} admin port {admin}, want {port}")
        ready = c["readinessProbe"]["httpGet"]
        if ready != {"path": "/healthz/ready", "port": "admin"}:
            problems.append(f"{component} readiness probe {ready}")
        if c["livenessProbe"]["httpGet"]["port"] != "admin":
            problems.append(f"{component} liveness probe not on the admin port")
    return problems


def gateway_has_no_api_access(r) -> list:
    rel, ns = r.release.name, r.release.namespace
    problems = []
    account = find(r.objects, "ServiceAccount", f"{rel}-gateway", ns)
    if not account or account.get("automountServiceAccountToken") is not False:
        problems.append("gateway ServiceAccount missing or automounts its token")
    pod = find(r.objects, "Deployment", f"{rel}-gateway", ns)["spec"]["template"]["spec"]
    if pod.get("serviceAccountName") != f"{rel}-gateway" or pod.get("automountServiceAccountToken") is not False:
        problems.append("gateway pod does not run as its own ServiceAccount without a token")
    for binding in of_kind(r.objects, "RoleBinding") + of_kind(r.objects, "ClusterRoleBinding"):
        for subject in binding.get("subjects") or []:
            if subject.get("name") == f"{rel}-gateway":
                problems.append(f"{binding['kind']} {binding['metadata']['name']} grants the gateway API access")
    return problems


def stream_token_is_a_mounted_secret(r) -> list:
    """Controller and gateway mount the same Secret at the token path: <release>-stream-token, rendered
    with a token, unless streamToken.existingSecret names the user's own (then nothing is rendered)."""
    rel, ns = r.release.name, r.release.namespace
    problems, mounted = [], set()
    for component in ("controller", "gateway"):
        deployment = find(r.objects, "Deployment", f"{rel}-{component}", ns)
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        mounts = {m["name"]: m for m in container(deployment, component)["volumeMounts"]}
        mounted.add(volumes.get("stream-token", {}).get("secret", {}).get("secretName"))
        if f"{mounts.get('stream-token', {}).get('mountPath')}/token" != STREAM_TOKEN_FILE:
            problems.append(f"{component} does not mount the stream token at {STREAM_TOKEN_FILE}")
    if len(mounted) != 1 or None in mounted:
        return problems + [f"controller and gateway mount different token Secrets: {mounted}"]
    name = mounted.pop()
    secret = find(r.objects, "Secret", name, ns)
    if name == f"{rel}-stream-token" and not (secret and secret.get("data", {}).get("token")):
        problems.append(f"Secret {name} is not rendered with a token")
    if name != f"{rel}-stream-token" and secret:
        problems.append(f"the chart renders the existing Secret {name}")
    return problems


def pods_are_locked_down(r) -> list:
    rel, ns = r.release.name, r.release.namespace
    problems = []
    for component in ("controller", "gateway"):
        pod = find(r.objects, "Deployment", f"{rel}-{component}", ns)["spec"]["template"]["spec"]
        if pod["securityContext"].get("runAsUser") != 65532 or not pod["securityContext"].get("runAsNonRoot"):
            problems.append(f"{component} pod is not non-root 65532")
        sc = container({"spec": {"template": {"spec": pod}}}, component)["securityContext"]
        if not sc.get("readOnlyRootFilesystem") or sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{component} container root filesystem writable or privilege escalation allowed")
    return problems


def grants_ingresses(rules: list) -> bool:
    return any(INGRESS_GROUP in rule.get("apiGroups", []) and
               ({"ingresses", "*"} & set(rule.get("resources", []))) for rule in rules)


def rbac_follows_watch_namespace(r) -> list:
    """watchNamespace set: a Role + RoleBinding with Ingress access in each watched namespace and no
    ClusterRoleBinding granting Ingress access. Unset: a ClusterRoleBinding does."""
    rel, ns = r.release.name, r.release.namespace
    ctl = container(find(r.objects, "Deployment", f"{rel}-controller", ns), "controller")
    watched = [n for n in flags(ctl["args"]).get("watch-namespace", "").split(",") if n]
    cluster_roles = {c["metadata"]["name"]: c for c in of_kind(r.objects, "ClusterRole")}
    cluster_ingress = [b["metadata"]["name"] for b in of_kind(r.objects, "ClusterRoleBinding")
                       if grants_ingresses(cluster_roles.get(b["roleRef"]["name"], {}).get("rules", []))]
    problems = []
    if not watched:
        return [] if cluster_ingress else ["watching all namespaces but no ClusterRoleBinding grants Ingress access"]
    if cluster_ingress:
        problems.append(f"watchNamespace is set but ClusterRoleBindings {cluster_ingress} grant Ingress access")
    for namespace in watched:
        roles = [o for o in of_kind(r.objects, "Role") if o["metadata"]["namespace"] == namespace and grants_ingresses(o["rules"])]
        bound = [b for b in of_kind(r.objects, "RoleBinding") if b["metadata"]["namespace"] == namespace
                 and b["roleRef"]["name"] in [x["metadata"]["name"] for x in roles]
                 and {"kind": "ServiceAccount", "name": f"{rel}-controller", "namespace": ns} in b["subjects"]]
        if not roles or not bound:
            problems.append(f"no Role + RoleBinding granting the controller Ingress access in {namespace}")
    extra = {o["metadata"]["namespace"] for o in of_kind(r.objects, "Role") if grants_ingresses(o["rules"])} - set(watched)
    if extra:
        problems.append(f"Ingress access granted in namespaces not watched: {sorted(extra)}")
    return problems


def leases_and_events_in_the_release_namespace(r) -> list:
    rel, ns = r.release.name, r.release.namespace
    role = find(r.objects, "Role", f"{rel}-controller-self", ns)
    if not role:
        return [f"no Role {rel}-controller-self"]
    granted = {(res, verb) for rule in role["rules"] for res in rule["resources"] for verb in rule["verbs"]}
    want = {("leases", "create"), ("leases", "get"), ("leases", "update"), ("events", "create"), ("wasmplugins", "watch")}
    return [f"{rel}-controller-self lacks {sorted(want - granted)}"] if want - granted else []


# Keys of the gateway ConfigMap's `higress` data the chart renders (Higress's configmap.yaml).
GATEWAY_CONFIG_KEYS = {"downstream", "upstream", "gzip", "tracing"}


def gateway_config_map_is_the_one_the_instance_reads(r) -> list:
    """A ConfigMap named `<instance-name>-config` (what the controller of --instance-name reads first,
    docs/gateway-config.md), labelled for this instance, whose `higress` key is a YAML mapping of Higress's
    keys with Higress's defaults where no value says otherwise."""
    rel, ns = r.release.name, r.release.namespace
    ctl = container(find(r.objects, "Deployment", f"{rel}-controller", ns), "controller")
    name = f"{flags(ctl['args']).get('instance-name')}-config"
    config_map = find(r.objects, "ConfigMap", name, ns)
    if not config_map:
        return [f"no ConfigMap {ns}/{name}, the name the instance reads"]
    problems = []
    if (config_map["metadata"].get("labels") or {}).get("oxigress.io/instance") != rel:
        problems.append(f"ConfigMap {name} lacks the label oxigress.io/instance={rel}")
    try:
        data = yaml.safe_load((config_map.get("data") or {}).get("higress", ""))
    except yaml.YAMLError as error:
        return problems + [f"ConfigMap {name} data.higress is not YAML: {error}"]
    if not isinstance(data, dict):
        return problems + [f"ConfigMap {name} data.higress is not a mapping: {data!r}"]
    if set(data) - GATEWAY_CONFIG_KEYS:
        problems.append(f"ConfigMap {name} data.higress has keys the chart does not render: {sorted(set(data) - GATEWAY_CONFIG_KEYS)}")
    for section in ("downstream", "upstream", "gzip"):
        if not isinstance(data.get(section), dict):
            problems.append(f"ConfigMap {name} data.higress lacks {section}")
    return problems


CHECKS = [
    names_are_release_scoped, objects_carry_the_instance_label, selectors_carry_the_instance, controller_args,
    gateway_args_and_ports, probes_use_the_admin_port, gateway_has_no_api_access, stream_token_is_a_mounted_secret,
    pods_are_locked_down, rbac_follows_watch_namespace, leases_and_events_in_the_release_namespace,
    gateway_config_map_is_the_one_the_instance_reads,
]
