#!/usr/bin/env python3
"""The chart test: renders every scenario's `helm install` commands with real Helm, offline, and checks
them (see README.md beside this file). Usage: run.py HELM [HELM3]: HELM is Helm 4;
HELM3, when given, must render the same objects and fail on the same values. Prints one line per failed check and a closing
`N passed, N failed`; exits 1 when any check failed."""

import re
import sys
import tempfile
import time
from pathlib import Path

import yaml

import compat
import expect
import helm
import invariants
import isolation
import schemas
from fake_apiserver import FakeApiServer
from kube import key

SCENARIOS = helm.TESTS / "scenarios"
DOCS = helm.REPO / "docs" / "multi-instance.md"
GUARD = ("--set", "ingressClassResource.enabled=false")


class Tally:
    def __init__(self):
        self.passed, self.failed = 0, 0

    def check(self, name: str, problems: list):
        if problems:
            self.failed += 1
            print(f"FAIL {name}")
            for problem in problems:
                print(f"     {problem}")
        else:
            self.passed += 1


def render_release(h: str, h3: str | None, entry: dict, scenario: str, tally: Tally):
    """Renders one release as its command says (and as a cluster whose IngressClass exists would), runs
    the per-release checks; returns what the scenario's cluster would hold, or None."""
    release = helm.parse_install(entry["command"])
    name = f"{scenario}/{release.name}@{release.namespace}"
    try:
        rendered = helm.render(h, release)
    except RuntimeError as error:
        tally.check(f"{name}: renders", [str(error)])
        return None
    tally.check(f"{name}: renders", [])
    tally.check(f"{name}: helm lint --strict", helm.lint(h, release))
    if h3:
        try:
            tally.check(f"{name}: Helm 3 renders the same", compat.differences(rendered.objects + rendered.crds, helm.template(h3, release)))
        except RuntimeError as error:
            tally.check(f"{name}: Helm 3 renders the same", [str(error)])
        tally.check(f"{name}: Helm 3 lint --strict", helm.lint(h3, release))
    tally.check(f"{name}: schema-valid (Kubernetes {schemas.KUBERNETES_VERSION})", schemas.invalid(rendered.objects + rendered.crds))
    for check in invariants.CHECKS:
        tally.check(f"{name}: {check.__name__}", check(rendered))
    if "notes_contain" in entry:
        tally.check(f"{name}: NOTES", [] if entry["notes_contain"] in rendered.notes else [f"NOTES lack {entry['notes_contain']!r}"])
    if entry.get("lookup_finds_ingress_class"):
        guarded = helm.render(h, release, GUARD)
        difference = {key(o) for o in rendered.objects} ^ {key(o) for o in guarded.objects}
        tally.check(f"{name}: an existing IngressClass is skipped, nothing else changes",
                    [] if len(difference) == 1 and next(iter(difference))[0] == "IngressClass" else [f"difference {difference}"])
        rendered = guarded
    tally.check(f"{name}: expectations", expect.unmet(rendered.objects, release.namespace, entry.get("expect", [])))
    return rendered


def run_lookups(helms: list, data: dict, scenario: str, tally: Tally):
    """`lookups:` entries rendered against a fake API server holding the scenario's `cluster:` objects."""
    with tempfile.TemporaryDirectory() as workdir:
        server = FakeApiServer(data.get("cluster", []), Path(workdir))
        try:
            for entry in data.get("lookups", []):
                release = helm.parse_install(entry["command"])
                for version, h in helms:
                    name = f"{scenario}/{release.name}@{release.namespace} ({version}, lookup sees the cluster)"
                    done = helm.template_against(h, release, str(server.kubeconfig))
                    if done.returncode != 0:
                        errors = [line for line in done.stderr.splitlines() if "Error" in line]
                        tally.check(name, errors or [done.stderr.strip()])
                        continue
                    objects = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
                    tally.check(name, expect.unmet(objects, release.namespace, entry.get("expect", [])))
        finally:
            server.stop()


def run_scenario(h: str, h3: str | None, path: Path, tally: Tally) -> list:
    data = yaml.safe_load(path.read_text())
    scenario = path.stem
    cluster = [r for r in (render_release(h, h3, e, scenario, tally) for e in data.get("releases", [])) if r]
    if len(cluster) > 1:
        for check in isolation.CHECKS:
            tally.check(f"{scenario}: {check.__name__}", check(cluster))
    if "lookups" in data:
        run_lookups([("Helm 4", h)] + ([("Helm 3", h3)] if h3 else []), data, scenario, tally)
    for entry in data.get("failures", []):
        release = helm.parse_install(entry["command"])
        problems = []
        attempts = [("Helm 4", helm.install_dry_run(h, release))]
        if h3:
            attempts.append(("Helm 3", helm.run(h3, ["template", release.name, release.chart, "-n", release.namespace, *release.value_args])))
        for version, done in attempts:
            if done.returncode == 0:
                problems.append(f"{version} rendered, want a failure")
            elif entry["error"] not in done.stderr:
                problems.append(f"{version} error {done.stderr.strip()!r} lacks {entry['error']!r}")
        tally.check(f"{scenario}: fails: {entry['command'][len('helm install x charts/oxigress -n x '):]}", problems)
    return [e["command"] for e in data.get("releases", []) + data.get("lookups", []) + data.get("failures", [])]


def documented_commands() -> list:
    """Every `helm install` of docs/multi-instance.md (backslash continuations joined)."""
    text = DOCS.read_text().replace("\\\n", " ")
    return [" ".join(m.split()) for m in re.findall(r"^\s*(helm install [^\n#]*)", text, re.M)]


def main() -> int:
    h = sys.argv[1]
    h3 = sys.argv[2] if len(sys.argv) > 2 else None
    started = time.monotonic()
    tally = Tally()
    tally.check("chart defaults: helm lint --strict", helm.lint(h, helm.parse_install("helm install oxigress charts/oxigress")))
    tested = []
    for path in sorted(SCENARIOS.glob("*.yaml")):
        tested += [" ".join(c.split()) for c in run_scenario(h, h3, path, tally)]
    documented = documented_commands()
    tally.check("docs/multi-instance.md: every helm install is a tested scenario",
                [f"untested: {c}" for c in documented if c not in tested] or ([] if documented else ["no helm install found"]))
    print(f"chart test: {time.monotonic() - started:.1f}s")
    print(f"{tally.passed} passed, {tally.failed} failed")
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
