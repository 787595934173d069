"""Which claims are EBS: told by the bound volume, else by the provisioner the StorageClass or
the PV controller names; what cannot be read says nothing."""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.core import claims


def claim(
    volume: str | None = None, storage_class: str | None = "gp3", provisioner: str | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if volume is not None:
        spec["volumeName"] = volume
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    metadata: dict[str, Any] = {"name": "data"}
    if provisioner is not None:
        metadata["annotations"] = {"volume.kubernetes.io/storage-provisioner": provisioner}
    return {"metadata": metadata, "spec": spec}


def csi_volume(driver: str) -> dict[str, Any]:
    return {"spec": {"csi": {"driver": driver, "volumeHandle": "vol-1"}}}


def test_the_claims_a_template_mounts_are_named_once_each_in_order() -> None:
    template = {
        "spec": {
            "volumes": [
                {"name": "a", "persistentVolumeClaim": {"claimName": "data"}},
                {"name": "b", "emptyDir": {}},
                {"name": "c", "persistentVolumeClaim": {"claimName": "logs"}},
                {"name": "d", "persistentVolumeClaim": {"claimName": "data"}},
            ]
        }
    }

    assert claims.claim_names(template) == ["data", "logs"]
    assert claims.claim_names({"spec": {}}) == []


def test_a_claim_bound_to_an_ebs_volume_is_ebs_whatever_its_class_says() -> None:
    efs_class = {"provisioner": "efs.csi.aws.com"}

    assert claims.backed_by_ebs(claim("pv-1"), csi_volume("ebs.csi.aws.com"), efs_class)
    assert claims.backed_by_ebs(claim("pv-1"), {"spec": {"awsElasticBlockStore": {}}}, None)


def test_a_claim_bound_to_another_volume_is_not_ebs_whatever_its_class_says() -> None:
    ebs_class = {"provisioner": "ebs.csi.aws.com"}

    assert not claims.backed_by_ebs(claim("pv-1"), csi_volume("efs.csi.aws.com"), ebs_class)


@pytest.mark.parametrize("provisioner", ["ebs.csi.aws.com", "kubernetes.io/aws-ebs"])
def test_an_unbound_claim_is_ebs_if_its_class_provisions_ebs(provisioner: str) -> None:
    assert claims.backed_by_ebs(claim(), None, {"provisioner": provisioner})


def test_an_unbound_claim_is_ebs_if_the_pv_controller_asked_ebs_for_it() -> None:
    assert claims.backed_by_ebs(claim(provisioner="ebs.csi.aws.com"), None, None)
    assert not claims.backed_by_ebs(claim(provisioner="efs.csi.aws.com"), None, None)


def test_what_cannot_be_read_says_nothing() -> None:
    assert not claims.backed_by_ebs(claim(), None, None)
    assert not claims.backed_by_ebs(claim("pv-1"), {"spec": {"csi": "garbage"}}, None)
    assert not claims.backed_by_ebs({"metadata": "garbage"}, None, None)


def test_the_names_a_claim_points_at() -> None:
    assert claims.volume_name(claim("pv-1")) == "pv-1"
    assert claims.volume_name(claim()) is None
    assert claims.storage_class_name(claim()) == "gp3"
    assert claims.storage_class_name(claim(storage_class=None)) is None
