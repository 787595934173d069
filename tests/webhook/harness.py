"""A real webhook, run in-process on 127.0.0.1 against the local control plane.

The webhook runs exactly as in a pod (kopf, the HTTPS server, the controller, the reporter) in
its own thread and event loop, with a serving certificate for 127.0.0.1 from a throwaway CA.
The API server reaches it through a MutatingWebhookConfiguration made from the shipped one
(deploy/), with ``clientConfig.url`` and ``caBundle`` instead of the Service, and a
namespaceSelector narrowed to the test's namespace so that no other test's pods are affected.
The certificate and manifest helpers are shared with the process-based
:mod:`devtools.local_webhook`.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import requests

from devtools import webhook_manifests
from devtools.controlplane.processes import free_port
from devtools.controlplane.waiting import wait_for
from devtools.webhook_manifests import shipped
from devtools.webhook_tls import Tls, make_tls
from webhook.adapters.kube import load_api_client
from webhook.app import Webhook, serve
from webhook.server import PATH
from webhook.settings import Settings

__all__ = [
    "SIDECAR_IMAGE",
    "RunningWebhook",
    "Tls",
    "make_tls",
    "settings",
    "shipped",
    "webhook_configuration",
]

SIDECAR_IMAGE = "registry.example/spot-failover/sidecar:test"


def settings(tls: Tls, kubeconfig: Path, namespace: str, **overrides: Any) -> Settings:
    """Settings for a webhook that watches only ``namespace``, with test-speed intervals."""
    values: dict[str, Any] = {
        "sidecar_image": SIDECAR_IMAGE,
        "sidecar_version": "test",
        "listen_address": "127.0.0.1",
        "port": free_port(),
        "health_port": free_port(),
        "tls_cert_file": tls.serving.cert,
        "tls_key_file": tls.serving.key,
        "tls_reload_interval_s": 0.2,
        "watch_namespaces": frozenset({namespace}),
        "report_interval_s": 0.5,
        "resync_interval_s": 1.0,
        "kubeconfig": kubeconfig,
        "log_level": "DEBUG",
    }
    values.update(overrides)
    return Settings(**values)


class RunningWebhook:
    """A :class:`Webhook` in a thread of its own; a context manager that starts and stops it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.webhook = Webhook(settings, load_api_client(settings.kubeconfig), instance="test")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook", daemon=True)
        self.error: BaseException | None = None
        self.health_url = f"http://127.0.0.1:{settings.health_port}"
        self.url = f"https://127.0.0.1:{settings.port}{PATH}"

    def _run(self) -> None:
        try:
            serve(self.webhook, stop_flag=self._stop)
        except BaseException as error:  # reported by stop() and by the readiness wait
            self.error = error

    def __enter__(self) -> RunningWebhook:
        self._thread.start()
        with requests.Session() as session:
            session.trust_env = False
            wait_for(lambda: self._ready(session), 60, "the webhook to be ready")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _ready(self, session: requests.Session) -> bool:
        if not self._thread.is_alive():
            raise RuntimeError(f"the webhook exited: {self.error!r}")
        try:
            return session.get(f"{self.health_url}/readyz", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def stop(self) -> None:
        """Stop the webhook and wait until it has (idempotent)."""
        self._stop.set()
        self._thread.join(timeout=60)
        if self._thread.is_alive():
            raise RuntimeError("the webhook did not stop within 60 s")
        if self.error is not None:
            raise RuntimeError("the webhook failed") from self.error

    def metric(self, name: str, **labels: str) -> float:
        value = self.webhook.metrics.registry.get_sample_value(name, labels)
        return value or 0.0


def webhook_configuration(name: str, namespace: str, url: str, ca_pem: bytes) -> dict[str, Any]:
    """The shipped MutatingWebhookConfiguration, pointed at ``url`` and limited to ``namespace``."""
    return webhook_manifests.webhook_configuration(name, url, ca_pem, namespaces=(namespace,))
