"""deploy/: what `kubectl apply -k deploy/` installs, checked against the code that relies on it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.client.rest import ApiException

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from spot_common import contract
from webhook.bootstrap import Names
from webhook.core import rbac
from webhook.core.certificates import service_hosts
from webhook.core.owners import DeploymentFacts
from webhook.server import PATH
from webhook.settings import ADMISSION_TIMEOUT_S, Settings

from .manifests import CERT_MANAGER, DEPLOY, find, kinds, render

NAMESPACE = Names().namespace
USER_ANNOTATIONS = set(contract.USER_ANNOTATIONS)
KEPT_ANNOTATIONS = set(contract.KEPT_ANNOTATIONS)


def webhook_deployment() -> dict[str, Any]:
    return find(render(), "Deployment", "spot-failover-webhook")


def webhook_container() -> dict[str, Any]:
    (container,) = webhook_deployment()["spec"]["template"]["spec"]["containers"]
    return dict(container)


def sidecar_policy() -> dict[str, Any]:
    return find(render(), "ValidatingAdmissionPolicy", "spot-failover-sidecar-scope")


def defaults() -> Settings:
    return Settings(sidecar_image="registry.example/sidecar:1")


# --- the admission configuration ---------------------------------------------------------------


def test_the_shipped_webhook_configuration_fails_open_and_never_sees_its_own_pods() -> None:
    configuration = find(render(), "MutatingWebhookConfiguration", Names().webhook_configuration)
    (hook,) = configuration["webhooks"]
    assert hook["failurePolicy"] == "Ignore"
    assert hook["sideEffects"] == "None"
    assert hook["timeoutSeconds"] <= ADMISSION_TIMEOUT_S
    assert hook["admissionReviewVersions"] == ["v1"]
    assert hook["rules"] == [
        {
            "apiGroups": [""],
            "apiVersions": ["v1"],
            "resources": ["pods"],
            "operations": ["CREATE"],
            "scope": "Namespaced",
        }
    ]
    (namespaces,) = hook["namespaceSelector"]["matchExpressions"]
    assert namespaces["key"] == "kubernetes.io/metadata.name"
    assert namespaces["operator"] == "NotIn"
    assert {"kube-system", NAMESPACE} <= set(namespaces["values"])
    (objects,) = hook["objectSelector"]["matchExpressions"]
    assert (objects["key"], objects["operator"]) == (contract.COMPONENT_LABEL, "NotIn")
    assert contract.COMPONENT_VALUE in objects["values"]
    labels = webhook_deployment()["spec"]["template"]["metadata"]["labels"]
    assert labels[contract.COMPONENT_LABEL] == contract.COMPONENT_VALUE
    service = hook["clientConfig"]["service"]
    assert (service["name"], service["namespace"], service["path"]) == (
        Names().service,
        NAMESPACE,
        PATH,
    )


def test_the_webhook_deployment_is_highly_available_hardened_and_probed() -> None:
    spec = webhook_deployment()["spec"]
    assert spec["replicas"] == 2
    budget = find(render(), "PodDisruptionBudget")
    assert budget["spec"]["minAvailable"] == 1
    assert budget["spec"]["selector"] == spec["selector"]
    pod = spec["template"]["spec"]
    (anti,) = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert anti["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    container = webhook_container()
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"https": defaults().port, "http-health": defaults().health_port}
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    assert "memory" in container["resources"]["limits"]


def test_the_webhook_reads_its_certificate_where_the_deployment_mounts_it() -> None:
    container = webhook_container()
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "tls"]
    assert defaults().tls_cert_file.parent.as_posix() == mount["mountPath"]
    (volume,) = [
        v for v in webhook_deployment()["spec"]["template"]["spec"]["volumes"] if v["name"] == "tls"
    ]
    assert volume["secret"]["secretName"] == Names().tls_secret
    paths = {item["path"] for item in volume["secret"]["items"]}
    assert paths == {defaults().tls_cert_file.name, defaults().tls_key_file.name}
    env = {item["name"] for item in container["env"]}
    assert "SPOT_FAILOVER_WEBHOOK_SIDECAR_IMAGE" in env


# --- certificates ------------------------------------------------------------------------------


def test_the_default_install_makes_its_certificate_once_with_one_job_for_all_replicas() -> None:
    objects = render()
    job = find(objects, "Job")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["bootstrap-certs"]
    assert container["image"] == webhook_container()["image"]
    role = find(objects, "Role", "spot-failover-webhook-certgen")
    named = {name for rule in role["rules"] for name in rule.get("resourceNames", ())}
    assert named == {Names().ca_secret, Names().tls_secret}
    cluster_role = find(objects, "ClusterRole", "spot-failover-webhook-certgen")
    (rule,) = cluster_role["rules"]
    assert rule["resourceNames"] == [Names().webhook_configuration]
    assert (
        find(objects, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]
        == job["spec"]["template"]
    )


def test_the_cert_manager_overlay_issues_from_one_ca_and_injects_it() -> None:
    objects = render(CERT_MANAGER)
    assert not kinds(objects) & {"Job", "CronJob"}
    ca = find(objects, "Certificate", "spot-failover-webhook-ca")
    assert ca["spec"]["isCA"] is True
    serving = find(objects, "Certificate", "spot-failover-webhook")
    assert serving["spec"]["secretName"] == Names().tls_secret
    assert set(serving["spec"]["dnsNames"]) <= set(service_hosts(Names().service, NAMESPACE))
    issuer = find(objects, "Issuer", serving["spec"]["issuerRef"]["name"])
    assert issuer["spec"]["ca"]["secretName"] == ca["spec"]["secretName"]
    configuration = find(objects, "MutatingWebhookConfiguration")
    annotation = configuration["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
    assert annotation == f"{NAMESPACE}/{serving['metadata']['name']}"


# --- RBAC --------------------------------------------------------------------------------------


def test_the_shared_nodes_cluster_role_grants_exactly_the_contracts_node_rules() -> None:
    role = find(render(), "ClusterRole", rbac.NODES_CLUSTER_ROLE)
    assert role["rules"] == contract.SIDECAR_NODE_RULES


def test_the_shared_node_events_cluster_role_grants_exactly_reading_events() -> None:
    role = find(render(), "ClusterRole", rbac.NODE_EVENTS_CLUSTER_ROLE)
    assert role["rules"] == contract.SIDECAR_NODE_EVENT_RULES
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["events"], "verbs": ["list", "watch"]}
    ]


def covers(rules: list[dict[str, Any]], group: str, resource: str, verb: str) -> bool:
    return any(
        group in rule["apiGroups"]
        and resource in rule["resources"]
        and verb in rule["verbs"]
        and not rule.get("resourceNames")
        for rule in rules
    )


def test_the_webhook_holds_every_permission_it_grants_so_no_escalate_verb_is_needed() -> None:
    rules = find(render(), "ClusterRole", "spot-failover-webhook")["rules"]
    for granted in contract.sidecar_role_rules("any"):
        for group in granted["apiGroups"]:  # type: ignore[attr-defined]
            for resource in granted["resources"]:  # type: ignore[attr-defined]
                for verb in granted["verbs"]:  # type: ignore[attr-defined]
                    assert covers(rules, group, resource, verb), (group, resource, verb)
    assert {
        "apiGroups": ["rbac.authorization.k8s.io"],
        "resources": ["clusterroles"],
        "resourceNames": [rbac.NODES_CLUSTER_ROLE, rbac.NODE_EVENTS_CLUSTER_ROLE],
        "verbs": ["bind"],
    } in rules
    assert not any("escalate" in rule["verbs"] or "*" in rule["verbs"] for rule in rules)


# --- the admission policy ----------------------------------------------------------------------


def policy_list(name: str) -> set[str]:
    (variable,) = [v for v in sidecar_policy()["spec"]["variables"] if v["name"] == name]
    return set(re.findall(r"'([^']+)'", variable["expression"]))


def test_the_policy_protects_exactly_the_annotations_users_set() -> None:
    assert policy_list("userAnnotations") == USER_ANNOTATIONS
    annotation_keys = {
        value
        for value in vars(contract).values()
        if isinstance(value, str) and value.startswith(contract.PREFIX) and value != contract.PREFIX
    } - {contract.INJECTED}
    unclassified = annotation_keys - USER_ANNOTATIONS - KEPT_ANNOTATIONS
    assert not unclassified, f"decide whether the sidecar may change {unclassified}"


@pytest.mark.cluster
def test_the_policy_holds_every_deployment_and_pod_spec_field_it_does_not_free(
    cluster: LocalCluster,
) -> None:
    """Fields are named one by one in CEL; a field Kubernetes adds must be added here too."""
    with cluster.admin_session() as session:
        schemas = session.get(f"{cluster.server}/openapi/v3/apis/apps/v1", timeout=30).json()
    properties = {
        name: set(schema["properties"])
        for name, schema in schemas["components"]["schemas"].items()
        if name.endswith((".apps.v1.DeploymentSpec", ".core.v1.PodSpec"))
    }
    text = " ".join(v["expression"] for v in sidecar_policy()["spec"]["validations"])
    deployment_spec = next(v for k, v in properties.items() if k.endswith("DeploymentSpec"))
    pod_spec = next(v for k, v in properties.items() if k.endswith("PodSpec"))
    for field in deployment_spec - {"template"}:
        assert f"object.spec.?{field} == oldObject.spec.?{field}" in text, field
    for field in pod_spec - {"nodeSelector", "tolerations", "affinity"}:
        assert f"variables.new.?{field} == variables.old.?{field}" in text, field
    for field in ("podAffinity", "podAntiAffinity"):
        assert f"variables.new.?affinity.?{field} ==" in text, field


def test_the_policy_applies_to_the_accounts_the_webhooks_role_bindings_bind() -> None:
    """Keyed on the grant, not on the Deployment's opt-in annotation or current account."""
    spec = sidecar_policy()["spec"]
    assert spec["paramKind"] == {"apiVersion": f"{rbac.RBAC_GROUP}/v1", "kind": "RoleBinding"}
    conditions = {c["name"]: c["expression"] for c in spec["matchConditions"]}
    assert rbac.DEPLOYMENT_ANNOTATION in conditions["grants-this-deployment"]
    assert "params.?subjects" in conditions["to-the-requester"]
    assert not any(contract.ENABLED in c or "serviceAccountName" in c for c in conditions.values())
    binding = find(render(), "ValidatingAdmissionPolicyBinding", "spot-failover-sidecar-scope")
    labels = binding["spec"]["paramRef"]["selector"]["matchLabels"]
    assert (
        labels
        == rbac.role_binding(DeploymentFacts("shop", "web", "uid", "web", {}))["metadata"]["labels"]
    )


# --- the whole install on the API server -------------------------------------------------------


@pytest.fixture
def install_namespace(kube: Kube) -> Iterator[None]:
    """The namespace must exist for a dry run of the objects in it (a dry run creates nothing);
    it gets the shipped labels, so that Pod Security admission checks the shipped workloads."""
    labels = find(render(), "Namespace")["metadata"]["labels"]
    try:
        kube.core.create_namespace({"metadata": {"name": NAMESPACE, "labels": labels}})
    except ApiException as error:
        if error.status != 409:
            raise
        yield
        return
    yield
    kube.delete_namespace(NAMESPACE)


@pytest.mark.cluster
def test_kubectl_apply_k_deploy_passes_a_server_side_dry_run(
    cluster: LocalCluster, install_namespace: None
) -> None:
    result = cluster.kubectl("apply", "-k", str(DEPLOY), "--dry-run=server", check=False)
    assert result.returncode == 0, result.stderr
    assert "PodSecurity" not in result.stderr, "the namespace enforces the restricted standard"
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(render())
    assert all(line.endswith("(server dry run)") for line in lines)


# --- the webhook's RBAC policy and the Lease policy ---------------------------------------------


def policy_variable(policy: str, name: str) -> str:
    document = find(render(), "ValidatingAdmissionPolicy", policy)
    (variable,) = [v for v in document["spec"]["variables"] if v["name"] == name]
    return " ".join(str(variable["expression"]).split())


def rules_as_cel(rules: list[dict[str, Any]], deployment: str) -> str:
    """The contract's rules in the policy's form: lists joined with ','."""
    lease = contract.lease_name(deployment)

    def joined(values: list[str]) -> str:
        if values == [deployment]:
            return "string(variables.deployment)"
        if values == [lease]:
            return "string(variables.leaseRuleName)"
        return "'" + ",".join(values) + "'"

    keys = ("apiGroups", "resources", "resourceNames", "verbs")
    maps = [
        "{" + ", ".join(f"'{key}': {joined(rule.get(key, []))}" for key in keys) + "}"
        for rule in rules
    ]
    return "[ " + ", ".join(maps) + " ]"


def test_the_webhook_rbac_policy_allows_exactly_the_contracts_sidecar_rules() -> None:
    expected = rules_as_cel(contract.sidecar_role_rules("DEPLOYMENT"), "DEPLOYMENT")
    assert policy_variable("spot-failover-webhook-rbac", "sidecarRules") == expected


def test_the_lease_policy_caps_the_term_where_the_sidecar_stops_trusting_it() -> None:
    document = find(render(), "ValidatingAdmissionPolicy", "spot-failover-lease-holders")
    expressions = [v["expression"] for v in document["spec"]["validations"]]
    assert f"leaseDurationSeconds.orValue(0) <= {contract.MAX_LEASE_DURATION_S}" in " ".join(
        expressions
    )


def test_only_the_admission_port_is_limited_to_where_the_api_server_calls_from() -> None:
    policy = find(render(), "NetworkPolicy", "spot-failover-webhook")
    pods = webhook_deployment()["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pods.items()
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    admission, health = policy["spec"]["ingress"]
    assert admission["ports"] == [{"port": "https", "protocol": "TCP"}]
    assert all(set(peer) == {"ipBlock"} for peer in admission["from"])
    assert health == {"ports": [{"port": "http-health", "protocol": "TCP"}]}


def test_a_webhook_pod_that_is_not_ready_never_blocks_a_drain() -> None:
    budget = find(render(), "PodDisruptionBudget", "spot-failover-webhook")
    assert budget["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
