"""EKS Fargate profiles, and the admission step that hands matching pods to Fargate.

On EKS a pod runs on Fargate when, at its creation, it matches a Fargate profile: a profile
has up to five selectors, each a namespace and optional labels (namespace and label values may
use the wildcards ``*`` and ``?``); a pod matches a selector when it is in that namespace and
carries all its labels. When several profiles match, the pod label
``eks.amazonaws.com/fargate-profile`` picks one (and the pod must still match a selector of
it); a pod whose annotation ``eks.amazonaws.com/compute-type`` is ``ec2`` is left to EC2. EKS's
own mutating webhook then sets the pod's ``schedulerName`` to ``fargate-scheduler`` and labels
it with the profile it chose.

Here the same rule is a real piece of API-server machinery: one MutatingAdmissionPolicy per
profile (:func:`manifests`), named ``fargate-profile-<name>``. Policies run one after another
on the same object, so the first profile that matches labels the pod and the others see that
label and step aside. Scheduling the pod is :mod:`devtools.eks.fargate_scheduler`'s business.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

POLICY_API: Final = "admissionregistration.k8s.io/v1"
SCHEDULER_NAME: Final = "fargate-scheduler"
PROFILE_LABEL: Final = "eks.amazonaws.com/fargate-profile"
COMPUTE_TYPE_ANNOTATION: Final = "eks.amazonaws.com/compute-type"
MAX_SELECTORS: Final = 5
POLICY_PREFIX: Final = "fargate-profile-"


@dataclasses.dataclass(frozen=True)
class Selector:
    """One selector of a profile: a namespace and labels, values with ``*``/``?`` wildcards."""

    namespace: str
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def matches(self, namespace: str, labels: Mapping[str, str]) -> bool:
        return _wild(self.namespace, namespace) and all(
            key in labels and _wild(value, labels[key]) for key, value in self.labels.items()
        )


@dataclasses.dataclass(frozen=True)
class FargateProfile:
    """An EKS Fargate profile: a name and one to five selectors."""

    name: str
    selectors: Sequence[Selector]

    def __post_init__(self) -> None:
        if not 1 <= len(self.selectors) <= MAX_SELECTORS:
            raise ValueError(
                f"a Fargate profile has 1 to {MAX_SELECTORS} selectors, "
                f"{self.name!r} has {len(self.selectors)}"
            )

    @classmethod
    def one(
        cls, name: str, namespace: str, labels: Mapping[str, str] | None = None
    ) -> FargateProfile:
        """A profile with a single selector."""
        return cls(name, (Selector(namespace, dict(labels or {})),))

    def selects(self, namespace: str, labels: Mapping[str, str]) -> bool:
        return any(s.matches(namespace, labels) for s in self.selectors)


def chosen_profile(
    profiles: Sequence[FargateProfile],
    namespace: str,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
) -> FargateProfile | None:
    """The profile EKS would run a new pod with, or ``None`` (it stays on EC2). The reference
    for what the admission policies do, evaluated in the same order (by policy name)."""
    if annotations.get(COMPUTE_TYPE_ANNOTATION) == "ec2":
        return None
    wanted = labels.get(PROFILE_LABEL)
    for profile in sorted(profiles, key=lambda p: p.name):
        if (wanted is None or wanted == profile.name) and profile.selects(namespace, labels):
            return profile
    return None


def _wild(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


def _regex(pattern: str) -> str:
    """An RE2 expression for a wildcard pattern (only ``*`` and ``?`` are special)."""
    out = []
    for char in pattern:
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char.isalnum() or char in "-_":
            out.append(char)
        else:
            out.append("\\" + char)
    return "^" + "".join(out) + "$"


def _selector_expression(selector: Selector) -> str:
    terms = [f"request.namespace.matches({json.dumps(_regex(selector.namespace))})"]
    for key, value in sorted(selector.labels.items()):
        k = json.dumps(key)
        terms.append(
            f"(has(object.metadata.labels) && {k} in object.metadata.labels && "
            f"object.metadata.labels[{k}].matches({json.dumps(_regex(value))}))"
        )
    return "(" + " && ".join(terms) + ")"


def policy_name(profile: FargateProfile) -> str:
    return POLICY_PREFIX + profile.name


def manifests(profile: FargateProfile) -> list[dict[str, Any]]:
    """The MutatingAdmissionPolicy and binding that play EKS's webhook for ``profile``."""
    name = policy_name(profile)
    profile_key, compute_key = json.dumps(PROFILE_LABEL), json.dumps(COMPUTE_TYPE_ANNOTATION)
    conditions = [
        {
            "name": "not-kept-on-ec2",
            "expression": f"!(has(object.metadata.annotations) && {compute_key} in "
            f"object.metadata.annotations && object.metadata.annotations[{compute_key}] == 'ec2')",
        },
        {
            "name": "profile-label-absent-or-this-profile",
            "expression": f"!has(object.metadata.labels) || !({profile_key} in "
            f"object.metadata.labels) || object.metadata.labels[{profile_key}] == "
            f"{json.dumps(profile.name)}",
        },
        {
            "name": "matches-a-selector",
            "expression": " || ".join(_selector_expression(s) for s in profile.selectors),
        },
    ]
    mutation = (
        "Object{"
        f"metadata: Object.metadata{{labels: {{{profile_key}: {json.dumps(profile.name)}}}}}, "
        f"spec: Object.spec{{schedulerName: {json.dumps(SCHEDULER_NAME)}}}"
        "}"
    )
    labels = {"app.kubernetes.io/part-of": "fargate-simulator"}
    policy = {
        "apiVersion": POLICY_API,
        "kind": "MutatingAdmissionPolicy",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["pods"],
                    }
                ]
            },
            "matchConditions": conditions,
            "failurePolicy": "Fail",
            "reinvocationPolicy": "Never",
            "mutations": [
                {"patchType": "ApplyConfiguration", "applyConfiguration": {"expression": mutation}}
            ],
        },
    }
    binding = {
        "apiVersion": POLICY_API,
        "kind": "MutatingAdmissionPolicyBinding",
        "metadata": {"name": name, "labels": labels},
        "spec": {"policyName": name},
    }
    return [policy, binding]


def probe_pod(profile: FargateProfile) -> tuple[str, dict[str, Any]]:
    """A namespace and a pod there that ``profile`` selects, for a server-side dry run: the
    first selector whose namespace has no wildcard (it must exist), else the first one's with
    each wildcard read as ``x``."""
    plain = [s for s in profile.selectors if not any(c in s.namespace for c in "*?")]
    selector = (plain or list(profile.selectors))[0]
    labels = {k: v.replace("*", "x").replace("?", "x") for k, v in selector.labels.items()}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "fargate-probe-",
            "labels": {**labels, PROFILE_LABEL: profile.name},
        },
        "spec": {"containers": [{"name": "probe", "image": "registry.example/probe:1"}]},
    }
    return selector.namespace.replace("*", "x").replace("?", "x"), pod


def is_handed_to_fargate(pod: Mapping[str, Any]) -> bool:
    return bool((pod.get("spec") or {}).get("schedulerName") == SCHEDULER_NAME)
