"""No move is left stuck: when every sidecar died mid-move and the new pods never start, the
warden (``python -m sidecar --warden``, with deploy/warden's identity) ends the move by its
rollout timeout plus two Lease terms; while a live sidecar leads a move, it only watches, and
reads the move about once every two Lease terms."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from devtools.controlplane import audit
from devtools.controlplane.waiting import wait_for
from devtools.eks import EksSimulator
from devtools.eks.timing import FargateTiming
from devtools.local_warden import LocalWarden, username
from devtools.scenario import SIDECAR_ENV, Scenario
from sidecar.core.times import parse_time
from spot_common import contract
from spot_common.contract import State
from tests.conftest import DIAGNOSTICS
from tests.sidecar.conftest import MakeFailover

pytestmark = pytest.mark.cluster

ROLLOUT_TIMEOUT_S: Final = 30
LEASE_DURATION_S: Final = int(SIDECAR_ENV["SPOT_FAILOVER_LEASE_DURATION_S"])
BOUND_S: Final = ROLLOUT_TIMEOUT_S + 2 * LEASE_DURATION_S
"""The issue's bound: the rollout timeout plus two Lease terms."""
ENV: Final = {**SIDECAR_ENV, "SPOT_FAILOVER_ROLLOUT_TIMEOUT_S": str(ROLLOUT_TIMEOUT_S)}
REFUSAL: Final = (
    "Pod not supported on Fargate: invalid SecurityContext fields: Capabilities added: NET_ADMIN"
)
"""What Fargate says of a pod a mesh's webhook gave NET_ADMIN: seen only on the new pods."""
NEVER_PROVISIONED: Final = FargateTiming(
    provision_s=3600, provision_jitter_s=0, start_s=0, start_jitter_s=0
)
"""Fargate has no capacity: a new pod stays Pending, and no sidecar ever runs in it."""


@pytest.fixture
def no_fargate_capacity(eks: EksSimulator) -> Iterator[None]:
    before = eks.fargate.timing
    eks.fargate.timing = NEVER_PROVISIONED
    try:
        yield
    finally:
        eks.fargate.timing = before


@pytest.fixture
def scenario_and_warden(
    request: pytest.FixtureRequest,
    make_failover: MakeFailover,
    no_fargate_capacity: None,
    tmp_path: Path,
) -> Iterator[tuple[Scenario, LocalWarden]]:
    failover = make_failover({"SPOT_FAILOVER_ROLLOUT_TIMEOUT_S": str(ROLLOUT_TIMEOUT_S)})
    with contextlib.ExitStack() as stack:
        warden = stack.enter_context(
            LocalWarden(
                failover.cluster,
                failover.kube,
                tmp_path / "warden",
                namespaces=[failover.namespace],
                env=ENV,
            )
        )
        scenario_sections = request.node.stash[DIAGNOSTICS]
        request.node.stash[DIAGNOSTICS] = lambda: [*scenario_sections(), warden.diagnostics()]
        yield failover, warden


def _history(annotations: dict[str, str]) -> list[dict[str, str]]:
    entries: list[dict[str, str]] = json.loads(annotations.get(contract.HISTORY, "[]"))
    return entries


def _seconds_of_the_move(annotations: dict[str, str]) -> float:
    moved, ended = (parse_time(entry["time"]) for entry in _history(annotations)[-2:])
    assert moved is not None
    assert ended is not None
    return (ended - moved).total_seconds()


def _warden_requests(failover: Scenario) -> list[audit.AuditedRequest]:
    """The requests the warden's account made in the scenario's namespace."""
    return [
        r
        for r in audit.read(failover.cluster.audit_log)
        if r.user == username() and f"/namespaces/{failover.namespace}/" in r.uri
    ]


def _warden_writes(failover: Scenario) -> list[str]:
    """The URIs of the writes the warden's account made in the scenario's namespace."""
    return [
        r.uri
        for r in _warden_requests(failover)
        if r.verb in {"update", "patch", "create", "delete"}
    ]


def _warden_read_the_lease(failover: Scenario, name: str) -> bool:
    lease = f"/namespaces/{failover.namespace}/leases/{contract.lease_name(name)}"
    return any(
        r.user == username() and r.verb == "get" and lease in r.uri
        for r in audit.read(failover.cluster.audit_log)
    )


def test_a_move_whose_every_sidecar_died_is_rolled_back_by_the_warden_within_the_bound(
    scenario_and_warden: tuple[Scenario, LocalWarden],
) -> None:
    failover, warden = scenario_and_warden
    original = failover.create("web", replicas=2)
    failover.imds.set_notice(failover.busiest_spot_node("web"))
    failover.wait_state("web", State.MIGRATING)
    wait_for(lambda: failover.lease_holder("web"), 10, "a leader")

    for pod in failover.runner.pods():  # the leader and every other sidecar
        failover.runner.kill(pod)

    annotations = failover.wait_state("web", State.ROLLED_BACK, timeout_s=BOUND_S + 15)
    history = _history(annotations)
    assert [entry["to"] for entry in history[-2:]] == ["Migrating", "RolledBack"]
    assert history[-1]["by"] == warden.holder
    assert _seconds_of_the_move(annotations) <= BOUND_S
    assert failover.read("web")["spec"]["template"] == original["spec"]["template"]
    wait_for(lambda: failover.lease_holder("web") == "", 10, "the warden to let go of the Lease")
    events = [e for e in failover.events("web") if e["reason"] == "RolledBack"]
    assert [e["type"] for e in events] == ["Warning"]


def test_a_refusal_no_sidecar_is_left_to_see_is_rolled_back_at_the_wardens_first_look(
    scenario_and_warden: tuple[Scenario, LocalWarden], eks: EksSimulator
) -> None:
    failover, warden = scenario_and_warden
    failover.create("web", replicas=2)
    failover.imds.set_notice(failover.busiest_spot_node("web"))
    failover.wait_state("web", State.MIGRATING)
    wait_for(lambda: failover.lease_holder("web"), 10, "a leader")
    for pod in failover.runner.pods():
        failover.runner.kill(pod)

    refused = wait_for(
        lambda: eks.fargate.refuse_waiting(failover.namespace, REFUSAL), 10, "a new pod to refuse"
    )

    annotations = failover.wait_state("web", State.ROLLED_BACK, timeout_s=BOUND_S + 15)
    assert _history(annotations)[-1]["by"] == warden.holder
    message = annotations[contract.MESSAGE]
    assert any(f"Fargate refused pod {name}: {REFUSAL}" in message for name in refused)
    # Two Lease terms after the leader's death, not the rollout timeout.
    assert _seconds_of_the_move(annotations) < ROLLOUT_TIMEOUT_S


def test_a_move_a_live_sidecar_leads_is_left_to_it(
    scenario_and_warden: tuple[Scenario, LocalWarden],
) -> None:
    failover, warden = scenario_and_warden
    failover.create("web", replicas=2)
    failover.imds.set_notice(failover.busiest_spot_node("web"))
    failover.wait_state("web", State.MIGRATING)

    annotations = failover.wait_state("web", State.ROLLED_BACK, timeout_s=BOUND_S + 15)

    history = _history(annotations)
    assert history[-1]["by"] != warden.holder
    assert history[-1]["by"].startswith("web-")
    assert _warden_writes(failover) == []
    assert _warden_read_the_lease(failover, "web")  # it followed the move, and let it be
    requests = _warden_requests(failover)
    assert {r.verb for r in requests} == {"get", "watch"}
    looks = len([r for r in requests if r.verb == "get"]) / 2  # the Deployment and its Lease
    assert looks <= _seconds_of_the_move(annotations) / (2 * LEASE_DURATION_S) + 2
