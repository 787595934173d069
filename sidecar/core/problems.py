"""What stops spot-failover from acting on a Deployment, put in words on the Deployment (pure).

Two things can stop every sidecar of a Deployment however often it tries, and only a person
can mend them:

* **an annotation that does not parse** — a user's typo in a ``spot-failover/*`` setting, or a
  value spot-failover keeps that someone changed by hand: the sidecar does not guess
  (:mod:`sidecar.core.overrides`, :mod:`sidecar.core.annotations`), so it does nothing at all;
* **a move the API server refuses to write because the annotations would be too large**
  (Kubernetes allows 256 KiB of annotations per object, and a move adds its saved scheduling,
  notice and history to whatever the Deployment already carries).

Either is reported the same way: the annotation :data:`~spot_common.contract.PROBLEM` says what
is wrong and what to do (written once, by whichever sidecar comes first; nothing else of the
Deployment changes, and nothing the user set), and the sidecar that wrote it records one
Warning Event. The sidecars then back off, and pick the Deployment up again as soon as it
changes. A problem with an annotation is removed by the first sidecar that reads the
Deployment whole again; a refused move's, by the next write of a transition.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from sidecar.core import objects
from sidecar.core.errors import (
    CorruptStateError,
    InvalidInputError,
    InvalidValueError,
    MalformedObjectError,
)
from sidecar.core.objects import JSONObject
from spot_common import contract
from spot_common.contract import State

INVALID_REASON: Final = "InvalidAnnotation"
"""Reason of the Warning Event about an annotation that does not parse."""
MALFORMED_REASON: Final = "MalformedDeployment"
"""Reason of the Warning Event about a Deployment field of an impossible shape."""
TOO_LARGE_REASON: Final = "AnnotationsTooLarge"
"""Reason of the Warning Event about a move refused for the size of the annotations."""
TOO_LARGE_SUBJECT: Final = "metadata.annotations"
"""How a refused move's problem starts (an annotation's problem starts with its key)."""
ANNOTATIONS_LIMIT_BYTES: Final = 256 * 1024
"""Kubernetes' limit on the total size of an object's annotations (keys and values)."""
PROBLEM_LIMIT: Final = 1024
"""Characters kept of the problem."""
_UNTIL_FIXED: Final = "spot-failover does nothing for this Deployment until it is fixed"


def unusable(error: InvalidInputError) -> tuple[str, str]:
    """The Event reason and the problem for a Deployment that cannot be read as it is."""
    if isinstance(error, InvalidValueError):
        problem = f"{error.source}: {_clip(error.value)!r} is invalid: {error.expected}"
        return INVALID_REASON, _bounded(f"{problem}; {_UNTIL_FIXED}")
    if isinstance(error, CorruptStateError):
        problem = (
            f"{error.annotation}: {error.problem}; spot-failover keeps this annotation and "
            "someone changed it: put back a valid value, or remove it"
        )
        return INVALID_REASON, _bounded(f"{problem}; {_UNTIL_FIXED}")
    if isinstance(error, MalformedObjectError):
        return MALFORMED_REASON, _bounded(f"{error.path}: {error.problem}; {_UNTIL_FIXED}")
    return MALFORMED_REASON, _bounded(f"{error}; {_UNTIL_FIXED}")


def is_too_large(status: int, message: str) -> bool:
    """Whether an API server's refusal (``status``, its message) says the annotations would
    exceed Kubernetes' limit."""
    return status == 422 and f"{TOO_LARGE_SUBJECT}: Too long" in message


def too_large(from_state: State, to_state: State, node: str | None) -> str:
    """The problem of a transition's write refused for the size of the annotations."""
    what = f"the move from {from_state} to {to_state}"
    if node is not None:
        what += f" for node {node}"
    return _bounded(
        f"{TOO_LARGE_SUBJECT}: {what} was refused: with what the move records "
        f"(saved scheduling, notice, history) the Deployment's annotations would exceed the "
        f"{ANNOTATIONS_LIMIT_BYTES // 1024} KiB Kubernetes allows; make room (remove annotations "
        "you do not need, e.g. kubectl.kubernetes.io/last-applied-configuration by applying "
        "server-side) and spot-failover tries again"
    )


def reported(body: JSONObject, problem: str) -> bool:
    """Whether the Deployment already says ``problem``."""
    return _annotations(body).get(contract.PROBLEM) == _bounded(problem)


def outdated(body: JSONObject) -> bool:
    """Whether the Deployment, read whole, still says a problem with one of its annotations
    (which reading it whole shows to be over). A refused move's stays until a transition."""
    problem = _annotations(body).get(contract.PROBLEM)
    return problem is not None and not problem.startswith(TOO_LARGE_SUBJECT)


def report_body(body: JSONObject, problem: str) -> dict[str, Any]:
    """A copy of the Deployment with :data:`~spot_common.contract.PROBLEM` set to ``problem``
    and nothing else changed, for a conditional replace (its ``resourceVersion`` is kept)."""
    return _with_problem(body, _bounded(problem))


def cleared_body(body: JSONObject) -> dict[str, Any]:
    """A copy of the Deployment without :data:`~spot_common.contract.PROBLEM`, for a
    conditional replace."""
    return _with_problem(body, None)


def _with_problem(body: JSONObject, problem: str | None) -> dict[str, Any]:
    copied = copy.deepcopy(dict(body))
    metadata = copied.setdefault("metadata", {})
    if not metadata.get("resourceVersion"):
        raise MalformedObjectError(
            "metadata.resourceVersion", "missing: the write would not be conditional"
        )
    annotations = dict(metadata.get("annotations") or {})
    if problem is None:
        annotations.pop(contract.PROBLEM, None)
    else:
        annotations[contract.PROBLEM] = problem
    metadata["annotations"] = annotations
    return copied


def _annotations(body: JSONObject) -> Mapping[str, Any]:
    metadata = objects.child(body, "metadata", "")
    annotations = metadata.get("annotations")
    return annotations if isinstance(annotations, Mapping) else {}


def _bounded(text: str) -> str:
    return text[:PROBLEM_LIMIT]


def _clip(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[:limit] + "..."
