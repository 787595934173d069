"""What an admission review may cost: bounded size, time and bodies at once, over real HTTPS.

Uploads are made by hand on TLS sockets, so that a test can announce a length and stall.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator

import pytest
import requests

from webhook import intake
from webhook.server import PATH

from .harness import RunningWebhook, Tls
from .reviews import valid_review

pytestmark = pytest.mark.cluster


class Upload:
    """One client on its own TLS connection, sending a body of ``length`` bytes, slowly."""

    def __init__(self, running: RunningWebhook, tls: Tls, length: int) -> None:
        context = ssl.create_default_context(cafile=str(tls.ca.cert))
        raw = socket.create_connection(("127.0.0.1", running.settings.port), timeout=30)
        self.sock = context.wrap_socket(raw, server_hostname="127.0.0.1")
        head = (
            f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n"
        )
        self.sock.sendall(head.encode())

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def status(self) -> int:
        """The status line's code of the answer (waits for it)."""
        line = b""
        while not line.endswith(b"\r\n"):
            chunk = self.sock.recv(1)
            if not chunk:
                break
            line += chunk
        return int(line.split()[1])

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def uploads(running_webhook: RunningWebhook, webhook_tls: Tls) -> Iterator[list[Upload]]:
    opened: list[Upload] = []
    yield opened
    for upload in opened:
        upload.close()


def test_a_body_announced_larger_than_the_api_server_sends_is_refused_before_it_is_read(
    running_webhook: RunningWebhook, webhook_tls: Tls, uploads: list[Upload]
) -> None:
    upload = Upload(running_webhook, webhook_tls, intake.MAX_BODY_BYTES + 1)
    uploads.append(upload)
    assert upload.status() == 413


def test_a_body_that_stalls_is_given_up_after_the_body_timeout(
    running_webhook: RunningWebhook, webhook_tls: Tls, uploads: list[Upload]
) -> None:
    upload = Upload(running_webhook, webhook_tls, 1000)
    uploads.append(upload)
    upload.send(b'{"apiVersion":')
    assert upload.status() == 408


def test_stalled_large_uploads_get_a_few_places_and_valid_reviews_are_still_answered(
    running_webhook: RunningWebhook,
    webhook_tls: Tls,
    uploads: list[Upload],
    webhook_namespace: str,
) -> None:
    big = intake.MAX_BODY_BYTES - 1
    for _ in range(intake.LARGE_BODIES):
        upload = Upload(running_webhook, webhook_tls, big)
        upload.send(b"{" * 1024)
        uploads.append(upload)
    one_too_many = Upload(running_webhook, webhook_tls, big)
    uploads.append(one_too_many)
    one_too_many.send(b"{")
    assert one_too_many.status() == 503

    body = json.dumps(valid_review(webhook_namespace)).encode()
    with requests.Session() as session:
        session.trust_env = False
        answer = session.post(
            running_webhook.url,
            data=body,
            headers={"Content-Type": "application/json"},
            verify=str(webhook_tls.ca.cert),
            timeout=10,
        )
    assert answer.status_code == 200
    assert answer.json()["response"]["allowed"] is True
