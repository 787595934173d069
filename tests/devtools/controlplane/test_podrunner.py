"""The pod runner plays the kubelet for sidecars on the real local control plane: one process
per pod that carries the sidecar, started from the pod's own spec, authenticated as the pod, and
stopped the way a kubelet stops a container."""

from __future__ import annotations

import os
import signal
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from devtools.controlplane.waiting import wait_for
from spot_common import contract
from tests.devtools.controlplane.conftest import IMDS_URL, MakeRunner, imds_env, report, token_in
from tests.devtools.controlplane.manifests import METRICS_PORT, pod, sidecar, sidecar_deployment

pytestmark = pytest.mark.cluster

POD_NAME_EXTRA = "authentication.kubernetes.io/pod-name"


def _pods(kube: Kube, namespace: str) -> dict[str, Any]:
    return {p.metadata.name: p for p in kube.core.list_namespaced_pod(namespace).items}


def _scheduled(kube: Kube, namespace: str, *names: str) -> bool:
    pods = _pods(kube, namespace)
    return all(name in pods and pods[name].spec.node_name for name in names)


def _reaped(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _whoami(cluster: LocalCluster, credentials: Path) -> Any:
    """Who the API server says a pod's ServiceAccount volume is."""
    configuration = client.Configuration(
        host=cluster.server,
        api_key={"authorization": f"Bearer {token_in(credentials)}"},
    )
    configuration.ssl_ca_cert = str(credentials / "ca.crt")
    with client.ApiClient(configuration) as api:
        review = client.AuthenticationV1Api(api).create_self_subject_review(
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        )
    return review.status.user_info


def test_each_replica_gets_one_sidecar_process_with_its_own_pod_values_and_identity(
    kube: Kube, namespace: str, make_runner: MakeRunner
) -> None:
    kube.core.create_namespaced_service_account(namespace, {"metadata": {"name": "failover"}})
    runner = make_runner()

    kube.apps.create_namespaced_deployment(
        namespace, sidecar_deployment("web", replicas=3, service_account="failover")
    )

    names = runner.wait_running(3)
    pods = _pods(kube, namespace)
    assert names == sorted(pods)
    for name in names:
        spec, status, uid = pods[name].spec, pods[name].status, pods[name].metadata.uid
        seen = report(runner, name)
        assert seen["argv"] == ["--pod", name]
        assert seen["env"][contract.ENV_POD_NAME] == name
        assert seen["env"][contract.ENV_NAMESPACE] == namespace
        assert seen["env"][contract.ENV_NODE_NAME] == spec.node_name
        assert seen["env"][IMDS_URL] == imds_env(spec.node_name)[IMDS_URL]
        assert (seen["env"]["POD_IP"], seen["env"]["POD_UID"]) == (status.pod_ip, uid)
        assert (seen["env"]["SERVICE_ACCOUNT"], seen["env"]["APP_LABEL"]) == ("failover", "web")
        assert seen["whoami"]["username"] == f"system:serviceaccount:{namespace}:failover"
        assert seen["whoami"]["extra"][POD_NAME_EXTRA] == [name]


def test_each_sidecar_serves_metrics_on_its_own_local_port(
    kube: Kube, namespace: str, make_runner: MakeRunner
) -> None:
    runner = make_runner()
    kube.apps.create_namespaced_deployment(namespace, sidecar_deployment("web", replicas=3))

    names = runner.wait_running(3)

    ports = {name: runner.metrics_port(name) for name in names}
    assert len(set(ports.values())) == 3
    assert METRICS_PORT not in ports.values()
    for name, port in ports.items():
        assert report(runner, name)["env"][contract.ENV_METRICS_PORT] == str(port)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
            assert answer.read().decode() == name


def test_scaling_down_sigterms_the_sidecars_of_the_removed_pods(
    kube: Kube, namespace: str, make_runner: MakeRunner
) -> None:
    runner = make_runner()
    kube.apps.create_namespaced_deployment(namespace, sidecar_deployment("web", replicas=3))
    names = runner.wait_running(3)
    for name in names:
        report(runner, name)  # its SIGTERM handler is in place

    kube.apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 1}})

    (kept,) = runner.wait_running(1)
    for name in set(names) - {kept}:
        assert runner.wait_exited(name) == 0
        assert runner.logs(name).splitlines()[-1] == "terminated"
    assert runner.process(kept).alive()
    assert "terminated" not in runner.logs(kept)


def test_kill_sigkills_one_sidecar_and_kill_node_every_sidecar_on_a_node(
    kube: Kube, namespace: str, make_runner: MakeRunner
) -> None:
    runner = make_runner()
    kube.apps.create_namespaced_deployment(namespace, sidecar_deployment("web", replicas=3))
    first, *others = runner.wait_running(3)

    assert runner.kill(first) == -signal.SIGKILL

    assert runner.pods() == others
    assert first in _pods(kube, namespace)  # the pod stays; its process does not come back
    node = runner.record(others[0]).node
    on_node = sorted(name for name in others if runner.record(name).node == node)
    assert runner.kill_node(node) == on_node
    assert runner.pods() == sorted(set(others) - set(on_node))
    assert {runner.exit_codes()[name] for name in [first, *on_node]} == {-signal.SIGKILL}
    assert "terminated" not in runner.logs(first)


def test_only_scheduled_pods_that_carry_the_sidecar_get_a_process(
    kube: Kube, namespace: str, make_runner: MakeRunner
) -> None:
    runner = make_runner()
    plain_init = {**sidecar(native=False), "command": ["true"]}
    kube.core.create_namespaced_pod(namespace, pod("plain"))
    kube.core.create_namespaced_pod(namespace, pod("init-only", init_containers=[plain_init]))
    kube.core.create_namespaced_pod(namespace, pod("regular", containers=[sidecar(native=False)]))
    kube.core.create_namespaced_pod(
        namespace,
        pod("unscheduled", init_containers=[sidecar()], node_selector={"missing": "node"}),
    )
    wait_for(lambda: _scheduled(kube, namespace, "plain", "init-only", "regular"), 30, "pods")

    # Watch events arrive in order: once this pod's sidecar runs, the runner has seen the rest.
    kube.core.create_namespaced_pod(namespace, pod("native", init_containers=[sidecar()]))

    assert runner.wait_running(2) == ["native", "regular"]
    assert report(runner, "regular")["env"][contract.ENV_POD_NAME] == "regular"


def test_a_sidecar_missing_its_secret_starts_once_the_secret_exists_without_holding_up_others(
    kube: Kube, namespace: str, make_runner: MakeRunner
) -> None:
    runner = make_runner()
    secret_env = [
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
        {
            "name": "OPTIONAL",
            "valueFrom": {"secretKeyRef": {"name": "absent", "key": "x", "optional": True}},
        },
    ]
    kube.core.create_namespaced_pod(
        namespace, pod("waiting", init_containers=[sidecar(secret_env)])
    )
    wait_for(lambda: _scheduled(kube, namespace, "waiting"), 30, "the pod to be scheduled")
    kube.core.create_namespaced_pod(namespace, pod("other", init_containers=[sidecar()]))
    assert runner.wait_running(1) == ["other"]

    kube.core.create_namespaced_secret(
        namespace, {"metadata": {"name": "creds"}, "stringData": {"token": "s3cret"}}
    )

    assert runner.wait_running(2) == ["other", "waiting"]
    env = report(runner, "waiting")["env"]
    assert env["TOKEN"] == "s3cret"
    assert "OPTIONAL" not in env


def test_the_token_is_renewed_before_it_expires_and_still_names_the_pod(
    cluster: LocalCluster, kube: Kube, namespace: str, make_runner: MakeRunner
) -> None:
    runner = make_runner(token_refresh_s=0.5)
    kube.core.create_namespaced_pod(namespace, pod("renewing", init_containers=[sidecar()]))
    (name,) = runner.wait_running(1)
    credentials = runner.record(name).credentials
    first = token_in(credentials)

    wait_for(lambda: token_in(credentials) != first, 10, "a renewed token")

    user = _whoami(cluster, credentials)
    assert user.username == f"system:serviceaccount:{namespace}:default"
    assert user.extra[POD_NAME_EXTRA] == [name]


def test_the_runner_follows_pods_across_an_api_server_restart(
    cluster: LocalCluster, kube: Kube, namespace: str, make_runner: MakeRunner
) -> None:
    runner = make_runner()
    kube.apps.create_namespaced_deployment(namespace, sidecar_deployment("web", replicas=1))
    (before,) = runner.wait_running(1)
    pid = runner.process(before).pid

    cluster.restart_apiserver()
    kube.apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 2}})

    assert before in runner.wait_running(2, timeout_s=60)
    assert runner.process(before).pid == pid


def test_stop_leaves_no_sidecar_process_and_no_thread_running(
    kube: Kube, namespace: str, make_runner: MakeRunner
) -> None:
    runner = make_runner()
    kube.apps.create_namespaced_deployment(namespace, sidecar_deployment("web", replicas=2))
    names = runner.wait_running(2)
    pids = [runner.process(name).pid for name in names]
    for name in names:
        report(runner, name)

    runner.stop()

    assert runner.pods() == []
    assert all(_reaped(pid) for pid in pids)
    assert runner.exit_codes() == dict.fromkeys(names, 0)
    assert all(runner.logs(name).splitlines()[-1] == "terminated" for name in names)
    assert not [t.name for t in threading.enumerate() if t.name.endswith(namespace)]
    assert not any(runner.record(name).credentials.exists() for name in names)
