"""The typed errors of the pure core, split by what the caller should do about them.

Nothing in :mod:`sidecar.core` retries or talks to the network, so none of these errors means
"try again later": each one means the input cannot be used as it is, and the adapter reports it
(log, Event, status) instead of acting. Transient failures (conflicts, throttling, timeouts)
belong to the adapters and have their own errors there.

::

    CoreError
     ├── InvalidInputError         data from outside is unusable: report it, do not act on it
     │    ├── InvalidValueError    a value a *user* set (an annotation on the Deployment, a
     │    │                        setting) is malformed; the message names it, what was
     │    │                        found, and what to set instead
     │    ├── CorruptStateError    an annotation spot-failover itself keeps on the Deployment
     │    │    │                   (state, last-transition, history, notice) does not parse:
     │    │    │                   someone edited it by hand
     │    │    └── InvalidSavedSchedulingError
     │    │                        the saved-scheduling annotation does not parse, so a move
     │    │                        back to spot cannot be computed
     │    └── MalformedObjectError a Kubernetes object (Deployment, Lease, Pod) lacks a field
     │                             the API always sets, or a field has the wrong JSON type
     └── IllegalTransitionError    the state machine was asked for a (state, event) pair that
                                   is not in its table: a bug, never retried

Messages are meant for humans reading an Event or a log line; every error also keeps its
structured parts as attributes so an adapter can put them in log fields.
"""

from __future__ import annotations

from typing import Any


class CoreError(Exception):
    """Base class of every error raised by :mod:`sidecar.core`."""


class InvalidInputError(CoreError):
    """Data from outside the core cannot be used: report it and do not act on it."""


class InvalidValueError(InvalidInputError):
    """A value set by a user (an annotation, a setting) is malformed.

    ``source`` names where the value came from (an annotation key or an environment variable),
    ``value`` is what was found, ``expected`` says what to set instead, with an example.
    """

    def __init__(self, source: str, value: str, expected: str) -> None:
        self.source = source
        self.value = value
        self.expected = expected
        super().__init__(f"{source}={_clip(value)!r} is invalid: {expected}")


class CorruptStateError(InvalidInputError):
    """An annotation that spot-failover keeps on the Deployment does not parse.

    ``annotation`` is the key; ``problem`` says what is wrong with its value.
    """

    def __init__(self, annotation: str, problem: str) -> None:
        self.annotation = annotation
        self.problem = problem
        super().__init__(f"annotation {annotation} is corrupt: {problem}")


class InvalidSavedSchedulingError(CorruptStateError):
    """The saved-scheduling annotation does not parse: the move back cannot be computed."""


class MalformedObjectError(InvalidInputError):
    """A Kubernetes object in JSON form lacks a field or has a field of the wrong type.

    ``path`` is a dotted path to the field, e.g. ``spec.template.spec.containers[0].name``.
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class IllegalTransitionError(CoreError):
    """The transition table has no entry for this (state, event) pair."""

    def __init__(self, state: Any, event: Any) -> None:
        self.state = state
        self.event = event
        super().__init__(f"no transition for event {event!s} in state {state!s}")


def _clip(value: str, limit: int = 200) -> str:
    """Keep messages short: a user's value can be arbitrarily long."""
    return value if len(value) <= limit else value[:limit] + "..."
