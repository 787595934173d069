"""The one-shot certificate job, run with exactly the rights deploy/certgen gives it.

What it may not do (change more than the caBundle, read other Secrets) is tried with its
identity in tests/webhook/test_escalation.py, from the list of devtools/security/attempts.py.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from cryptography import x509
from kubernetes import client

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from devtools.security.certgen import certgen_identity
from webhook.bootstrap import Names, bootstrap
from webhook.core.certificates import service_hosts

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def names(kube: Kube) -> Iterator[Names]:
    namespace = f"wh-certs-{uuid.uuid4().hex[:8]}"
    kube.create_namespace(namespace)
    yield Names(namespace=namespace)
    kube.delete_namespace(namespace)


@pytest.fixture(scope="module")
def certgen_api(
    cluster: LocalCluster, kube: Kube, names: Names, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[client.ApiClient]:
    """The job's ServiceAccount with deploy/certgen's RBAC, and the webhook configuration it
    writes (matching no namespace, so it affects nothing)."""
    directory = tmp_path_factory.mktemp("certgen")
    with certgen_identity(cluster, kube, names.namespace, directory) as api:
        yield api


def secret(kube: Kube, names: Names, name: str) -> dict[str, bytes]:
    data = kube.core.read_namespaced_secret(name, names.namespace).data
    return {key: base64.b64decode(value) for key, value in data.items()}


def ca_bundle(kube: Kube, names: Names) -> bytes:
    hooks = kube.dynamic.resources.get(
        api_version="admissionregistration.k8s.io/v1", kind="MutatingWebhookConfiguration"
    ).get(name=names.webhook_configuration)["webhooks"]
    (bundle,) = {hook["clientConfig"]["caBundle"] for hook in hooks}
    return base64.b64decode(bundle)


NOW = dt.datetime.now(dt.UTC)


def test_the_job_makes_one_ca_a_serving_certificate_for_the_service_and_the_ca_bundle(
    kube: Kube, names: Names, certgen_api: client.ApiClient
) -> None:
    changes = bootstrap(certgen_api, names, NOW)
    assert len(changes) == 3
    ca = secret(kube, names, names.ca_secret)
    serving = secret(kube, names, names.tls_secret)
    assert serving["ca.crt"] == ca["ca.crt"] == ca_bundle(kube, names)
    cert = x509.load_pem_x509_certificate(serving["tls.crt"])
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca["ca.crt"]))
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    hosts = service_hosts(names.service, names.namespace)
    assert set(sans.get_values_for_type(x509.DNSName)) == set(hosts)
    assert kube.core.read_namespaced_secret(names.tls_secret, names.namespace).type == (
        "kubernetes.io/tls"
    )


def test_running_the_job_again_changes_nothing(
    kube: Kube, names: Names, certgen_api: client.ApiClient
) -> None:
    bootstrap(certgen_api, names, NOW)
    before = secret(kube, names, names.tls_secret)
    assert bootstrap(certgen_api, names, NOW + dt.timedelta(days=1)) == []
    assert secret(kube, names, names.tls_secret) == before


def test_a_serving_certificate_near_its_expiry_is_renewed_from_the_same_ca(
    kube: Kube, names: Names, certgen_api: client.ApiClient
) -> None:
    bootstrap(certgen_api, names, NOW)
    ca_before = secret(kube, names, names.ca_secret)
    serving_before = secret(kube, names, names.tls_secret)
    (change,) = bootstrap(certgen_api, names, NOW + dt.timedelta(days=340))
    assert "expires on" in change
    assert secret(kube, names, names.ca_secret) == ca_before
    serving = secret(kube, names, names.tls_secret)
    assert serving["tls.crt"] != serving_before["tls.crt"]
    cert = x509.load_pem_x509_certificate(serving["tls.crt"])
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_before["ca.crt"]))
    assert ca_bundle(kube, names) == ca_before["ca.crt"]
