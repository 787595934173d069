"""One CA for all webhook replicas, without cert-manager: generate once, renew the leaf in time.

The API server verifies the webhook with the ``caBundle`` of the MutatingWebhookConfiguration.
Every replica must therefore serve a certificate from the *same* CA; a CA per replica (what a
self-signing webhook does at start-up) makes replicas overwrite each other's ``caBundle`` and
fail each other's handshakes. So the certificate is made once, outside the replicas, by
``spot-failover-webhook bootstrap-certs`` (a Job in deploy/, and a weekly CronJob):

1. the CA lives in its own Secret (``ca.crt``, ``ca.key``), readable only by that Job's account;
   it is created if absent and kept for its 10 years;
2. the serving Secret (``tls.crt``, ``tls.key``, ``ca.crt``; the shape cert-manager writes) is
   (re)issued from that CA when it is missing, names other hosts, does not chain to the CA, or
   expires within 30 days; the replicas pick the new files up without a restart;
3. the CA is written into the webhook configuration's ``caBundle``.

Running it again changes nothing while all is well. What to issue is decided by
:mod:`webhook.core.certificates`; :mod:`webhook.adapters.certificate_store` does the API calls.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from kubernetes import client

from webhook.adapters.certificate_store import CertificateStore
from webhook.core.certificates import (
    ca_usable,
    issue_ca,
    issue_serving,
    needs_serving,
    service_hosts,
)


@dataclasses.dataclass(frozen=True, slots=True)
class Names:
    """Where the certificates go; the defaults are deploy/'s names."""

    namespace: str = "spot-failover"
    service: str = "spot-failover-webhook"
    ca_secret: str = "spot-failover-webhook-ca"  # noqa: S105 - a Secret's name
    tls_secret: str = "spot-failover-webhook-tls"  # noqa: S105 - a Secret's name
    webhook_configuration: str = "spot-failover"


def bootstrap(api: client.ApiClient, names: Names, now: dt.datetime) -> list[str]:
    """Make the Secrets and the ``caBundle`` right; return what was changed (empty: nothing)."""
    store = CertificateStore(api, names.namespace)
    changes: list[str] = []
    ca = store.read_pair(names.ca_secret, "ca.crt", "ca.key")
    if ca is None or not ca_usable(ca, now):
        ca = issue_ca(now)
        store.write_secret(names.ca_secret, {"ca.crt": ca.cert_pem, "ca.key": ca.key_pem})
        changes.append(f"issued a new CA into Secret {names.ca_secret}")
    hosts = service_hosts(names.service, names.namespace)
    serving = store.read_pair(names.tls_secret, "tls.crt", "tls.key")
    reason = needs_serving(serving, ca, hosts, now)
    if reason is not None:
        serving = issue_serving(ca, hosts, now)
        data = {"tls.crt": serving.cert_pem, "tls.key": serving.key_pem, "ca.crt": ca.cert_pem}
        store.write_secret(names.tls_secret, data, "kubernetes.io/tls")
        changes.append(f"issued a serving certificate into Secret {names.tls_secret}: {reason}")
    if store.write_ca_bundle(names.webhook_configuration, ca):
        changes.append(
            f"wrote the CA into MutatingWebhookConfiguration {names.webhook_configuration}"
        )
    return changes
