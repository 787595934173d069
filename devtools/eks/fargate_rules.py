"""What Fargate refuses to run, worded as EKS's ``fargate-scheduler`` words it (pure).

A pod handed to Fargate that Fargate cannot run is not rejected at admission: it stays Pending
and the scheduler records a Warning ``FailedScheduling`` Event such as ``Pod not supported on
Fargate: invalid SecurityContext fields: Privileged, volumes not supported: data is of an
unsupported volume Type``. :func:`refusal` gives that message (``None``: Fargate runs the pod).

Written from EKS's documented limits and the messages users report, independently of the
add-on's own pre-check (``sidecar/core/fargate_checks.py``), so that the simulator can be the
oracle the add-on is tested against: privileged containers, added Linux capabilities, host
network / PID / IPC, host ports and host IPs, hostPath volumes, EBS volumes (inline, or claims
the caller resolved to EBS), inline CSI volumes, pods pinned to arm64 or Windows, GPUs and
other accelerators, more than 16 vCPU or 120 GB (with the 256 MB Fargate adds to every pod),
and DaemonSet pods.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from decimal import Decimal
from typing import Any, Final

MAX_VCPU: Final = Decimal(16)
MAX_MEMORY_GB: Final = Decimal(120)
NODE_MEMORY_GB: Final = Decimal("0.25")
"""Memory Fargate adds to every pod for the node's own processes (Kubernetes components)."""
UNSUPPORTED_VOLUME_TYPES: Final = ("hostPath", "awsElasticBlockStore", "csi")
ACCELERATOR_PREFIXES: Final = ("nvidia.com/", "amd.com/", "aws.amazon.com/neuron")
_SUFFIXES: Final = {
    "Ki": Decimal(1024),
    "Mi": Decimal(1024) ** 2,
    "Gi": Decimal(1024) ** 3,
    "Ti": Decimal(1024) ** 4,
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "m": Decimal("0.001"),
}


def quantity(text: str) -> Decimal:
    """A Kubernetes quantity (``"500m"``, ``"64Mi"``, ``"2"``) as a number."""
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if text.endswith(suffix):
            return Decimal(text[: -len(suffix)]) * _SUFFIXES[suffix]
    return Decimal(text)


def _containers(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]


def _security_fields(spec: Mapping[str, Any]) -> list[str]:
    fields: list[str] = []
    added: list[str] = []
    for container in _containers(spec):
        context = container.get("securityContext") or {}
        if context.get("privileged") and "Privileged" not in fields:
            fields.append("Privileged")
        for capability in (context.get("capabilities") or {}).get("add") or []:
            if capability not in added:
                added.append(str(capability))
    if added:
        fields.append("Capabilities added: " + ", ".join(added))
    return fields


def _host_fields(spec: Mapping[str, Any]) -> list[str]:
    names = {"hostNetwork": "HostNetwork", "hostPID": "HostPID", "hostIPC": "HostIPC"}
    return [label for key, label in names.items() if spec.get(key)]


def _host_ports(spec: Mapping[str, Any]) -> bool:
    return any(
        port.get("hostPort") or port.get("hostIP")
        for container in _containers(spec)
        for port in container.get("ports") or []
    )


def _bad_volumes(spec: Mapping[str, Any], ebs_claims: Collection[str]) -> list[str]:
    bad = []
    for volume in spec.get("volumes") or []:
        claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
        if any(kind in volume for kind in UNSUPPORTED_VOLUME_TYPES) or claim in ebs_claims:
            bad.append(str(volume.get("name")))
    return bad


PLATFORM: Final = {
    "kubernetes.io/arch": "amd64",
    "beta.kubernetes.io/arch": "amd64",
    "kubernetes.io/os": "linux",
    "beta.kubernetes.io/os": "linux",
}
"""Fargate on EKS runs Linux on x86_64 only."""


def _pinned_platform(spec: Mapping[str, Any]) -> list[str]:
    """A node selector, or a required node affinity every term of which, asking for a platform
    other than Linux on x86_64 (arm64, Windows)."""
    found = [
        f"{k}={v}"
        for k, v in (spec.get("nodeSelector") or {}).items()
        if k in PLATFORM and v != PLATFORM[k]
    ]
    required = (
        ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
        or {}
    ).get("nodeSelectorTerms") or []
    pinned = [_term_pins(term) for term in required]
    if pinned and all(pinned):
        found.extend(p for p in pinned if p)
    return sorted(set(found))


def _term_pins(term: Mapping[str, Any]) -> str | None:
    for expression in term.get("matchExpressions") or []:
        key, values = expression.get("key"), list(expression.get("values") or [])
        if key not in PLATFORM:
            continue
        operator = expression.get("operator")
        if (operator == "In" and PLATFORM[key] not in values) or (
            operator == "NotIn" and PLATFORM[key] in values
        ):
            return f"{key} {operator} {','.join(map(str, values))}"
    return None


def _accelerators(spec: Mapping[str, Any]) -> list[str]:
    names: set[str] = set()
    for container in _containers(spec):
        resources = container.get("resources") or {}
        for kind in ("requests", "limits"):
            names.update(
                name
                for name in resources.get(kind) or {}
                if str(name).startswith(ACCELERATOR_PREFIXES)
            )
    return sorted(names)


def _request(containers: Iterable[Mapping[str, Any]], resource: str) -> Decimal:
    return sum(
        (
            quantity(str(((c.get("resources") or {}).get("requests") or {}).get(resource, "0")))
            for c in containers
        ),
        Decimal(0),
    )


def pod_size(spec: Mapping[str, Any]) -> tuple[Decimal, Decimal]:
    """(vCPU, GB) Fargate reserves for the pod: the long-running containers' requests added
    up, or the largest init container's if that is more."""
    init = spec.get("initContainers") or []
    main = spec.get("containers") or []
    cpu = max([_request(main, "cpu"), *(_request([c], "cpu") for c in init)])
    memory = max([_request(main, "memory"), *(_request([c], "memory") for c in init)])
    return cpu, memory / Decimal(1024) ** 3


def _is_daemonset_pod(pod: Mapping[str, Any]) -> bool:
    owners = (pod.get("metadata") or {}).get("ownerReferences") or []
    return any(owner.get("kind") == "DaemonSet" for owner in owners)


def reasons(pod: Mapping[str, Any], ebs_claims: Collection[str] = ()) -> list[str]:
    """Why Fargate cannot run ``pod``, one phrase per kind of problem, in EKS's order.

    ``ebs_claims``: names of the pod's PersistentVolumeClaims that the caller found backed by
    EBS (a claim's backing is not in the pod)."""
    spec = pod.get("spec") or {}
    found: list[str] = []
    if _is_daemonset_pod(pod):
        found.append("DaemonSet pods are not supported")
    if host := _host_fields(spec):
        found.append("fields not supported: " + ", ".join(host))
    if security := _security_fields(spec):
        found.append("invalid SecurityContext fields: " + ", ".join(security))
    if _host_ports(spec):
        found.append("port contains HostIP or HostPort")
    found.extend(
        f"volumes not supported: {name} is of an unsupported volume Type"
        for name in _bad_volumes(spec, ebs_claims)
    )
    if pinned := _pinned_platform(spec):
        found.append("unsupported node selector: " + ", ".join(pinned))
    if accelerators := _accelerators(spec):
        found.append("unsupported resources: " + ", ".join(accelerators))
    cpu, memory = pod_size(spec)
    memory += NODE_MEMORY_GB
    if cpu > MAX_VCPU or memory > MAX_MEMORY_GB:
        found.append(
            f"pod resource requests exceed the largest Fargate size "
            f"({MAX_VCPU} vCPU, {MAX_MEMORY_GB} GB): {cpu:f} vCPU, {memory:.2f} GB"
        )
    return found


def refusal(pod: Mapping[str, Any], ebs_claims: Collection[str] = ()) -> str | None:
    """The ``FailedScheduling`` message for ``pod``, or ``None`` if Fargate can run it."""
    found = reasons(pod, ebs_claims)
    return "Pod not supported on Fargate: " + ", ".join(found) if found else None


def capacity_provisioned(spec: Mapping[str, Any]) -> str:
    """The pod annotation ``CapacityProvisioned`` Fargate sets, e.g. ``0.25vCPU 0.5GB``: the
    smallest Fargate size that fits the requests plus 256 MB for the node's own processes."""
    cpu, memory = pod_size(spec)
    memory += NODE_MEMORY_GB
    sizes = [(Decimal("0.25"), Decimal("0.5")), (Decimal("0.5"), Decimal(1))]
    sizes += [(Decimal(1), Decimal(2)), (Decimal(2), Decimal(4)), (Decimal(4), Decimal(8))]
    sizes += [(Decimal(8), Decimal(16)), (Decimal(16), Decimal(32))]
    for size_cpu, size_memory in sizes:
        if cpu <= size_cpu and memory <= size_memory:
            return f"{size_cpu:f}vCPU {size_memory:f}GB"
    return f"{MAX_VCPU}vCPU {max(memory, Decimal(32)).quantize(Decimal(1))}GB"
