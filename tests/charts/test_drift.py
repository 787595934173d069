"""The chart and deploy/ install the same thing: both rendered, compared object by object."""

from __future__ import annotations

import copy
from typing import Any

from .drift import DEPLOY, differences, key, kustomize
from .helm import find, render

WITH_NAMESPACE = {"namespace.create": True}
ALL_MONITORING = {
    "monitoring.prometheusRule.enabled": True,
    "monitoring.serviceMonitor.enabled": True,
    "monitoring.podMonitor.enabled": True,
    "monitoring.dashboard.enabled": True,
}
MONITORING_KINDS = {"PrometheusRule", "ServiceMonitor", "PodMonitor", "ConfigMap"}


def test_the_default_chart_installs_what_kubectl_apply_k_deploy_installs() -> None:
    assert differences(render(WITH_NAMESPACE), kustomize(DEPLOY)) == []


def test_with_cert_manager_the_chart_installs_what_the_cert_manager_overlay_installs() -> None:
    chart = render({**WITH_NAMESPACE, "certificates.mode": "cert-manager"})

    assert differences(chart, kustomize(DEPLOY / "overlays" / "cert-manager")) == []


def test_with_monitoring_on_the_chart_adds_exactly_what_deploy_monitoring_adds() -> None:
    chart = render({**WITH_NAMESPACE, **ALL_MONITORING})
    monitoring = [obj for obj in chart if obj["kind"] in MONITORING_KINDS]

    assert differences(monitoring, kustomize(DEPLOY / "monitoring")) == []
    assert differences([o for o in chart if o not in monitoring], kustomize(DEPLOY)) == []


def test_by_default_the_chart_leaves_the_namespace_to_helm_and_monitoring_out() -> None:
    chart = {key(obj) for obj in render()}
    full = {key(obj) for obj in kustomize(DEPLOY)}

    assert full - chart == {("Namespace", "spot-failover")}
    assert chart - full == set()


def test_the_comparison_names_a_changed_rule_a_missing_object_and_a_foreign_label() -> None:
    chart: list[dict[str, Any]] = copy.deepcopy(list(kustomize(DEPLOY)))
    role = find(chart, "ClusterRole", "spot-failover-webhook")
    role["rules"][0]["verbs"].append("delete")
    role["metadata"]["labels"]["team"] = "platform"
    chart.remove(find(chart, "PodDisruptionBudget"))

    assert differences(chart, kustomize(DEPLOY)) == [
        "ClusterRole/spot-failover-webhook.rules[0].verbs: chart ['list', 'watch', 'delete'] "
        "!= deploy ['list', 'watch']",
        "ClusterRole/spot-failover-webhook: label team: only in the chart",
        "PodDisruptionBudget/spot-failover-webhook: missing from the chart",
    ]
