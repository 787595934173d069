"""Admission: latency on one core at 200 reviews/s, API calls on the warm path, and 100 pods
through the API server with the webhook up, down, and back.

The webhook is the real process (:class:`devtools.local_webhook.LocalWebhook`) with its shipped
identity, configuration and settings, confined to one CPU. Three parts:

1. **Direct load.** A generator process on the other CPU posts AdmissionReviews over TLS at a
   fixed rate, open loop (:mod:`benchmarks.admission_load`): pod CREATE reviews of an opted-in
   Deployment's ReplicaSet (injected, from the warm owner cache) and of one that did not opt in
   (:mod:`benchmarks.admission_reviews`). Latency runs from each request's due time to the end
   of its response. During the measured window the API server's audit log counts every request
   made with the webhook's identity.
2. **Through the API server.** An opted-in Deployment scaled from nothing to 100 replicas: how
   many of its pods the controller manager created with the sidecar, and how long it took.
3. **Webhook down.** The process stopped (its configuration stays), another 100-replica
   opted-in Deployment: how many pods are still created (``failurePolicy: Ignore``) and how
   long it took; then the process started again: how many of them its reporter reports
   (``SidecarMissing`` Events on the Deployment), after its shipped report interval.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Final

from benchmarks import admission_reviews, results
from benchmarks.admission_load import OPTED_IN
from devtools.controlplane import audit
from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from devtools.controlplane.processes import ManagedProcess
from devtools.controlplane.waiting import WaitTimeoutError, wait_for
from devtools.local_webhook import LocalWebhook
from devtools.scenario import deployment
from spot_common import contract
from webhook.core.missing_sidecars import REASON

RATE: Final = 200.0
WARMUP_S: Final = 5.0
DURATION_S: Final = 30.0
CONNECTIONS: Final = 8
OPTED_IN_WEIGHT: Final = 4
"""Four reviews of opted-in pods for each one of a pod that did not opt in."""
PODS: Final = 100
DOWN_TIMEOUT_S: Final = 180.0
_REPORTED = re.compile(r"^(\d+) pods? of this Deployment")


def _cpus() -> tuple[int, int | None]:
    """One CPU for the webhook, another for the load generator (None: there is no other)."""
    available = sorted(os.sched_getaffinity(0))
    return available[0], (available[1] if len(available) > 1 else None)


def _scheduled(pid: int) -> tuple[float, float]:
    """Seconds the process's threads ran, and seconds they were runnable but waited for a CPU
    (``/proc/<pid>/task/*/schedstat``; threads that already exited are not counted)."""
    ran = waited = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):
            fields = (task / "schedstat").read_text().split()
            ran, waited = ran + int(fields[0]), waited + int(fields[1])
    return ran / 1e9, waited / 1e9


def _create(kube: Kube, namespace: str, name: str, replicas: int, opted_in: bool) -> None:
    body = deployment(name, replicas=replicas)
    if opted_in:
        body["metadata"]["annotations"] = {contract.ENABLED: "true"}
    kube.apps.create_namespaced_deployment(namespace, body)


def _pods(kube: Kube, namespace: str, name: str) -> list[dict[str, Any]]:
    found = kube.core.list_namespaced_pod(namespace, label_selector=f"app={name}")
    return [kube.api.sanitize_for_serialization(pod) for pod in found.items]


def _has_sidecar(pod: dict[str, Any]) -> bool:
    spec = pod["spec"]
    containers = [*spec.get("initContainers", []), *spec["containers"]]
    return any(c["name"] == contract.SIDECAR_CONTAINER for c in containers)


def _wait_pods(kube: Kube, namespace: str, name: str, count: int, timeout_s: float) -> float:
    """Seconds until ``count`` pods of ``name`` exist (the Deployment was just created)."""
    began = time.monotonic()
    wait_for(
        lambda: len(_pods(kube, namespace, name)) >= count,
        timeout_s,
        f"{count} pods of {name}",
        interval_s=0.25,
    )
    return time.monotonic() - began


def suite_reviews(kube: Kube, namespace: str) -> list[dict[str, Any]]:
    """An opted-in and a plain Deployment; reviews of new pods of each, built from real pods."""
    _create(kube, namespace, "warm", 1, opted_in=True)
    _create(kube, namespace, "plain", 1, opted_in=False)
    _wait_pods(kube, namespace, "warm", 1, 60)
    _wait_pods(kube, namespace, "plain", 1, 60)
    (plain,) = _pods(kube, namespace, "plain")
    (warm,) = _pods(kube, namespace, "warm")
    (owner,) = warm["metadata"]["ownerReferences"]
    replicaset = kube.api.sanitize_for_serialization(
        kube.apps.read_namespaced_replica_set(owner["name"], namespace)
    )
    pristine = admission_reviews.as_admitted(plain)
    opted = admission_reviews.as_pod_of(pristine, replicaset)
    return [
        {
            "kind": OPTED_IN,
            "weight": OPTED_IN_WEIGHT,
            "body": json.dumps(admission_reviews.review(opted)),
        },
        {
            "kind": "not_opted_in",
            "weight": 1,
            "body": json.dumps(admission_reviews.review(pristine)),
        },
    ]


def _generate(webhook: LocalWebhook, reviews: list[dict[str, Any]], work: Path) -> dict[str, Any]:
    if webhook.tls is None:
        raise RuntimeError("the webhook has no certificate")
    _, cpu = _cpus()
    spec = {
        "url": webhook.url,
        "ca_file": str(webhook.tls.ca.cert),
        "rate": RATE,
        "warmup_s": WARMUP_S,
        "duration_s": DURATION_S,
        "connections": CONNECTIONS,
        "cpu": cpu,
        "reviews": reviews,
    }
    spec_path, out_path = work / "load-spec.json", work / "load-out.json"
    spec_path.write_text(json.dumps(spec))
    argv = [sys.executable, "-m", "benchmarks.admission_load", str(spec_path), str(out_path)]
    generator = ManagedProcess("admission-load", argv, work / "logs")
    try:
        code = generator.popen.wait(timeout=WARMUP_S + DURATION_S + 120)
    finally:
        generator.stop()
    if code != 0:
        raise RuntimeError(f"the load generator failed ({code}):\n{generator.tail()}")
    result: dict[str, Any] = json.loads(out_path.read_text())
    return result


def _audited(cluster: LocalCluster, user: str, start: float, end: float) -> list[str]:
    return [
        f"{r.verb} {r.uri}"
        for r in audit.read(cluster.audit_log)
        if r.user == user and start <= r.time.timestamp() <= end
    ]


def direct_load(
    cluster: LocalCluster, kube: Kube, webhook: LocalWebhook, namespace: str, work: Path
) -> dict[str, float]:
    reviews = suite_reviews(kube, namespace)
    pid = webhook.pid
    if pid is None:
        raise RuntimeError("the webhook is not running")
    before, (ran_before, waited_before) = webhook.metrics(), _scheduled(pid)
    began = time.monotonic()
    load = _generate(webhook, reviews, work)
    took_s = time.monotonic() - began
    after, (ran_after, waited_after) = webhook.metrics(), _scheduled(pid)
    outcomes = load["outcomes"]
    latencies_ms = [o["latency_s"] * 1000 for o in outcomes]
    errors = [o for o in outcomes if not o["ok"]]
    calls = _audited(cluster, webhook.identity.username, *_window(load))
    lookups = "spot_failover_webhook_admission_api_calls_total"
    print(
        "admission load:",
        {"errors": sorted({o["error"] for o in errors})[:5], "audited": calls[:10]},
        "webhook-counted lookups:",
        after.value(lookups) - before.value(lookups),
        flush=True,
    )
    answered = after.value("spot_failover_webhook_admission_requests_total", code="200")
    answered -= before.value("spot_failover_webhook_admission_requests_total", code="200")
    return {
        "admission_p50_ms": results.percentile(latencies_ms, 50),
        "admission_p99_ms": results.percentile(latencies_ms, 99),
        "admission_max_ms": max(latencies_ms),
        "admission_requests": float(len(outcomes)),
        "admission_achieved_rps": float(load["achieved_rate"]),
        "admission_errors": float(len(errors)),
        "admission_webhook_cpu_share": (ran_after - ran_before) / took_s,
        "admission_webhook_cpu_ms_per_request": (ran_after - ran_before) * 1000 / answered,
        "admission_webhook_cpu_wait_ms": (waited_after - waited_before) * 1000,
        "admission_api_calls_warm_window": float(len(calls)),
        "admission_api_calls_per_request_warm": len(calls) / len(outcomes),
    }


def _window(load: dict[str, Any]) -> tuple[float, float]:
    return float(load["window_start_unix"]), float(load["window_end_unix"])


def _reported(kube: Kube, namespace: str, name: str) -> int:
    """How many pods the SidecarMissing Events on Deployment ``name`` report."""
    events = kube.core.list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={name},reason={REASON}"
    ).items
    return sum(int(m.group(1)) for e in events if (m := _REPORTED.match(e.message or "")))


def through_the_api_server(kube: Kube, webhook: LocalWebhook, namespace: str) -> dict[str, float]:
    _create(kube, namespace, "hundred", PODS, opted_in=True)
    up_s = _wait_pods(kube, namespace, "hundred", PODS, 180)
    injected = sum(_has_sidecar(pod) for pod in _pods(kube, namespace, "hundred"))
    kube.apps.delete_namespaced_deployment("hundred", namespace)
    wait_for(lambda: not _pods(kube, namespace, "hundred"), 120, "the 100 pods to go")

    webhook.stop()
    _create(kube, namespace, "down", PODS, opted_in=True)
    try:
        down_s = _wait_pods(kube, namespace, "down", PODS, DOWN_TIMEOUT_S)
    except WaitTimeoutError:
        down_s = DOWN_TIMEOUT_S  # the count below says how many made it
    created = _pods(kube, namespace, "down")
    webhook.start()
    began = time.monotonic()
    wait_for(lambda: _reported(kube, namespace, "down") >= len(created), 180, "the report")
    reported_s = time.monotonic() - began
    return {
        "admission_apiserver_injected_of_100": float(injected),
        "admission_apiserver_100_pods_s": up_s,
        "admission_webhook_down_created_of_100": float(len(created)),
        "admission_webhook_down_uninjected_of_100": float(
            sum(not _has_sidecar(pod) for pod in created)
        ),
        "admission_webhook_down_100_pods_s": down_s,
        "admission_webhook_down_reported_of_100": float(_reported(kube, namespace, "down")),
        "admission_webhook_down_reported_after_s": reported_s,
    }


def _settled(cluster: LocalCluster, kube: Kube, user: str, quiet_s: float = 3.0) -> None:
    """Wait until no namespace is being deleted and the webhook's controllers have made no
    request for ``quiet_s``: the warm window measures the admission path, not the RBAC
    controller tidying up after the suites that ran before."""

    def no_terminating() -> bool:
        return all(n.status.phase != "Terminating" for n in kube.core.list_namespace().items)

    def quiet() -> bool:
        now = time.time()
        return not _audited(cluster, user, now - quiet_s, now + 1)

    wait_for(no_terminating, 180, "earlier namespaces to be deleted")
    wait_for(quiet, 60, "the webhook's controllers to go quiet", interval_s=0.5)


def run(cluster: LocalCluster, kube: Kube, work: Path) -> dict[str, float]:
    namespace = f"bench-admission-{uuid.uuid4().hex[:6]}"
    kube.create_namespace(namespace)
    webhook_cpu, _ = _cpus()
    try:
        with LocalWebhook(cluster, kube, work / "admission", cpus={webhook_cpu}) as webhook:
            _settled(cluster, kube, webhook.identity.username)
            figures = direct_load(cluster, kube, webhook, namespace, work / "admission")
            figures |= through_the_api_server(kube, webhook, namespace)
    finally:
        kube.delete_namespace(namespace)
    return figures
