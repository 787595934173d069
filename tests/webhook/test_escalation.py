"""No identity of ours can be turned into more than it is for: attacks, made with that identity.

The attempts are the fixed list of :mod:`devtools.security.attempts`, the one ``make audit``
publishes (SECURITY-AUDIT.md), made on :func:`devtools.security.stage.stage`: the webhook's
token tries to hand its rights to others, to delete other teams' RBAC and to write Roles it does
not provision; the certificate Job's, to change more of the webhook configuration than its
caBundle; a sidecar's pod-bound token, to change more of its Deployment and pods than a
failover does, to squat on a Lease or hold it for another pod or for longer than any sidecar
asks, to forge Events, and to use rights that linger after an opt-out or a change of
ServiceAccount while the webhook is down. Each attack is refused by the API server, by the
layer the list names (RBAC, or an admission policy shipped in deploy/), and what each identity
is for is allowed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from benchmarks.security_audit import attempts_data, figures
from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube, exists
from devtools.controlplane.waiting import wait_for
from devtools.security.attempts import ATTACKS, ATTEMPTS, LEGITIMATE, Attempt, Identity, make
from devtools.security.stage import Stage, stage
from spot_common import contract

from .harness import RunningWebhook
from .test_rbac import Provisioned, opted_in, unique

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def on(
    cluster: LocalCluster, kube: Kube, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stage]:
    """Every identity, set up as ``make audit`` sets them up."""
    with stage(cluster, kube, tmp_path_factory.mktemp("escalation")) as staged:
        yield staged


def _id(attempt: Attempt) -> str:
    return attempt.id


@pytest.mark.parametrize("attempt", ATTACKS, ids=_id)
def test_the_api_server_refuses_the_attack(on: Stage, attempt: Attempt) -> None:
    answer = make(on, attempt).answer
    assert (answer.status, answer.refused_by) == (403, attempt.expected), answer.message


@pytest.mark.parametrize("attempt", LEGITIMATE, ids=_id)
def test_what_the_identity_is_for_is_allowed(on: Stage, attempt: Attempt) -> None:
    answer = make(on, attempt).answer
    assert answer.allowed, (answer.status, answer.message)


def test_the_audit_counts_no_escalation_allowed_and_nothing_legitimate_refused(on: Stage) -> None:
    """The figures ``make audit`` publishes, from the same list."""
    measured = figures(
        attempts_data([make(on, a) for a in ATTEMPTS]), {"new": [], "accepted": [], "stale": []}
    )
    assert measured["security_escalations_allowed"] == 0
    assert measured["security_attacks_not_refused_as_expected"] == 0
    assert measured["security_legitimate_actions_refused"] == 0


def test_the_list_tries_every_identity_and_every_attack_of_the_review() -> None:
    assert {a.identity for a in ATTACKS} == set(Identity)
    assert {a.identity for a in LEGITIMATE} == set(Identity)
    assert {a.issue for a in ATTACKS} == {0, 1, 2, 3, 5, 6, 7}  # 4 is no API request
    assert len({a.id for a in ATTEMPTS}) == len(ATTEMPTS)


# --- the controller repairs what was deleted by hand ------------------------------------------


def test_a_role_binding_or_lease_deleted_out_of_band_is_back_after_the_next_resync(
    kube: Kube, webhook_namespace: str, running_webhook: RunningWebhook
) -> None:
    name = unique("repair")
    kube.apps.create_namespaced_deployment(webhook_namespace, opted_in(name, "default"))
    provisioned = Provisioned(kube, webhook_namespace, name, "default")
    lease = contract.lease_name(name)

    def lease_exists() -> bool:
        return exists(lambda: kube.coordination.read_namespaced_lease(lease, webhook_namespace))

    wait_for(lambda: provisioned.all() and lease_exists(), 20, "the sidecar RBAC and Lease")
    kube.rbac.delete_namespaced_role(provisioned.role, webhook_namespace)
    kube.rbac.delete_namespaced_role_binding(provisioned.role, webhook_namespace)
    kube.coordination.delete_namespaced_lease(lease, webhook_namespace)
    wait_for(lambda: provisioned.all() and lease_exists(), 20, "the resync to repair them")
