"""One pod at admission: decide, inject, derive the patch, count; never fail the pod.

This is what the admission server calls for every pod CREATE (:mod:`webhook.server`). It glues
the pure decisions (:mod:`webhook.core.selection`, :mod:`webhook.core.injection`) and the patch
(:mod:`webhook.core.patch`) to the owner lookup and the metrics, and it is where "fail open,
loudly" is implemented for everything that happens inside one review: any exception becomes
"admit unchanged", with a warning the user sees in ``kubectl``'s output, a log line and
``spot_failover_webhook_errors_total{component="admission"}``.

Decisions and injection work on the view of the pod (:mod:`webhook.core.pod_view`): the fields
they read, so that injection copies, and the patch compares, a fraction of the pod.

Nothing is logged at INFO per request: at hundreds of pods per second that would be the
webhook's main cost. Decisions are logged at DEBUG.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

from webhook.core import patch, pod_view
from webhook.core.injection import inject
from webhook.core.injection_config import InjectionConfig
from webhook.core.selection import (
    Inject,
    NoController,
    OwnerResolution,
    SelectionConfig,
    Skip,
    controller_ref,
    decide,
    skip_before_lookup,
)
from webhook.lookup import OwnerLookup
from webhook.metrics import Metrics

log = logging.getLogger(__name__)

INTERNAL_ERROR_WARNING: Final = (
    "spot-failover: internal error in the sidecar injector; the pod was admitted without the "
    "sidecar and will not take part in spot failover. The webhook's logs have the details."
)

Injector = Callable[[Mapping[str, Any], str, Mapping[str, str], InjectionConfig], Any]


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """The JSON patch to admit the pod with and the warnings for the requester.

    ``patch`` is ``None`` when the pod is not injected, and empty when it is but injection
    changed nothing (it had the sidecar already).
    """

    patch: list[dict[str, Any]] | None
    warnings: tuple[str, ...] = ()
    reason: str = ""
    """``injected``, a skip reason, or ``internal_error``: for logs and tests."""


class Admission:
    def __init__(
        self,
        selection: SelectionConfig,
        injection: InjectionConfig,
        owners: OwnerLookup,
        metrics: Metrics,
        injector: Injector = inject,
    ) -> None:
        self.selection = selection
        self.injection = injection
        self.owners = owners
        self.metrics = metrics
        self.injector = injector
        """The pure injection function; replaceable so tests can make it fail."""

    async def admit(self, pod: Mapping[str, Any], namespace: str | None = None) -> Outcome:
        """What to do with a pod being created (the whole pod, as admitted). Never raises
        (except cancellation)."""
        try:
            outcome = await self._admit(pod_view.view(pod), namespace)
        except Exception as error:
            self.metrics.errors.labels("admission").inc()
            log.warning(
                "admitting a pod without the sidecar after an internal error",
                exc_info=True,
                extra={"namespace": namespace, "pod": _pod_name(pod), "error": repr(error)},
            )
            return Outcome(None, (INTERNAL_ERROR_WARNING,), "internal_error")
        if outcome.patch is None:
            self.metrics.skipped.labels(outcome.reason).inc()
        else:
            self.metrics.injected.inc()
        return outcome

    async def _admit(self, pod: Mapping[str, Any], namespace: str | None) -> Outcome:
        early = skip_before_lookup(pod, self.selection, namespace=namespace)
        if early is not None:
            return self._skip(pod, early)
        ref = controller_ref(pod)
        owner: OwnerResolution = NoController()
        if ref is not None:
            owner = await self.owners.resolve(namespace or _pod_namespace(pod), ref)
        match decide(pod, owner, self.selection, namespace=namespace):
            case Skip() as skip:
                return self._skip(pod, skip)
            case Inject(deployment_name=deployment, deployment_annotations=annotations):
                injected = self.injector(pod, deployment, annotations, self.injection)
                operations = patch.derive(pod, injected.pod)
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("injecting", extra={"pod": _pod_name(pod), "deployment": deployment})
                return Outcome(operations, tuple(injected.warnings), "injected")

    @staticmethod
    def _skip(pod: Mapping[str, Any], skip: Skip) -> Outcome:
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "not injecting",
                extra={"pod": _pod_name(pod), "reason": str(skip.reason), "detail": skip.detail},
            )
        return Outcome(None, (), str(skip.reason))


def _meta(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = pod.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _pod_name(pod: Mapping[str, Any]) -> str:
    meta = _meta(pod)
    return str(meta.get("name") or meta.get("generateName") or "")


def _pod_namespace(pod: Mapping[str, Any]) -> str:
    return str(_meta(pod).get("namespace") or "")
