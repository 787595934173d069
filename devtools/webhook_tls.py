"""A CA and a serving certificate for a webhook run on 127.0.0.1, made by the webhook's own code.

The API server verifies a webhook with the ``caBundle`` of its configuration; a webhook run
locally (in a test's thread or as a process) serves a certificate for ``127.0.0.1`` issued by a
CA made for the occasion, in files the webhook reads, so rotation can be played by replacing
them as a Secret volume update does. Both are issued by :mod:`webhook.core.certificates`, as the
certificate Job issues them for a real install (the same key type, extensions and lifetimes), so
``spot-failover check`` judges a local install as it would a real one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from devtools.controlplane import pki
from webhook.core.certificates import KeyPair, issue_ca, issue_serving

HOST = "127.0.0.1"


@dataclasses.dataclass
class Tls:
    """A CA and a serving certificate for 127.0.0.1, in files the webhook reads."""

    directory: Path
    ca: pki.KeyPair
    serving: pki.KeyPair

    @property
    def ca_pem(self) -> bytes:
        return self.ca.cert.read_bytes()

    @property
    def ca_key(self) -> ec.EllipticCurvePrivateKey:
        """The CA's key, for tests that issue certificates of their own from this CA."""
        key = serialization.load_pem_private_key(self.ca.key.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise TypeError(f"{self.ca.key} does not hold an EC key")
        return key

    def serial(self) -> int:
        return x509.load_pem_x509_certificate(self.serving.cert.read_bytes()).serial_number

    def rotate(self) -> int:
        """Issue a new serving certificate from the same CA and swap it in, as a Secret
        volume update does (each file replaced at once); return its serial number."""
        ca = KeyPair(self.ca.cert.read_bytes(), self.ca.key.read_bytes())
        fresh = _write(self.directory, "next", issue_serving(ca, (HOST,), _now()))
        fresh.key.replace(self.serving.key)
        fresh.cert.replace(self.serving.cert)
        return self.serial()


def make_tls(directory: Path) -> Tls:
    """A new CA and a serving certificate for 127.0.0.1 in ``directory`` (created if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    now = _now()
    ca = issue_ca(now, "webhook-test-ca")
    serving = issue_serving(ca, (HOST,), now)
    return Tls(directory, _write(directory, "ca", ca), _write(directory, "serving", serving))


def _write(directory: Path, name: str, pair: KeyPair) -> pki.KeyPair:
    files = pki.KeyPair(directory / f"{name}.crt", directory / f"{name}.key")
    files.key.touch(mode=0o600)
    files.key.write_bytes(pair.key_pem)
    files.cert.write_bytes(pair.cert_pem)
    return files


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
