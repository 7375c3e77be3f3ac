"""Renders charts/atelier offline with Helm's own SDK (helm-python-sdk, no helm binary and no
cluster) and gives the tests the manifests as dictionaries."""

from __future__ import annotations

import functools
import pathlib

import helm_python
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "atelier"
RELEASE = "atelier"
NAMESPACE = "atelier"

# The value sets in charts/atelier/ci/ (chart-testing's convention): each one a deployment the
# chart must render, lint cleanly and validate.
VALUE_SETS = {path.stem.removesuffix("-values"): path for path in sorted((CHART / "ci").glob("*-values.yaml"))}

# Pod-carrying kinds and the path to their pod spec.
WORKLOADS = {"Deployment", "StatefulSet", "Job", "DaemonSet"}


def values(name: str) -> dict:
    """The value set `name` from charts/atelier/ci/."""
    return yaml.safe_load(VALUE_SETS[name].read_text()) or {}


@functools.lru_cache(maxsize=1)
def chart() -> helm_python.Chart:
    return helm_python.Chart.load(CHART)


def render(vals: dict | None = None, *, upgrade: bool = False) -> list[dict]:
    """Every object the chart renders for `vals`, each with `_source` (its template)."""
    rendered = chart().render(
        vals or {},
        name=RELEASE,
        namespace=NAMESPACE,
        is_install=not upgrade,
        is_upgrade=upgrade,
    )
    docs = []
    for source, text in sorted(rendered.items()):
        if source.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                doc["_source"] = source
                docs.append(doc)
    return docs


def manifest(doc: dict) -> dict:
    """The object without the test's own `_source` key."""
    return {k: v for k, v in doc.items() if k != "_source"}


def annotations(doc: dict) -> dict:
    return doc.get("metadata", {}).get("annotations") or {}


def is_hook(doc: dict) -> bool:
    return "helm.sh/hook" in annotations(doc)


def pod_spec(doc: dict) -> dict | None:
    if doc["kind"] not in WORKLOADS:
        return None
    return doc["spec"]["template"]["spec"]


def pod_labels(doc: dict) -> dict:
    return doc["spec"]["template"]["metadata"].get("labels") or {}


def containers(spec: dict) -> list[dict]:
    return list(spec.get("initContainers") or []) + list(spec["containers"])


def named(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env") or []}
