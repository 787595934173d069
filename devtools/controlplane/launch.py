"""Starting one pod's sidecar as a local process, as a kubelet would start its container.

The process is started from exactly the container spec the webhook injected: ``command`` and
``args``, else ``program``, and the environment a kubelet would give it
(:mod:`devtools.controlplane.podspec`). It is authenticated as the pod's ServiceAccount with a
token bound to the pod (TokenRequest API), in the files of the ServiceAccount volume a kubelet
would mount (``token``, ``ca.crt``, ``namespace``), with the ``KUBERNETES_SERVICE_HOST``/``PORT``
a kubelet sets, so RBAC and anything keyed on the pod-name claim are exercised for real. The
token is renewed by replacing the file, as a kubelet rewrites the projected token.

Stand-ins, where one machine differs from a node:

* IMDS is link-local per node on EC2; here ``node_env(node)`` gives each pod the environment
  overrides of its node, typically the URL of the IMDS simulator that plays that node.
* Pods have their own network namespaces, local processes share one: a non-zero
  ``SPOT_FAILOVER_METRICS_PORT`` is replaced by a free port, recorded per pod
  (:attr:`SidecarProcess.metrics_port`).
* Volumes are not mounted, so the ServiceAccount volume lives in a directory of its own per
  pod, and the sidecar is told where (``SPOT_FAILOVER_API_CREDENTIALS_DIR``, which in a pod
  keeps its default, the standard mount path the webhook uses).
* There is no image: ``program`` stands for the image's ENTRYPOINT (images here have no CMD),
  and the base environment is the harness's PATH, HOME, LANG and Python variables, so the
  project's Python runs. ``workingDir``, volumes and the security context are not applied.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from devtools.controlplane.podspec import (
    Container,
    Pod,
    Program,
    Sources,
    container_argv,
    container_env,
    grace_period_s,
    remap_metrics_port,
)
from devtools.controlplane.processes import ManagedProcess, free_port
from devtools.controlplane.tokens import pod_bound_token
from spot_common import contract

_PASSTHROUGH_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV", "TMPDIR")


def base_env() -> dict[str, str]:
    """What the image would provide: the harness's paths and locale, so its Python runs."""
    env = {name: os.environ[name] for name in _PASSTHROUGH_ENV if name in os.environ}
    env.setdefault("LANG", "C.UTF-8")
    env["PYTHONUNBUFFERED"] = "1"  # as Python images set it: logs show lines as written
    return env


@dataclass
class SidecarProcess:
    """One pod's sidecar process and what happened to it (times are UTC)."""

    pod: str
    uid: str
    node: str
    process: ManagedProcess
    credentials: Path
    """The directory standing in for the pod's ServiceAccount volume."""
    metrics_port: int | None
    grace_s: float
    started_at: dt.datetime
    refresh_at: float
    """Monotonic time of the next token renewal."""
    stopped_at: dt.datetime | None = None
    exit_code: int | None = None
    """``Popen.returncode``: negative for a signal, e.g. -9 after a SIGKILL."""
    kill_at: float | None = None
    """Monotonic deadline for SIGKILL, once SIGTERM was sent."""

    @property
    def log_path(self) -> Path:
        return self.process.log_path

    @property
    def running(self) -> bool:
        return self.stopped_at is None


class Launcher:
    """Starts the sidecar processes of one namespace's pods, and writes their credentials."""

    def __init__(
        self,
        cluster: LocalCluster,
        kube: Kube,
        *,
        namespace: str,
        program: Program,
        log_dir: Path,
        node_env: Callable[[str], Mapping[str, str]] | None,
        grace_cap_s: float,
        token_expiration_s: int,
        token_refresh_s: float,
    ) -> None:
        self._cluster, self._kube, self._namespace = cluster, kube, namespace
        self._program, self._node_env = program, node_env
        self._log_dir, self.credentials_dir = log_dir, log_dir / "credentials"
        self._grace_cap_s = grace_cap_s
        self._token_expiration_s = token_expiration_s
        self.token_refresh_s = token_refresh_s
        self._sources: Sources = _AdminSources(kube.core)

    def prepare(self) -> None:
        """The directory of the pods' ServiceAccount volumes, readable by this user only."""
        self.credentials_dir.mkdir(parents=True, exist_ok=True)
        self.credentials_dir.chmod(0o700)

    def launch(self, pod: Pod, container: Container, now: float) -> SidecarProcess:
        """Start the sidecar of ``pod`` (``now``: monotonic time, for the token's renewal)."""
        name, node = pod["metadata"]["name"], pod["spec"]["nodeName"]
        from_spec = container_env(pod, container, self._sources)
        argv = container_argv(container, from_spec, self._program)
        credentials = self.write_credentials(pod)
        env, metrics_port = remap_metrics_port(
            {
                **base_env(),
                **from_spec,
                "KUBERNETES_SERVICE_HOST": "127.0.0.1",
                "KUBERNETES_SERVICE_PORT": str(self._cluster.apiserver_port),
                contract.ENV_API_CREDENTIALS_DIR: str(credentials),
                **(self._node_env(node) if self._node_env else {}),
            },
            free_port,
        )
        process = ManagedProcess(name, argv, self._log_dir, env=env)
        return SidecarProcess(
            pod=name,
            uid=pod["metadata"]["uid"],
            node=node,
            process=process,
            credentials=credentials,
            metrics_port=metrics_port,
            grace_s=grace_period_s(pod, self._grace_cap_s),
            started_at=dt.datetime.now(dt.UTC),
            refresh_at=now + self.token_refresh_s,
        )

    def write_credentials(self, pod: Pod) -> Path:
        """The pod's ServiceAccount volume with a fresh token bound to ``pod``; the token file
        is replaced whole, so a reader sees the old token or the new one, never half of one."""
        name = pod["metadata"]["name"]
        account = pod["spec"].get("serviceAccountName") or "default"
        token = pod_bound_token(
            self._kube.api, self._namespace, account, name, self._token_expiration_s
        )
        directory: Path = self.credentials_dir / str(name)
        directory.mkdir(mode=0o700, exist_ok=True)
        for file, content in (
            ("ca.crt", self._cluster.ca_cert.read_text()),
            ("namespace", self._namespace),
            ("token", token),
        ):
            staging = directory / f".{file}.new"
            staging.write_text(content)
            staging.chmod(0o600)
            staging.replace(directory / file)
        return directory


class _AdminSources:
    """What a kubelet reads for a container's environment, read here as the admin."""

    def __init__(self, core: client.CoreV1Api) -> None:
        self._core = core

    def secret(self, namespace: str, name: str) -> Mapping[str, str] | None:
        found = _read_or_none(lambda: self._core.read_namespaced_secret(name, namespace))
        return None if found is None else dict(found.data or {})

    def config_map(self, namespace: str, name: str) -> Mapping[str, str] | None:
        found = _read_or_none(lambda: self._core.read_namespaced_config_map(name, namespace))
        return None if found is None else dict(found.data or {})

    def node_allocatable(self, node: str) -> Mapping[str, str]:
        return dict(self._core.read_node(node).status.allocatable or {})


def _read_or_none(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except ApiException as error:
        if error.status == 404:
            return None
        raise
