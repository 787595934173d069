"""The warden's decisions: it follows only opted-in moves under way, and leads one only after
its Lease has been free for a whole term, so it never acts while a sidecar leads or may take
over."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sidecar.core import lease, warden
from sidecar.core.lease import LeaseRecord
from sidecar.core.warden import Act, LookAgain
from spot_common import contract
from spot_common.contract import State
from tests.sidecar.core.builders import NOW

TERM = timedelta(seconds=15)


def record(holder: str | None, renewed: datetime | None, duration_s: int = 15) -> LeaseRecord:
    return LeaseRecord(
        holder=holder,
        duration_s=duration_s,
        acquire_time=renewed,
        renew_time=renewed,
        transitions=1,
        resource_version="9",
    )


@pytest.mark.parametrize("state", [State.MIGRATING, State.FAILING_BACK])
def test_an_opted_in_move_under_way_is_followed(state: State) -> None:
    assert warden.followed({contract.ENABLED: "true", contract.STATE: str(state)}) is state


@pytest.mark.parametrize(
    "annotations",
    [
        {contract.ENABLED: "true", contract.STATE: "OnFargate"},
        {contract.ENABLED: "true", contract.STATE: "RolledBack"},
        {contract.ENABLED: "true"},
        {contract.ENABLED: "false", contract.STATE: "Migrating"},
        {contract.ENABLED: "True", contract.STATE: "Migrating"},
        {contract.ENABLED: "true", contract.PAUSED: "true", contract.STATE: "Migrating"},
        {contract.STATE: "Migrating"},
        {contract.ENABLED: "true", contract.STATE: "migrating"},
    ],
)
def test_a_settled_opted_out_or_paused_deployment_is_not_followed(
    annotations: dict[str, str],
) -> None:
    assert warden.followed(annotations) is None


def test_a_live_holder_is_left_alone_until_a_term_after_its_term_ends() -> None:
    verdict = warden.verdict(record("web-7d9f-a2b4c", NOW), NOW + TERM, grace=TERM, since=None)

    assert verdict == LookAgain(
        NOW + 2 * TERM, "the Lease is free, but a sidecar may still take it"
    )
    early = warden.verdict(record("web-7d9f-a2b4c", NOW), NOW, grace=TERM, since=None)
    assert isinstance(early, LookAgain)
    assert early.at == NOW + 2 * TERM
    assert "holds the Lease" in early.why


def test_a_holder_unrenewed_for_its_term_and_one_more_is_stuck() -> None:
    verdict = warden.verdict(record("web-7d9f-a2b4c", NOW), NOW + 2 * TERM, grace=TERM, since=None)

    assert verdict == Act(TERM)


def test_a_term_longer_than_any_sidecar_asks_for_is_trusted_for_the_cap_only() -> None:
    cap = timedelta(seconds=contract.MAX_LEASE_DURATION_S)
    squatted = record("someone", NOW, duration_s=10_000)

    assert warden.verdict(squatted, NOW + cap + TERM, grace=TERM, since=None) == Act(TERM)


def test_a_lease_released_mid_move_is_stuck_a_term_after_its_release() -> None:
    released = record(None, NOW, duration_s=lease.RELEASED_DURATION_S)

    assert isinstance(warden.verdict(released, NOW + TERM / 2, grace=TERM, since=None), LookAgain)
    assert warden.verdict(released, NOW + TERM, grace=TERM, since=None) == Act(TERM)


def test_a_lease_never_held_counts_from_the_moves_last_transition() -> None:
    never = record(None, None)

    assert warden.verdict(never, NOW + TERM, grace=TERM, since=NOW) == Act(TERM)
    assert warden.verdict(never, NOW, grace=TERM, since=NOW) == LookAgain(
        NOW + TERM, "the Lease is free, but a sidecar may still take it"
    )


def test_without_a_lease_the_warden_looks_again_a_term_later() -> None:
    verdict = warden.verdict(None, NOW, grace=TERM, since=NOW - 10 * TERM)

    assert isinstance(verdict, LookAgain)
    assert verdict.at == NOW + TERM


def test_the_warden_holds_leases_under_a_name_no_pod_can_have() -> None:
    holder = warden.holder_identity("spot-failover-warden-6c5d8-x7k2p")

    assert holder == "spot-failover-warden/spot-failover-warden-6c5d8-x7k2p"
    assert lease.is_warden(holder)
    assert not lease.stranger(holder, "web")
    assert not lease.is_warden("spot-failover-warden-6c5d8-x7k2p")
    assert lease.stranger("spot-failover-warden-6c5d8-x7k2p", "web")
