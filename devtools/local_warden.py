"""The warden as a local process, with deploy/warden's identity (development tooling).

:class:`LocalWarden` runs ``python -m sidecar --warden`` — what the warden's pod runs — against
the local control plane, as ``kubectl apply -k deploy/`` would install it, minus the image:
deploy/warden's ServiceAccount, ClusterRole and binding and its admission policies are applied
as shipped (into the namespace deploy/ installs into, made if missing: the policies know the
warden by its account's full name), and the process authenticates with a token of that account,
so RBAC and the policies apply to it. What a kubelet gives a pod (the token and CA files, the
API server's address) is given to the process; its pod name is the caller's.

The warden follows only the given namespaces (a cluster shared with other tests), and reads
the sidecar's ``SPOT_FAILOVER_*`` settings from ``env``, as the shipped Deployment would.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import yaml
from kubernetes import client

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube, exists
from devtools.controlplane.processes import ManagedProcess
from devtools.security.identities import service_account_token
from spot_common import contract

DEPLOY: Final = Path(__file__).resolve().parents[1] / "deploy"
WARDEN: Final = DEPLOY / "warden"
NEEDS_AN_IMAGE: Final = frozenset({"Deployment", "NetworkPolicy"})
CLUSTER_SCOPED: Final = frozenset(
    {
        "ClusterRole",
        "ClusterRoleBinding",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    }
)
POD_NAME: Final = "spot-failover-warden-local"


def _kustomization() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((WARDEN / "kustomization.yaml").read_text())
    return document


def namespace() -> str:
    """The namespace deploy/warden installs into."""
    return str(_kustomization()["namespace"])


def username() -> str:
    """How the API server names requests made with the warden's identity."""
    return f"system:serviceaccount:{namespace()}:{contract.WARDEN_SERVICE_ACCOUNT}"


def manifests(*, with_image: bool = False) -> list[dict[str, Any]]:
    """deploy/warden's objects (without those that need an image, unless ``with_image``)."""
    kustomization = _kustomization()
    found = []
    for resource in kustomization["resources"]:
        for doc in yaml.safe_load_all((WARDEN / resource).read_text()):
            if not doc or (doc["kind"] in NEEDS_AN_IMAGE and not with_image):
                continue
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = kustomization["namespace"]
            found.append(doc)
    return found


def install_identity(kube: Kube) -> None:
    """The warden's account, rights and policies, as shipped; its namespace if missing."""
    home = namespace()
    if not exists(lambda: kube.core.read_namespace(home)):
        kube.create_namespace(home)
    kube.apply(manifests())


class LocalWarden:
    """``python -m sidecar --warden`` with the shipped identity; a context manager."""

    def __init__(
        self,
        cluster: LocalCluster,
        kube: Kube,
        work_dir: Path,
        *,
        namespaces: Collection[str],
        env: Mapping[str, str] | None = None,
        pod_name: str = POD_NAME,
    ) -> None:
        self.cluster = cluster
        self.kube = kube
        self.work_dir = work_dir
        self.namespaces = tuple(namespaces)
        self.env = dict(env or {})
        self.pod_name = pod_name
        self.process: ManagedProcess | None = None

    @property
    def holder(self) -> str:
        """The warden's identity as a Lease holder."""
        return contract.WARDEN_HOLDER_PREFIX + self.pod_name

    @property
    def log_path(self) -> Path:
        return self.work_dir / "warden.log"

    def start(self) -> None:
        install_identity(self.kube)
        credentials = self.work_dir / "serviceaccount"
        credentials.mkdir(parents=True, exist_ok=True, mode=0o700)
        token = service_account_token(
            client.CoreV1Api(self.kube.api), namespace(), contract.WARDEN_SERVICE_ACCOUNT
        )
        (credentials / "token").write_text(token)
        (credentials / "ca.crt").write_text(self.cluster.ca_cert.read_text())
        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(contract.ENV_PREFIX) and key != "KUBECONFIG"
        }
        environment.update(
            {
                **self.env,
                "KUBERNETES_SERVICE_HOST": "127.0.0.1",
                "KUBERNETES_SERVICE_PORT": str(self.cluster.apiserver_port),
                "SPOT_FAILOVER_WARDEN_API_CREDENTIALS_DIR": str(credentials),
                "SPOT_FAILOVER_WARDEN_POD_NAME": self.pod_name,
                "SPOT_FAILOVER_WARDEN_NAMESPACES": ",".join(self.namespaces),
                "SPOT_FAILOVER_WARDEN_METRICS_PORT": "0",
                "SPOT_FAILOVER_WARDEN_LOG_LEVEL": "DEBUG",
            }
        )
        self.process = ManagedProcess(
            "warden",
            [sys.executable, "-m", "sidecar", "--warden"],
            self.work_dir,
            env=environment,
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def __enter__(self) -> LocalWarden:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def diagnostics(self, lines: int = 80) -> tuple[str, str]:
        text = self.process.tail(lines) if self.process is not None else ""
        return (f"warden (last {lines} lines)", text)


@contextlib.contextmanager
def local_warden(
    cluster: LocalCluster,
    kube: Kube,
    work_dir: Path,
    namespaces: Collection[str],
    env: Mapping[str, str] | None = None,
) -> Iterator[LocalWarden]:
    with LocalWarden(cluster, kube, work_dir, namespaces=namespaces, env=env) as running:
        yield running
