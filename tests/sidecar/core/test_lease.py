"""Leader election: decisions from a Lease record, and racing candidates that never overlap."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from sidecar.core import lease
from sidecar.core.errors import MalformedObjectError
from sidecar.core.lease import LeaseRecord, Missing, Renew, TakeOver, Wait
from sidecar.core.times import format_micro_time
from spot_common import contract
from tests.sidecar.core.builders import NOW

DURATION = 15


def record(
    holder: str | None,
    renewed: datetime | None,
    *,
    transitions: int = 3,
    version: str = "7",
    duration_s: int = DURATION,
) -> LeaseRecord:
    return LeaseRecord(
        holder=holder,
        duration_s=duration_s,
        acquire_time=renewed,
        renew_time=renewed,
        transitions=transitions,
        resource_version=version,
    )


def test_with_no_lease_a_candidate_waits_for_the_webhook_to_provision_it() -> None:
    assert lease.decide(None, "web-1", NOW, DURATION) == Missing()


def test_a_provisioned_lease_without_a_holder_is_taken_in_one_conditional_write() -> None:
    provisioned = LeaseRecord.from_lease({"metadata": {"resourceVersion": "1"}, "spec": {}})
    decision = lease.decide(provisioned, "web-1", NOW, DURATION)
    assert decision == TakeOver(
        {
            "holderIdentity": "web-1",
            "leaseDurationSeconds": DURATION,
            "acquireTime": "2026-01-02T15:04:05.000000Z",
            "renewTime": "2026-01-02T15:04:05.000000Z",
            "leaseTransitions": 1,
        },
        "1",
        previous_holder=None,
    )


def test_an_absurd_term_is_trusted_only_up_to_the_longest_a_sidecar_asks_for() -> None:
    squatted = record("web-7d9f8-abcde", NOW, duration_s=10**9)
    assert squatted.absurd_duration
    limit = NOW + timedelta(seconds=contract.MAX_LEASE_DURATION_S)
    assert lease.decide(squatted, "web-1", NOW, DURATION) == Wait("web-7d9f8-abcde", limit)
    assert isinstance(lease.decide(squatted, "web-1", limit, DURATION), TakeOver)
    assert not record("web-1", NOW, duration_s=contract.MAX_LEASE_DURATION_S).absurd_duration


def test_a_candidate_never_asks_for_a_term_it_would_not_trust() -> None:
    with pytest.raises(ValueError, match="at most"):
        lease.decide(None, "web-1", NOW, contract.MAX_LEASE_DURATION_S + 1)


STRANGERS = [
    pytest.param("web", "web-7d9f8c6b5-x2b4q", False, id="a pod of the Deployment"),
    pytest.param("web", "", False, id="nobody: a released Lease"),
    pytest.param("web", "web-api-7d9f8c6b5-x2b4q", True, id="a pod of web-api, not of web"),
    pytest.param("web", "someone", True, id="a name no pod has"),
    pytest.param("web", "web-7d9f8c6b5-x2b4", True, id="a suffix one short"),
    pytest.param("web", "web-7d9f8c6b5-X2B4Q", True, id="letters a suffix never has"),
    pytest.param("d" * 50, "d" * 50 + "-7d9f8c6" + "x2b4q", False, id="a shortened pod name"),
    pytest.param("d" * 50, "d" * 50 + "-7d9f8c6-x2b4q", True, id="too long to be shortened"),
    pytest.param("d" * 70, "d" * 58 + "x2b4q", False, id="a long Deployment's pod"),
    pytest.param("d" * 70, "d" * 57 + "ex2b4q", True, id="another long Deployment's pod"),
]


@pytest.mark.parametrize(("deployment", "holder", "expected"), STRANGERS)
def test_a_stranger_is_a_holder_that_cannot_be_a_pod_of_the_deployment(
    deployment: str, holder: str, expected: bool
) -> None:
    assert lease.stranger(holder, deployment) is expected


@given(
    deployment=st.from_regex(r"[a-z0-9]([a-z0-9.-]{0,80}[a-z0-9])?", fullmatch=True),
    template_hash=st.text("bcdfghjklmnpqrstvwxz2456789", min_size=1, max_size=10),
    suffix=st.text("bcdfghjklmnpqrstvwxz2456789", min_size=5, max_size=5),
)
def test_every_name_the_replicaset_controller_gives_a_pod_is_no_stranger(
    deployment: str, template_hash: str, suffix: str
) -> None:
    base = f"{deployment}-{template_hash}-"
    pod = base[:58] + suffix  # what generateName does with the ReplicaSet's name
    assert not lease.stranger(pod, deployment)


def test_the_holder_renews_keeping_its_acquire_time_and_the_transition_count() -> None:
    acquired = NOW - timedelta(seconds=5)
    decision = lease.decide(record("web-1", acquired), "web-1", NOW, DURATION)
    assert isinstance(decision, Renew)
    assert decision.resource_version == "7"
    assert decision.spec["acquireTime"] == format_micro_time(acquired)
    assert decision.spec["renewTime"] == format_micro_time(NOW)
    assert decision.spec["leaseTransitions"] == 3


def test_another_candidate_waits_until_the_term_ends() -> None:
    renewed = NOW - timedelta(seconds=5)
    decision = lease.decide(record("web-1", renewed), "web-2", NOW, DURATION)
    assert decision == Wait(holder="web-1", until=renewed + timedelta(seconds=DURATION))


def test_an_expired_lease_is_taken_over_conditionally_and_counts_a_transition() -> None:
    renewed = NOW - timedelta(seconds=DURATION)
    decision = lease.decide(record("web-1", renewed), "web-2", NOW, DURATION)
    assert isinstance(decision, TakeOver)
    assert decision.resource_version == "7"
    assert decision.previous_holder == "web-1"
    assert decision.spec["holderIdentity"] == "web-2"
    assert decision.spec["leaseTransitions"] == 4
    assert decision.spec["acquireTime"] == format_micro_time(NOW)


def test_a_released_lease_is_free_at_once() -> None:
    decision = lease.decide(record(None, NOW), "web-2", NOW, DURATION)
    assert isinstance(decision, TakeOver)


def test_a_lease_without_a_renew_time_is_free() -> None:
    assert isinstance(lease.decide(record("web-1", None), "web-2", NOW, DURATION), TakeOver)


def test_a_record_without_resource_version_cannot_be_written_conditionally() -> None:
    with pytest.raises(MalformedObjectError, match="resourceVersion"):
        lease.decide(record("web-1", None, version=""), "web-2", NOW, DURATION)


def test_release_clears_the_holder_and_keeps_the_count() -> None:
    released = lease.release(record("web-1", NOW), "web-1", NOW)
    assert released is not None
    assert released.resource_version == "7"
    assert released.spec["holderIdentity"] == ""
    assert released.spec["leaseDurationSeconds"] == 1
    assert released.spec["leaseTransitions"] == 3
    assert lease.release(record("web-1", NOW), "web-2", NOW) is None


def test_holding_means_being_the_holder_within_the_term_less_the_margin() -> None:
    current = record("web-1", NOW)
    assert lease.holds(current, "web-1", NOW + timedelta(seconds=14))
    assert not lease.holds(current, "web-1", NOW + timedelta(seconds=15))
    assert not lease.holds(current, "web-1", NOW + timedelta(seconds=12), timedelta(seconds=3))
    assert not lease.holds(current, "web-2", NOW)
    assert not lease.holds(None, "web-1", NOW)


def test_a_lease_object_parses_from_its_api_form() -> None:
    parsed = LeaseRecord.from_lease(
        {
            "metadata": {"name": "spot-failover-web", "resourceVersion": "812"},
            "spec": {
                "holderIdentity": "web-1",
                "leaseDurationSeconds": 15,
                "acquireTime": "2026-01-02T15:04:05.000000Z",
                "renewTime": "2026-01-02T15:04:06.123456Z",
                "leaseTransitions": 2,
            },
        }
    )
    assert parsed.holder == "web-1"
    assert parsed.renew_time == NOW + timedelta(seconds=1, microseconds=123456)
    assert parsed.expires_at == NOW + timedelta(seconds=16, microseconds=123456)
    assert parsed.resource_version == "812"


def test_a_lease_with_a_bad_time_is_a_malformed_object() -> None:
    with pytest.raises(MalformedObjectError, match=r"spec\.renewTime"):
        LeaseRecord.from_lease({"metadata": {}, "spec": {"renewTime": "yesterday"}})


def test_a_candidate_needs_a_name_and_a_positive_term() -> None:
    with pytest.raises(ValueError, match="identity"):
        lease.decide(None, "", NOW, DURATION)
    with pytest.raises(ValueError, match="duration"):
        lease.decide(None, "web-1", NOW, 0)


CANDIDATES = ("web-1", "web-2", "web-3")


class LeaseRace(RuleBasedStateMachine):
    """Candidates share one Lease in a tiny store that enforces resourceVersion like the API.

    A candidate either reads, decides and writes at one instant (``tick``), or reads now and
    writes later (``read`` then ``write``), so stale decisions race with fresh ones. Each
    candidate believes it leads until the end of the term its last successful write set.
    """

    def __init__(self) -> None:
        super().__init__()
        self.now = NOW
        self.stored: tuple[int, dict[str, Any]] = (1, {})  # provisioned without a holder
        self.pending: dict[str, lease.Decision | lease.Release] = {}
        self.term_end: dict[str, datetime | None] = dict.fromkeys(CANDIDATES)

    def read(self) -> LeaseRecord:
        version, spec = self.stored
        return LeaseRecord.from_lease({"metadata": {"resourceVersion": str(version)}, "spec": spec})

    def write(self, me: str, decision: lease.Decision | lease.Release) -> bool:
        """Apply ``decision`` as the API server would; ``True`` if it was accepted."""
        if isinstance(decision, Wait | Missing):
            return False
        if str(self.stored[0]) != decision.resource_version:
            return False  # 409: stale resourceVersion
        self.stored = (self.stored[0] + 1, decision.spec)
        written = self.read()
        self.term_end[me] = written.expires_at if written.holder == me else None
        return True

    def leaders(self) -> list[str]:
        return [c for c, end in self.term_end.items() if end is not None and self.now < end]

    @rule(me=st.sampled_from(CANDIDATES))
    def tick(self, me: str) -> None:
        before = self.read()
        decision = lease.decide(before, me, self.now, DURATION)
        accepted = self.write(me, decision)
        free = before.holder == me or before.is_free(self.now)
        assert accepted == free, (decision, before)
        if free:
            assert lease.holds(self.read(), me, self.now)

    @rule(me=st.sampled_from(CANDIDATES))
    def read_now_write_later(self, me: str) -> None:
        self.pending[me] = lease.decide(self.read(), me, self.now, DURATION)

    @precondition(lambda self: bool(self.pending))
    @rule(data=st.data())
    def write_what_was_decided_earlier(self, data: st.DataObject) -> None:
        me = data.draw(st.sampled_from(sorted(self.pending)))
        self.write(me, self.pending.pop(me))

    @rule(me=st.sampled_from(CANDIDATES))
    def release(self, me: str) -> None:
        released = lease.release(self.read(), me, self.now)
        if released is not None:
            assert self.write(me, released)
            assert me not in self.leaders()

    @rule(seconds=st.integers(min_value=0, max_value=2 * DURATION))
    def time_passes(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @invariant()
    def at_most_one_candidate_leads(self) -> None:
        assert len(self.leaders()) <= 1, self.term_end

    @invariant()
    def whoever_leads_is_the_holder_the_lease_shows(self) -> None:
        current = self.read()
        for candidate in CANDIDATES:
            assert (candidate in self.leaders()) == lease.holds(current, candidate, self.now)


LeaseRace.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
test_racing_candidates_never_both_lead_and_expiry_hands_over = LeaseRace.TestCase
