"""Where the webhook's certificates live in the cluster: two Secrets and the ``caBundle``.

Read and written through the ``kubernetes`` client, failures typed by
:mod:`webhook.adapters.errors`. A Secret holds a :class:`~webhook.core.certificates.KeyPair`
under two keys (``ca.crt``/``ca.key``, or ``tls.crt``/``tls.key`` beside ``ca.crt``: the shape
cert-manager writes); writing one replaces it whole, or creates it if it is not there yet.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from kubernetes import client

from spot_common.api_errors import NotFound
from webhook.adapters.errors import from_client_error
from webhook.core.certificates import KeyPair


class CertificateStore:
    """The Secrets of one namespace and the MutatingWebhookConfigurations, for the one-shot job."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.namespace = namespace
        self._core = client.CoreV1Api(api)
        self._admission = client.AdmissionregistrationV1Api(api)

    def read_pair(self, name: str, cert_key: str, key_key: str) -> KeyPair | None:
        """The pair in Secret ``name``; ``None`` if the Secret or either key is missing."""
        try:
            secret = self._core.read_namespaced_secret(name, self.namespace)
        except Exception as error:
            typed = from_client_error(f"get Secret {self.namespace}/{name}", error)
            if isinstance(typed, NotFound):
                return None
            raise typed from error
        data: Mapping[str, str] = secret.data or {}
        if cert_key not in data or key_key not in data:
            return None
        return KeyPair(base64.b64decode(data[cert_key]), base64.b64decode(data[key_key]))

    def write_secret(
        self,
        name: str,
        data: Mapping[str, bytes],
        secret_type: str = "Opaque",  # noqa: S107 - a Secret's type
    ) -> None:
        """Replace Secret ``name`` with ``data`` (create it if absent)."""
        namespace = self.namespace
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {"app.kubernetes.io/part-of": "spot-failover"},
            },
            "type": secret_type,
            "data": {key: base64.b64encode(value).decode("ascii") for key, value in data.items()},
        }
        operation = f"write Secret {namespace}/{name}"
        try:
            self._core.replace_namespaced_secret(name, namespace, body)
        except Exception as error:
            typed = from_client_error(operation, error)
            if not isinstance(typed, NotFound):
                raise typed from error
            try:
                self._core.create_namespaced_secret(namespace, body)
            except Exception as create_error:
                raise from_client_error(operation, create_error) from create_error

    def write_ca_bundle(self, configuration: str, ca: KeyPair) -> bool:
        """Make every webhook of the MutatingWebhookConfiguration trust ``ca``; False if all
        already did."""
        operation = f"write caBundle of MutatingWebhookConfiguration {configuration}"
        bundle = base64.b64encode(ca.cert_pem).decode("ascii")
        try:
            found = self._admission.read_mutating_webhook_configuration(configuration)
            stale = [
                hook for hook in found.webhooks or () if hook.client_config.ca_bundle != bundle
            ]
            if not stale:
                return False
            for hook in stale:
                hook.client_config.ca_bundle = bundle
            self._admission.replace_mutating_webhook_configuration(configuration, found)
        except Exception as error:
            raise from_client_error(operation, error) from error
        return True
