"""Proof that the local control plane is real: controllers, scheduler, kwok, optimistic
concurrency and RBAC all behave as on a real cluster. What plays EKS on it is proven in
tests/devtools/eks (test_fargate.py, test_reclaim.py and test_karpenter.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from devtools.controlplane import audit
from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from devtools.controlplane.nodes import FARGATE_KEY
from devtools.controlplane.tokens import pod_bound_token
from devtools.controlplane.waiting import wait_for
from devtools.scenario import deployment

pytestmark = pytest.mark.cluster


def _pods(kube: Kube, namespace: str, app: str) -> list[Any]:
    return list(kube.core.list_namespaced_pod(namespace, label_selector=f"app={app}").items)


def _ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def _node_labels(kube: Kube, name: str) -> dict[str, str]:
    return dict(kube.core.read_node(name).metadata.labels)


def _rolled_out(kube: Kube, namespace: str, name: str) -> bool:
    d = kube.apps.read_namespaced_deployment(name, namespace)
    s = d.status
    return bool(
        (s.observed_generation or 0) >= d.metadata.generation
        and (s.updated_replicas or 0) == d.spec.replicas
        and (s.replicas or 0) == d.spec.replicas
        and (s.available_replicas or 0) == d.spec.replicas
    )


def test_a_deployment_gets_a_replicaset_and_ready_pods_on_spot_nodes(
    kube: Kube, namespace: str
) -> None:
    kube.apps.create_namespaced_deployment(namespace, deployment("web", replicas=3))

    pods = wait_for(
        lambda: (
            [p for p in _pods(kube, namespace, "web") if _ready(p)]
            if len([p for p in _pods(kube, namespace, "web") if _ready(p)]) == 3
            else None
        ),
        60,
        "3 ready pods",
    )

    replicasets = kube.apps.list_namespaced_replica_set(namespace).items
    assert [rs.metadata.owner_references[0].name for rs in replicasets] == ["web"]
    for pod in pods:
        labels = _node_labels(kube, pod.spec.node_name)
        assert labels["eks.amazonaws.com/capacityType"] == "SPOT"
        assert FARGATE_KEY not in labels


def test_a_lease_update_with_a_stale_resource_version_gets_409(kube: Kube, namespace: str) -> None:
    now = dt.datetime.now(dt.UTC)
    lease = kube.coordination.create_namespaced_lease(
        namespace,
        {
            "metadata": {"name": "election"},
            "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15, "renewTime": now},
        },
    )
    stale = lease.metadata.resource_version
    lease.spec.holder_identity = "b"
    kube.coordination.replace_namespaced_lease("election", namespace, lease)

    lease.spec.holder_identity = "c"
    lease.metadata.resource_version = stale
    with pytest.raises(ApiException) as conflict:
        kube.coordination.replace_namespaced_lease("election", namespace, lease)

    assert conflict.value.status == 409
    held = kube.coordination.read_namespaced_lease("election", namespace)
    assert held.spec.holder_identity == "b"


def test_a_pod_bound_token_with_limited_rbac_gets_403_outside_its_grant(
    cluster: LocalCluster, kube: Kube, namespace: str, tmp_path: Any
) -> None:
    kube.core.create_namespaced_service_account(namespace, {"metadata": {"name": "reader"}})
    kube.rbac.create_namespaced_role(
        namespace,
        {
            "metadata": {"name": "read-one-configmap"},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["configmaps"],
                    "resourceNames": ["allowed"],
                    "verbs": ["get"],
                }
            ],
        },
    )
    kube.rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": "reader"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "read-one-configmap",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}],
        },
    )
    for name in ("allowed", "other"):
        kube.core.create_namespaced_config_map(namespace, {"metadata": {"name": name}})
    kube.core.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": "holder"},
            "spec": {
                "serviceAccountName": "reader",
                "containers": [{"name": "app", "image": "registry.example/app:1.0"}],
            },
        },
    )
    token = pod_bound_token(kube.api, namespace, "reader", "holder")
    as_pod = client.CoreV1Api(_client_with_token(cluster, token, tmp_path))

    assert as_pod.read_namespaced_config_map("allowed", namespace).metadata.name == "allowed"
    forbidden: list[Callable[[], object]] = [
        lambda: as_pod.read_namespaced_config_map("other", namespace),
        lambda: as_pod.list_namespaced_secret(namespace),
        lambda: as_pod.delete_namespaced_config_map("allowed", namespace),
    ]
    for attempt in forbidden:
        with pytest.raises(ApiException) as denied:
            attempt()
        assert denied.value.status == 403


def test_the_api_server_counts_each_request_of_a_pod_bound_token_under_its_pod(
    cluster: LocalCluster, kube: Kube, namespace: str, tmp_path: Any
) -> None:
    kube.core.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": "counted"},
            "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.0"}]},
        },
    )
    as_pod = client.CoreV1Api(
        _client_with_token(
            cluster, pod_bound_token(kube.api, namespace, "default", "counted"), tmp_path
        )
    )

    for _ in range(3):
        with pytest.raises(ApiException):
            as_pod.list_namespaced_secret(namespace)

    seen = wait_for(
        lambda: (
            found
            if len(found := [r for r in audit.read(cluster.audit_log) if r.pod == "counted"]) >= 3
            else None
        ),
        10,
        "three audited requests",
    )
    assert len(seen) == 3
    assert {(r.user, r.verb, r.code) for r in seen} == {
        (f"system:serviceaccount:{namespace}:default", "list", 403)
    }


def _client_with_token(cluster: LocalCluster, token: str, tmp_path: Any) -> client.ApiClient:
    path = cluster.kubeconfig_for_token(token, tmp_path / "token-kubeconfig")
    return config.new_client_from_config(config_file=str(path))
