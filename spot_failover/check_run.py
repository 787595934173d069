"""``spot-failover check``: read what the checks need, run them, in the order a person reads.

The install first (configuration, Service and endpoints, certificate, policies), then each
opted-in Deployment. A read the user's identity may not make becomes an ``unknown`` result
naming what could not be read, not an abort: the other checks still run.
"""

from __future__ import annotations

import base64
import datetime as dt
import urllib.parse
from collections.abc import Callable
from typing import Any

from spot_common import contract
from spot_failover import check_reads as reads
from spot_failover import install_checks, workload_checks
from spot_failover.certificate_checks import certificate_results
from spot_failover.checks import Result, Status
from spot_failover.errors import CliError
from spot_failover.kube import Connection, list_deployments
from webhook.core import rbac
from webhook.core.owners import label_selector

GROUP = install_checks.GROUP


def run(
    connection: Connection,
    namespace: str | None,
    *,
    configuration_name: str,
    tls_secret: str,
    timeout_s: float | None,
    now: dt.datetime,
) -> list[Result]:
    results = _install(connection, configuration_name, tls_secret, timeout_s, now)
    try:
        deployments = list_deployments(connection, namespace, timeout_s)
    except CliError as error:
        return [*results, _unreadable("Deployments", "deployments", "the Deployments", error)]
    opted_in = [
        d
        for d in deployments
        if ((d.get("metadata") or {}).get("annotations") or {}).get(contract.ENABLED) == "true"
    ]
    fargate_nodes = _guarded(
        lambda: {
            str(node["metadata"]["name"])
            for node in reads.items(
                connection,
                "/api/v1/nodes",
                timeout_s,
                labelSelector=f"{workload_checks.FARGATE_NODE_LABEL}=fargate",
            )
        },
        set(),
    )
    for deployment in opted_in:
        results += _deployment(connection, deployment, fargate_nodes, timeout_s, now)
    return results


def _install(
    connection: Connection,
    name: str,
    tls_secret: str,
    timeout_s: float | None,
    now: dt.datetime,
) -> list[Result]:
    path = f"{reads.ADMISSION}/mutatingwebhookconfigurations/{name}"
    try:
        configuration = reads.get(connection, path, timeout_s)
    except CliError as error:
        return [_unreadable(GROUP, "webhook-configuration", f"the configuration {name}", error)]
    results = install_checks.webhook_configuration(name, configuration)
    hooks = (configuration or {}).get("webhooks") or []
    if hooks:
        client = hooks[0].get("clientConfig") or {}
        bundle = base64.b64decode(client.get("caBundle") or "")
        try:
            results += _endpoint_and_certificate(
                connection, client, bundle, tls_secret=tls_secret, timeout_s=timeout_s, now=now
            )
        except CliError as error:
            results.append(_unreadable(GROUP, "service", "the webhook's Service", error))
    service = (hooks[0].get("clientConfig") or {}).get("service") if hooks else None
    home = str(service.get("namespace")) if isinstance(service, dict) else None
    try:
        certgen = home is not None and _account(
            connection, home, install_checks.CERTGEN_ACCOUNT, timeout_s
        )
        warden = home is not None and _account(
            connection, home, install_checks.WARDEN_ACCOUNT, timeout_s
        )
        found = {
            policy: reads.get(
                connection, f"{reads.ADMISSION}/validatingadmissionpolicies/{policy}", timeout_s
            )
            for policy in install_checks.POLICIES
            + install_checks.CERTGEN_POLICIES
            + install_checks.WARDEN_POLICIES
        }
        bindings = reads.items(
            connection, f"{reads.ADMISSION}/validatingadmissionpolicybindings", timeout_s
        )
    except CliError as error:
        return [*results, _unreadable(GROUP, "admission-policy", "the admission policies", error)]
    results += install_checks.policies(found, bindings, certgen=certgen, warden=warden)
    if home is not None:
        results.append(_warden(connection, home, timeout_s))
    return results


def _account(connection: Connection, namespace: str, name: str, timeout_s: float | None) -> bool:
    """Whether a ServiceAccount of spot-failover (the certificate Job's, the warden's) exists
    beside the webhook's Service."""
    path = f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}"
    return reads.get(connection, path, timeout_s) is not None


def _warden(connection: Connection, namespace: str, timeout_s: float | None) -> Result:
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{install_checks.WARDEN_DEPLOYMENT}"
    try:
        deployment = reads.get(connection, path, timeout_s)
    except CliError as error:
        return _unreadable(GROUP, "warden", "the warden's Deployment", error)
    return install_checks.warden(namespace, deployment)


def _endpoint_and_certificate(
    connection: Connection,
    client: dict[str, Any],
    bundle: bytes,
    *,
    tls_secret: str,
    timeout_s: float | None,
    now: dt.datetime,
) -> list[Result]:
    if "url" in client:
        url = str(client["url"])
        serving = reads.served_certificate(url, timeout_s)
        host = urllib.parse.urlsplit(url).hostname or ""
        return [
            install_checks.called_by_url(url),
            *certificate_results(GROUP, serving, bundle, host, now),
        ]
    reference = client.get("service") or {}
    namespace, service_name = str(reference.get("namespace")), str(reference.get("name"))
    service = reads.get(
        connection, f"/api/v1/namespaces/{namespace}/services/{service_name}", timeout_s
    )
    slices = reads.items(
        connection,
        f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices",
        timeout_s,
        labelSelector=f"kubernetes.io/service-name={service_name}",
    )
    results = install_checks.service_endpoints(reference, service, slices)
    try:
        serving = reads.secret_certificate(connection, namespace, tls_secret, timeout_s)
    except CliError:
        serving = None
    host = f"{service_name}.{namespace}.svc"
    return results + certificate_results(GROUP, serving, bundle, host, now)


def _deployment(
    connection: Connection,
    deployment: dict[str, Any],
    fargate_nodes: set[str],
    timeout_s: float | None,
    now: dt.datetime,
) -> list[Result]:
    meta = deployment.get("metadata") or {}
    namespace, name = str(meta.get("namespace")), str(meta.get("name"))
    group = workload_checks.group_of(deployment)
    results: list[Result] = []
    selector = label_selector((deployment.get("spec") or {}).get("selector") or {})
    pods: list[dict[str, Any]] = []
    try:
        pods = reads.items(
            connection, f"/api/v1/namespaces/{namespace}/pods", timeout_s, labelSelector=selector
        )
        results.append(workload_checks.pods_injected(deployment, pods))
    except CliError as error:
        results.append(_unreadable(group, "pods-injected", "its pods", error))
    try:
        role_path = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}"
        role_name = rbac.role_name(name)
        role = reads.get(connection, f"{role_path}/roles/{role_name}", timeout_s)
        binding = reads.get(connection, f"{role_path}/rolebindings/{role_name}", timeout_s)
        results.append(workload_checks.rbac_provisioned(deployment, role, binding))
    except CliError as error:
        results.append(_unreadable(group, "rbac", "its Role and RoleBinding", error))
    results.append(workload_checks.strategy_fits(deployment))
    try:
        events = reads.items(
            connection,
            f"/api/v1/namespaces/{namespace}/events",
            timeout_s,
            fieldSelector=f"involvedObject.kind=Deployment,involvedObject.name={name}",
        )
        results.append(workload_checks.imds_reachable(deployment, events, now))
    except CliError as error:
        results.append(_unreadable(group, "imds", "its Events", error))
    labels = workload_checks.fargate_labels(deployment, pods)
    results.append(workload_checks.fargate_profile(deployment, labels, pods, fargate_nodes))
    return results


def _unreadable(group: str, check: str, what: str, error: CliError) -> Result:
    return Result(group, check, Status.UNKNOWN, f"could not read {what}: {error}")


def _guarded(read: Callable[[], set[str]], default: set[str]) -> set[str]:
    try:
        return read()
    except CliError:
        return default
