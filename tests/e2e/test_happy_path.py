"""The whole loop, nothing short-circuited: a Deployment written as a user writes it, pods that
the controller manager creates and the real webhook injects, one sidecar process per pod with a
token bound to it. A notice moves the Deployment to Fargate; after the cooldown it comes back;
``spot-failover status`` tells each step."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from devtools.scenario import SPOT_NODES, Scenario
from spot_common import contract
from spot_common.contract import State
from webhook.core.injection import has_sidecar

from .observe import deployment_path, pod_creations, pod_writes, slow_rollout, status, transitions

pytestmark = pytest.mark.cluster

NAME = "shop"


def hold(failover: Scenario, *, paused: bool) -> None:
    """Pause (or unpause) the Deployment, as a user would with ``kubectl annotate``."""
    patch = {"metadata": {"annotations": {contract.PAUSED: "true" if paused else None}}}
    failover.kube.apps.patch_namespaced_deployment(NAME, failover.namespace, patch)


def test_a_notice_moves_the_deployment_to_fargate_and_the_cooldown_brings_it_back(
    failover: Scenario, tmp_path: Path
) -> None:
    original = failover.create(
        NAME, replicas=3, annotations={contract.FAILBACK_AFTER: "4s"}, tweak=slow_rollout(12)
    )
    assert not has_sidecar(original["spec"]["template"])  # as the user wrote it
    assert all(has_sidecar(pod) for pod in failover.pods(NAME))
    watching = status(failover, tmp_path)[NAME]
    assert (watching["state"], watching["computeType"], watching["enabled"]) == (
        "Watching",
        "spot",
        True,
    )
    node = failover.busiest_spot_node(NAME)

    failover.imds.set_notice(node)

    failover.wait_state(NAME, State.MIGRATING)
    migrating = status(failover, tmp_path)[NAME]
    assert (migrating["state"], migrating["computeType"]) == ("Migrating", "fargate")
    assert (migrating["notice"]["node"], migrating["notice"]["source"]) == (
        node,
        "imds/spot/instance-action",
    )

    failover.wait_state(NAME, State.ON_FARGATE, timeout_s=90)
    # Hold the story on Fargate while the status is read: the 4 s cooldown is shorter than the
    # CLI's start on a busy machine. Paused, the sidecars keep watching and write nothing.
    hold(failover, paused=True)
    on_fargate = status(failover, tmp_path)[NAME]
    assert (on_fargate["state"], on_fargate["computeType"]) == ("OnFargate", "fargate")
    assert (on_fargate["failback"]["after"], on_fargate["paused"]) == ("4s", True)
    hold(failover, paused=False)
    failover.wait_rolled_out(NAME)
    assert failover.on_fargate(NAME)
    failover.wait_sidecars(NAME)  # the Fargate pods were injected too
    failover.imds.clear_notice(node)  # the instance is reclaimed; a new one takes its name

    back = failover.wait_state(NAME, State.WATCHING, timeout_s=90)
    assert transitions(back) == [
        ("Watching", "Migrating"),
        ("Migrating", "OnFargate"),
        ("OnFargate", "FailingBack"),
        ("FailingBack", "Watching"),
    ]
    watching_again = status(failover, tmp_path)[NAME]
    assert (watching_again["state"], watching_again["computeType"]) == ("Watching", "spot")
    assert watching_again["historyCount"] == 4
    assert failover.read(NAME)["spec"]["template"] == original["spec"]["template"]
    failover.wait_rolled_out(NAME)
    assert failover.nodes_of(NAME) <= set(SPOT_NODES)
    failover.wait_sidecars(NAME)


def test_every_pod_of_the_story_was_injected_and_only_its_own_sidecars_wrote(
    failover: Scenario,
) -> None:
    failover.create(NAME, replicas=3, annotations={contract.FAILBACK_AFTER: "3s"})
    node = failover.busiest_spot_node(NAME)
    failover.imds.set_notice(node)
    failover.wait_state(NAME, State.ON_FARGATE, timeout_s=90)
    failover.imds.clear_notice(node)
    failover.wait_state(NAME, State.WATCHING, timeout_s=90)
    failover.wait_rolled_out(NAME)
    failover.wait_sidecars(NAME)

    created = pod_creations(failover)
    assert created == 9  # three on spot, three on Fargate, three back on spot
    injected = failover.webhook.metrics().value("spot_failover_webhook_injected_total")
    assert injected == created
    writes = [r for r in pod_writes(failover) if r.uri.startswith(deployment_path(failover, NAME))]
    codes = [r.code for r in writes]
    # Four transitions written. A sidecar decides on its watch's copy of the Deployment, which
    # may be a status update behind: that write is refused (409), decided again and written.
    assert [code for code in codes if code != 409] == [200] * 4
    assert all(after == 200 for code, after in itertools.pairwise(codes) if code == 409)
    assert all(r.pod is not None and r.pod.startswith(f"{NAME}-") for r in writes)
