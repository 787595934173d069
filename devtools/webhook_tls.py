"""A throwaway CA and a serving certificate for a webhook run on 127.0.0.1.

The API server verifies a webhook with the ``caBundle`` of its configuration; a webhook run
locally (in a test's thread or as a process) serves a certificate for ``127.0.0.1`` issued by a
CA made for the occasion, in files the webhook reads, so rotation can be played by replacing
them as a Secret volume update does.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from devtools.controlplane import pki

HOST = "127.0.0.1"
SERVING_VALIDITY = dt.timedelta(days=90)
"""As long as a real install's certificate lives between renewals, so that `spot-failover check`
finds a local install healthy."""


@dataclasses.dataclass
class Tls:
    """A CA and a serving certificate for 127.0.0.1, in files the webhook reads."""

    directory: Path
    ca: pki.KeyPair
    ca_key: ec.EllipticCurvePrivateKey
    serving: pki.KeyPair

    @property
    def ca_pem(self) -> bytes:
        return self.ca.cert.read_bytes()

    def serial(self) -> int:
        return x509.load_pem_x509_certificate(self.serving.cert.read_bytes()).serial_number

    def rotate(self) -> int:
        """Issue a new serving certificate from the same CA and swap it in, as a Secret
        volume update does (each file replaced at once); return its serial number."""
        fresh = pki.issue(
            self.directory, self.ca, self.ca_key, "next", common_name=HOST, server=True,
            hosts=(HOST,), validity=SERVING_VALIDITY,
        )  # fmt: skip
        fresh.key.replace(self.serving.key)
        fresh.cert.replace(self.serving.cert)
        return self.serial()


def make_tls(directory: Path) -> Tls:
    """A new CA and a serving certificate for 127.0.0.1 in ``directory`` (created if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = pki.create_ca(directory, "webhook-test-ca")
    serving = pki.issue(
        directory,
        ca,
        ca_key,
        "serving",
        common_name=HOST,
        server=True,
        hosts=(HOST,),
        validity=SERVING_VALIDITY,
    )
    return Tls(directory, ca, ca_key, serving)
