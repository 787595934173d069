"""Recorded evidence of a failover, built by hand: Deployment versions, audited writes, trials."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from benchmarks.timeline_phases import Mark, Trial, Version, Write

T0 = datetime(2026, 1, 2, 15, 0, 0, tzinfo=UTC)
"""When the notice appeared."""


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def trial_at(*offsets: float) -> Trial:
    """A trial whose marks are ``offsets`` seconds after the notice, in :class:`Mark` order."""
    marks = dict(zip(Mark, (at(s) for s in (0.0, *offsets)), strict=True))
    return Trial(marks)


class Recording:
    """Versions of one Deployment and the audited writes that produced them, in order."""

    def __init__(self) -> None:
        self.start = Version("100", "Watching", rolled_out=True)
        self.versions: list[Version] = []
        self.writes: list[Write] = []
        self._last = self.start

    def sidecar_writes(self, state: str, at_s: float, *, rolled_out: bool = False) -> None:
        """A sidecar's state write; a template write leaves the rollout unfinished."""
        self._add(Version(self._next(), state, rolled_out), "", at_s)

    def controller_writes(self, at_s: float, *, rolled_out: bool) -> None:
        """A status write of the deployment controller; the state annotation is unchanged."""
        self._add(Version(self._next(), self._last.state, rolled_out), "status", at_s)

    def unaudited(self, state: str) -> None:
        """A version that no audited write produced."""
        version = Version(self._next(), state, rolled_out=False)
        self.versions.append(version)
        self._last = version

    def _add(self, version: Version, subresource: str, at_s: float) -> None:
        self.writes.append(Write(subresource, self._last.resource_version, at(at_s)))
        self.versions.append(version)
        self._last = version

    def _next(self) -> str:
        return str(int(self._last.resource_version) + 7)


def whole_failover() -> Recording:
    """The happy path with the controller's intermediate status writes, as a watch sees it."""
    r = Recording()
    r.controller_writes(-3.0, rolled_out=True)  # left over from the previous trial
    r.sidecar_writes("Migrating", 1.0)
    r.controller_writes(1.1, rolled_out=False)  # generation observed, surge pod created
    r.controller_writes(1.8, rolled_out=False)
    r.controller_writes(2.5, rolled_out=True)
    r.sidecar_writes("OnFargate", 3.0)
    r.controller_writes(3.1, rolled_out=True)
    r.sidecar_writes("FailingBack", 13.5)
    r.controller_writes(13.6, rolled_out=False)
    r.controller_writes(14.5, rolled_out=True)
    r.sidecar_writes("Watching", 15.0)
    r.controller_writes(15.1, rolled_out=True)
    return r
