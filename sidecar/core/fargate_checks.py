"""What Fargate cannot run, as a list of named checks: one small function per refusal.

Each check registers itself in :data:`CHECKS` (with :func:`check`), looks at one pod template's
spec and returns a reason for every offending field it finds, naming the container or volume
and the field, as a path under the template (``spec.template.spec.hostNetwork``), and what
Fargate does not support. :func:`incompatibilities` walks the list, so a Deployment Fargate
cannot run is refused with every reason before anything is patched. A new rule is one more
function here, with its own test rows.

Volumes claimed through a PersistentVolumeClaim are a documented gap: whether a claim is backed
by EBS is only known by reading the claim and its PersistentVolume, which a pure function cannot
do. :func:`ebs_volumes` therefore flags inline EBS volumes by itself, and claims only when the
caller passes their names in ``ebs_claims`` (an adapter may resolve them; none does yet).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Iterator
from typing import Final

from sidecar.core import objects
from sidecar.core.objects import JSONObject

GPU_RESOURCES: Final = frozenset({"nvidia.com/gpu", "amd.com/gpu"})
GPU_RESOURCE_PREFIXES: Final = ("aws.amazon.com/neuron",)
"""Extended resources Fargate cannot provide (``aws.amazon.com/neuron``, ``.../neuroncore``...)."""

EBS_CSI_DRIVER: Final = "ebs.csi.aws.com"

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
    reasons = []
    for container, path, name in _containers(pod):
        context = objects.child(container, "securityContext", path)
        if objects.flag(context, "privileged", f"{path}.securityContext"):
            reasons.append(
                f"container {name!r}: {path}.securityContext.privileged is true: "
                "Fargate does not run privileged containers"
            )
    return reasons


@check("hostPorts")
def host_ports(pod: PodSpec) -> list[str]:
    """A container port with a non-zero ``hostPort``."""
    reasons = []
    for container, path, name in _containers(pod):
        for index, port in enumerate(objects.items(container, "ports", path)):
            host_port = objects.integer(port, "hostPort", f"{path}.ports[{index}]")
            if host_port:
                reasons.append(
                    f"container {name!r}: {path}.ports[{index}].hostPort is {host_port}: "
                    "Fargate does not support host ports"
                )
    return reasons


@check("accelerators")
def accelerators(pod: PodSpec) -> list[str]:
    """A request or limit of GPUs or Neuron devices (a zero amount is none)."""
    reasons = []
    for container, path, name in _containers(pod):
        resources = objects.child(container, "resources", path)
        for section in ("requests", "limits"):
            amounts = objects.child(resources, section, f"{path}.resources")
            for resource, amount in amounts.items():
                accelerator = resource in GPU_RESOURCES or resource.startswith(
                    GPU_RESOURCE_PREFIXES
                )
                if accelerator and str(amount).strip() not in {"0", ""}:
                    reasons.append(
                        f"container {name!r}: {path}.resources.{section}[{resource!r}] is "
                        f"{amount}: Fargate does not provide GPUs or Neuron devices"
                    )
    return reasons


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


# --- what the checks walk -----------------------------------------------------------------------


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
