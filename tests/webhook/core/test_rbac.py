"""The sidecar RBAC objects as manifests: names, rules, owners, which accounts need nodes."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from spot_common import contract
from webhook.core import rbac
from webhook.core.owners import DeploymentFacts


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


def test_the_node_events_binding_grants_reading_events_in_default_only_to_the_account() -> None:
    binding = rbac.node_events_binding(("shop", "web.api"))
    assert binding["kind"] == "RoleBinding"
    assert binding["metadata"]["namespace"] == contract.NODE_EVENTS_NAMESPACE == "default"
    assert binding["metadata"]["name"] == "spot-failover-node-events.shop.web.api"
    assert binding["roleRef"] == {
        "apiGroup": rbac.RBAC_GROUP,
        "kind": "ClusterRole",
        "name": rbac.NODE_EVENTS_CLUSTER_ROLE,
    }
    assert rbac.account_of_binding(binding) == ("shop", "web.api")
    assert rbac.is_node_events_binding(binding)
    assert not rbac.is_node_events_binding(rbac.role_binding(facts(namespace="default")))
    assert rbac.account_bindings(("shop", "web.api")) == [
        rbac.node_binding(("shop", "web.api")),
        binding,
    ]


def test_names_too_long_for_kubernetes_are_shortened_with_a_hash() -> None:
    long_name = "d" * 253
    first = rbac.role_name(long_name)
    assert len(first) == contract.MAX_NAME
    assert first != rbac.role_name("d" * 252)


DNS_SUBDOMAIN = st.from_regex(r"[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?", fullmatch=True)
"""Names a Deployment, a namespace's ServiceAccount, may have (up to 253 characters)."""
NEAR_THE_LIMIT = st.builds(
    lambda head, tail: (head * 300)[: 230 + len(tail) % 24] + tail,
    st.sampled_from(["d", "web-", "a.b"]),
    st.text("abc.-0", max_size=23).map(lambda t: t.strip(".-") + "z"),
)
"""Names that share a long prefix and straddle the length where shortening begins."""
NAMES = st.one_of(DNS_SUBDOMAIN, NEAR_THE_LIMIT)
VALID = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")
"""RFC 1123 subdomain (length aside), what Lease names must be."""


@given(st.lists(NAMES, min_size=2, max_size=6, unique=True))
def test_role_names_of_different_deployments_never_meet(deployments: list[str]) -> None:
    assert len({rbac.role_name(d) for d in deployments}) == len(deployments)


@given(st.lists(NAMES, min_size=2, max_size=6, unique=True))
def test_lease_names_of_different_deployments_never_meet(deployments: list[str]) -> None:
    assert len({contract.lease_name(d) for d in deployments}) == len(deployments)


@given(
    st.lists(
        st.tuples(st.from_regex(r"[a-z0-9]{1,63}", fullmatch=True), NAMES),
        min_size=2,
        max_size=6,
        unique=True,
    )
)
def test_node_binding_names_of_different_accounts_never_meet(
    accounts: list[tuple[str, str]],
) -> None:
    assert len({rbac.node_binding_name(a) for a in accounts}) == len(accounts)


@given(NAMES)
def test_a_shortened_name_cannot_equal_a_literal_one(name: str) -> None:
    """Literal names are shorter than the limit, shortened ones exactly at it; both are valid
    DNS subdomains."""
    derived = contract.bounded_name(name)
    assert (derived == name) == (len(name) < contract.MAX_NAME)
    assert len(derived) <= contract.MAX_NAME
    if derived != name:
        assert len(derived) == contract.MAX_NAME
    lease = contract.lease_name(name)
    if VALID.fullmatch("spot-failover-" + name):
        assert VALID.fullmatch(lease), lease


def test_the_shortened_shape_the_admission_policies_check() -> None:
    """webhook-rbac-policy.yaml accepts a shortened name that starts with the literal's first
    235 characters and is exactly 253 long."""
    literal = "spot-failover-sidecar-" + "x" * 240
    shortened = rbac.role_name("x" * 240)
    assert len(shortened) == 253
    assert shortened.startswith(literal[:235])


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
    for manifest in (
        rbac.role(facts()),
        rbac.role_binding(facts()),
        *rbac.account_bindings(("a", "b")),
    ):
        assert selector.items() <= manifest["metadata"]["labels"].items()


@given(deployment=DNS_SUBDOMAIN, namespace=DNS_SUBDOMAIN, account=DNS_SUBDOMAIN)
def test_a_node_events_binding_never_meets_a_deployment_s_role_binding_in_default(
    deployment: str, namespace: str, account: str
) -> None:
    events = rbac.node_events_binding_name((namespace, account))
    assert events != rbac.role_name(deployment)
    assert not events.startswith(rbac.ROLE_PREFIX)
