"""A failover scenario on the local control plane, nothing short-circuited (development tooling,
shared by the tests, the benchmarks and the demo).

:func:`scenario` sets up, for one namespace, what a user's cluster would have once they
installed spot-failover:

* the real webhook (:class:`~devtools.local_webhook.LocalWebhook`: ``python -m webhook`` behind
  the shipped configuration and identity), admitting and watching only that namespace. It
  injects the sidecar into the pods the controller manager creates, and its controller
  provisions the sidecars' Role, RoleBinding, nodes ClusterRoleBinding and node Events
  RoleBinding;
* a :class:`~devtools.controlplane.podrunner.PodRunner`, the kubelet for sidecars: one process
  per pod, from exactly the container spec the webhook injected, with a token bound to the pod;
* an IMDS simulator playing every spot node;
* with ``reclaim=True``, a :class:`~devtools.eks.reclaim.Reclaimer`: at a notice's deadline the
  instance is gone (its sidecars killed, its Node NotReady then deleted, its pods gone).
  Off by default, because the session's shared spot nodes (:data:`SPOT_NODES`) must survive
  the tests that send notices; a scenario that reclaims adds nodes of its own
  (:meth:`Scenario.add_spot_node`).

Fargate is EKS's, simulated for the whole cluster by :class:`~devtools.eks.EksSimulator`
(started with the cluster): the namespace needs a Fargate profile, e.g.
:func:`fargate_profile`.

Deployments are created exactly as a user writes them (:meth:`Scenario.create`: annotated
``spot-failover/enabled: "true"``, no sidecar in the template). The sidecar's settings are the
webhook's ``sidecar_env``, so they are chosen per scenario: the test timings
(:data:`SIDECAR_ENV`) with the caller's overrides on top.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from kubernetes.client.rest import ApiException

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube, exists
from devtools.controlplane.nodes import FARGATE_KEY, SpotShape
from devtools.controlplane.podrunner import PodRunner
from devtools.controlplane.waiting import wait_for
from devtools.eks import simulator
from devtools.eks.profiles import FargateProfile
from devtools.eks.reclaim import Reclaimer
from devtools.imds import ImdsSimulator
from devtools.local_webhook import LocalWebhook, SettingValue
from spot_common import contract
from webhook.core import rbac
from webhook.core.injection import has_sidecar

SPOT_NODES = tuple(f"spot-{i}" for i in range(3))
"""The session's shared spot nodes (managed node group shape)."""
FARGATE_LABELS = {"spot-failover/fargate": "true"}
"""Labels a scenario's Fargate profile selects on (the sidecar's default)."""

SIDECAR_IMAGE: Final = "registry.example/spot-failover/sidecar:test"
"""Stands for the sidecar image; the pod runner runs ``python -m sidecar`` for it."""
SIDECAR_ENV: Final = {
    "SPOT_FAILOVER_POLL_INTERVAL_S": "1",
    "SPOT_FAILOVER_LEASE_DURATION_S": "6",
    "SPOT_FAILOVER_LEASE_RENEW_S": "1",
    "SPOT_FAILOVER_ROLLOUT_TIMEOUT_S": "120",
    "SPOT_FAILOVER_FAILBACK_AFTER_S": "never",
    "SPOT_FAILOVER_LOG_LEVEL": "DEBUG",
}
"""Test timings: fast polls and short leases so scenarios run in seconds."""
WEBHOOK_SETTINGS: Final[Mapping[str, SettingValue]] = {"report_interval_s": 1}
"""Webhook settings of a scenario: pods missing the sidecar are reported within a second
(shipped: a minute), so a scenario can wait for the ``SidecarMissing`` Event."""
RBAC_TIMEOUT_S: Final = 30.0
SIDECARS_TIMEOUT_S: Final = 60.0


class ScenarioError(RuntimeError):
    """The scenario's set-up did not come out as a user's cluster would; says what is missing."""


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


def opted_in(
    name: str,
    replicas: int = 3,
    annotations: Mapping[str, str] | None = None,
    tweak: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """:func:`deployment` as a user opts it in: the annotation, nothing in the template."""
    body = deployment(name, replicas=replicas)
    body["metadata"]["annotations"] = {contract.ENABLED: "true", **(annotations or {})}
    if tweak is not None:
        tweak(body)
    return body


def live(pod: Mapping[str, Any]) -> bool:
    return "deletionTimestamp" not in pod["metadata"]


def ready(pod: Mapping[str, Any]) -> bool:
    """Bound to a node and Ready, as the pod's own status says."""
    conditions = (pod.get("status") or {}).get("conditions") or []
    return bool(pod["spec"].get("nodeName")) and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in conditions
    )


def ebs_claim(namespace: str, claim: str) -> list[dict[str, Any]]:
    """An EBS StorageClass, a volume of it and ``claim`` bound to that volume."""
    volume = f"{namespace}-{claim}"
    size = {"storage": "1Gi"}
    return [
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": "gp3"},
            "provisioner": "ebs.csi.aws.com",
            "volumeBindingMode": "WaitForFirstConsumer",
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": volume},
            "spec": {
                "capacity": size,
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "gp3",
                "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": f"vol-{volume}"},
                "claimRef": {"namespace": namespace, "name": claim},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": claim, "namespace": namespace},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "gp3",
                "volumeName": volume,
                "resources": {"requests": size},
            },
        },
    ]


def no_memory_request(body: dict[str, Any]) -> None:
    """A ``tweak`` for :meth:`Scenario.create`: the app container requests no memory."""
    for container in body["spec"]["template"]["spec"]["containers"]:
        container.get("resources", {}).get("requests", {}).pop("memory", None)


def mounting(claim: str) -> Callable[[dict[str, Any]], None]:
    """A ``tweak`` for :meth:`Scenario.create`: the pods mount ``claim`` at ``/data``."""

    def tweak(body: dict[str, Any]) -> None:
        spec = body["spec"]["template"]["spec"]
        spec["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]
        spec["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]

    return tweak


def fargate_profile(namespace: str) -> FargateProfile:
    """The Fargate profile of a scenario's namespace: pods there with :data:`FARGATE_LABELS`."""
    return FargateProfile.one(namespace, namespace, FARGATE_LABELS)


@dataclasses.dataclass
class Scenario:
    cluster: LocalCluster
    kube: Kube
    namespace: str
    imds: ImdsSimulator
    runner: PodRunner
    webhook: LocalWebhook
    reclaimer: Reclaimer | None = None
    """Set when the scenario reclaims instances at their deadlines."""

    def create(
        self,
        name: str,
        replicas: int = 3,
        annotations: Mapping[str, str] | None = None,
        tweak: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Create an opted-in Deployment as a user writes it (``tweak`` edits the body first);
        the Deployment as created, so what the user wrote. Returns once it has rolled out, the
        webhook has provisioned its sidecars' RBAC, and every pod runs the injected sidecar."""
        body = opted_in(name, replicas, annotations, tweak)
        created = self.kube.apps.create_namespaced_deployment(self.namespace, body)
        self.wait_rolled_out(name)
        self.wait_sidecar_rbac(name)
        self.wait_sidecars(name)
        return dict(self.kube.api.sanitize_for_serialization(created))

    # --- reading ------------------------------------------------------------------------------

    def read(self, name: str) -> dict[str, Any]:
        return dict(
            self.kube.api.sanitize_for_serialization(
                self.kube.apps.read_namespaced_deployment(name, self.namespace)
            )
        )

    def deployments(self) -> list[dict[str, Any]]:
        """Every Deployment of the namespace, as the API returns them (for the status table)."""
        found = self.kube.apps.list_namespaced_deployment(self.namespace)
        return [dict(self.kube.api.sanitize_for_serialization(d)) for d in found.items]

    def diagnostics(self, lines: int = 60) -> list[tuple[str, str]]:
        """What to read when a test of this scenario failed: the last ``lines`` of the
        webhook's log and of every sidecar's, as (title, text) sections."""
        logs = [("webhook", self.webhook.log_path)] + [
            (f"sidecar {pod}", self.runner.record(pod).log_path) for pod in self.runner.every_pod()
        ]
        return [(f"{title} (last {lines} lines)", _tail(path, lines)) for title, path in logs]

    def annotations(self, name: str) -> dict[str, str]:
        return dict(self.read(name)["metadata"].get("annotations") or {})

    def events(self, name: str) -> list[dict[str, Any]]:
        found = self.kube.core.list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={name}"
        )
        return [dict(self.kube.api.sanitize_for_serialization(e)) for e in found.items]

    def pods(self, name: str) -> list[dict[str, Any]]:
        found = self.kube.core.list_namespaced_pod(self.namespace, label_selector=f"app={name}")
        return [dict(self.kube.api.sanitize_for_serialization(p)) for p in found.items]

    def pods_without_sidecar(self, name: str) -> set[str]:
        """Live pods of ``name`` that the webhook did not inject (it was down, or skipped them)."""
        return {p["metadata"]["name"] for p in self.pods(name) if live(p) and not has_sidecar(p)}

    def nodes_of(self, name: str) -> set[str]:
        return {p["spec"].get("nodeName") for p in self.pods(name) if live(p)}

    def on_fargate(self, name: str) -> bool:
        """Whether every live pod of ``name`` runs on a Fargate node (by the node's label)."""
        nodes = self.nodes_of(name)
        if not nodes or None in nodes:
            return False
        labels = {n: self.kube.core.read_node(n).metadata.labels or {} for n in nodes}
        return all(found.get(FARGATE_KEY) == "fargate" for found in labels.values())

    def busiest_spot_node(self, name: str) -> str:
        """The spot node (one the scenario's IMDS plays) that runs most of the Deployment's
        pods: the one to interrupt."""
        nodes = [p["spec"].get("nodeName") for p in self.pods(name)]
        return max(self.imds.nodes(), key=nodes.count)

    # --- nodes of the scenario's own -----------------------------------------------------------

    def add_spot_node(self, node: str, shape: SpotShape = SpotShape.MANAGED) -> None:
        """A spot node of ``shape`` with its IMDS, for this scenario alone (e.g. to reclaim)."""
        simulator.add_spot_node(self.kube, node, shape, self.imds)

    def remove_node(self, node: str) -> None:
        simulator.remove_node(self.kube, node, self.imds)

    def add_ebs_claim(self, claim: str) -> None:
        """A PersistentVolumeClaim ``claim`` bound to an EBS volume (ebs.csi.aws.com): fine on
        EC2, refused by Fargate. Mount it with :func:`mounting`."""
        self.kube.apply(ebs_claim(self.namespace, claim))

    def add_default_memory_request(self, memory: str) -> None:
        """A LimitRange giving every container created from now on that requests no memory a
        request of ``memory``: admission changes the pod, not the template (with ``"130Gi"``,
        beyond the largest Fargate size, which only Fargate's scheduler then sees)."""
        self.kube.apply(
            [
                {
                    "apiVersion": "v1",
                    "kind": "LimitRange",
                    "metadata": {"name": "default-memory", "namespace": self.namespace},
                    "spec": {
                        "limits": [{"type": "Container", "defaultRequest": {"memory": memory}}]
                    },
                }
            ]
        )

    def lease_holder(self, name: str) -> str | None:
        """Who holds the Deployment's Lease: ``None`` if there is no Lease, ``""`` if released."""
        try:
            lease = self.kube.coordination.read_namespaced_lease(
                contract.lease_name(name), self.namespace
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return str(lease.spec.holder_identity or "")

    # --- waiting ------------------------------------------------------------------------------

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
        """Until the Deployment's status says so and its live pods show it: the status alone
        lags a pod's deletion (the generation does not change), and would still count the
        deleted pod as available while its replacement is Pending."""

        def done() -> bool:
            d = self.read(name)
            s = d.get("status") or {}
            want = d["spec"]["replicas"]
            pods = [p for p in self.pods(name) if live(p)]
            return bool(
                s.get("observedGeneration", 0) >= d["metadata"]["generation"]
                and s.get("updatedReplicas") == want
                and s.get("replicas") == want
                and s.get("availableReplicas") == want
                and len(pods) == want
                and all(ready(p) for p in pods)
            )

        wait_for(done, timeout_s, f"{name} to roll out")

    def wait_sidecar_rbac(self, name: str, timeout_s: float = RBAC_TIMEOUT_S) -> None:
        """Wait until the webhook's controller has provisioned what ``name``'s sidecars need:
        the Role and RoleBinding, and the nodes ClusterRoleBinding and node Events RoleBinding
        of its ServiceAccount."""
        spec = self.read(name)["spec"]["template"]["spec"]
        account = (self.namespace, spec.get("serviceAccountName") or "default")
        role = rbac.role_name(name)
        reads: dict[str, Callable[[], object]] = {
            f"Role {role}": lambda: self.kube.rbac.read_namespaced_role(role, self.namespace),
            f"RoleBinding {role}": lambda: self.kube.rbac.read_namespaced_role_binding(
                role, self.namespace
            ),
            f"ClusterRoleBinding {rbac.node_binding_name(account)}": lambda: (
                self.kube.rbac.read_cluster_role_binding(rbac.node_binding_name(account))
            ),
            f"RoleBinding {rbac.node_events_binding_name(account)}": lambda: (
                self.kube.rbac.read_namespaced_role_binding(
                    rbac.node_events_binding_name(account), contract.NODE_EVENTS_NAMESPACE
                )
            ),
        }

        def missing() -> list[str]:
            return [what for what, read in reads.items() if not exists(read)]

        wait_for(lambda: not missing(), timeout_s, f"the webhook to provision {missing()}")

    def wait_sidecars(self, name: str, timeout_s: float = SIDECARS_TIMEOUT_S) -> set[str]:
        """Wait until every live pod of ``name`` runs its sidecar; their names. A pod the
        webhook did not inject never will be, so that is an error at once, naming the pods."""

        def running() -> set[str] | None:
            pods = [p for p in self.pods(name) if live(p)]
            uninjected = sorted(p["metadata"]["name"] for p in pods if not has_sidecar(p))
            if uninjected:
                raise ScenarioError(
                    f"pods of {name} without the sidecar: {uninjected}; "
                    f"see the webhook's log {self.webhook.log_path}"
                )
            names = {p["metadata"]["name"] for p in pods}
            return names if names and names <= set(self.runner.pods()) else None

        return wait_for(running, timeout_s, f"a running sidecar for every pod of {name}")


def sidecar_program() -> list[str]:
    """The sidecar image's ENTRYPOINT, as a local process."""
    return [sys.executable, "-m", "sidecar"]


@contextlib.contextmanager
def scenario(
    cluster: LocalCluster,
    kube: Kube,
    namespace: str,
    work_dir: Path,
    *,
    sidecar_env: Mapping[str, str] | None = None,
    webhook_settings: Mapping[str, SettingValue] | None = None,
    metrics_port: int = 0,
    spot_nodes: tuple[str, ...] = SPOT_NODES,
    reclaim: bool = False,
) -> Iterator[Scenario]:
    """The webhook, an IMDS simulator and the sidecars' pod runner for ``namespace``; all
    stopped, and the webhook's cluster objects removed, on exit.

    ``sidecar_env``: sidecar settings over :data:`SIDECAR_ENV` (e.g. dry run, other timings),
    injected into every sidecar of the scenario. ``webhook_settings``: over
    :data:`WEBHOOK_SETTINGS`. ``metrics_port``: the sidecars' metrics port (0: off; the pod
    runner gives each pod a free local port for it). ``spot_nodes``: the nodes the IMDS
    simulator plays at first (more with :meth:`Scenario.add_spot_node`). ``reclaim``: reclaim
    instances at their notices' deadlines (see the module docstring). Logs go under ``work_dir``.
    """
    with (
        ImdsSimulator(spot_nodes) as imds,
        LocalWebhook(
            cluster,
            kube,
            work_dir / "webhook",
            namespaces=[namespace],
            sidecar_image=SIDECAR_IMAGE,
            sidecar_env={**SIDECAR_ENV, **(sidecar_env or {})},
            sidecar_metrics_port=metrics_port,
            settings={**WEBHOOK_SETTINGS, **(webhook_settings or {})},
        ) as webhook,
        PodRunner(
            cluster,
            kube,
            namespace=namespace,
            program=sidecar_program(),
            log_dir=work_dir / "sidecars",
            node_env=lambda node: {"SPOT_FAILOVER_IMDS_URL": imds.base_url(node)},
        ) as runner,
        contextlib.ExitStack() as stack,
    ):
        reclaimer = None
        if reclaim:
            reclaimer = stack.enter_context(Reclaimer(kube, imds, on_gone=[runner.kill_node]))
        yield Scenario(cluster, kube, namespace, imds, runner, webhook, reclaimer)


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])
