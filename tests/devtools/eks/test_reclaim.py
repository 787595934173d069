"""The reclaim: at the notice's deadline the instance is gone, and the real controller manager
does what it does for a dead node (NotReady, pods not Ready); then the Node and its pods go."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.client.rest import ApiException

from devtools.controlplane.kube import Kube
from devtools.controlplane.waiting import wait_for
from devtools.eks import EksSimulator, Reclaimer, live_and_ready
from devtools.eks.reclaim import GONE_HOLDER, NODE_LEASE_NAMESPACE
from devtools.imds import ImdsSimulator
from devtools.scenario import deployment

from .eks_pods import ready

pytestmark = pytest.mark.cluster


@pytest.fixture
def imds() -> Iterator[ImdsSimulator]:
    with ImdsSimulator() as simulator:
        yield simulator


@pytest.fixture
def node(kube: Kube, eks: EksSimulator, imds: ImdsSimulator) -> Iterator[str]:
    """A spot node of this test alone (a reclaim deletes it)."""
    name = f"spot-{uuid.uuid4().hex[:8]}"
    eks.add_spot_node(name, imds=imds)
    wait_for(lambda: ready(_node(kube, name) or {}), 30, f"{name} to be Ready")
    yield name
    eks.remove_node(name, imds)


def _node(kube: Kube, name: str) -> dict[str, Any] | None:
    try:
        return dict(kube.api.sanitize_for_serialization(kube.core.read_node(name)))
    except ApiException as error:
        if error.status == 404:
            return None
        raise


def _pods(kube: Kube, namespace: str) -> list[dict[str, Any]]:
    found = kube.core.list_namespaced_pod(namespace, label_selector="app=doomed")
    return [dict(kube.api.sanitize_for_serialization(p)) for p in found.items]


def _pinned(kube: Kube, namespace: str, node: str) -> set[str]:
    """Two Ready pods of a Deployment pinned to ``node``; their names."""
    body = deployment("doomed", replicas=2)
    body["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/hostname": node}
    kube.apps.create_namespaced_deployment(namespace, body)
    pods = wait_for(
        lambda: (
            found if len(found := [p for p in _pods(kube, namespace) if ready(p)]) == 2 else None
        ),
        60,
        "two Ready pods on the node",
    )
    return {p["metadata"]["name"] for p in pods}


def test_at_the_deadline_the_instance_dies_then_its_node_and_pods_go(
    kube: Kube, namespace: str, imds: ImdsSimulator, node: str
) -> None:
    names = _pinned(kube, namespace, node)
    killed: list[str] = []
    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)

    with Reclaimer(kube, imds, on_gone=[killed.append], node_deletion_delay_s=2) as reclaimer:
        imds.set_notice(node, time=deadline)
        wait_for(lambda: killed, 30, "the instance to be gone")
        assert reclaimer.gone() == {node: deadline}
        assert not reclaimer.is_live(node)
        # The hooks run first, at the deadline itself; then the heartbeats stop.
        wait_for(
            lambda: (
                kube.coordination.read_namespaced_lease(
                    node, NODE_LEASE_NAMESPACE
                ).spec.holder_identity
                == GONE_HOLDER
            ),
            30,
            "the reclaimer to take the node's Lease from kwok",
        )
        still_ready = [p for p in _pods(kube, namespace) if ready(p)]
        assert len(still_ready) == 2  # the API has not noticed yet
        assert live_and_ready(still_ready, reclaimer.gone(), dt.datetime.now(dt.UTC)) == []

        not_ready = wait_for(
            lambda: (found := _node(kube, node)) is not None and not ready(found),
            90,
            "the controller manager to mark the node NotReady",
        )
        assert not_ready
        wait_for(
            lambda: all(
                not ready(p) for p in _pods(kube, namespace) if p["metadata"]["name"] in names
            ),
            60,
            "the pods' Ready condition to turn False",
        )
        wait_for(lambda: _node(kube, node) is None, 60, "the node to be deleted")
        wait_for(
            lambda: not names & {p["metadata"]["name"] for p in _pods(kube, namespace)},
            120,
            "the pod garbage collector to delete the node's pods",
        )
    assert killed == [node]


def test_a_notice_withdrawn_before_its_deadline_reclaims_nothing(
    kube: Kube, namespace: str, imds: ImdsSimulator, node: str
) -> None:
    names = _pinned(kube, namespace, node)
    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)

    with Reclaimer(kube, imds) as reclaimer:
        imds.set_notice(node, time=deadline)
        imds.clear_notice(node)

        def renewed_after_deadline() -> bool:
            lease = kube.coordination.read_namespaced_lease(node, NODE_LEASE_NAMESPACE)
            return bool(lease.spec.renew_time > deadline + dt.timedelta(seconds=1))

        wait_for(renewed_after_deadline, 60, "kwok to renew the node's lease after the deadline")
        assert reclaimer.gone() == {}
        assert reclaimer.is_live(node)

    found = _node(kube, node)
    assert found is not None
    assert ready(found)
    assert {p["metadata"]["name"] for p in _pods(kube, namespace) if ready(p)} == names
