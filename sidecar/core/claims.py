"""Which of a pod template's PersistentVolumeClaims are backed by EBS, read purely from the
claims, their volumes and their StorageClasses as the API returns them.

Fargate mounts no EBS volume (:func:`sidecar.core.fargate_checks.ebs_volumes`), and a claim says
so only through what it is bound to: its PersistentVolume (the EBS CSI driver, or the in-tree
``awsElasticBlockStore``), or, while it is not bound yet, the provisioner of its StorageClass
(``ebs.csi.aws.com``, in-tree ``kubernetes.io/aws-ebs``) or the one the PV controller wrote on
it. The shell reads those objects (:mod:`sidecar.facts`) only when a move may start.
"""

from __future__ import annotations

from typing import Final

from sidecar.core import objects
from sidecar.core.errors import MalformedObjectError
from sidecar.core.fargate_checks import EBS_CSI_DRIVER
from sidecar.core.objects import JSONObject

EBS_PROVISIONERS: Final = frozenset({EBS_CSI_DRIVER, "kubernetes.io/aws-ebs"})
PROVISIONER_ANNOTATIONS: Final = (
    "volume.kubernetes.io/storage-provisioner",
    "volume.beta.kubernetes.io/storage-provisioner",
)
"""Where the PV controller writes, on a claim it provisions for, the provisioner asked."""


def claim_names(template: JSONObject) -> list[str]:
    """The claims the template's pods mount (``persistentVolumeClaim.claimName``), in order."""
    spec = template.get("spec")
    volumes = spec.get("volumes") if isinstance(spec, dict) else None
    names: list[str] = []
    for volume in volumes if isinstance(volumes, list) else []:
        claim = volume.get("persistentVolumeClaim") if isinstance(volume, dict) else None
        name = claim.get("claimName") if isinstance(claim, dict) else None
        if isinstance(name, str) and name and name not in names:
            names.append(name)
    return names


def volume_name(claim: JSONObject) -> str | None:
    """The PersistentVolume the claim is bound to, if any (``spec.volumeName``)."""
    spec = claim.get("spec")
    name = spec.get("volumeName") if isinstance(spec, dict) else None
    return name if isinstance(name, str) and name else None


def storage_class_name(claim: JSONObject) -> str | None:
    """The claim's StorageClass (``spec.storageClassName``), if it names one."""
    spec = claim.get("spec")
    name = spec.get("storageClassName") if isinstance(spec, dict) else None
    return name if isinstance(name, str) and name else None


def backed_by_ebs(
    claim: JSONObject, volume: JSONObject | None, storage_class: JSONObject | None
) -> bool:
    """Whether the claim is (or will be) an EBS volume: by its bound volume if it has one, else
    by the provisioner its StorageClass or the PV controller names. What cannot be read (a
    missing object, a shape the API would not return) says nothing: Fargate's own answer then
    rolls the move back (:func:`sidecar.core.health.fargate_refusal`)."""
    try:
        if volume is not None:
            return _ebs_volume(volume)
        annotations = objects.string_map(
            objects.child(claim, "metadata", "claim"), "annotations", "claim.metadata"
        )
        asked = {annotations.get(key) for key in PROVISIONER_ANNOTATIONS}
        if storage_class is not None:
            asked.add(objects.text(storage_class, "provisioner", "storageClass"))
        return bool(asked & EBS_PROVISIONERS)
    except MalformedObjectError:
        return False


def _ebs_volume(volume: JSONObject) -> bool:
    spec = objects.child(volume, "spec", "volume")
    if "awsElasticBlockStore" in spec:
        return True
    csi = objects.child(spec, "csi", "volume.spec")
    return objects.text(csi, "driver", "volume.spec.csi") == EBS_CSI_DRIVER
