"""What the state machine asks the shell to do: frozen, plain-data actions.

:func:`sidecar.core.machine.decide` returns a tuple of these; the loop's actor
(:mod:`sidecar.acting`) executes them in order and stops at the first one that fails. Rules
for the executor:

* :class:`WriteTransition` is a *conditional* replace of the Deployment (its body carries the
  ``resourceVersion`` that was read). On 409 Conflict, drop the remaining actions, read the
  Deployment again and decide again: someone else moved first, and the state annotation will
  say what they did.
* :class:`AcquireLease` means "this sidecar needs the lease before it can act": run
  :func:`sidecar.core.lease.decide` and its conditional write, then decide again with the new
  ``holds_lease``. While the sidecar holds the lease and no :class:`ReleaseLease` is asked
  for, it keeps renewing it.
* :class:`CheckHealth` means "the machine needs a health verdict to go on": list the pods and
  nodes, compute :func:`sidecar.core.health.pods_verdict` (and the URL check if ``url`` is set,
  folded in with :func:`sidecar.core.health.with_http_check`), then decide again with it. An
  ``early`` check (a move to Fargate still rolling out) lists the pods only.
* :class:`Wait` and :class:`Nothing` change nothing; ``until`` is a hint for the next tick.
* :class:`AskForRefusedPods` is a conditional replace of the Deployment that changes only
  :data:`~spot_common.contract.QUOTA_RETRY`; on 409 it is simply dropped (the next tick asks again).
* :class:`MarkDoomedPods` (before the write that starts a move) and :class:`ClearDoomedPods`
  (after the write that rolls it back) patch the pod-deletion cost of the Deployment's pods on
  ``node``; best effort: a failed patch is logged and never stops the move.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TypeAlias

from sidecar.core.objects import JSONObject
from spot_common.contract import ComputeType, State


@dataclasses.dataclass(frozen=True, slots=True)
class Nothing:
    """Nothing to do now; ``reason`` is for a debug log."""

    reason: str


@dataclasses.dataclass(frozen=True, slots=True)
class Wait:
    """Nothing to do before ``until``."""

    until: datetime
    reason: str


@dataclasses.dataclass(frozen=True, slots=True)
class AcquireLease:
    """Get the lease (acquire, renew or take over), then decide again."""


@dataclasses.dataclass(frozen=True, slots=True)
class ReleaseLease:
    """Give the lease up: the work that needed it is done."""


@dataclasses.dataclass(frozen=True, slots=True)
class CheckHealth:
    """Judge the pods of the current template (and ``url`` if set), then decide again.

    ``early``: the rollout is still under way; judge only what the pods show (no node reads,
    no URL) and pass the verdict through :func:`sidecar.core.health.early`."""

    expected: ComputeType
    replicas: int
    url: str | None
    early: bool = False


@dataclasses.dataclass(frozen=True)
class WriteTransition:
    """Replace the Deployment with ``body``, conditional on its ``metadata.resourceVersion``.

    ``body`` is the whole Deployment as read, with the new state annotations and, when
    ``template_changed``, the new pod template. Do not modify it.
    """

    body: JSONObject
    from_state: State
    to_state: State
    reason: str
    message: str
    template_changed: bool


@dataclasses.dataclass(frozen=True)
class AskForRefusedPods:
    """Replace the Deployment with ``body`` (only :data:`~spot_common.contract.QUOTA_RETRY`
    changed), conditional on its ``metadata.resourceVersion``: the ReplicaSets get the
    annotation, and the ReplicaSet controller retries the pods a quota refused now rather than
    after its back-off."""

    body: JSONObject


@dataclasses.dataclass(frozen=True, slots=True)
class RecordEvent:
    """Record a Kubernetes Event on the Deployment (type ``Warning`` if ``warning``)."""

    reason: str
    message: str
    warning: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class MarkDoomedPods:
    """Give the Deployment's pods on ``node`` the lowest deletion cost, so the rollout removes
    them first (``contract.POD_DELETION_COST``; pods that carry another value keep it)."""

    node: str


@dataclasses.dataclass(frozen=True, slots=True)
class ClearDoomedPods:
    """Remove the deletion cost :class:`MarkDoomedPods` set on the pods on ``node``."""

    node: str


Action: TypeAlias = (
    Nothing
    | Wait
    | AcquireLease
    | AskForRefusedPods
    | ReleaseLease
    | CheckHealth
    | WriteTransition
    | RecordEvent
    | MarkDoomedPods
    | ClearDoomedPods
)

WRITES: tuple[type, ...] = (
    AcquireLease,
    AskForRefusedPods,
    ReleaseLease,
    WriteTransition,
    RecordEvent,
    MarkDoomedPods,
    ClearDoomedPods,
)
"""Action types that write to the API server (a Lease, the Deployment, or an Event)."""
