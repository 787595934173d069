"""What Fargate cannot run, as a list of named checks: one small function per refusal.

Each check registers itself in :data:`CHECKS` (with :func:`check`), looks at one pod template's
spec and returns a reason for every offending field it finds, naming the container or volume
and the field, as a path under the template (``spec.template.spec.hostNetwork``), and what
Fargate does not support. :func:`incompatibilities` walks the list, so a Deployment Fargate
cannot run is refused with every reason before anything is patched. A new rule is one more
function here, with its own test rows.

A claim says whether it is EBS only through its volume or StorageClass, which a pure function
cannot read: :func:`ebs_volumes` flags inline EBS volumes, and the claims the caller names in
``ebs_claims`` (the sidecar reads them before a move: :mod:`sidecar.core.claims`). What Fargate
still refuses at scheduling rolls the move back in seconds
(:func:`sidecar.core.health.fargate_refusal`).

Fargate's limits, as EKS documents them and reports them (``Pod not supported on Fargate: ...``):
no privileged containers and no added Linux capabilities, none of the host's namespaces, ports
or IPs, no hostPath, EBS or inline CSI volumes (the Secrets Store driver among them; EFS is
mounted through a claim), no GPUs or Neuron devices, Linux on x86_64 only, and at most
:data:`MAX_VCPU` vCPU and :data:`MAX_MEMORY_GIB` GB per pod, with the
:data:`POD_OVERHEAD_GIB` Fargate adds for its own processes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Iterator
from decimal import Decimal
from typing import Final

from sidecar.core import objects, quantities
from sidecar.core.objects import JSONObject

GPU_RESOURCES: Final = frozenset({"nvidia.com/gpu", "amd.com/gpu"})
GPU_RESOURCE_PREFIXES: Final = ("aws.amazon.com/neuron",)
"""Extended resources Fargate cannot provide (``aws.amazon.com/neuron``, ``.../neuroncore``...)."""

EBS_CSI_DRIVER: Final = "ebs.csi.aws.com"
MAX_VCPU: Final = Decimal(16)
"""vCPU of the largest Fargate size (16 vCPU, 120 GB)."""
MAX_MEMORY_GIB: Final = Decimal(120)
"""Memory of the largest Fargate size, GB."""
POD_OVERHEAD_GIB: Final = Decimal("0.25")
"""Memory Fargate adds to every pod's requests for the node's own processes (256 MB)."""
PLATFORM_KEYS: Final = {
    "kubernetes.io/arch": "amd64",
    "beta.kubernetes.io/arch": "amd64",
    "kubernetes.io/os": "linux",
    "beta.kubernetes.io/os": "linux",
}
"""Node labels of the platform, and the one value Fargate offers (Linux on x86_64)."""
_ONLY: Final = "Fargate runs only Linux pods on x86_64 (no arm64, no Windows)"

_HOST_NAMESPACES: Final = (
    ("hostNetwork", "host networking"),
    ("hostPID", "the host PID namespace"),
    ("hostIPC", "the host IPC namespace"),
)
_CONTAINER_KINDS: Final = ("initContainers", "containers")


@dataclasses.dataclass(frozen=True)
class PodSpec:
    """What a check looks at: a template's pod spec, where it sits, and what the caller knows."""

    spec: JSONObject
    at: str
    """The path of ``spec`` in the object, e.g. ``spec.template.spec``."""
    ebs_claims: Collection[str] = ()
    """Names of PersistentVolumeClaims the caller knows to be backed by EBS."""


@dataclasses.dataclass(frozen=True)
class Check:
    """One rule of Fargate's: its name, and the reasons it finds in a pod spec."""

    name: str
    reasons: Callable[[PodSpec], list[str]]


Found = Callable[[JSONObject, str], Iterator[tuple[str, object]]]
"""What a per-container check finds in one container (at its path): (field, value) pairs."""

CHECKS: Final[list[Check]] = []
"""Every check, in the order :func:`incompatibilities` walks them."""


def check(name: str) -> Callable[[Callable[[PodSpec], list[str]]], Callable[[PodSpec], list[str]]]:
    """Register the decorated function in :data:`CHECKS` as the check ``name``."""

    def register(reasons: Callable[[PodSpec], list[str]]) -> Callable[[PodSpec], list[str]]:
        CHECKS.append(Check(name, reasons))
        return reasons

    return register


def incompatibilities(
    pod_template: JSONObject, *, ebs_claims: Collection[str] = (), where: str = "spec.template"
) -> list[str]:
    """Why Fargate cannot run pods from ``pod_template``; empty if it can.

    Every check's reasons, in the order of :data:`CHECKS`; each names the container or volume
    and the field, as a path under ``where``.
    """
    pod = PodSpec(objects.child(pod_template, "spec", where), f"{where}.spec", ebs_claims)
    return [reason for rule in CHECKS for reason in rule.reasons(pod)]


# --- the checks ---------------------------------------------------------------------------------


@check("hostNamespaces")
def host_namespaces(pod: PodSpec) -> list[str]:
    """``hostNetwork``, ``hostPID`` and ``hostIPC``: Fargate shares none of the host's."""
    return [
        f"{pod.at}.{field} is true: Fargate does not support {what}"
        for field, what in _HOST_NAMESPACES
        if objects.flag(pod.spec, field, pod.at)
    ]


@check("privileged")
def privileged(pod: PodSpec) -> list[str]:
    """A container (or init container) whose ``securityContext.privileged`` is true."""

    def found(container: JSONObject, path: str) -> Iterator[tuple[str, object]]:
        context = objects.child(container, "securityContext", path)
        if objects.flag(context, "privileged", f"{path}.securityContext"):
            yield f"{path}.securityContext.privileged", "true"

    return _per_container(pod, found, "Fargate does not run privileged containers")


@check("addedCapabilities")
def added_capabilities(pod: PodSpec) -> list[str]:
    """A container (or init container) adding Linux capabilities (``securityContext.capabilities
    .add``), e.g. a service-mesh proxy's ``NET_ADMIN``: Fargate adds none."""

    def found(container: JSONObject, path: str) -> Iterator[tuple[str, object]]:
        at = f"{path}.securityContext"
        capabilities = objects.child(
            objects.child(container, "securityContext", path), "capabilities", at
        )
        if added := [str(c) for c in capabilities.get("add") or ()]:
            yield f"{at}.capabilities.add", ", ".join(added)

    return _per_container(pod, found, "Fargate does not add Linux capabilities")


@check("hostPorts")
def host_ports(pod: PodSpec) -> list[str]:
    """A container port with a non-zero ``hostPort``."""
    return _per_container(
        pod, _port_field("hostPort", objects.integer), "Fargate does not support host ports"
    )


@check("hostIPs")
def host_ips(pod: PodSpec) -> list[str]:
    """A container port bound to a ``hostIP``."""
    return _per_container(
        pod, _port_field("hostIP", objects.text), "Fargate does not support host IPs"
    )


def _port_field(field: str, read: Callable[[JSONObject, str, str], object]) -> Found:
    """The ports of a container whose ``field`` is set (not empty, not zero)."""

    def found(container: JSONObject, path: str) -> Iterator[tuple[str, object]]:
        for index, port in enumerate(objects.items(container, "ports", path)):
            at = f"{path}.ports[{index}]"
            if value := read(port, field, at):
                yield f"{at}.{field}", value

    return found


@check("accelerators")
def accelerators(pod: PodSpec) -> list[str]:
    """A request or limit of GPUs or Neuron devices (a zero amount is none)."""

    def found(container: JSONObject, path: str) -> Iterator[tuple[str, object]]:
        resources = objects.child(container, "resources", path)
        for section in ("requests", "limits"):
            amounts = objects.child(resources, section, f"{path}.resources")
            for resource, amount in amounts.items():
                accelerator = resource in GPU_RESOURCES or resource.startswith(
                    GPU_RESOURCE_PREFIXES
                )
                if accelerator and str(amount).strip() not in {"0", ""}:
                    yield f"{path}.resources.{section}[{resource!r}]", amount

    return _per_container(pod, found, "Fargate does not provide GPUs or Neuron devices")


@check("hostPathVolumes")
def host_path_volumes(pod: PodSpec) -> list[str]:
    """A ``hostPath`` volume."""
    return [
        f"volume {name!r}: {path}.hostPath: Fargate does not support hostPath volumes"
        for volume, path, name in _volumes(pod)
        if "hostPath" in volume
    ]


@check("ebsVolumes")
def ebs_volumes(pod: PodSpec) -> list[str]:
    """An EBS volume: inline (``awsElasticBlockStore``, or the EBS CSI driver), or a claim the
    caller knows to be bound to one."""
    found = (_ebs(volume, path, name, pod.ebs_claims) for volume, path, name in _volumes(pod))
    return [reason for reason in found if reason is not None]


def _ebs(volume: JSONObject, path: str, name: str | None, claims: Collection[str]) -> str | None:
    if "awsElasticBlockStore" in volume:
        return f"volume {name!r}: {path}.awsElasticBlockStore: Fargate cannot mount EBS volumes"
    csi = objects.child(volume, "csi", path)
    if objects.text(csi, "driver", f"{path}.csi") == EBS_CSI_DRIVER:
        return f"volume {name!r}: {path}.csi.driver is {EBS_CSI_DRIVER}: Fargate cannot mount EBS"
    claim = objects.text(
        objects.child(volume, "persistentVolumeClaim", path), "claimName", f"{path}.pvc"
    )
    if claim is not None and claim in claims:
        return (
            f"volume {name!r}: {path}.persistentVolumeClaim.claimName {claim!r} is bound to an "
            "EBS volume: Fargate cannot mount EBS"
        )
    return None


@check("inlineCsiVolumes")
def inline_csi_volumes(pod: PodSpec) -> list[str]:
    """An inline CSI volume of any driver but EBS's (which :func:`ebs_volumes` reports), such as
    the Secrets Store driver's: Fargate mounts CSI volumes only through a claim (EFS)."""
    reasons = []
    for volume, path, name in _volumes(pod):
        if "csi" not in volume:
            continue
        driver = objects.text(objects.child(volume, "csi", path), "driver", f"{path}.csi", "?")
        if driver != EBS_CSI_DRIVER:
            reasons.append(
                f"volume {name!r}: {path}.csi.driver is {driver}: Fargate does not support "
                "inline CSI volumes"
            )
    return reasons


@check("platform")
def platform(pod: PodSpec) -> list[str]:
    """A pod pinned to a platform Fargate does not offer (arm64, Windows): by ``nodeSelector``,
    or by a required node affinity every term of which asks for one."""
    reasons = []
    selector = objects.string_map(pod.spec, "nodeSelector", pod.at)
    for key, offered in PLATFORM_KEYS.items():
        if key in selector and selector[key] != offered:
            reasons.append(f"{pod.at}.nodeSelector[{key!r}] is {selector[key]}: {_ONLY}")
    path = f"{pod.at}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
    affinity = objects.child(objects.child(pod.spec, "affinity", pod.at), "nodeAffinity", path)
    required = objects.child(affinity, "requiredDuringSchedulingIgnoredDuringExecution", path)
    terms = objects.items(required, "nodeSelectorTerms", path)
    pinned = [_pinned_term(term, f"{path}.nodeSelectorTerms[{i}]") for i, term in enumerate(terms)]
    if pinned and all(pinned):
        reasons.append(f"{'; '.join(pinned)}: {_ONLY}")
    return reasons


def _pinned_term(term: JSONObject, path: str) -> str:
    """What in a node selector term rules out Linux on x86_64 (``""``: nothing)."""
    for index, expression in enumerate(objects.items(term, "matchExpressions", path)):
        at = f"{path}.matchExpressions[{index}]"
        key = objects.text(expression, "key", at, "") or ""
        offered = PLATFORM_KEYS.get(key)
        values = [str(v) for v in expression.get("values") or ()]
        operator = objects.text(expression, "operator", at, "")
        if offered is None:
            continue
        if (operator == "In" and offered not in values) or (
            operator == "NotIn" and offered in values
        ):
            return f"{at} asks for {key} {operator} {', '.join(values)}"
    return ""


@check("largestSize")
def largest_size(pod: PodSpec) -> list[str]:
    """Requests beyond the largest Fargate size: the containers' requests added up (or the
    largest init container's, if more), plus :data:`POD_OVERHEAD_GIB` of memory. A resource
    with a limit and no request is requested at its limit, as the API server defaults it."""
    cpu, memory = pod_size(pod)
    memory += POD_OVERHEAD_GIB
    if cpu <= MAX_VCPU and memory <= MAX_MEMORY_GIB:
        return []
    return [
        f"{pod.at}.containers[*].resources.requests add up to {cpu.normalize():f} vCPU and "
        f"{memory.quantize(Decimal('0.01')).normalize():f} GB with Fargate's "
        f"{POD_OVERHEAD_GIB} GB: beyond the largest Fargate size ({MAX_VCPU} vCPU, "
        f"{MAX_MEMORY_GIB} GB)"
    ]


def pod_size(pod: PodSpec) -> tuple[Decimal, Decimal]:
    """(vCPU, GB) the pod's containers request, as Fargate sizes a pod: the containers added up,
    or the largest init container if that is more."""
    main: list[tuple[Decimal, Decimal]] = []
    init: list[tuple[Decimal, Decimal]] = []
    for container, path, _ in _containers(pod):
        (init if ".initContainers[" in path else main).append(_requests(container, path))
    cpu = max([sum((c for c, _ in main), Decimal(0)), *(c for c, _ in init)])
    memory = max([sum((m for _, m in main), Decimal(0)), *(m for _, m in init)])
    return cpu, memory / quantities.GIB


def _requests(container: JSONObject, path: str) -> tuple[Decimal, Decimal]:
    resources = objects.child(container, "resources", path)
    requests = objects.child(resources, "requests", f"{path}.resources")
    limits = objects.child(resources, "limits", f"{path}.resources")
    found = []
    for name in ("cpu", "memory"):
        section = "requests" if name in requests else "limits"
        value = (requests if name in requests else limits).get(name, 0)
        found.append(quantities.parse(value, f"{path}.resources.{section}.{name}"))
    return found[0], found[1]


# --- what the checks walk -----------------------------------------------------------------------


def _per_container(pod: PodSpec, found: Found, why: str) -> list[str]:
    """A reason for every (field, value) ``found(container, path)`` yields in any container:
    ``container 'name': <field> is <value>: <why>``."""
    return [
        f"container {name!r}: {field} is {value}: {why}"
        for container, path, name in _containers(pod)
        for field, value in found(container, path)
    ]


def _containers(pod: PodSpec) -> Iterator[tuple[JSONObject, str, str | None]]:
    """Every init container, then every container: itself, its path and its name."""
    for kind in _CONTAINER_KINDS:
        for index, container in enumerate(objects.items(pod.spec, kind, pod.at)):
            path = f"{pod.at}.{kind}[{index}]"
            yield container, path, objects.text(container, "name", path, "?")


def _volumes(pod: PodSpec) -> Iterator[tuple[JSONObject, str, str | None]]:
    for index, volume in enumerate(objects.items(pod.spec, "volumes", pod.at)):
        path = f"{pod.at}.volumes[{index}]"
        yield volume, path, objects.text(volume, "name", path, "?")
