"""deploy/warden: the warden runs off spot with exactly the rights its code uses, and the
admission policies hold it to what a sidecar leader may write."""

from __future__ import annotations

from typing import Any

from devtools import local_warden
from spot_common import contract
from tests.webhook.manifests import DEPLOY, find, render

WARDEN_USER = local_warden.username()


def _policy(name: str) -> dict[str, Any]:
    return find(render(), "ValidatingAdmissionPolicy", name)


def _match_conditions(policy: dict[str, Any]) -> list[str]:
    return [" ".join(c["expression"].split()) for c in policy["spec"]["matchConditions"]]


def test_the_warden_is_part_of_what_kubectl_apply_k_deploy_installs() -> None:
    for directory in (DEPLOY, DEPLOY / "overlays" / "cert-manager"):
        objects = render(directory)
        assert find(objects, "Deployment", "spot-failover-warden")
        assert find(objects, "ServiceAccount", contract.WARDEN_SERVICE_ACCOUNT)


def test_the_warden_runs_the_sidecar_image_once_and_never_on_spot() -> None:
    deployment = find(render(), "Deployment", "spot-failover-warden")
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    (term,) = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]

    assert (spec["replicas"], spec["strategy"]["type"]) == (1, "Recreate")
    assert container["image"].startswith("spot-failover-sidecar:")
    assert container["args"] == ["--warden"]
    assert pod["serviceAccountName"] == contract.WARDEN_SERVICE_ACCOUNT
    assert {(e["key"], e["operator"], tuple(e["values"])) for e in term["matchExpressions"]} == {
        ("eks.amazonaws.com/capacityType", "NotIn", ("SPOT",)),
        ("karpenter.sh/capacity-type", "NotIn", ("spot",)),
    }
    assert pod["affinity"].keys() == {"nodeAffinity"}


def test_the_warden_holds_exactly_the_rights_the_contract_lists() -> None:
    role = find(render(), "ClusterRole", "spot-failover-warden")
    binding = find(render(), "ClusterRoleBinding", "spot-failover-warden")

    assert role["rules"] == contract.WARDEN_CLUSTER_RULES
    assert binding["roleRef"]["name"] == "spot-failover-warden"
    (subject,) = binding["subjects"]
    assert f"system:serviceaccount:{subject['namespace']}:{subject['name']}" == WARDEN_USER


def test_the_warden_may_change_a_deployment_only_as_a_sidecar_may_and_only_mid_move() -> None:
    warden = _policy("spot-failover-warden-scope")["spec"]
    sidecar = _policy("spot-failover-sidecar-scope")["spec"]
    only_mid_move, *as_a_sidecar = warden["validations"]

    assert warden["variables"] == sidecar["variables"]
    assert [v["expression"] for v in as_a_sidecar] == [
        v["expression"] for v in sidecar["validations"]
    ]
    assert "'Migrating', 'FailingBack'" in only_mid_move["expression"]
    assert "spot-failover/enabled" in only_mid_move["expression"]
    assert "spot-failover/paused" in only_mid_move["expression"]


def test_every_warden_policy_is_bound_and_knows_the_warden_by_its_full_name() -> None:
    for name in (
        "spot-failover-warden-scope",
        "spot-failover-warden-leases",
        "spot-failover-warden-events",
    ):
        binding = find(render(), "ValidatingAdmissionPolicyBinding", name)
        assert binding["spec"]["validationActions"] == ["Deny"]
        assert _match_conditions(_policy(name)) == [f"request.userInfo.username == '{WARDEN_USER}'"]


def test_the_lease_holders_policy_leaves_only_the_warden_to_its_own() -> None:
    conditions = _match_conditions(_policy("spot-failover-lease-holders"))

    assert f"request.userInfo.username != '{WARDEN_USER}'" in conditions
