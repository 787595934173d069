"""The kopf side: handler registration, kopf's settings and its credentials.

kopf is the operator the webhook is built on: it runs the watches, the controller and the
credentials. Admission reviews do not go through it: the webhook's own server answers them
(:mod:`webhook.server`): kopf's machinery for a review (its handler plumbing, a deep copy of
the admitted object, a diff of the whole of it) was about three fifths of a review's
instructions (BENCHMARKS.md, Admission).

Handlers live in their own :class:`kopf.OperatorRegistry` (no module-level registration), so a
process — or a test — can build several webhooks side by side. They are:

* ``on.event`` handlers for ReplicaSets and Deployments that feed :class:`OwnerCache` and the
  RBAC controller. ``on.event`` handlers are level-based (the initial listing arrives as
  events too) and kopf keeps no state for them on the objects: the webhook never writes to a
  user's Deployment.
* a login handler that hands kopf the same credentials the ``kubernetes`` client uses.

kopf's settings: standalone (no peering objects), no admission server and no managed webhook
configuration (ours is static, in deploy/), its posting of Kubernetes Events off (we post our
own, on purpose).
"""

from __future__ import annotations

import logging
from typing import Any

import kopf
from kubernetes import client

from webhook.core.owners import OwnerCache
from webhook.rbac_controller import RbacController

log = logging.getLogger(__name__)


def build_registry(
    cache: OwnerCache,
    controller: RbacController | None,
    configuration: client.Configuration,
) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

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


def operator_settings() -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    settings.admission.server = None
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
