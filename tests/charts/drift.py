"""What the chart renders against what kustomize renders from deploy/, object by object (pure).

The two install paths must install the same objects with the same content. What may differ, and
only this, is normalised away before the comparison:

* Helm's own labels (``helm.sh/chart``, ``app.kubernetes.io/managed-by``/``instance``/``version``)
  on the chart's objects; the chart may also carry ``app.kubernetes.io/part-of`` where a
  kustomization forgot it (deploy/overlays/cert-manager's certificates);
* ``metadata.namespace`` on cluster-scoped objects: kustomize's namespace transformer writes it
  on kinds it does not know to be cluster-scoped (the admission policies), and the API server
  drops it;
* runs of whitespace inside strings: kustomize re-folds the multi-line CEL expressions of the
  admission policies (whitespace means nothing to CEL);
* the name of the certificate Job, which the chart suffixes with a hash of its pod template (so
  that an upgrade replaces it instead of failing on its immutable template).
"""

from __future__ import annotations

import functools
import re
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from devtools.controlplane.binaries import locate

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
HELM_LABELS = frozenset(
    {
        "helm.sh/chart",
        "app.kubernetes.io/managed-by",
        "app.kubernetes.io/instance",
        "app.kubernetes.io/version",
    }
)
MAY_ADD_LABELS = frozenset({"app.kubernetes.io/part-of"})
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    }
)
CERTGEN_JOB = "spot-failover-webhook-certgen"
HASHED_JOB = re.compile(rf"^{CERTGEN_JOB}-[0-9a-f]{{10}}$")

Key = tuple[str, str]


@functools.cache
def kustomize(directory: Path) -> tuple[dict[str, Any], ...]:
    """``kubectl kustomize <directory>`` with the pinned kubectl, as objects."""
    result = subprocess.run(
        [str(locate().kubectl), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def key(obj: Mapping[str, Any]) -> Key:
    name = obj["metadata"]["name"]
    if obj["kind"] == "Job" and HASHED_JOB.match(name):
        name = CERTGEN_JOB
    return obj["kind"], name


def _squeeze(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _squeeze(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_squeeze(v) for v in value]
    if isinstance(value, str):
        return " ".join(value.split())
    return value


def _normalised(obj: Mapping[str, Any], *, chart: bool) -> dict[str, Any]:
    copied: dict[str, Any] = _squeeze(dict(obj))
    metadata = copied["metadata"]
    metadata["name"] = key(obj)[1]
    if obj["kind"] in CLUSTER_SCOPED:
        metadata.pop("namespace", None)
    labels = dict(metadata.pop("labels", None) or {})
    if chart:
        labels = {k: v for k, v in labels.items() if k not in HELM_LABELS}
    metadata["labels"] = labels
    return copied


def _paths(chart: Any, kustomized: Any, path: str) -> Iterable[str]:
    if isinstance(chart, dict) and isinstance(kustomized, dict):
        for name in sorted(set(chart) | set(kustomized)):
            where = f"{path}.{name}"
            if name not in chart:
                yield f"{where}: missing from the chart"
            elif name not in kustomized:
                yield f"{where}: only in the chart"
            else:
                yield from _paths(chart[name], kustomized[name], where)
    elif isinstance(chart, list) and isinstance(kustomized, list) and len(chart) == len(kustomized):
        for index, (ours, theirs) in enumerate(zip(chart, kustomized, strict=True)):
            yield from _paths(ours, theirs, f"{path}[{index}]")
    elif chart != kustomized:
        yield f"{path}: chart {chart!r:.200} != deploy {kustomized!r:.200}"


def _label_differences(chart: Mapping[str, str], kustomized: Mapping[str, str]) -> list[str]:
    found = [
        f"label {k}: chart {chart.get(k)!r} != deploy {v!r}"
        for k, v in kustomized.items()
        if chart.get(k) != v
    ]
    extra = chart.keys() - kustomized.keys() - MAY_ADD_LABELS
    return found + [f"label {k}: only in the chart" for k in sorted(extra)]


def differences(
    chart: Iterable[Mapping[str, Any]], kustomized: Iterable[Mapping[str, Any]]
) -> list[str]:
    """Every difference that matters, as ``<kind>/<name>.<path>: ...``; empty: no drift."""
    ours = {key(obj): obj for obj in chart}
    theirs = {key(obj): obj for obj in kustomized}
    found = [f"{kind}/{name}: missing from the chart" for kind, name in theirs.keys() - ours]
    found += [f"{kind}/{name}: only in the chart" for kind, name in ours.keys() - theirs]
    for kind, name in sorted(ours.keys() & theirs.keys()):
        a = _normalised(ours[kind, name], chart=True)
        b = _normalised(theirs[kind, name], chart=False)
        labels = _label_differences(a["metadata"].pop("labels"), b["metadata"].pop("labels"))
        found += [f"{kind}/{name}: {text}" for text in labels]
        found += [f"{kind}/{name}{text}" for text in _paths(a, b, "")]
    return sorted(found)
