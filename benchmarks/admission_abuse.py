"""The webhook under abuse: 32 clients each stalling mid-body, while valid reviews keep coming.

The real webhook process (:class:`devtools.local_webhook.LocalWebhook`). Each abusive client
opens its own TLS connection, announces the largest body the webhook accepts, sends half of it
and stalls; when the webhook gives up on it (408, or 503 when all places for large bodies are
taken), it connects again, for the whole window. Meanwhile a client posts a valid review every
100 ms. Figures: the webhook's peak RSS (``/proc/<pid>/status``, sampled every 20 ms), its RSS
before the abuse, and the fraction of valid reviews answered "allowed" within 1 s.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
import uuid
from pathlib import Path
from typing import Final

import requests

from benchmarks import admission_reviews
from benchmarks.admission_load import UID_PLACEHOLDER
from devtools.controlplane.cluster import LocalCluster
from devtools.controlplane.kube import Kube
from devtools.local_webhook import LocalWebhook
from webhook import intake
from webhook.server import PATH

CLIENTS: Final = 32
WINDOW_S: Final = 20.0
VALID_EVERY_S: Final = 0.1
ANSWER_WITHIN_S: Final = 1.0


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _stall(port: int, ca_file: Path, stop: threading.Event) -> None:
    """One abusive client: announce the largest body, send half, stall; again when dropped."""
    context = ssl.create_default_context(cafile=str(ca_file))
    length = intake.MAX_BODY_BYTES - 1
    half = b"x" * (length // 2)
    while not stop.is_set():
        try:
            raw = socket.create_connection(("127.0.0.1", port), timeout=WINDOW_S)
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
                head = f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n"
                sock.sendall(head.encode())
                sock.sendall(half)
                sock.recv(64)  # the webhook's answer (408 or 503), or the connection closed
        except OSError:
            time.sleep(0.05)


def _valid_reviews(webhook: LocalWebhook, namespace: str, ca_file: Path) -> tuple[int, int]:
    """(answered allowed within 1 s, sent) over the window."""
    pod = {
        "metadata": {"name": "probe", "namespace": namespace},
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]},
    }
    template = admission_reviews.review(pod)
    answered = sent = 0
    deadline = time.monotonic() + WINDOW_S
    with requests.Session() as session:
        session.trust_env = False
        while time.monotonic() < deadline:
            body = json.loads(json.dumps(template).replace(UID_PLACEHOLDER, str(uuid.uuid4())))
            sent += 1
            started = time.monotonic()
            try:
                answer = session.post(
                    webhook.url, json=body, verify=str(ca_file), timeout=ANSWER_WITHIN_S
                )
                allowed = answer.status_code == 200 and answer.json()["response"]["allowed"]
                if allowed and time.monotonic() - started <= ANSWER_WITHIN_S:
                    answered += 1
            except requests.RequestException:
                pass
            time.sleep(max(0.0, VALID_EVERY_S - (time.monotonic() - started)))
    return answered, sent


def run(cluster: LocalCluster, kube: Kube, work: Path) -> dict[str, float]:
    namespace = f"bench-abuse-{uuid.uuid4().hex[:6]}"
    kube.create_namespace(namespace)
    try:
        with LocalWebhook(cluster, kube, work / "abuse", namespaces={namespace}) as webhook:
            pid, tls = webhook.pid, webhook.tls
            if pid is None or tls is None:
                raise RuntimeError("the webhook is not running")
            time.sleep(2.0)  # let start-up allocations settle before the baseline
            baseline = _rss_mib(pid)
            peak = [baseline]
            stop = threading.Event()

            def sample() -> None:
                while not stop.is_set():
                    peak[0] = max(peak[0], _rss_mib(pid))
                    time.sleep(0.02)

            threads = [threading.Thread(target=sample, daemon=True)] + [
                threading.Thread(target=_stall, args=(webhook.port, tls.ca.cert, stop), daemon=True)
                for _ in range(CLIENTS)
            ]
            for thread in threads:
                thread.start()
            answered, sent = _valid_reviews(webhook, namespace, tls.ca.cert)
            stop.set()
            for thread in threads:
                thread.join(timeout=WINDOW_S)
    finally:
        kube.delete_namespace(namespace)
    return {
        "webhook_rss_mib_before_abuse": baseline,
        "webhook_rss_mib_under_stalled_uploads": peak[0],
        "webhook_valid_reviews_answered_during_abuse": answered / sent if sent else 0.0,
    }
