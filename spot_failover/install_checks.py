"""Checks of the install itself: the webhook configuration, its Service and endpoints, and the
admission policies. Pure: the objects as the API sent them (``None`` when absent) in, results
out. The certificate is :mod:`spot_failover.certificate_checks`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from spot_common import contract
from spot_failover.checks import Result, Status, ok

GROUP: Final = "install"
POLICIES: Final = (
    "spot-failover-sidecar-scope",
    "spot-failover-sidecar-pods",
    "spot-failover-lease-holders",
    "spot-failover-sidecar-events",
    "spot-failover-webhook-never-writes",
    "spot-failover-webhook-rbac",
)
"""The ValidatingAdmissionPolicies of deploy/base: what holds the sidecar's and the webhook's
identities to their jobs (a test keeps the list equal to deploy/base's)."""
CERTGEN_ACCOUNT: Final = "spot-failover-webhook-certgen"
"""The certificate Job's ServiceAccount, in the webhook's namespace when the Job is installed."""
CERTGEN_POLICIES: Final = ("spot-failover-certgen-cabundle-only", "spot-failover-certgen-secrets")
"""The policies of deploy/certgen, which hold the certificate Job's identity to its job: needed
wherever that identity exists (not with cert-manager, nor with a CA of your own)."""

WARDEN_ACCOUNT: Final = contract.WARDEN_SERVICE_ACCOUNT
"""The warden's ServiceAccount, in the webhook's namespace when the warden is installed."""
WARDEN_DEPLOYMENT: Final = "spot-failover-warden"
WARDEN_POLICIES: Final = (
    "spot-failover-warden-scope",
    "spot-failover-warden-leases",
    "spot-failover-warden-events",
)
"""The policies of deploy/warden, which hold the warden's cluster-wide rights to a sidecar
leader's: needed wherever its identity exists."""

Object = Mapping[str, Any]


def webhook_configuration(name: str, configuration: Object | None) -> list[Result]:
    if configuration is None:
        return [
            Result(
                GROUP,
                "webhook-configuration",
                Status.FAIL,
                f"the MutatingWebhookConfiguration {name} does not exist: no pod gets the sidecar",
                "install spot-failover: kubectl apply -k deploy/",
            )
        ]
    results = [
        ok(GROUP, "webhook-configuration", f"the MutatingWebhookConfiguration {name} exists")
    ]
    for hook in configuration.get("webhooks") or []:
        hook_name = hook.get("name", "?")
        if hook.get("failurePolicy", "Fail") != "Ignore":
            results.append(
                Result(
                    GROUP,
                    "failure-policy",
                    Status.WARN,
                    f"webhook {hook_name} has failurePolicy {hook.get('failurePolicy', 'Fail')}: "
                    "while it is down, no pod can be created where it applies",
                    "set failurePolicy: Ignore, as deploy/ ships it",
                )
            )
        if not (hook.get("clientConfig") or {}).get("caBundle"):
            results.append(
                Result(
                    GROUP,
                    "ca-bundle",
                    Status.FAIL,
                    f"webhook {hook_name} has no caBundle: the API server cannot call it",
                    "run the certificate Job (deploy/certgen) or cert-manager's CA injector",
                )
            )
    return results


def service_endpoints(
    reference: Object, service: Object | None, slices: Sequence[Object]
) -> list[Result]:
    """``reference`` is the configuration's ``clientConfig.service``."""
    where = f"{reference.get('namespace')}/{reference.get('name')}"
    if service is None:
        return [
            Result(
                GROUP,
                "service",
                Status.FAIL,
                f"the Service {where} the configuration calls does not exist",
                "apply deploy/ again, or fix clientConfig.service",
            )
        ]
    port = int(reference.get("port") or 443)
    ports = {int(p.get("port") or 0) for p in (service.get("spec") or {}).get("ports") or []}
    results = []
    if port not in ports:
        results.append(
            Result(GROUP, "service", Status.FAIL, f"the Service {where} has no port {port}")
        )
    else:
        results.append(ok(GROUP, "service", f"the Service {where} exists with port {port}"))
    ready = {
        address
        for piece in slices
        for endpoint in piece.get("endpoints") or []
        if (endpoint.get("conditions") or {}).get("ready", True)
        for address in endpoint.get("addresses") or []
    }
    if not ready:
        results.append(
            Result(
                GROUP,
                "endpoints",
                Status.FAIL,
                f"the Service {where} has no ready endpoint: no webhook replica answers, "
                "pods are created without the sidecar",
                "kubectl -n spot-failover get pods,events: the webhook's pods are not Ready",
            )
        )
    elif len(ready) < 2:
        results.append(
            Result(
                GROUP,
                "endpoints",
                Status.WARN,
                f"the Service {where} has 1 ready endpoint: one more failure and pods get no "
                "sidecar",
                "run 2 replicas, as deploy/ ships them",
            )
        )
    else:
        results.append(
            ok(GROUP, "endpoints", f"the Service {where} has {len(ready)} ready endpoints")
        )
    return results


def called_by_url(url: str) -> Result:
    return Result(
        GROUP,
        "service",
        Status.UNKNOWN,
        f"the configuration calls the URL {url}, not a Service: no Service or endpoints to check",
    )


def policies(
    found: Mapping[str, Object | None],
    bindings: Sequence[Object],
    *,
    certgen: bool,
    warden: bool = False,
) -> list[Result]:
    """Each policy present and bound to deny; the certificate Job's too when ``certgen`` (its
    ServiceAccount exists), the warden's when ``warden`` (its ServiceAccount exists)."""
    results = []
    wanted = POLICIES + (CERTGEN_POLICIES if certgen else ()) + (WARDEN_POLICIES if warden else ())
    for name in wanted:
        if found.get(name) is None:
            results.append(
                Result(
                    GROUP,
                    "admission-policy",
                    Status.FAIL,
                    f"the ValidatingAdmissionPolicy {name} does not exist: identities of "
                    "spot-failover can do more than their job",
                    "apply deploy/ again",
                )
            )
            continue
        denying = [
            binding
            for binding in bindings
            if (binding.get("spec") or {}).get("policyName") == name
            and "Deny" in ((binding.get("spec") or {}).get("validationActions") or [])
        ]
        if not denying:
            results.append(
                Result(
                    GROUP,
                    "admission-policy",
                    Status.FAIL,
                    f"the ValidatingAdmissionPolicy {name} is not bound with validationActions "
                    "Deny: it enforces nothing",
                    "apply deploy/ again (its ValidatingAdmissionPolicyBinding)",
                )
            )
        else:
            results.append(
                ok(
                    GROUP,
                    "admission-policy",
                    f"the ValidatingAdmissionPolicy {name} is bound (Deny)",
                )
            )
    return results


def warden(namespace: str, deployment: Object | None) -> Result:
    """Whether the warden runs: without it, a move whose every sidecar is gone (the leader died
    with its node, the new pods never started) is never ended."""
    where = f"{namespace}/{WARDEN_DEPLOYMENT}"
    if deployment is None:
        return Result(
            GROUP,
            "warden",
            Status.WARN,
            f"the warden {where} is not installed: a move whose every sidecar is gone "
            "(its new pods never started) is never ended",
            "install it: kubectl apply -k deploy/ (deploy/warden), or the chart with "
            "warden.enabled=true",
        )
    ready = int((deployment.get("status") or {}).get("readyReplicas") or 0)
    if ready < 1:
        return Result(
            GROUP,
            "warden",
            Status.WARN,
            f"the warden {where} has no ready replica: a move whose every sidecar is gone is "
            "not ended until it runs",
            f"kubectl -n {namespace} describe deployment {WARDEN_DEPLOYMENT} (it runs only on "
            "nodes that are not spot)",
        )
    return ok(GROUP, "warden", f"the warden {where} runs ({ready} ready)")
