"""``python -m webhook`` as a pod runs it: JSON logs, probes, metrics, a clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from devtools.controlplane.processes import free_port
from devtools.controlplane.waiting import wait_for

from .harness import SIDECAR_IMAGE, Tls

pytestmark = pytest.mark.cluster
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def quiet_namespace(kube: Kube) -> Iterator[str]:
    name = f"wh-proc-{uuid.uuid4().hex[:8]}"
    kube.create_namespace(name)
    yield name
    kube.delete_namespace(name)


def test_the_webhook_process_logs_json_serves_probes_and_metrics_and_stops_on_sigterm(
    cluster: LocalCluster, webhook_tls: Tls, quiet_namespace: str, tmp_path: Path
) -> None:
    health = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "SPOT_FAILOVER_WEBHOOK_SIDECAR_IMAGE": SIDECAR_IMAGE,
        "SPOT_FAILOVER_WEBHOOK_KUBECONFIG": str(cluster.kubeconfig),
        "SPOT_FAILOVER_WEBHOOK_LISTEN_ADDRESS": "127.0.0.1",
        "SPOT_FAILOVER_WEBHOOK_PORT": str(free_port()),
        "SPOT_FAILOVER_WEBHOOK_HEALTH_PORT": str(health),
        "SPOT_FAILOVER_WEBHOOK_TLS_CERT_FILE": str(webhook_tls.serving.cert),
        "SPOT_FAILOVER_WEBHOOK_TLS_KEY_FILE": str(webhook_tls.serving.key),
        "SPOT_FAILOVER_WEBHOOK_WATCH_NAMESPACES": quiet_namespace,
    }
    log = tmp_path / "webhook.log"
    with log.open("w") as output, requests.Session() as session:
        session.trust_env = False
        process = subprocess.Popen(
            [sys.executable, "-m", "webhook"], env=env, cwd=ROOT, stdout=output, stderr=output
        )
        try:

            def ready() -> bool:
                assert process.poll() is None, log.read_text()
                try:
                    return session.get(f"http://127.0.0.1:{health}/readyz", timeout=2).ok
                except requests.ConnectionError:
                    return False

            wait_for(ready, 60, "the webhook process to be ready")
            assert session.get(f"http://127.0.0.1:{health}/healthz", timeout=2).text == "ok\n"
            metrics = session.get(f"http://127.0.0.1:{health}/metrics", timeout=2).text
            assert "spot_failover_webhook_injected_total 0.0" in metrics
            assert "spot_failover_webhook_certificate_expiry_timestamp_seconds" in metrics
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    messages = [record["message"] for record in records]
    assert messages[0] == "starting"
    assert records[0]["settings"]["sidecar_image"] == SIDECAR_IMAGE
    assert "stopped" in messages
    assert all(record["program"] == "spot-failover-webhook" for record in records)
