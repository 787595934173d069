"""The real webhook as a local process, behind its shipped configuration (development tooling).

:class:`LocalWebhook` runs ``python -m webhook serve`` — the entry point a pod runs — against
the local control plane, configured only through its ``SPOT_FAILOVER_WEBHOOK_*`` environment
variables, and wires it up the way ``kubectl apply -k deploy/`` would, minus the images:

* **identity**: the Namespace, ServiceAccount, ClusterRoles and bindings, the sidecar nodes
  ClusterRole and the admission policies from deploy/ are applied (re-homed into a namespace
  of this instance: :mod:`devtools.webhook_manifests`), and the process authenticates with a
  TokenRequest token of that ServiceAccount, so RBAC and both shipped policies apply to it;
* **serving**: HTTPS on 127.0.0.1 with a certificate from a throwaway CA
  (:mod:`devtools.webhook_tls`), health and metrics on a plain-HTTP port;
* **admission**: the shipped MutatingWebhookConfiguration, calling the process's URL with the
  CA as ``caBundle``; optionally limited to given namespaces (then also the only ones the
  webhook watches), for a cluster shared with other tests.

Use it as a context manager::

    with LocalWebhook(cluster, kube, work_dir, namespaces=[ns], sidecar_env=env) as webhook:
        ...                # pods created in ns get the sidecar
        webhook.stop()     # "webhook down": failurePolicy Ignore lets pods through without it
        webhook.start()    # back; its reporter reports the pods it missed
        webhook.metrics().value("spot_failover_webhook_injected_total")

On exit it removes everything it created: the configuration, the bindings (also the sidecar
ClusterRoleBindings and the node Events RoleBindings in ``default`` the webhook made for its
namespaces) and the identity's namespace. The
shared ClusterRoles and policies stay: instances running side by side all rely on them. The
process runs in its own process group and is killed by the kernel if the thread that started
it dies.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import uuid
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import requests
from kubernetes.client.rest import ApiException

from devtools import webhook_manifests
from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from devtools.controlplane.processes import ManagedProcess, free_port
from devtools.controlplane.waiting import wait_for
from devtools.metrics_scrape import Scrape, scrape
from devtools.webhook_manifests import Identity, Manifest
from devtools.webhook_tls import HOST, Tls, make_tls
from spot_common import contract
from webhook.core import rbac
from webhook.server import PATH
from webhook.settings import Settings, env_name

SettingValue = str | int | float | bool | Mapping[str, str]

WIRED: Final = frozenset(
    {
        "listen_address",
        "port",
        "health_port",
        "tls_cert_file",
        "tls_key_file",
        "kubeconfig",
        "watch_namespaces",
    }
)
"""Settings that :class:`LocalWebhook` sets itself, because the wiring depends on them."""
TOKEN_EXPIRATION_S: Final = 12 * 3600
STOP_GRACE_S: Final = 30.0
READY_TIMEOUT_S: Final = 60.0
_DROPPED_ENV: Final = ("SPOT_FAILOVER_", "KUBECONFIG", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


class LocalWebhookError(RuntimeError):
    """The webhook process did not start, stop or answer as it should; says why, with its log."""


def _env_value(value: SettingValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return json.dumps(dict(value))
    return str(value)


def _base_env() -> dict[str, str]:
    """Ours, minus anything that would point the webhook elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(_DROPPED_ENV)}
    env["NO_PROXY"] = "127.0.0.1,localhost"
    return env


class LocalWebhook:
    """``python -m webhook`` with the shipped identity and configuration; see the module doc.

    ``namespaces``: admit and watch only these (empty: the whole cluster, as shipped).
    ``sidecar_image``, ``sidecar_env`` (extra ``SPOT_FAILOVER_*`` for every sidecar, e.g. test
    timings), ``sidecar_metrics_port``: what the injected sidecar gets. ``settings``: any other
    webhook setting by field name (``{"report_interval_s": 5}``); unset ones keep the values of
    the shipped Deployment, or the program's defaults. ``cpus``: confine the process to these
    CPUs. ``identity_namespace``: where the ServiceAccount lives (default: a fresh one).
    """

    def __init__(
        self,
        cluster: LocalCluster,
        kube: Kube,
        work_dir: Path,
        *,
        namespaces: Collection[str] = (),
        sidecar_image: str | None = None,
        sidecar_env: Mapping[str, str] | None = None,
        sidecar_metrics_port: int | None = None,
        settings: Mapping[str, SettingValue] | None = None,
        cpus: Collection[int] | None = None,
        identity_namespace: str | None = None,
    ) -> None:
        unknown = set(settings or {}) - set(Settings.model_fields)
        wired = set(settings or {}) & WIRED
        if unknown or wired:
            raise ValueError(
                f"settings: {sorted(unknown)} are not webhook settings; "
                f"{sorted(wired)} are set by LocalWebhook itself"
            )
        self.cluster = cluster
        self.kube = kube
        self.work_dir = work_dir
        self.namespaces = tuple(sorted(namespaces))
        self.identity = Identity(
            identity_namespace or f"{webhook_manifests.shipped_namespace()}-{uuid.uuid4().hex[:6]}",
            self.namespaces,
        )
        self.cpus = frozenset(cpus) if cpus is not None else None
        self.port = free_port()
        self.health_port = free_port()
        self.url = f"https://{HOST}:{self.port}{PATH}"
        """What the API server calls (``clientConfig.url``)."""
        self.health_url = f"http://{HOST}:{self.health_port}"
        self.configuration_name = f"spot-failover.{self.identity.namespace}"
        self._overrides: dict[str, SettingValue] = dict(settings or {})
        if sidecar_image is not None:
            self._overrides["sidecar_image"] = sidecar_image
        if sidecar_env is not None:
            self._overrides["sidecar_env"] = dict(sidecar_env)
        if sidecar_metrics_port is not None:
            self._overrides["sidecar_metrics_port"] = sidecar_metrics_port
        self.tls: Tls | None = None
        self.kubeconfig = work_dir / "webhook-kubeconfig"
        self.process: ManagedProcess | None = None
        self._created: list[Manifest] = []
        """Cluster objects this instance created, in creation order (deleted in reverse)."""

    # --- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> LocalWebhook:
        try:
            self.tls = make_tls(self.work_dir / "tls")
            self._install_identity()
            self._write_kubeconfig()
            self.start()
            self._register()
            self.wait_until_called()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> None:
        """Start the process (again, after :meth:`stop`) and wait until ``/readyz`` says ready."""
        if self.process is not None and self.process.alive():
            raise LocalWebhookError("the webhook process is already running")
        self.process = ManagedProcess(
            "webhook",
            [sys.executable, "-m", "webhook", "serve"],
            self.work_dir / "logs",
            env=self.environment(),
            ports=(self.port, self.health_port),
        )
        if self.cpus is not None:
            os.sched_setaffinity(self.process.pid, self.cpus)  # threads started later inherit it
        self.wait_ready()
        if self.cpus is not None:
            for task in Path(f"/proc/{self.process.pid}/task").iterdir():
                os.sched_setaffinity(int(task.name), self.cpus)

    def stop(self) -> None:
        """SIGTERM the process and wait until it has exited; its configuration stays, so the
        API server now finds nobody at the URL (failurePolicy Ignore). Idempotent."""
        process = self.process
        if process is None:
            return
        self.process = None
        was_running = process.alive()
        process.stop(grace_s=STOP_GRACE_S)
        code = process.popen.returncode
        if was_running and code != 0:
            raise LocalWebhookError(f"the webhook exited with {code}:\n{process.tail()}")

    def close(self) -> None:
        """Unregister, stop, and delete what this instance created (also after a failed start)."""
        configurations = [m for m in self._created if m["kind"] == "MutatingWebhookConfiguration"]
        for configuration in configurations:  # first, so that no pod meets a stopping webhook
            self._delete(configuration)
            self._created.remove(configuration)
        try:
            self.stop()
        finally:
            self._delete_sidecar_node_bindings()
            for manifest in reversed(self._created):
                self._delete(manifest)
            self._created.clear()

    # --- what the process gets ----------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        """The process's environment: the shipped Deployment's settings, the wiring, overrides."""
        if self.tls is None:
            raise LocalWebhookError("no certificate yet: use LocalWebhook as a context manager")
        shipped = webhook_manifests.shipped_env()
        excluded = env_name("excluded_namespaces")
        if excluded in shipped:  # the shipped namespace is this instance's identity namespace
            home = webhook_manifests.shipped_namespace()
            shipped[excluded] = ",".join(
                self.identity.namespace if part == home else part
                for part in shipped[excluded].split(",")
            )
        wiring: dict[str, SettingValue] = {
            "listen_address": HOST,
            "port": self.port,
            "health_port": self.health_port,
            "tls_cert_file": str(self.tls.serving.cert),
            "tls_key_file": str(self.tls.serving.key),
            "kubeconfig": str(self.kubeconfig),
        }
        if self.namespaces:
            wiring["watch_namespaces"] = ",".join(self.namespaces)
        values = {**wiring, **self._overrides}
        return {
            **_base_env(),
            **shipped,
            **{env_name(field): _env_value(value) for field, value in values.items()},
        }

    @property
    def log_path(self) -> Path:
        """The process's output (JSON logs), appended to across restarts."""
        return self.work_dir / "logs" / "webhook.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None and self.process.alive() else None

    # --- observing it -------------------------------------------------------------------------

    def metrics(self) -> Scrape:
        """Scrape the process's ``/metrics`` (a stopped or restarted process starts from 0)."""
        return scrape(f"{self.health_url}/metrics")

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        with requests.Session() as session:
            session.trust_env = False

            def ready() -> bool:
                if self.process is None or not self.process.alive():
                    tail = self.process.tail() if self.process is not None else ""
                    raise LocalWebhookError(f"the webhook process exited:\n{tail}")
                try:
                    return session.get(f"{self.health_url}/readyz", timeout=2).status_code == 200
                except requests.ConnectionError:
                    return False

            wait_for(ready, timeout_s, "the webhook process to be ready")

    def wait_until_called(self, timeout_s: float = 30.0) -> None:
        """Dry-run a bare pod until the webhook counts it: the API server calls it now."""
        namespace = self.namespaces[0] if self.namespaces else "default"
        probe = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"probe-{uuid.uuid4().hex[:6]}"},
            "spec": {"containers": [{"name": "probe", "image": "registry.example/probe:1"}]},
        }
        metric = "spot_failover_webhook_skipped_total"

        def called() -> bool:
            before = self.metrics().value(metric, reason="bare_pod")
            self.kube.core.create_namespaced_pod(namespace, probe, dry_run="All")
            return self.metrics().value(metric, reason="bare_pod") > before

        wait_for(called, timeout_s, "the API server to call the webhook process")

    # --- cluster objects ----------------------------------------------------------------------

    def _install_identity(self) -> None:
        """Apply deploy/'s identity objects; remember the ones that did not exist yet, to
        remove them on exit. Shared definitions (the ClusterRoles and policies every instance
        applies alike) are never removed: another instance running at the same time uses
        them, and the one that happened to create them may stop first."""
        for manifest in self.identity.manifests():
            shared = manifest["kind"] in webhook_manifests.SHARED_KINDS
            if not shared and not self._exists(manifest):
                self._created.append(manifest)
            self.kube.apply([manifest])

    def _write_kubeconfig(self) -> None:
        token = self.kube.core.create_namespaced_service_account_token(
            self.identity.account,
            self.identity.namespace,
            {"spec": {"audiences": [], "expirationSeconds": TOKEN_EXPIRATION_S}},
        ).status.token
        self.cluster.kubeconfig_for_token(token, self.kubeconfig)

    def _configuration(self) -> Manifest:
        if self.tls is None:
            raise LocalWebhookError("no certificate yet")
        return webhook_manifests.webhook_configuration(
            self.configuration_name,
            self.url,
            self.tls.ca_pem,
            namespaces=self.namespaces,
            identity_namespace=self.identity.namespace,
        )

    def _register(self) -> None:
        configuration = self._configuration()
        self._created.append(configuration)
        self.kube.apply([configuration])

    def _resource(self, manifest: Mapping[str, Any]) -> Any:
        return self.kube.dynamic.resources.get(
            api_version=manifest["apiVersion"], kind=manifest["kind"]
        )

    def _exists(self, manifest: Mapping[str, Any]) -> bool:
        try:
            self._resource(manifest).get(
                name=manifest["metadata"]["name"], namespace=manifest["metadata"].get("namespace")
            )
        except ApiException as error:
            if error.status == 404:
                return False
            raise
        return True

    def _delete(self, manifest: Mapping[str, Any]) -> None:
        try:
            self._resource(manifest).delete(
                name=manifest["metadata"]["name"], namespace=manifest["metadata"].get("namespace")
            )
        except ApiException as error:
            if error.status != 404:
                raise

    def _delete_sidecar_node_bindings(self) -> None:
        """The bindings the webhook made per ServiceAccount of its namespaces' sidecars: the
        nodes ClusterRoleBindings and the node Events RoleBindings in ``default`` outlive the
        namespaces (the webhook removes them itself when a Deployment goes, but it is stopped
        now)."""
        for name in self._sidecar_node_bindings():
            with contextlib.suppress(ApiException):
                self.kube.rbac.delete_cluster_role_binding(name)
        for name in self._sidecar_node_event_bindings():
            with contextlib.suppress(ApiException):
                self.kube.rbac.delete_namespaced_role_binding(name, contract.NODE_EVENTS_NAMESPACE)

    def _ours(self, labels: Mapping[str, str] | None) -> bool:
        namespace = (labels or {}).get(rbac.NAMESPACE_LABEL)
        return not self.namespaces or namespace in self.namespaces

    def _sidecar_node_bindings(self) -> Iterator[str]:
        found = self.kube.rbac.list_cluster_role_binding(label_selector=rbac.MANAGED_SELECTOR)
        for binding in found.items:
            if self._ours(binding.metadata.labels):
                yield binding.metadata.name

    def _sidecar_node_event_bindings(self) -> Iterator[str]:
        found = self.kube.rbac.list_namespaced_role_binding(
            contract.NODE_EVENTS_NAMESPACE, label_selector=rbac.MANAGED_SELECTOR
        )
        for binding in found.items:
            if binding.role_ref.name == rbac.NODE_EVENTS_CLUSTER_ROLE and self._ours(
                binding.metadata.labels
            ):
                yield binding.metadata.name
