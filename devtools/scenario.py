"""A failover scenario on the local control plane (development tooling, shared by the tests,
the benchmarks and the demo): an opted-in Deployment whose template carries exactly the sidecar
the webhook injects, sidecars running as processes with pod-bound tokens and the RBAC the webhook
provisions, and an IMDS simulator playing every spot node."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from devtools.controlplane.podrunner import PodRunner
from devtools.controlplane.waiting import wait_for
from devtools.imds import ImdsSimulator
from sidecar import contract
from webhook.injection import InjectionConfig, inject

SPOT_NODES = tuple(f"spot-{i}" for i in range(3))
FARGATE_NODES = tuple(f"fargate-ip-10-0-9-{i}" for i in range(3))
FARGATE_LABELS = {"spot-failover/fargate": "true"}
"""Labels the local Fargate profile stand-in selects on (the sidecar's default)."""


def deployment(name: str, replicas: int = 3) -> dict[str, Any]:
    """A small Deployment whose pods kwok reports Running and Ready; rolling updates never
    drop below the desired replicas (maxUnavailable 0)."""
    selector = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": {"labels": dict(selector)},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "registry.example/app:1.0",
                            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                        }
                    ],
                },
            },
        },
    }


SIDECAR_ENV = {
    "SPOT_FAILOVER_POLL_INTERVAL_S": "1",
    "SPOT_FAILOVER_LEASE_DURATION_S": "6",
    "SPOT_FAILOVER_LEASE_RENEW_S": "1",
    "SPOT_FAILOVER_ROLLOUT_TIMEOUT_S": "120",
    "SPOT_FAILOVER_FAILBACK_AFTER_S": "never",
    "SPOT_FAILOVER_LOG_LEVEL": "DEBUG",
}
"""Test timings: fast polls and short leases so scenarios run in seconds."""

INJECTION = InjectionConfig(
    image="registry.example/spot-failover/sidecar:test",
    version="test",
    extra_env=SIDECAR_ENV,
    metrics_port=0,
)


def with_sidecar(
    template: Mapping[str, Any], name: str, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The pod template as the webhook would leave its pods (a template is a pod's shape)."""
    config = dataclasses.replace(INJECTION, extra_env={**SIDECAR_ENV, **(env or {})})
    injected = inject(template, name, {contract.ENABLED: "true"}, config)
    return injected.pod


@dataclasses.dataclass
class Scenario:
    cluster: LocalCluster
    kube: Kube
    namespace: str
    imds: ImdsSimulator
    runner: PodRunner

    def create(
        self,
        name: str,
        replicas: int = 3,
        annotations: Mapping[str, str] | None = None,
        tweak: Any = None,
        sidecar_env: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """An opted-in Deployment with the sidecar in its template; waits for its sidecars."""
        body = deployment(name, replicas=replicas)
        body["metadata"]["annotations"] = {contract.ENABLED: "true", **(annotations or {})}
        if tweak is not None:
            tweak(body)
        body["spec"]["template"] = with_sidecar(body["spec"]["template"], name, sidecar_env)
        self.kube.rbac.create_namespaced_role(
            self.namespace,
            {"metadata": {"name": f"sidecar-{name}"}, "rules": contract.sidecar_role_rules(name)},
        )
        self.kube.rbac.create_namespaced_role_binding(
            self.namespace,
            {
                "metadata": {"name": f"sidecar-{name}"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": f"sidecar-{name}",
                },
                "subjects": [
                    {"kind": "ServiceAccount", "name": "default", "namespace": self.namespace}
                ],
            },
        )
        created = self.kube.apps.create_namespaced_deployment(self.namespace, body)
        self.wait_rolled_out(name)
        wait_for(
            lambda: {p["metadata"]["name"] for p in self.pods(name)} <= set(self.runner.pods()),
            60,
            f"a running sidecar for every pod of {name}",
        )
        return dict(self.kube.api.sanitize_for_serialization(created))

    def read(self, name: str) -> dict[str, Any]:
        return dict(
            self.kube.api.sanitize_for_serialization(
                self.kube.apps.read_namespaced_deployment(name, self.namespace)
            )
        )

    def annotations(self, name: str) -> dict[str, str]:
        return dict(self.read(name)["metadata"].get("annotations") or {})

    def wait_state(self, name: str, state: contract.State, timeout_s: float = 60) -> dict[str, str]:
        return wait_for(
            lambda: (
                found if (found := self.annotations(name)).get(contract.STATE) == state else None
            ),
            timeout_s,
            f"{name} to reach {state}",
            interval_s=0.2,
        )

    def wait_rolled_out(self, name: str, timeout_s: float = 90) -> None:
        def done() -> bool:
            d = self.read(name)
            s = d.get("status") or {}
            want = d["spec"]["replicas"]
            return bool(
                s.get("observedGeneration", 0) >= d["metadata"]["generation"]
                and s.get("updatedReplicas") == want
                and s.get("replicas") == want
                and s.get("availableReplicas") == want
            )

        wait_for(done, timeout_s, f"{name} to roll out")

    def events(self, name: str) -> list[dict[str, Any]]:
        found = self.kube.core.list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={name}"
        )
        return [dict(self.kube.api.sanitize_for_serialization(e)) for e in found.items]

    def pods(self, name: str) -> list[dict[str, Any]]:
        found = self.kube.core.list_namespaced_pod(self.namespace, label_selector=f"app={name}")
        return [dict(self.kube.api.sanitize_for_serialization(p)) for p in found.items]

    def nodes_of(self, name: str) -> set[str]:
        return {
            p["spec"].get("nodeName")
            for p in self.pods(name)
            if "deletionTimestamp" not in p["metadata"]
        }

    def busiest_spot_node(self, name: str) -> str:
        """The spot node that runs most of the Deployment's pods: the one to interrupt."""
        nodes = [p["spec"].get("nodeName") for p in self.pods(name)]
        return max(SPOT_NODES, key=nodes.count)


def template_of(body: Mapping[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(dict(body["spec"]["template"]))


def sidecar_program() -> list[str]:
    return [sys.executable, "-m", "sidecar"]


def sidecar_node_rbac(kube: Kube, namespace: str, cluster_role: str) -> str:
    """Bind the shared node-reading ClusterRole to the namespace's default ServiceAccount."""
    binding = f"sidecar-nodes-{namespace}"
    kube.rbac.create_cluster_role_binding(
        {
            "metadata": {"name": binding},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": cluster_role,
            },
            "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": namespace}],
        }
    )
    return binding


def node_cluster_role(kube: Kube, name: str = "spot-failover-sidecar-nodes-local") -> str:
    """The shared ClusterRole that lets sidecars read Nodes (deploy/ ships the same rules)."""
    kube.apply(
        [
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": name},
                "rules": contract.SIDECAR_NODE_RULES,
            }
        ]
    )
    return name


@contextlib.contextmanager
def scenario(
    cluster: LocalCluster, kube: Kube, namespace: str, log_dir: Path
) -> Iterator[Scenario]:
    """IMDS simulator, node RBAC and a pod runner for ``namespace``; all stopped on exit."""
    binding = sidecar_node_rbac(kube, namespace, node_cluster_role(kube))
    with ImdsSimulator(SPOT_NODES) as imds:
        runner = PodRunner(
            cluster,
            kube,
            namespace=namespace,
            program=sidecar_program(),
            log_dir=log_dir,
            node_env=lambda node: {"SPOT_FAILOVER_IMDS_URL": imds.base_url(node)},
        )
        try:
            with runner:
                yield Scenario(cluster, kube, namespace, imds, runner)
        finally:
            kube.rbac.delete_cluster_role_binding(binding)
