"""Is the Deployment's rollout done? The same answer ``kubectl rollout status`` gives.

After every template write the sidecar follows the rollout it started. Deciding "done" by any
other rule than kubectl's would make the add-on disagree with what operators see, so
:func:`status` mirrors ``DeploymentStatusViewer.Status`` in kubectl's
``pkg/polymorphichelpers/rollout_status.go``, branch for branch and in the same order:

1. ``metadata.generation > status.observedGeneration``: the controller has not seen the latest
   spec yet → progressing. Only when it has are the other checks meaningful.
2. The ``Progressing`` condition has reason ``ProgressDeadlineExceeded`` → failed (kubectl
   looks at the reason only, not the condition's status).
3. ``spec.replicas`` is set and ``status.updatedReplicas < spec.replicas`` → progressing
   (kubectl skips this check when ``spec.replicas`` is absent; the API server defaults it).
4. ``status.replicas > status.updatedReplicas``: old replicas pending termination → progressing.
5. ``status.availableReplicas < status.updatedReplicas`` → progressing.
6. Otherwise → complete.

Missing counters read as 0, as they do in Go. kubectl's optional ``--revision`` pin is not
reproduced: the machine always follows the newest template, whoever wrote it.

kubectl's own timeout is the caller's business; here it is :func:`past_deadline` and
:func:`with_deadline`, with the start time and ``now`` passed in.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import TypeAlias

from sidecar.core import objects
from sidecar.core.objects import JSONObject
from sidecar.core.times import require_utc

TIMED_OUT_REASON = "ProgressDeadlineExceeded"
"""Reason of the ``Progressing`` condition once ``progressDeadlineSeconds`` has passed."""


@dataclasses.dataclass(frozen=True, slots=True)
class Progressing:
    """Not done yet; ``reason`` says what the rollout is waiting for."""

    reason: str


@dataclasses.dataclass(frozen=True, slots=True)
class Complete:
    """Every replica runs the newest template and is available; no old pod is left."""

    message: str = "successfully rolled out"


@dataclasses.dataclass(frozen=True, slots=True)
class Failed:
    """The rollout will not finish by itself; ``reason`` says why."""

    reason: str


Verdict: TypeAlias = Progressing | Complete | Failed


def status(deployment: JSONObject) -> Verdict:
    """The rollout verdict for a Deployment in JSON form (as the API returns it).

    Raises :class:`~sidecar.core.errors.MalformedObjectError` if a counter is not an integer.
    """
    metadata = objects.child(deployment, "metadata", "")
    spec = objects.child(deployment, "spec", "")
    state = objects.child(deployment, "status", "")
    name = objects.text(metadata, "name", "metadata", "") or "?"

    generation = objects.integer(metadata, "generation", "metadata") or 0
    observed = objects.integer(state, "observedGeneration", "status") or 0
    if generation > observed:
        return Progressing("waiting for the deployment spec update to be observed")

    if _progressing_reason(state) == TIMED_OUT_REASON:
        return Failed(f"deployment {name!r} exceeded its progress deadline")

    wanted = objects.integer(spec, "replicas", "spec", None)
    updated = objects.integer(state, "updatedReplicas", "status") or 0
    current = objects.integer(state, "replicas", "status") or 0
    available = objects.integer(state, "availableReplicas", "status") or 0
    if wanted is not None and updated < wanted:
        return Progressing(f"{updated} out of {wanted} new replicas have been updated")
    if current > updated:
        return Progressing(f"{current - updated} old replicas are pending termination")
    if available < updated:
        return Progressing(f"{available} of {updated} updated replicas are available")
    return Complete(f"deployment {name!r} successfully rolled out")


def _progressing_reason(state: JSONObject) -> str | None:
    """Reason of the first ``Progressing`` condition, as ``GetDeploymentCondition`` finds it."""
    for index, condition in enumerate(objects.items(state, "conditions", "status")):
        where = f"status.conditions[{index}]"
        if objects.text(condition, "type", where) == "Progressing":
            return objects.text(condition, "reason", where)
    return None


def past_deadline(started_at: datetime, timeout: timedelta, now: datetime) -> bool:
    """Whether a rollout that started at ``started_at`` has run out of ``timeout`` at ``now``."""
    return require_utc(now, "now") >= require_utc(started_at, "started_at") + timeout


def with_deadline(
    verdict: Verdict, *, started_at: datetime, timeout: timedelta, now: datetime
) -> Verdict:
    """``verdict``, except that a rollout still progressing past its deadline has failed.

    This is the overall timeout the add-on puts on a move, usually much shorter than the
    Deployment's own ``progressDeadlineSeconds`` (600 s by default).
    """
    if isinstance(verdict, Progressing) and past_deadline(started_at, timeout, now):
        return Failed(f"not complete after {timeout} ({verdict.reason})")
    return verdict
