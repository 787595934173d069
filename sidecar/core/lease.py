"""Leader election over a ``coordination.k8s.io/v1`` Lease, as pure decisions.

Every pod of an opted-in Deployment runs a sidecar, and several of them see the same
interruption; exactly one may write the Deployment. They agree through one Lease per
Deployment (:func:`spot_common.contract.lease_name`):

* The webhook provisions the Lease (without a holder) with the Deployment's RBAC, so sidecars
  never create it: they may not (RBAC cannot limit ``create`` by name, and a sidecar that could
  create Leases could squat on another Deployment's).
* :func:`decide` reads the current record and says what this candidate may do:
  :class:`Renew` (it is ours), :class:`TakeOver` (it is free or expired), :class:`Wait` until
  another holder's term ends, or :class:`Missing` (nothing to take until it is provisioned).
* Every write it asks for is *conditional*: :class:`Renew` and :class:`TakeOver` carry the
  ``resourceVersion`` that was read, and the replace fails with 409 if anyone wrote since. Two
  candidates reading the same record may both be told to write, but never unconditionally, so
  the API server lets exactly one of them win. On 409 the adapter reads again and calls
  :func:`decide` again.
* The lease expires at ``renewTime + leaseDurationSeconds``, a duration capped at
  :data:`~spot_common.contract.MAX_LEASE_DURATION_S`: no sidecar asks for more, so a longer term was
  written by someone else and is not trusted to block a failover.
* :func:`stranger` tells whether a holder can be a pod of this Deployment at all (its name has
  the shape the ReplicaSet controller gives pods); the sidecar reports one that cannot.
* A leader-for-life lock would be wrong here: the holder's node is about to disappear, and the
  holder with it.
* :func:`release` builds the write that gives the lease up early (on SIGTERM, or when the work
  is done): holder cleared, duration 1 s, so the next candidate need not wait out the term.

Expiry is judged from the record's ``renewTime`` against the candidate's own clock (client-go
uses the time the candidate *observed* the record change, to be immune to clock skew). EC2 and
Fargate clocks are NTP-disciplined, so skew is far below the lease duration; :func:`holds`
takes a ``margin`` so a leader stops acting before its term could be contested.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from sidecar.core import objects
from sidecar.core.errors import MalformedObjectError
from sidecar.core.objects import JSONObject
from sidecar.core.times import format_micro_time, parse_time, require_utc
from spot_common import contract

RELEASED_DURATION_S = 1
"""``leaseDurationSeconds`` written on release (the API requires a positive value)."""


@dataclasses.dataclass(frozen=True, slots=True)
class LeaseRecord:
    """What a Lease says, as read from the API (``resource_version`` included)."""

    holder: str | None
    """``spec.holderIdentity``; ``None`` when absent or empty (released)."""
    duration_s: int
    acquire_time: datetime | None
    renew_time: datetime | None
    transitions: int
    resource_version: str | None

    @property
    def expires_at(self) -> datetime | None:
        """When the holder's term ends; ``None`` if it never started (no renew time)."""
        if self.renew_time is None:
            return None
        return self.renew_time + timedelta(seconds=self.trusted_duration_s)

    @property
    def trusted_duration_s(self) -> int:
        """The term as written, capped at what any sidecar may ask for."""
        return min(self.duration_s, contract.MAX_LEASE_DURATION_S)

    @property
    def absurd_duration(self) -> bool:
        """A term no sidecar writes: someone else wrote this record."""
        return self.duration_s > contract.MAX_LEASE_DURATION_S

    def is_free(self, now: datetime) -> bool:
        """No holder, or the holder's term is over at ``now``."""
        expires = self.expires_at
        return self.holder is None or expires is None or require_utc(now, "now") >= expires

    @classmethod
    def from_lease(cls, lease: JSONObject) -> LeaseRecord:
        """Parse a Lease object in JSON form; :class:`MalformedObjectError` on a bad field."""
        metadata = objects.child(lease, "metadata", "")
        spec = objects.child(lease, "spec", "")
        return cls(
            holder=objects.text(spec, "holderIdentity", "spec") or None,
            duration_s=objects.integer(spec, "leaseDurationSeconds", "spec") or 0,
            acquire_time=_time(spec, "acquireTime"),
            renew_time=_time(spec, "renewTime"),
            transitions=objects.integer(spec, "leaseTransitions", "spec") or 0,
            resource_version=objects.text(metadata, "resourceVersion", "metadata"),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Missing:
    """No Lease exists: nothing to take until the webhook's controller provisions it."""


@dataclasses.dataclass(frozen=True, slots=True)
class Renew:
    """The Lease is ours: replace its spec with ``spec``, conditional on ``resource_version``."""

    spec: dict[str, Any]
    resource_version: str


@dataclasses.dataclass(frozen=True, slots=True)
class TakeOver:
    """The Lease is free or expired: replace it, conditional on ``resource_version``."""

    spec: dict[str, Any]
    resource_version: str
    previous_holder: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class Wait:
    """``holder`` holds the Lease until ``until``; try again then (or on the next tick)."""

    holder: str
    until: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class Release:
    """Give the Lease up: replace its spec with ``spec``, conditional on ``resource_version``."""

    spec: dict[str, Any]
    resource_version: str


Decision: TypeAlias = Missing | Renew | TakeOver | Wait


def decide(record: LeaseRecord | None, me: str, now: datetime, duration_s: int) -> Decision:
    """What candidate ``me`` may do at ``now`` given the Lease ``record`` (``None``: absent).

    ``duration_s`` is the term this candidate asks for when it writes. The holder renews even
    if its term has run out: the write is conditional, so it only succeeds if nobody took the
    Lease over in between, and then nobody else can have led meanwhile.
    """
    if not me:
        raise ValueError("a lease candidate needs a non-empty identity")
    if duration_s < 1:
        raise ValueError(f"lease duration must be at least 1 s, got {duration_s}")
    if duration_s > contract.MAX_LEASE_DURATION_S:
        raise ValueError(
            f"lease duration must be at most {contract.MAX_LEASE_DURATION_S} s, got {duration_s}"
        )
    now = require_utc(now, "now")
    if record is None:
        return Missing()
    version = _version(record)
    if record.holder == me:
        acquired = record.acquire_time or now
        spec = lease_spec(
            me, duration_s, acquired=acquired, renewed=now, transitions=record.transitions
        )
        return Renew(spec, version)
    expires = record.expires_at
    if record.holder is None or expires is None or now >= expires:
        spec = lease_spec(
            me, duration_s, acquired=now, renewed=now, transitions=record.transitions + 1
        )
        return TakeOver(spec, version, previous_holder=record.holder)
    return Wait(holder=record.holder, until=expires)


def release(record: LeaseRecord | None, me: str, now: datetime) -> Release | None:
    """The write that gives up the Lease, or ``None`` if ``me`` does not hold it."""
    if record is None or record.holder != me:
        return None
    spec = lease_spec(
        None, RELEASED_DURATION_S, acquired=now, renewed=now, transitions=record.transitions
    )
    return Release(spec, _version(record))


def holds(
    record: LeaseRecord | None, me: str, now: datetime, margin: timedelta = timedelta(0)
) -> bool:
    """Whether ``me`` holds the Lease at ``now`` with at least ``margin`` of its term left.

    The machine may only write the Deployment when this is true.
    """
    if record is None or record.holder != me or record.expires_at is None:
        return False
    return require_utc(now, "now") + margin < record.expires_at


_POD_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"
"""The alphabet of the pod-template-hash and the random suffix of generated pod names."""
_GENERATED_BASE = 58
"""Kubernetes shortens a ``generateName`` base to this many characters before the suffix."""


def is_warden(holder: str | None) -> bool:
    """Whether a Lease holder is the warden (:data:`~spot_common.contract.WARDEN_HOLDER_PREFIX`):
    only the warden's account may write such a holder (deploy/'s admission policies)."""
    return bool(holder) and str(holder).startswith(contract.WARDEN_HOLDER_PREFIX)


def stranger(holder: str | None, deployment: str) -> bool:
    """Whether ``holder`` cannot be the name of a pod of ``deployment``.

    The ReplicaSet controller names pods ``(<deployment>-<hash>-)[:58] + <5 random>``. A holder
    without that shape is not one of the Deployment's sidecars (which hold the Lease under
    their pod's name). An empty holder (released) is nobody, not a stranger, and neither is the
    warden (:func:`is_warden`), which leads a move no sidecar is left to finish.
    """
    if not holder or is_warden(holder):
        return False
    base = f"{deployment}-"
    if len(base) >= _GENERATED_BASE:
        rest = holder[_GENERATED_BASE:] if holder.startswith(base[:_GENERATED_BASE]) else None
        return rest is None or len(rest) != 5 or not _suffix_chars(rest)
    if not holder.startswith(base):
        return True
    rest = holder[len(base) :]
    hash_part, dash, random_part = rest.partition("-")
    if dash:  # <hash>-<random>, the base not shortened
        return not (
            1 <= len(hash_part) <= 10
            and len(random_part) == 5
            and len(holder) <= _GENERATED_BASE + 5
            and _suffix_chars(hash_part + random_part)
        )
    # the base was shortened inside the hash: a prefix of it, then the random part
    return len(holder) != _GENERATED_BASE + 5 or not _suffix_chars(rest)


def _suffix_chars(text: str) -> bool:
    return all(char in _POD_SUFFIX_CHARS for char in text)


def lease_spec(
    holder: str | None, duration_s: int, *, acquired: datetime, renewed: datetime, transitions: int
) -> dict[str, Any]:
    """A Lease ``spec`` in API form; times as ``MicroTime`` (``2006-01-02T15:04:05.000000Z``).

    ``holder=None`` writes an empty ``holderIdentity``, which is how a released Lease reads.
    """
    return {
        "holderIdentity": holder or "",
        "leaseDurationSeconds": duration_s,
        "acquireTime": format_micro_time(acquired),
        "renewTime": format_micro_time(renewed),
        "leaseTransitions": transitions,
    }


def _time(spec: JSONObject, key: str) -> datetime | None:
    raw = objects.text(spec, key, "spec")
    if raw is None:
        return None
    parsed = parse_time(raw)
    if parsed is None:
        raise MalformedObjectError(f"spec.{key}", f"not an RFC 3339 time: {raw!r}")
    return parsed


def _version(record: LeaseRecord) -> str:
    """The precondition for a replace; a record read from the API always has one."""
    if not record.resource_version:
        raise MalformedObjectError(
            "metadata.resourceVersion", "missing: a write could not be conditional"
        )
    return record.resource_version
