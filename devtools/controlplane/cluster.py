"""Start and stop the local control plane: etcd, API server, controllers, scheduler, kwok.

Everything binds loopback on free ports, lives in one working directory, and is stopped by
:meth:`LocalCluster.stop` (also from ``atexit``, and by the kernel if the harness dies).

How fast a dead node is noticed is a per-cluster setting, :class:`NodeHealth`: the controller
manager's node-monitor grace period, and with it the node lease kwok renews for every node it
plays. A pod's start can be delayed per pod: kwok's pod-ready stage waits the duration written
in the pod annotation :data:`START_DELAY_ANNOTATION` (no annotation: Ready at once), which is
how the Fargate simulator plays an image pull (see :mod:`devtools.eks`).
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import math
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import requests
import yaml

from devtools.controlplane import audit
from devtools.controlplane.binaries import Binaries, locate
from devtools.controlplane.pki import ClusterPki, create_cluster_pki
from devtools.controlplane.processes import ManagedProcess, free_port, port_is_bound
from devtools.controlplane.waiting import wait_for

SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
"""Nodes carrying ``kwok.x-k8s.io/node: fake`` are played by kwok; no other node is touched."""
START_DELAY_ANNOTATION = "fargate.simulator/start-delay"
"""Pod annotation: a Go duration (``"1.5s"``) kwok waits after binding before it reports the pod
Running and Ready. Only the simulators write it."""


@dataclasses.dataclass(frozen=True)
class NodeHealth:
    """How long a node may go without a heartbeat before the controller manager marks it
    NotReady (``--node-monitor-grace-period``), and the heartbeats that keep healthy nodes Ready.

    kwok renews each node's Lease every quarter of its duration (as the kubelet does); the
    duration is 0.8 of the grace period, so the grace period spans five renewals: a healthy
    node flaps only if five renewals in a row are lost or late. With the realistic grace of
    50 s that is the kubelet's own 40 s lease, renewed every 10 s. The controller manager looks
    at the nodes every ``monitor_period_s`` (5 s, its default, or less for short grace periods).
    """

    grace_s: int

    def __post_init__(self) -> None:
        if self.grace_s < 5:
            raise ValueError(f"a node-monitor grace period under 5 s flaps, got {self.grace_s}")

    @property
    def lease_s(self) -> int:
        return math.ceil(self.grace_s * 0.8)

    @property
    def monitor_period_s(self) -> int:
        return max(1, min(5, self.grace_s // 5))


REALISTIC_NODE_HEALTH = NodeHealth(grace_s=50)
"""Kubernetes 1.32+'s default grace period; for benchmarks and the EKS-timed demo."""
TEST_NODE_HEALTH = NodeHealth(grace_s=20)
"""For tests: a dead node is NotReady within ~25 s, and healthy ones renew every 4 s (five
renewals per grace period, so a loaded two-core machine does not make them flap)."""


class ClusterError(RuntimeError):
    """The local control plane did not come up, with the log tail of the process that failed."""


class LocalCluster:
    """One control plane in ``workdir``; use as a context manager or call start()/stop()."""

    def __init__(
        self,
        workdir: Path,
        binaries: Binaries | None = None,
        node_health: NodeHealth = TEST_NODE_HEALTH,
    ) -> None:
        self.workdir = workdir
        self.binaries = binaries or locate()
        self.node_health = node_health
        self.processes: dict[str, ManagedProcess] = {}
        self.etcd_port = free_port()
        self.etcd_peer_port = free_port()
        self.apiserver_port = free_port()
        self.server = f"https://127.0.0.1:{self.apiserver_port}"
        self.kubeconfig = workdir / "kubeconfig"
        self.audit_log = workdir / "audit.log"
        """Every API request, as the API server saw it (see :mod:`.audit`)."""
        self.pki: ClusterPki | None = None

    @property
    def _pki(self) -> ClusterPki:
        if self.pki is None:
            raise ClusterError("the cluster has not been started")
        return self.pki

    # --- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        atexit.register(self.stop)
        self.pki = create_cluster_pki(self.workdir / "pki")
        self._write_kubeconfig()
        try:
            self._start_etcd()
            self._start_apiserver()
            self._start("kube-controller-manager", self._controller_manager_argv())
            self._start("kube-scheduler", self._scheduler_argv())
            self._start("kwok", self._kwok_argv())
            self._wait_for_controllers()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every process, newest first, and check that no port stays bound."""
        for name in reversed(list(self.processes)):
            self.processes.pop(name).stop()
        atexit.unregister(self.stop)

    def restart_apiserver(self, down_s: float = 0.0) -> None:
        """Stop the API server, wait ``down_s``, start it again on the same port.

        SIGKILL after 2 s: the test is about clients surviving an outage, not a graceful drain.
        """
        self.processes.pop("kube-apiserver").stop(grace_s=2.0)
        wait_for(
            lambda: not port_is_bound(self.apiserver_port), 30, "the API server port to be free"
        )
        time.sleep(down_s)
        self._start_apiserver()

    # --- clients ----------------------------------------------------------------------------

    def kubectl(
        self, *args: str, input_text: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run the cluster's kubectl as the admin."""
        return subprocess.run(
            [str(self.binaries.kubectl), f"--kubeconfig={self.kubeconfig}", *args],
            input=input_text,
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
        )

    def admin_session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # an environment CA bundle or proxy must not override ours
        session.cert = (str(self._pki.admin.cert), str(self._pki.admin.key))
        session.verify = str(self._pki.ca.cert)
        return session

    @property
    def ca_cert(self) -> Path:
        return self._pki.ca.cert

    def kubeconfig_for_token(self, token: str, path: Path) -> Path:
        """A kubeconfig that authenticates with ``token`` (e.g. a pod-bound ServiceAccount one)."""
        path.write_text(json.dumps(self._kubeconfig_document({"token": token})))
        path.chmod(0o600)
        return path

    # --- processes --------------------------------------------------------------------------

    def _start(self, name: str, argv: Sequence[str], ports: Sequence[int] = ()) -> ManagedProcess:
        process = ManagedProcess(name, argv, self.workdir / "logs", env=_child_env(), ports=ports)
        self.processes[name] = process
        return process

    def _start_etcd(self) -> None:
        client = f"http://127.0.0.1:{self.etcd_port}"
        peer = f"http://127.0.0.1:{self.etcd_peer_port}"
        process = self._start(
            "etcd",
            [
                str(self.binaries.etcd),
                "--name=local",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=local={peer}",
                "--unsafe-no-fsync",
                "--quota-backend-bytes=4294967296",
                "--log-level=warn",
            ],
        )
        self._wait_http(process, f"{client}/health", 30)

    def _start_apiserver(self) -> None:
        process = self._start(
            "kube-apiserver",
            [
                str(self.binaries.kube_apiserver),
                f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.apiserver_port}",
                f"--cert-dir={self.workdir / 'apiserver-certs'}",
                f"--tls-cert-file={self._pki.serving.cert}",
                f"--tls-private-key-file={self._pki.serving.key}",
                f"--client-ca-file={self._pki.ca.cert}",
                f"--service-account-key-file={self._pki.sa_public_key}",
                f"--service-account-signing-key-file={self._pki.sa_private_key}",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                "--authorization-mode=RBAC",
                "--allow-privileged=true",
                f"--audit-policy-file={audit.write_policy(self.workdir / 'audit-policy.json')}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-format=json",
                "--audit-log-mode=blocking",
                "--profiling=false",
                "--v=1",
            ],
            ports=(self.apiserver_port,),
        )
        session = self.admin_session()

        def ready() -> bool:
            self._check_alive(process)
            try:
                return session.get(f"{self.server}/readyz", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_for(ready, 90, "kube-apiserver /readyz")

    def _component_flags(self) -> list[str]:
        """What the controller manager and the scheduler share: the admin kubeconfig, a
        loopback serving port of their own, and no leader election (one of each)."""
        return [
            f"--kubeconfig={self.kubeconfig}",
            f"--authentication-kubeconfig={self.kubeconfig}",
            f"--authorization-kubeconfig={self.kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={free_port()}",
            "--leader-elect=false",
        ]

    def _controller_manager_argv(self) -> list[str]:
        return [
            str(self.binaries.kube_controller_manager),
            *self._component_flags(),
            f"--service-account-private-key-file={self._pki.sa_private_key}",
            f"--root-ca-file={self._pki.ca.cert}",
            "--use-service-account-credentials=true",
            # Nodes here are kwok's; there is no cloud and no pod network to allocate.
            "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller",
            "--concurrent-deployment-syncs=10",
            "--concurrent-replicaset-syncs=10",
            f"--node-monitor-grace-period={self.node_health.grace_s}s",
            f"--node-monitor-period={self.node_health.monitor_period_s}s",
            "--v=1",
        ]

    def _scheduler_argv(self) -> list[str]:
        return [
            str(self.binaries.kube_scheduler),
            *self._component_flags(),
            "--v=1",
        ]

    def _kwok_argv(self) -> list[str]:
        return [
            str(self.binaries.kwok),
            f"--kubeconfig={self.kubeconfig}",
            f"--config={self._write_kwok_stages()}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}=fake",
            "--cidr=10.244.0.0/16",
            "--node-ip=10.0.0.1",
            f"--node-lease-duration-seconds={self.node_health.lease_s}",
            f"--server-address=127.0.0.1:{free_port()}",
        ]

    def _write_kwok_stages(self) -> Path:
        """kwok's standard fast stages, with the pod-ready stage delayed by the pod's
        :data:`START_DELAY_ANNOTATION` when it has one."""
        stages = [s for s in yaml.safe_load_all(self.binaries.kwok_stages.read_text()) if s]
        for stage in stages:
            if stage["metadata"]["name"] == "pod-ready":
                expression = f'.metadata.annotations["{START_DELAY_ANNOTATION}"]'
                stage["spec"]["delay"] = {"durationFrom": {"expressionFrom": expression}}
        path = self.workdir / "kwok-stages.yaml"
        path.write_text(yaml.safe_dump_all(stages))
        return path

    def _wait_for_controllers(self) -> None:
        """The controller manager is up when it has created the default ServiceAccount."""
        session = self.admin_session()
        url = f"{self.server}/api/v1/namespaces/default/serviceaccounts/default"

        def ready() -> bool:
            for process in self.processes.values():
                self._check_alive(process)
            return session.get(url, timeout=2).status_code == 200

        wait_for(ready, 90, "the controller manager (default ServiceAccount)")

    def _wait_http(self, process: ManagedProcess, url: str, timeout_s: float) -> None:
        def ready() -> bool:
            self._check_alive(process)
            try:
                return requests.get(url, timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_for(ready, timeout_s, f"{process.name} at {url}")

    @staticmethod
    def _check_alive(process: ManagedProcess) -> None:
        if not process.alive():
            raise ClusterError(f"{process.name} exited:\n{process.tail()}")

    # --- kubeconfig -------------------------------------------------------------------------

    def _kubeconfig_document(self, user: dict[str, str]) -> dict[str, object]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "local",
                    "cluster": {
                        "server": self.server,
                        "certificate-authority": str(self._pki.ca.cert),
                    },
                }
            ],
            "users": [{"name": "user", "user": user}],
            "contexts": [{"name": "local", "context": {"cluster": "local", "user": "user"}}],
            "current-context": "local",
        }

    def _write_kubeconfig(self) -> None:
        document = self._kubeconfig_document(
            {
                "client-certificate": str(self._pki.admin.cert),
                "client-key": str(self._pki.admin.key),
            }
        )
        self.kubeconfig.write_text(json.dumps(document, indent=2))
        self.kubeconfig.chmod(0o600)


def _child_env() -> dict[str, str]:
    """The environment for control-plane processes: ours, minus anything pointing elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBECONFIG", "HTTP"))}
    env["NO_PROXY"] = "127.0.0.1,localhost"
    return env
