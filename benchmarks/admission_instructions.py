"""Instructions per admission review, counted by callgrind: the figures of BENCHMARKS.md's
"Where a review's CPU goes". Run by hand, not by ``make bench`` (valgrind runs the review path
some fifty times slower, and needs Debian's ``valgrind`` package)::

    python -m benchmarks.admission_instructions [--counts 100,600] [--reviews FILE]

(``--reviews``: step 1's file of an earlier run, kept with ``record FILE``, to count the same
reviews again, another state of the code say).

1. On a fresh local control plane, the admission suite's two reviews
   (:func:`benchmarks.admission.suite_reviews`: a new pod of an opted-in Deployment, one of a
   Deployment that is not), and the ReplicaSets and Deployments that own them, as the webhook's
   watches deliver them.
2. For each count, one process under callgrind (``serve``): the webhook's review path as
   :class:`webhook.app.Webhook` wires it, with the shipped settings (the AdmissionServer over
   TLS, admission, the owner cache warmed with those objects, the metrics). kopf does not run,
   and the API client points nowhere: a review that needed the API would fail the count. It
   answers the reviews that a client process, not under callgrind, posts one at a time on one
   connection, 4 : 1 as in the suite, and stops.
3. The instructions of each run, and their difference per review: start-up, the warm-up and
   the stop are the same in every run, so they drop out.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import http.client
import json
import os
import re
import ssl
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any, Final

import uvloop
from kubernetes import client

from benchmarks import admission
from benchmarks.admission_load import UID_PLACEHOLDER, check_answer, schedule
from benchmarks.session import control_plane
from devtools import webhook_manifests
from devtools.controlplane.kube import Kube
from devtools.controlplane.processes import free_port
from devtools.webhook_tls import HOST, make_tls
from spot_common import logs
from webhook.__main__ import PROGRAM, QUIET
from webhook.app import Webhook
from webhook.server import PATH
from webhook.settings import Settings, env_name

COUNTS: Final = (100, 600)
SIDECAR_IMAGE: Final = "registry.example/spot-failover/sidecar:instructions"
NOWHERE: Final = "https://127.0.0.1:9"
"""Where the review path's API client points: nothing listens there."""
_COLLECTED = re.compile(r"Collected : (\d+)")


def _objects(kube: Kube, namespace: str) -> dict[str, list[dict[str, Any]]]:
    api = kube.api
    replicasets = kube.apps.list_namespaced_replica_set(namespace).items
    deployments = kube.apps.list_namespaced_deployment(namespace).items
    return {
        "replicasets": [api.sanitize_for_serialization(r) for r in replicasets],
        "deployments": [api.sanitize_for_serialization(d) for d in deployments],
    }


def record(path: Path) -> None:
    """Step 1: the reviews and the owners, in ``path``."""
    with control_plane() as (_, kube, _work, _eks):
        namespace = f"bench-instructions-{uuid.uuid4().hex[:6]}"
        kube.create_namespace(namespace)
        try:
            spec = {"reviews": admission.suite_reviews(kube, namespace)}
            spec |= _objects(kube, namespace)
        finally:
            kube.delete_namespace(namespace)
    path.write_text(json.dumps(spec))


def serve(spec_path: Path, count: int, ca_file: Path) -> int:
    """Step 2, in the process callgrind counts: answer ``count`` reviews of the client's."""
    spec = json.loads(spec_path.read_text())
    settings = Settings()
    logs.configure(settings.log_level, program=PROGRAM, quiet=QUIET)
    webhook = Webhook(settings, client.ApiClient(client.Configuration(host=NOWHERE)), "bench")
    for body in spec["replicasets"]:
        webhook.cache.replicaset_event("ADDED", body)
    for body in spec["deployments"]:
        webhook.cache.deployment_event("ADDED", body)
    gc.collect()
    gc.freeze()  # as the webhook's entry point does

    async def answer() -> int:
        await webhook.server.start()
        try:
            poster = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "benchmarks.admission_instructions",
                "post",
                str(spec_path),
                str(count),
                str(ca_file),
                str(settings.port),
            )
            return await poster.wait()
        finally:
            await webhook.server.stop()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        code = runner.run(answer())
    registry = webhook.metrics.registry
    calls = registry.get_sample_value("spot_failover_webhook_admission_api_calls_total") or 0
    answered = registry.get_sample_value(
        "spot_failover_webhook_admission_requests_total", {"code": "200"}
    )
    if code != 0 or calls or answered != count:
        print(f"poster {code}, {answered} answered, {calls} API calls", file=sys.stderr)
        return 1
    return 0


def post(spec_path: Path, count: int, ca_file: Path, port: int) -> int:
    """The client: ``count`` reviews, one at a time on one connection, each answer checked."""
    reviews = json.loads(spec_path.read_text())["reviews"]
    context = ssl.create_default_context(cafile=str(ca_file))
    connection = http.client.HTTPSConnection(HOST, port, context=context, timeout=120)
    headers = {"Content-Type": "application/json"}
    for index in schedule(reviews, count):
        kind, body = reviews[index]["kind"], reviews[index]["body"]
        uid = str(uuid.uuid4())
        connection.request("POST", PATH, body.replace(UID_PLACEHOLDER, uid).encode(), headers)
        answer = connection.getresponse()
        text = answer.read()
        problem = f"HTTP {answer.status}" if answer.status != 200 else ""
        problem = problem or check_answer(json.loads(text), uid, kind)
        if problem:
            print(f"review of a {kind} pod: {problem}", file=sys.stderr)
            return 1
    connection.close()
    return 0


def _environment(tls_dir: Path) -> tuple[dict[str, str], Path]:
    """The review path's settings: the shipped Deployment's, and the wiring; and the CA file."""
    tls = make_tls(tls_dir)
    wiring = {
        "listen_address": HOST,
        "port": str(free_port()),
        "health_port": "0",
        "tls_cert_file": str(tls.serving.cert),
        "tls_key_file": str(tls.serving.key),
        "sidecar_image": SIDECAR_IMAGE,
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPOT_FAILOVER_WEBHOOK_")}
    env |= webhook_manifests.shipped_env()
    env |= {env_name(field): value for field, value in wiring.items()}
    return env, tls.ca.cert


def instructions(spec: Path, count: int, work: Path) -> int:
    """Instructions callgrind counts in a ``serve`` run of ``count`` reviews."""
    env, ca_file = _environment(work / f"tls-{count}")
    log = work / f"valgrind-{count}.log"
    argv = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={work / f'callgrind-{count}.out'}",
        f"--log-file={log}",
        sys.executable,
        "-m",
        "benchmarks.admission_instructions",
        "serve",
        str(spec),
        str(count),
        str(ca_file),
    ]
    subprocess.run(argv, env=env, check=True, timeout=3600)
    found = _COLLECTED.search(log.read_text())
    if found is None:
        raise RuntimeError(f"callgrind reported no count:\n{log.read_text()[-2000:]}")
    return int(found.group(1))


def measure(counts: tuple[int, ...], reviews: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="spot-failover-instructions-") as tmp:
        work = Path(tmp)
        spec = reviews or work / "reviews.json"
        if reviews is None:
            record(spec)
        counted = {count: instructions(spec, count, work) for count in counts}
    for count, total in counted.items():
        print(f"{count} reviews: {total} instructions")
    low, high = min(counts), max(counts)
    per_review = (counted[high] - counted[low]) / (high - low)
    print(f"per review: {per_review:.0f} instructions ({per_review / 1e6:.2f} M)")


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve"]:
        return serve(Path(argv[1]), int(argv[2]), Path(argv[3]))
    if argv[:1] == ["post"]:
        return post(Path(argv[1]), int(argv[2]), Path(argv[3]), int(argv[4]))
    if argv[:1] == ["record"]:
        record(Path(argv[1]))
        return 0
    parser = argparse.ArgumentParser(prog="python -m benchmarks.admission_instructions")
    parser.add_argument("--counts", default=",".join(map(str, COUNTS)), help="reviews per run")
    parser.add_argument("--reviews", type=Path, default=None, help="a file of `record FILE`")
    args = parser.parse_args(argv)
    measure(tuple(int(n) for n in args.counts.split(",")), args.reviews)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
