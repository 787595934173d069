"""The kopf side: handler registration, kopf's settings and its credentials.

Handlers live in their own :class:`kopf.OperatorRegistry` (no module-level registration), so a
process — or a test — can build several webhooks side by side. They are:

* ``inject-sidecar``: the mutating admission handler for pod CREATE. Its id is the URL path
  the shipped MutatingWebhookConfiguration calls. Its ``body`` is the view of the pod the
  server hands kopf (:mod:`webhook.core.pod_view`); kopf diffs it with what the handler turns it
  into, and that is the patch.
* ``on.event`` handlers for ReplicaSets and Deployments that feed :class:`OwnerCache` and the
  RBAC controller. ``on.event`` handlers are level-based (the initial listing arrives as
  events too) and kopf keeps no state for them on the objects: the webhook never writes to a
  user's Deployment.
* a login handler that hands kopf the same credentials the ``kubernetes`` client uses.

kopf's settings: standalone (no peering objects), its managed webhook configuration off (ours
is static, in deploy/), its posting of Kubernetes Events off (we post our own, on purpose).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import kopf
from kubernetes import client

from webhook.admission import Admission
from webhook.core.owners import OwnerCache
from webhook.rbac_controller import RbacController
from webhook.server import HANDLER_ID, AdmissionServer

log = logging.getLogger(__name__)


def build_registry(
    admission: Admission,
    cache: OwnerCache,
    controller: RbacController | None,
    configuration: client.Configuration,
) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.mutate(
        "v1",
        "pods",
        operations=["CREATE"],
        id=HANDLER_ID,
        registry=registry,
        ignore_failures=True,
        side_effects=False,
    )
    async def inject_sidecar(
        body: kopf.Body, patch: kopf.Patch, warnings: list[str], **_: Any
    ) -> None:
        # A plain dict rather than kopf's Body: selection and injection read many fields, and
        # each read through the Body resolves a path through its mapping views.
        outcome = await admission.admit(dict(body))
        warnings.extend(outcome.warnings)
        if outcome.pod is not None:
            patch.fns.append(replace_with(outcome.pod))

    @kopf.on.event("apps", "v1", "replicasets", registry=registry)
    async def replicaset_seen(type: str | None, body: kopf.Body, **_: Any) -> None:
        cache.replicaset_event(type, body)

    @kopf.on.event("apps", "v1", "deployments", registry=registry)
    async def deployment_seen(type: str | None, body: kopf.Body, **_: Any) -> None:
        before, after = cache.deployment_event(type, body)
        if controller is not None and cache.watches(after.namespace):
            await controller.on_deployment(type, before, after)

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return connection_info(configuration)

    return registry


def replace_with(pod: dict[str, Any]) -> Callable[[Any], None]:
    """A kopf patch function that turns the admitted body into ``pod``; kopf diffs the two.

    The whole body is replaced, not merged into: kopf copies and diffs the whole body either
    way, so a merge patch of the changed fields would cost the same and say it less plainly.
    """

    def replace(body: Any) -> None:
        body.clear()
        body.update(pod)

    return replace


def operator_settings(server: AdmissionServer) -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    settings.admission.server = server
    settings.admission.managed = None
    settings.posting.enabled = False
    settings.peering.standalone = True
    # Bound every watch request, so that a silently dropped connection is noticed.
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 10
    return settings


def connection_info(configuration: client.Configuration) -> kopf.ConnectionInfo:
    """kopf's credentials from the ``kubernetes`` client's configuration.

    Asked again by kopf whenever the API answers 401; reading the token through the
    configuration re-reads a rotated ServiceAccount token file.
    """
    header = configuration.get_api_key_with_prefix(
        "BearerToken"
    ) or configuration.get_api_key_with_prefix("authorization")
    scheme, _, token = (header or "").partition(" ")
    if not token:
        scheme, token = "", scheme
    return kopf.ConnectionInfo(
        server=configuration.host,
        ca_path=configuration.ssl_ca_cert,
        insecure=not configuration.verify_ssl,
        scheme=scheme or None,
        token=token or None,
        certificate_path=configuration.cert_file,
        private_key_path=configuration.key_file,
    )
