"""Real Helm on the scenarios' install commands, offline.

An install command runs as written, plus `--dry-run=client -o json` (Helm renders it exactly as it would
install it, NOTES included, without a cluster); a `-f FILE` is read from scenarios/values/. The same value
flags also go through `helm lint --strict`.
"""

import base64
import json
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parents[2]
VALUES_DIR = TESTS / "scenarios" / "values"

# Flags of `helm install` that carry no values and change nothing offline.
NO_VALUE_FLAGS = {"--create-namespace", "--wait", "--atomic"}
VALUE_FLAGS = {"--set", "--set-string", "--set-json", "--set-file", "-f", "--values"}


@dataclass
class Release:
    """One `helm install`: its name, namespace, chart, and the flags that carry values."""

    command: str
    name: str
    namespace: str
    chart: str
    value_args: list = field(default_factory=list)


@dataclass
class Rendered:
    """What Helm rendered for a release: the objects of templates/, the CRDs of crds/, NOTES.txt."""

    release: Release
    objects: list
    crds: list
    notes: str


def parse_install(command: str) -> Release:
    words = shlex.split(command)
    if words[:2] != ["helm", "install"] or len(words) < 4:
        raise ValueError(f"not a `helm install NAME CHART ...` command: {command}")
    name, chart, rest = words[2], words[3], words[4:]
    namespace, value_args = "default", []
    i = 0
    while i < len(rest):
        word = rest[i]
        if word in ("-n", "--namespace"):
            namespace = rest[i + 1]
            i += 2
        elif word in NO_VALUE_FLAGS:
            i += 1
        elif word in ("-f", "--values"):
            value_args += ["-f", str(VALUES_DIR / rest[i + 1])]
            i += 2
        elif word in VALUE_FLAGS:
            value_args += [word, rest[i + 1]]
            i += 2
        else:
            raise ValueError(f"flag {word!r} not understood in: {command}")
    return Release(command, name, namespace, str(REPO / chart), value_args)


def run(helm: str, args: list) -> subprocess.CompletedProcess:
    return subprocess.run([helm, *args], cwd=REPO, capture_output=True, text=True, timeout=60)


def install_dry_run(helm: str, release: Release, extra: tuple = ()) -> subprocess.CompletedProcess:
    return run(helm, ["install", release.name, release.chart, "-n", release.namespace, *release.value_args,
                      *extra, "--dry-run=client", "-o", "json"])


def render(helm: str, release: Release, extra: tuple = ()) -> Rendered:
    done = install_dry_run(helm, release, extra)
    if done.returncode != 0:
        raise RuntimeError(f"helm failed ({done.returncode}): {done.stderr.strip()}")
    out = json.loads(done.stdout)
    objects = [doc for doc in yaml.safe_load_all(out["manifest"]) if doc]
    crds = []
    for file in out["chart"].get("files") or []:
        if file["name"].startswith("crds/"):
            crds += [doc for doc in yaml.safe_load_all(base64.b64decode(file["data"])) if doc]
    return Rendered(release, objects, crds, out["info"].get("notes", ""))


def lint(helm: str, release: Release) -> list:
    """`helm lint --strict` with the release's values: the problems it reports (none when clean)."""
    done = run(helm, ["lint", "--strict", release.chart, "-n", release.namespace, *release.value_args])
    problems = [line for line in done.stdout.splitlines() if line.startswith(("[WARNING]", "[ERROR]"))]
    if done.returncode != 0 and not problems:
        problems = [done.stdout.strip() + done.stderr.strip()]
    return problems


def template(helm: str, release: Release) -> list:
    """`helm template --include-crds` (any Helm 3 or 4): the objects, CRDs included."""
    done = run(helm, ["template", release.name, release.chart, "-n", release.namespace, *release.value_args,
                      "--include-crds"])
    if done.returncode != 0:
        raise RuntimeError(f"helm template failed ({done.returncode}): {done.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def template_against(helm: str, release: Release, kubeconfig: str) -> subprocess.CompletedProcess:
    """`helm template --dry-run=server` against the cluster of `kubeconfig`: `lookup` sees it."""
    args = ["template", release.name, release.chart, "-n", release.namespace, *release.value_args,
            "--dry-run=server", "--disable-openapi-validation", "--kubeconfig", kubeconfig]
    return subprocess.run([helm, *args], cwd=REPO, capture_output=True, text=True, timeout=60)
