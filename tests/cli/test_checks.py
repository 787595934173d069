"""The decisions of ``spot-failover check``, as pure functions over plain objects."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from devtools.controlplane import pki
from spot_common import contract
from spot_failover import install_checks, workload_checks
from spot_failover.certificate_checks import certificate_results
from spot_failover.checks import Result, Status, failed, text

NOW = dt.datetime.now(dt.UTC)


def now() -> dt.datetime:
    """The time to check a certificate at: the one it was just issued on (the real clock), not
    :data:`NOW`, which is minutes old when the test runs late in a long session."""
    return dt.datetime.now(dt.UTC)


HOST = "spot-failover-webhook.spot-failover.svc"


def issued(directory: Path, days: float, host: str = HOST) -> tuple[bytes, bytes]:
    """(serving certificate, CA) PEM, the certificate valid for ``days`` from now."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = pki.create_ca(directory, "ca")
    leaf = pki.issue(
        directory, ca, ca_key, "leaf", common_name=host, server=True, hosts=(host,),
        validity=dt.timedelta(days=days),
    )  # fmt: skip
    return leaf.cert.read_bytes(), ca.cert.read_bytes()


def by_check(results: list[Result]) -> dict[str, Status]:
    return {result.check: result.status for result in results}


@pytest.mark.parametrize(
    ("days", "status"),  # -0.002 days: expired three minutes ago (issue backdates five)
    [(90, Status.OK), (22, Status.OK), (20, Status.WARN), (6, Status.FAIL), (-0.002, Status.FAIL)],
)
def test_the_certificate_warns_three_weeks_and_fails_one_week_before_it_expires(
    tmp_path: Path, days: float, status: Status
) -> None:
    serving, ca = issued(tmp_path, days)

    results = by_check(certificate_results("install", serving, ca, HOST, now()))

    assert results == {
        "certificate": status,
        "ca-bundle": Status.OK,
        "certificate-names": Status.OK,
    }


def test_a_bundle_of_another_ca_or_none_fails_and_an_unread_certificate_is_unknown(
    tmp_path: Path,
) -> None:
    serving, _ = issued(tmp_path / "a", 90)
    _, stranger = issued(tmp_path / "b", 90)

    stranger_ca = by_check(certificate_results("i", serving, stranger, HOST, now()))
    assert stranger_ca["ca-bundle"] is Status.FAIL
    assert by_check(certificate_results("i", serving, b"", HOST, now()))["ca-bundle"] is Status.FAIL
    assert by_check(certificate_results("i", None, stranger, HOST, now())) == {
        "certificate": Status.UNKNOWN
    }


def test_a_certificate_for_another_host_fails_naming_both(tmp_path: Path) -> None:
    serving, ca = issued(tmp_path, 90, host="elsewhere.example")

    (names,) = [
        r
        for r in certificate_results("i", serving, ca, HOST, now())
        if r.check == "certificate-names"
    ]

    assert names.status is Status.FAIL
    assert HOST in names.message
    assert "elsewhere.example" in names.message


@pytest.mark.parametrize(
    ("replicas", "strategy", "batches"),
    [
        (3, {}, 3),  # Kubernetes' defaults: surge 25 % up (1), unavailable 25 % down (0)
        (4, {}, 2),  # surge 1 + unavailable 1
        (3, {"rollingUpdate": {"maxSurge": "100%", "maxUnavailable": 0}}, 1),
        (3, {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}, 3),
        (3, {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}, 3),
        (10, {"rollingUpdate": {"maxSurge": "50%", "maxUnavailable": "50%"}}, 1),
        (5, {"type": "Recreate"}, 1),
        (0, {}, 1),
    ],
)
def test_rollout_batches_follow_the_deployment_controllers_arithmetic(
    replicas: int, strategy: dict[str, object], batches: int
) -> None:
    assert workload_checks.rollout_batches(replicas, strategy) == batches


@given(replicas=st.integers(1, 500), surge=st.integers(0, 200), unavailable=st.integers(0, 100))
def test_a_surge_of_every_replica_always_fits_in_one_batch_and_batches_never_exceed_replicas(
    replicas: int, surge: int, unavailable: int
) -> None:
    every = {"rollingUpdate": {"maxSurge": "100%", "maxUnavailable": f"{unavailable}%"}}
    some = {"rollingUpdate": {"maxSurge": f"{surge}%", "maxUnavailable": f"{unavailable}%"}}

    assert workload_checks.rollout_batches(replicas, every) == 1
    assert 1 <= workload_checks.rollout_batches(replicas, some) <= replicas


def test_endpoints_count_only_ready_addresses_and_one_is_a_warning() -> None:
    reference = {"namespace": "spot-failover", "name": "hook", "port": 443}
    service = {"spec": {"ports": [{"port": 443}]}}
    endpoints = [
        {"addresses": ["10.0.0.1"], "conditions": {"ready": True}},
        {"addresses": ["10.0.0.2"], "conditions": {"ready": False}},
    ]

    results = install_checks.service_endpoints(reference, service, [{"endpoints": endpoints}])

    assert by_check(results) == {"service": Status.OK, "endpoints": Status.WARN}
    assert by_check(install_checks.service_endpoints(reference, service, [])) == {
        "service": Status.OK,
        "endpoints": Status.FAIL,
    }


def test_a_webhook_that_fails_closed_is_a_warning_and_one_without_ca_bundle_fails() -> None:
    configuration = {"webhooks": [{"name": "a", "failurePolicy": "Fail", "clientConfig": {}}]}

    statuses = [r.status for r in install_checks.webhook_configuration("x", configuration)]

    assert statuses == [Status.OK, Status.WARN, Status.FAIL]


def test_the_fargate_labels_are_the_annotation_then_the_injected_setting_then_the_default() -> None:
    deployment = {"metadata": {"annotations": {contract.FARGATE_LABELS: "team=web, on=fargate"}}}
    sidecar = {
        "name": contract.SIDECAR_CONTAINER,
        "env": [{"name": "SPOT_FAILOVER_FARGATE_LABELS", "value": "compute=fargate"}],
    }
    pods = [{"spec": {"containers": [{"name": "app"}, sidecar]}}]

    assert workload_checks.fargate_labels(deployment, pods) == {"team": "web", "on": "fargate"}
    assert workload_checks.fargate_labels({}, pods) == {"compute": "fargate"}
    assert workload_checks.fargate_labels({}, []) == {"spot-failover/fargate": "true"}


def test_imds_reports_older_than_an_hour_are_forgotten() -> None:
    old = (NOW - dt.timedelta(hours=2)).isoformat()
    event = {"reason": "ImdsUnreachable", "message": "no token", "lastTimestamp": old}

    assert workload_checks.imds_reachable({}, [event], NOW).status is Status.OK
    event["lastTimestamp"] = NOW.isoformat()
    assert workload_checks.imds_reachable({}, [event], NOW).status is Status.WARN


def test_only_failures_fail_and_the_summary_counts_each_kind() -> None:
    results = [
        Result("install", "a", Status.OK, "fine"),
        Result("install", "b", Status.WARN, "risky", "do this"),
        Result("Deployment x/y", "c", Status.UNKNOWN, "unknowable"),
    ]

    assert not failed(results)
    assert text(results).splitlines()[-1] == (
        "Status check results: spot-failover can work as installed "
        "(1 ok, 1 warnings, 0 failures, 1 not knowable from the cluster)"
    )
    assert failed([*results, Result("install", "d", Status.FAIL, "broken")])


def shipped_policies(folder: str) -> set[str]:
    deploy = Path(__file__).resolve().parents[2] / "deploy" / folder
    return {
        doc["metadata"]["name"]
        for path in sorted(deploy.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc.get("kind") == "ValidatingAdmissionPolicy"
    }


def test_the_check_knows_every_admission_policy_that_deploy_ships() -> None:
    assert set(install_checks.POLICIES) == shipped_policies("base")
    assert set(install_checks.CERTGEN_POLICIES) == shipped_policies("certgen")
    assert set(install_checks.WARDEN_POLICIES) == shipped_policies("warden")


def bound(*names: str) -> list[dict[str, object]]:
    return [{"spec": {"policyName": name, "validationActions": ["Deny"]}} for name in names]


def test_the_certificate_jobs_policies_are_required_only_where_its_identity_exists() -> None:
    everything = install_checks.POLICIES + install_checks.CERTGEN_POLICIES
    found = {name: {"metadata": {"name": name}} for name in install_checks.POLICIES}

    without_job = install_checks.policies(found, bound(*install_checks.POLICIES), certgen=False)
    assert not failed(without_job)
    with_job = install_checks.policies(found, bound(*install_checks.POLICIES), certgen=True)
    missing = [r.message for r in with_job if r.status is Status.FAIL]
    assert len(missing) == len(install_checks.CERTGEN_POLICIES)
    assert all("does not exist" in m for m in missing)

    complete = {name: {"metadata": {"name": name}} for name in everything}
    assert not failed(install_checks.policies(complete, bound(*everything), certgen=True))


def test_the_wardens_policies_are_required_only_where_its_identity_exists() -> None:
    found = {name: {"metadata": {"name": name}} for name in install_checks.POLICIES}

    assert not failed(
        install_checks.policies(found, bound(*install_checks.POLICIES), certgen=False)
    )
    with_warden = install_checks.policies(
        found, bound(*install_checks.POLICIES), certgen=False, warden=True
    )
    missing = [r.message for r in with_warden if r.status is Status.FAIL]
    assert len(missing) == len(install_checks.WARDEN_POLICIES)
    assert all("does not exist" in m for m in missing)


def test_a_warden_missing_or_not_ready_is_a_warning_and_a_running_one_is_ok() -> None:
    absent = install_checks.warden("spot-failover", None)
    pending = install_checks.warden("spot-failover", {"status": {"replicas": 1}})
    running = install_checks.warden("spot-failover", {"status": {"readyReplicas": 1}})

    assert (absent.status, pending.status, running.status) == (
        Status.WARN,
        Status.WARN,
        Status.OK,
    )
    assert "never ended" in absent.message
    assert "deploy/warden" in absent.hint
    assert "no ready replica" in pending.message
    assert running.message == "the warden spot-failover/spot-failover-warden runs (1 ready)"


def test_a_policy_bound_only_to_warn_or_audit_enforces_nothing() -> None:
    found = {name: {"metadata": {"name": name}} for name in install_checks.POLICIES}
    bindings = bound(*install_checks.POLICIES[1:])
    bindings.append(
        {"spec": {"policyName": install_checks.POLICIES[0], "validationActions": ["Warn", "Audit"]}}
    )
    results = install_checks.policies(found, bindings, certgen=False)
    (unbound,) = [r for r in results if r.status is Status.FAIL]
    assert f"{install_checks.POLICIES[0]} is not bound" in unbound.message
