"""The sidecar RBAC objects as manifests: names, rules, owners, which accounts need nodes."""

from __future__ import annotations

from sidecar import contract
from webhook import rbac
from webhook.owners import DeploymentFacts


def facts(
    name: str = "web",
    namespace: str = "shop",
    account: str = "web",
    enabled: str | None = "true",
    deleting: bool = False,
) -> DeploymentFacts:
    annotations = {contract.ENABLED: enabled} if enabled is not None else {}
    return DeploymentFacts(namespace, name, f"uid-{name}", account, annotations, "", deleting)


def test_the_role_grants_the_contract_rules_and_is_owned_by_its_deployment() -> None:
    role = rbac.role(facts())
    assert role["metadata"]["name"] == "spot-failover-sidecar-web"
    assert role["rules"] == contract.sidecar_role_rules("web")
    (owner,) = role["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("Deployment", "web", "uid-web")
    assert rbac.deployment_of_role(role) == ("shop", "web")


def test_the_role_binding_binds_the_role_to_the_deployments_account() -> None:
    binding = rbac.role_binding(facts(account="payments"))
    assert binding["roleRef"]["name"] == rbac.role_name("web")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "payments", "namespace": "shop"}
    ]


def test_the_nodes_binding_is_per_account_and_names_it_unambiguously() -> None:
    binding = rbac.node_binding(("shop", "web.api"))
    assert binding["metadata"]["name"] == "spot-failover-sidecar-nodes.shop.web.api"
    assert binding["roleRef"]["name"] == rbac.NODES_CLUSTER_ROLE
    assert rbac.account_of_binding(binding) == ("shop", "web.api")
    assert binding["metadata"]["labels"][rbac.NAMESPACE_LABEL] == "shop"


def test_names_too_long_for_kubernetes_are_shortened_with_a_hash() -> None:
    long_name = "d" * 253
    first = rbac.role_name(long_name)
    assert len(first) <= 253
    assert first != rbac.role_name("d" * 252)


def test_accounts_need_the_nodes_binding_only_for_opted_in_live_deployments() -> None:
    deployments = [
        facts("a", account="one"),
        facts("b", account="two", enabled="false"),
        facts("c", account="three", deleting=True),
        facts("d", namespace="kube-system", account="four"),
        facts("e", account="one"),
    ]
    wanted = rbac.wanted_accounts(deployments, frozenset({"kube-system"}))
    assert wanted == {("shop", "one")}


def test_the_fingerprint_changes_when_the_desired_objects_change() -> None:
    before = rbac.fingerprint([rbac.role(facts()), rbac.role_binding(facts())])
    after = rbac.fingerprint([rbac.role(facts()), rbac.role_binding(facts(account="other"))])
    assert before != after
    assert before == rbac.fingerprint([rbac.role(facts()), rbac.role_binding(facts())])


def test_every_managed_object_carries_the_selector_the_resync_lists_by() -> None:
    selector = dict(pair.split("=") for pair in rbac.MANAGED_SELECTOR.split(","))
    for manifest in (rbac.role(facts()), rbac.role_binding(facts()), rbac.node_binding(("a", "b"))):
        assert selector.items() <= manifest["metadata"]["labels"].items()
