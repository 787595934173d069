"""The sidecar's own way to the API server: pod credentials, typed errors, watches.

The credential rules are pure file and environment reads; everything the API server does
(RBAC, conflicts, watches, their errors) is exercised against the local control plane, with a
ServiceAccount token that holds exactly the sidecar's Role.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from devtools.scenario import deployment
from sidecar.adapters.apiserver import ApiServer, decode_event
from sidecar.adapters.credentials import InCluster, Token
from sidecar.adapters.errors import NoCredentials
from sidecar.adapters.kube import Kube as SidecarKube
from sidecar.core.times import format_micro_time
from sidecar.leadership import Leadership
from spot_common import contract
from spot_common.api_errors import ApiError, Conflict, Forbidden, NotFound, Unreachable
from spot_common.contract import State
from webhook.core import rbac
from webhook.core.owners import DeploymentFacts

# --- credentials (no cluster) ----------------------------------------------------------------


def mounted(directory: Path, token: str = "t0ken") -> Path:  # noqa: S107 - a test value
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "token").write_text(token + "\n")
    (directory / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    return directory


def test_credentials_come_from_the_kubelet_environment_and_the_mounted_volume(
    tmp_path: Path,
) -> None:
    volume = mounted(tmp_path / "sa")
    environ = {"KUBERNETES_SERVICE_HOST": "10.100.0.1", "KUBERNETES_SERVICE_PORT": "443"}

    credentials = InCluster.from_pod(environ, volume)

    assert credentials.server == "https://10.100.0.1:443"
    assert credentials.token_file == volume / "token"
    assert credentials.ca_file == volume / "ca.crt"


def test_an_ipv6_service_address_is_bracketed(tmp_path: Path) -> None:
    environ = {"KUBERNETES_SERVICE_HOST": "fd00:10:96::1", "KUBERNETES_SERVICE_PORT": "443"}

    credentials = InCluster.from_pod(environ, mounted(tmp_path / "sa"))

    assert credentials.server == "https://[fd00:10:96::1]:443"


def test_outside_a_pod_the_error_names_the_missing_variables(tmp_path: Path) -> None:
    with pytest.raises(NoCredentials, match="KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT"):
        InCluster.from_pod({}, mounted(tmp_path / "sa"))


def test_without_the_volume_the_error_names_the_missing_file(tmp_path: Path) -> None:
    environ = {"KUBERNETES_SERVICE_HOST": "10.100.0.1", "KUBERNETES_SERVICE_PORT": "443"}

    with pytest.raises(NoCredentials, match=r"no .*/token: the ServiceAccount volume is not"):
        InCluster.from_pod(environ, tmp_path / "absent")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_rotated_token_is_picked_up_after_the_reread_interval(tmp_path: Path) -> None:
    volume, clock = mounted(tmp_path / "sa", "first"), Clock()
    token = Token(volume / "token", reread_s=60, clock=clock)
    assert token() == "first"

    (volume / "token").write_text("second")
    clock.now = 59.0
    assert token() == "first"
    clock.now = 60.0
    assert token() == "second"


def test_a_token_file_missing_mid_rotation_keeps_the_token_already_read(tmp_path: Path) -> None:
    volume, clock = mounted(tmp_path / "sa", "first"), Clock()
    token = Token(volume / "token", reread_s=1, clock=clock)
    assert token() == "first"

    (volume / "token").unlink()
    clock.now = 5.0

    assert token() == "first"


def test_a_token_file_that_never_existed_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(NoCredentials, match=r"cannot read .*/nothing"):
        Token(tmp_path / "nothing")()


# --- against the API server ------------------------------------------------------------------

NAME = "web"


@pytest.fixture
def sidecar_identity(kube: Kube, namespace: str, tmp_path: Path, cluster: LocalCluster) -> Path:
    """A ServiceAccount volume for an account that holds exactly the sidecar's Role for NAME."""
    kube.core.create_namespaced_service_account(namespace, {"metadata": {"name": "failover"}})
    kube.rbac.create_namespaced_role(
        namespace, {"metadata": {"name": "sidecar"}, "rules": contract.sidecar_role_rules(NAME)}
    )
    kube.rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": "sidecar"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "sidecar"},
            "subjects": [{"kind": "ServiceAccount", "name": "failover", "namespace": namespace}],
        },
    )
    request: dict[str, Any] = {"spec": {"audiences": [], "expirationSeconds": 3600}}
    token = kube.core.create_namespaced_service_account_token("failover", namespace, request)
    volume = tmp_path / "sa"
    volume.mkdir()
    (volume / "token").write_text(token.status.token)
    (volume / "ca.crt").write_bytes(cluster.ca_cert.read_bytes())
    return volume


@pytest.fixture
def sidecar_kube(
    cluster: LocalCluster, namespace: str, sidecar_identity: Path
) -> Iterator[SidecarKube]:
    environ = {
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": str(cluster.apiserver_port),
    }
    api = ApiServer(InCluster.from_pod(environ, sidecar_identity))
    yield SidecarKube(api, namespace, NAME)
    api.close()


def test_the_sidecar_reads_and_conditionally_replaces_its_own_deployment(
    kube: Kube, namespace: str, sidecar_kube: SidecarKube
) -> None:
    kube.apps.create_namespaced_deployment(namespace, deployment(NAME, replicas=1))

    def annotate() -> tuple[dict[str, Any], dict[str, Any]]:
        """Read, annotate, replace; again if the controller's status update came between."""
        for _ in range(10):
            read = sidecar_kube.get_deployment()
            read["metadata"].setdefault("annotations", {})[contract.MESSAGE] = "hello"
            try:
                return read, sidecar_kube.replace_deployment(read)
            except Conflict:
                continue
        raise AssertionError("ten conflicts in a row")

    read, written = annotate()

    assert written["metadata"]["annotations"][contract.MESSAGE] == "hello"
    with pytest.raises(Conflict, match="replace deployment web: HTTP 409"):
        sidecar_kube.replace_deployment(read)  # the resourceVersion it carries is stale now


def test_another_deployment_is_forbidden_with_the_servers_reason(
    kube: Kube, namespace: str, sidecar_kube: SidecarKube
) -> None:
    kube.apps.create_namespaced_deployment(namespace, deployment("other", replicas=1))
    other = SidecarKube(sidecar_kube.api, namespace, "other")

    with pytest.raises(Forbidden, match=r"HTTP 403: .*cannot get resource \"deployments\""):
        other.get_deployment()


def test_a_missing_deployment_is_not_found(sidecar_kube: SidecarKube) -> None:
    with pytest.raises(NotFound) as raised:
        sidecar_kube.get_deployment()

    assert raised.value.status == 404


def provisioned_lease(kube: Kube, namespace: str) -> dict[str, Any]:
    """The Lease as the webhook's controller provisions it: no holder, labelled, annotated,
    owned by the Deployment (which must exist, or the garbage collector removes the Lease)."""
    owner = kube.apps.create_namespaced_deployment(namespace, deployment(NAME, replicas=0))
    facts = DeploymentFacts(namespace, NAME, owner.metadata.uid, "failover", {})
    created = kube.coordination.create_namespaced_lease(namespace, rbac.lease(facts))
    body: dict[str, Any] = kube.api.sanitize_for_serialization(created)
    return body


def test_the_sidecar_cannot_create_a_lease_not_even_its_own(
    kube: Kube, namespace: str, sidecar_kube: SidecarKube
) -> None:
    name = contract.lease_name(NAME)
    assert sidecar_kube.get_lease(name) is None
    body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name}}
    path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"

    with pytest.raises(Forbidden):
        sidecar_kube.api.request("POST", path, "create lease", body=body)


def test_a_lease_replace_is_conditional_and_keeps_what_the_webhook_set(
    kube: Kube, namespace: str, sidecar_kube: SidecarKube
) -> None:
    name = contract.lease_name(NAME)
    provisioned = provisioned_lease(kube, namespace)
    version = provisioned["metadata"]["resourceVersion"]

    taken = sidecar_kube.replace_lease(
        name, {"holderIdentity": "a"}, version, {contract.STATE: "x"}, provisioned["metadata"]
    )

    assert taken["spec"]["holderIdentity"] == "a"
    assert taken["metadata"]["annotations"] == {
        **provisioned["metadata"]["annotations"],
        contract.STATE: "x",
    }
    assert taken["metadata"]["ownerReferences"] == provisioned["metadata"]["ownerReferences"]
    assert taken["metadata"]["labels"] == provisioned["metadata"]["labels"]
    with pytest.raises(Conflict):
        sidecar_kube.replace_lease(name, {"holderIdentity": "b"}, version, {}, {})


def test_a_lease_watch_delivers_changes_and_ends_quietly_after_silence(
    kube: Kube, namespace: str, sidecar_kube: SidecarKube
) -> None:
    name = contract.lease_name(NAME)
    created = provisioned_lease(kube, namespace)
    version = created["metadata"]["resourceVersion"]
    sidecar_kube.replace_lease(name, {"holderIdentity": "b"}, version, {}, created["metadata"])

    seen = list(sidecar_kube.watch_lease(name, version, timeout_s=60, quiet_s=1.5))

    assert [lease["spec"]["holderIdentity"] for lease in seen] == ["b"]


def test_a_watch_error_event_becomes_a_typed_error_with_its_status() -> None:
    line = b'{"type":"ERROR","object":{"kind":"Status","code":410,"message":"too old"}}'

    with pytest.raises(ApiError, match="watch lease x: watch error 410: too old") as raised:
        decode_event(line, "watch lease x")

    assert raised.value.status == 410


def test_a_watch_line_that_is_not_json_is_an_error_quoting_it() -> None:
    with pytest.raises(ApiError, match="not JSON: b'<html>'"):
        decode_event(b"<html>", "watch node n")


def test_an_api_server_that_does_not_answer_is_unreachable(
    namespace: str, sidecar_identity: Path
) -> None:
    nowhere = InCluster(
        "https://127.0.0.1:9", sidecar_identity / "ca.crt", sidecar_identity / "token"
    )
    kube = SidecarKube(ApiServer(nowhere, timeout_s=1), namespace, NAME)

    with pytest.raises(Unreachable, match="get deployment web"):
        kube.get_deployment()


def test_a_stranger_holding_the_lease_for_an_absurd_term_is_reported_once_as_a_warning(
    kube: Kube, namespace: str, sidecar_kube: SidecarKube
) -> None:
    """Someone with other rights (here: the admin) squats on the provisioned Lease; the
    sidecar waits only the term it trusts, and says so once in a Warning Event."""
    provisioned = provisioned_lease(kube, namespace)
    now = datetime.now(UTC)
    squat = {
        "holderIdentity": "mallory",
        "leaseDurationSeconds": 10**6,
        "renewTime": format_micro_time(now),
    }
    kube.coordination.patch_namespaced_lease(
        provisioned["metadata"]["name"], namespace, {"spec": squat}
    )
    deployment_body = kube.api.sanitize_for_serialization(
        kube.apps.read_namespaced_deployment(NAME, namespace)
    )

    def report(message: str) -> None:
        sidecar_kube.record_event(
            deployment_body,
            reason="LeaseHeldByStranger",
            message=message,
            warning=True,
            reporter="web-7d9f8-x2b4q",
            now=now,
        )

    leader = Leadership(sidecar_kube, "web-7d9f8-x2b4q", 15, on_suspicious=report)
    assert not leader.acquire(now, State.WATCHING)
    leader.record = None
    assert not leader.acquire(now, State.WATCHING)  # read again: the same squat, not reported

    assert leader.record is not None
    assert leader.record.expires_at == now + timedelta(seconds=contract.MAX_LEASE_DURATION_S)
    events = kube.core.list_namespaced_event(namespace).items
    warnings = [e for e in events if e.reason == "LeaseHeldByStranger"]
    assert len(warnings) == 1
    assert warnings[0].type == "Warning"
    assert "'mallory'" in warnings[0].message
