"""The webhook's CA and serving certificate: issued, and checked for whether they still serve.

Everything here computes on PEM bytes and a given ``now``; nothing reads or writes a file, a
Secret or the clock. Keys are EC P-256. :func:`issue_ca` makes the CA (10 years),
:func:`issue_serving` a serving certificate for the Service's names signed by it (a year, or
the CA's remaining life); :func:`ca_usable` and :func:`needs_serving` say whether what exists
can stay. :mod:`webhook.bootstrap` runs them against the cluster's Secrets.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
from collections.abc import Callable
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_VALIDITY: Final = dt.timedelta(days=3650)
SERVING_VALIDITY: Final = dt.timedelta(days=365)
RENEW_BEFORE: Final = dt.timedelta(days=30)
_BACKDATE: Final = dt.timedelta(minutes=5)
"""Certificates start slightly in the past, for clocks a little behind ours."""


@dataclasses.dataclass(frozen=True, slots=True)
class KeyPair:
    cert_pem: bytes
    key_pem: bytes


def service_hosts(service: str, namespace: str) -> tuple[str, ...]:
    """The names the API server may use to reach the webhook's Service."""
    return (
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
        f"{service}.{namespace}",
        service,
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def issue_ca(now: dt.datetime, common_name: str = "spot-failover-webhook-ca") -> KeyPair:
    key = ec.generate_private_key(ec.SECP256R1())
    usage = x509.KeyUsage(
        digital_signature=True,
        key_cert_sign=True,
        crl_sign=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        encipher_only=False,
        decipher_only=False,
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def issue_serving(ca: KeyPair, hosts: tuple[str, ...], now: dt.datetime) -> KeyPair:
    """A serving certificate for ``hosts`` signed by ``ca``, valid for a year (or the CA's life).

    A host that is an IP address is named as one (a webhook run locally is called on
    127.0.0.1); the Service's names are DNS names.
    """
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise TypeError("the CA key is not an EC key")
    key = ec.generate_private_key(ec.SECP256R1())
    not_after = min(now + SERVING_VALIDITY, ca_cert.not_valid_after_utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(list(map(_san, hosts))), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def ca_usable(ca: KeyPair, now: dt.datetime) -> bool:
    """The CA parses and outlives the next serving certificate's renewal margin.

    A new CA means a new ``caBundle``; replicas still serving the old certificate fail
    handshakes (and so let pods through without the sidecar) until they reload, for up to
    about a minute. With a 10-year CA that happens once a decade.
    """
    try:
        cert = x509.load_pem_x509_certificate(ca.cert_pem)
        serialization.load_pem_private_key(ca.key_pem, password=None)
    except ValueError:
        return False
    return cert.not_valid_after_utc - now > RENEW_BEFORE


def needs_serving(
    serving: KeyPair | None, ca: KeyPair, hosts: tuple[str, ...], now: dt.datetime
) -> str | None:
    """Why the serving certificate must be (re)issued, or ``None`` if it is fine."""
    if serving is None:
        return "there is no serving certificate yet"
    try:
        cert = x509.load_pem_x509_certificate(serving.cert_pem)
        ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
        serialization.load_pem_private_key(serving.key_pem, password=None)
    except ValueError:
        return "the serving certificate or key does not parse"
    checks: tuple[tuple[Callable[[], bool], str], ...] = (
        (lambda: _issued_by(cert, ca_cert), "the serving certificate was not issued by the CA"),
        (lambda: _hosts(cert) == set(hosts), "the serving certificate names other hosts"),
        (
            lambda: cert.not_valid_after_utc - now > RENEW_BEFORE,
            f"the serving certificate expires on {cert.not_valid_after_utc:%Y-%m-%d}",
        ),
    )
    return next((reason for ok, reason in checks if not ok()), None)


def _issued_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _hosts(cert: x509.Certificate) -> set[str]:
    """The DNS names and IP addresses the certificate is for."""
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    addresses = {str(address) for address in names.get_values_for_type(x509.IPAddress)}
    return set(names.get_values_for_type(x509.DNSName)) | addresses
