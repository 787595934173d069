"""The chart: helm lint, helm template in each certificate mode, and what its values change."""

from __future__ import annotations

import base64
import json
import re
import tomllib
from typing import Any

import pytest

from .drift import HASHED_JOB
from .helm import (
    CHART,
    ROOT,
    chart_metadata,
    container_env,
    find,
    helm,
    lint,
    render,
    render_refused,
)

CA_BUNDLE = base64.b64encode(b"-----BEGIN CERTIFICATE-----\n...\n").decode()
MODES: dict[str, dict[str, object]] = {
    "certgen": {},
    "cert-manager": {"certificates.mode": "cert-manager"},
    "provided": {"certificates.mode": "provided", "certificates.caBundle": CA_BUNDLE},
}
CERTGEN_KINDS = {"Job", "CronJob", "Role", "RoleBinding"}
CERT_MANAGER_KINDS = {"Issuer", "Certificate"}


def webhook_configuration(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (hook,) = find(objects, "MutatingWebhookConfiguration", "spot-failover")["webhooks"]
    return dict(hook)


def kinds(objects: list[dict[str, Any]]) -> set[str]:
    return {obj["kind"] for obj in objects}


# --- lint and render --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", sorted(MODES))
def test_helm_lint_passes_strictly_in_each_certificate_mode(mode: str) -> None:
    flags = [f for key, value in MODES[mode].items() for f in ("--set", f"{key}={value}")]

    result = lint(*flags)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_the_default_certgen_mode_renders_the_one_shot_job_and_no_cert_manager_object() -> None:
    objects = render()

    assert kinds(objects) >= CERTGEN_KINDS
    assert not CERT_MANAGER_KINDS & kinds(objects)
    (job,) = [obj for obj in objects if obj["kind"] == "Job"]
    assert HASHED_JOB.match(job["metadata"]["name"])
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["bootstrap-certs"]
    hook = webhook_configuration(objects)
    assert "caBundle" not in hook["clientConfig"]
    assert "annotations" not in find(objects, "MutatingWebhookConfiguration")["metadata"]


def test_cert_manager_mode_issues_the_serving_certificate_and_injects_its_ca() -> None:
    objects = render(MODES["cert-manager"], namespace="elsewhere")

    assert not {"Job", "CronJob"} & kinds(objects)
    configuration = find(objects, "MutatingWebhookConfiguration")
    assert configuration["metadata"]["annotations"] == {
        "cert-manager.io/inject-ca-from": "elsewhere/spot-failover-webhook"
    }
    serving = find(objects, "Certificate", "spot-failover-webhook")
    assert serving["spec"]["secretName"] == "spot-failover-webhook-tls"
    assert serving["spec"]["dnsNames"] == [
        "spot-failover-webhook.elsewhere.svc",
        "spot-failover-webhook.elsewhere.svc.cluster.local",
    ]


def test_provided_mode_writes_the_given_ca_and_issues_nothing() -> None:
    objects = render(MODES["provided"])

    assert not (CERTGEN_KINDS | CERT_MANAGER_KINDS) & kinds(objects)
    assert webhook_configuration(objects)["clientConfig"]["caBundle"] == CA_BUNDLE


def test_provided_mode_without_a_ca_bundle_is_refused() -> None:
    assert "needs certificates.caBundle" in render_refused({"certificates.mode": "provided"})


def test_a_ca_bundle_in_a_mode_that_writes_its_own_is_refused() -> None:
    assert "certificates.caBundle is for" in render_refused({"certificates.caBundle": CA_BUNDLE})


def test_an_unknown_certificate_mode_is_refused_by_the_schema() -> None:
    assert "/certificates/mode" in render_refused({"certificates.mode": "self-signed"})


def test_a_webhook_url_replaces_the_service_in_the_webhook_configuration() -> None:
    url = "https://webhook.example:9443/inject-sidecar"

    client = webhook_configuration(render({**MODES["provided"], "webhook.url": url}))

    assert client["clientConfig"] == {"url": url, "caBundle": CA_BUNDLE}


def test_every_namespaced_object_and_every_reference_follows_the_release_namespace() -> None:
    objects = render(MODES["cert-manager"], namespace="elsewhere")

    text = json.dumps(objects)
    assert '"namespace": "spot-failover"' not in text
    for obj in objects:
        if obj["kind"] not in {"ClusterRole", "ClusterRoleBinding"} and not obj["kind"].startswith(
            ("Validating", "Mutating")
        ):
            assert obj["metadata"]["namespace"] == "elsewhere", obj["metadata"]["name"]
    selector = webhook_configuration(objects)["namespaceSelector"]["matchExpressions"][0]
    assert selector["values"] == ["kube-system", "elsewhere"]
    env = container_env(find(objects, "Deployment", "spot-failover-webhook"))
    assert env["SPOT_FAILOVER_WEBHOOK_EXCLUDED_NAMESPACES"] == "kube-system,elsewhere"
    binding = find(objects, "ClusterRoleBinding", "spot-failover-webhook")
    assert binding["subjects"][0]["namespace"] == "elsewhere"


def test_excluded_namespaces_are_both_the_selector_and_the_webhooks_own_list() -> None:
    objects = render({"webhook.settings.excluded_namespaces": ["kube-system", "batch"]})

    selector = webhook_configuration(objects)["namespaceSelector"]["matchExpressions"][0]
    assert selector["values"] == ["kube-system", "batch", "spot-failover"]
    env = container_env(find(objects, "Deployment", "spot-failover-webhook"))
    assert env["SPOT_FAILOVER_WEBHOOK_EXCLUDED_NAMESPACES"] == "kube-system,batch,spot-failover"


def test_the_certificate_job_gets_a_new_name_when_its_pod_template_changes() -> None:
    before = find(render(), "Job")["metadata"]["name"]
    same = find(render({"webhook.replicas": 3}), "Job")["metadata"]["name"]
    after = find(render({"image.tag": "0.2.0"}), "Job")["metadata"]["name"]

    assert same == before
    assert after != before
    assert HASHED_JOB.match(after)


def test_without_rbac_management_the_webhook_may_write_nothing_but_events() -> None:
    objects = render({"webhook.settings.manage_rbac": False})

    role = find(objects, "ClusterRole", "spot-failover-webhook")
    writes = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
        if verb not in {"get", "list", "watch"}
    }
    assert writes == {("", "events", "create")}
    env = container_env(find(objects, "Deployment", "spot-failover-webhook"))
    assert env["SPOT_FAILOVER_WEBHOOK_MANAGE_RBAC"] == "false"


def test_install_wide_fargate_labels_are_labels_the_sidecar_policy_lets_a_move_change() -> None:
    labels = {"team": "web", "spot-failover/fargate": "true", "compute": "fargate"}

    policy = find(
        render({"sidecar.settings.fargate_labels": labels}),
        "ValidatingAdmissionPolicy",
        "spot-failover-sidecar-scope",
    )

    (variable,) = [v for v in policy["spec"]["variables"] if v["name"] == "extraFargateLabelKeys"]
    assert variable["expression"] == "['compute', 'team']"


def test_the_monitoring_pieces_render_one_by_one() -> None:
    for piece, kind in [
        ("prometheusRule", "PrometheusRule"),
        ("serviceMonitor", "ServiceMonitor"),
        ("podMonitor", "PodMonitor"),
        ("dashboard", "ConfigMap"),
    ]:
        added = kinds(render({f"monitoring.{piece}.enabled": True})) - kinds(render())
        assert added == {kind}, piece


def test_the_dashboard_configmap_holds_the_dashboard_file_unchanged() -> None:
    dashboard = find(render({"monitoring.dashboard.enabled": True}), "ConfigMap")

    assert (
        dashboard["data"]["spot-failover.json"] == (CHART / "files" / "dashboard.json").read_text()
    )


# --- versions and images ----------------------------------------------------------------------


def test_the_chart_releases_the_package_version_and_its_images_by_default() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    metadata = chart_metadata()

    assert metadata["appVersion"] == project["version"]
    deployment = find(render(), "Deployment", "spot-failover-webhook")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"spot-failover-webhook:{project['version']}"
    env = container_env(deployment)
    assert (
        env["SPOT_FAILOVER_WEBHOOK_SIDECAR_IMAGE"] == f"spot-failover-sidecar:{project['version']}"
    )


def test_a_digest_pins_each_image_instead_of_its_tag() -> None:
    digest = "sha256:" + "0" * 64
    objects = render({"image.digest": digest, "sidecar.image.digest": digest})

    (container,) = find(objects, "Deployment", "spot-failover-webhook")["spec"]["template"]["spec"][
        "containers"
    ]
    assert container["image"] == f"spot-failover-webhook@{digest}"
    env = container_env(find(objects, "Deployment", "spot-failover-webhook"))
    assert env["SPOT_FAILOVER_WEBHOOK_SIDECAR_IMAGE"] == f"spot-failover-sidecar@{digest}"
    (certgen,) = find(objects, "Job")["spec"]["template"]["spec"]["containers"]
    assert certgen["image"] == f"spot-failover-webhook@{digest}"


def test_helm_itself_is_the_pinned_release() -> None:
    pinned = re.search(
        r'HELM_VERSION="\$\{HELM_VERSION:-(v[0-9.]+)\}"',
        (ROOT / "devtools" / "helm" / "build.sh").read_text(),
    )

    assert pinned is not None
    assert helm("version", "--short").stdout.strip().startswith(pinned.group(1))
