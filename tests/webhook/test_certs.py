"""The one-shot certificate job, run with exactly the rights deploy/certgen gives it."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from devtools.controlplane.waiting import wait_for
from webhook.certs import Names, bootstrap, service_hosts

from .harness import shipped

pytestmark = pytest.mark.cluster

ACCOUNT = "spot-failover-webhook-certgen"


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
    objects = copy.deepcopy([*shipped("certgen/rbac.yaml"), *shipped("certgen/policy.yaml")])
    for obj in objects:
        if obj["kind"] in {"ServiceAccount", "Role", "RoleBinding"}:
            obj["metadata"]["namespace"] = names.namespace
        for subject in obj.get("subjects", ()):
            subject["namespace"] = names.namespace
    (configuration,) = copy.deepcopy(shipped("base/mutatingwebhookconfiguration.yaml"))
    for hook in configuration["webhooks"]:
        hook["clientConfig"]["service"]["namespace"] = names.namespace
        hook["namespaceSelector"] = {"matchLabels": {"spot-failover.test/never": "true"}}
    cluster_scoped = [
        obj for obj in objects if obj["kind"].startswith(("Cluster", "ValidatingAdmission"))
    ]
    kube.apply([*objects, configuration])
    token = kube.core.create_namespaced_service_account_token(
        ACCOUNT, names.namespace, {"spec": {"audiences": [], "expirationSeconds": 3600}}
    ).status.token
    kubeconfig = cluster.kubeconfig_for_token(token, tmp_path_factory.mktemp("certgen") / "kc")
    configuration_object = client.Configuration()
    config.load_kube_config(str(Path(kubeconfig)), client_configuration=configuration_object)
    api = client.ApiClient(configuration_object)
    yield api
    api.close()
    for obj in [*cluster_scoped, configuration]:
        kube.dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"]).delete(
            name=obj["metadata"]["name"]
        )


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


CHANGES_BEYOND_THE_CA_BUNDLE = [
    pytest.param(
        lambda hook: hook["clientConfig"]["service"].update(name="evil"), id="the service it calls"
    ),
    pytest.param(lambda hook: hook.update(namespaceSelector={}), id="its namespaces"),
    pytest.param(lambda hook: hook.update(failurePolicy="Fail"), id="its failure policy"),
    pytest.param(lambda hook: hook["rules"][0].update(resources=["*"]), id="its rules"),
]


@pytest.mark.parametrize("change", CHANGES_BEYOND_THE_CA_BUNDLE)
def test_the_job_may_change_only_the_ca_bundle(
    names: Names, certgen_api: client.ApiClient, change: Callable[[dict[str, Any]], object]
) -> None:
    admission = client.AdmissionregistrationV1Api(certgen_api)

    def attempt() -> ApiException | None:
        configuration = admission.read_mutating_webhook_configuration(names.webhook_configuration)
        hook = certgen_api.sanitize_for_serialization(configuration.webhooks[0])
        change(hook)
        body = certgen_api.sanitize_for_serialization(configuration)
        body["webhooks"][0] = hook
        try:
            admission.replace_mutating_webhook_configuration(
                names.webhook_configuration, body, dry_run="All"
            )
        except ApiException as error:
            return error if "ValidatingAdmissionPolicy" in str(error.body) else None
        return None

    error = wait_for(attempt, 20, "the admission policy to refuse the change")
    assert error.status == 403
