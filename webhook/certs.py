"""One CA for all webhook replicas, without cert-manager: generate once, renew the leaf in time.

The API server verifies the webhook with the ``caBundle`` of the MutatingWebhookConfiguration.
Every replica must therefore serve a certificate from the *same* CA; a CA per replica (what a
self-signing webhook does at start-up) makes replicas overwrite each other's ``caBundle`` and
fail each other's handshakes. So the certificate is made once, outside the replicas, by
``spot-failover-webhook bootstrap-certs`` (a Job in deploy/, and a weekly CronJob):

1. the CA lives in its own Secret (``ca.crt``, ``ca.key``), readable only by that Job's account;
   it is created if absent and kept for its 10 years;
2. the serving Secret (``tls.crt``, ``tls.key``, ``ca.crt``; the shape cert-manager writes) is
   (re)issued from that CA when it is missing, names other hosts, does not chain to the CA, or
   expires within 30 days; the replicas pick the new files up without a restart;
3. the CA is written into the webhook configuration's ``caBundle``.

Running it again changes nothing while all is well. Generation is pure (:func:`issue_ca`,
:func:`issue_serving`, :func:`needs_serving`); :func:`bootstrap` does the API calls.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from kubernetes import client

from spot_common.api_errors import NotFound
from webhook.adapters.errors import from_client_error

log = logging.getLogger(__name__)

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
    """A serving certificate for ``hosts`` signed by ``ca``, valid for a year (or the CA's life)."""
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
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(host) for host in hosts]), critical=False
        )
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
        (lambda: _dns_names(cert) == set(hosts), "the serving certificate names other hosts"),
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


def _dns_names(cert: x509.Certificate) -> set[str]:
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return set(names.get_values_for_type(x509.DNSName))


# --- the one-shot job -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Names:
    """Where the certificates go; the defaults are deploy/'s names."""

    namespace: str = "spot-failover"
    service: str = "spot-failover-webhook"
    ca_secret: str = "spot-failover-webhook-ca"  # noqa: S105 - a Secret's name
    tls_secret: str = "spot-failover-webhook-tls"  # noqa: S105 - a Secret's name
    webhook_configuration: str = "spot-failover"


def bootstrap(api: client.ApiClient, names: Names, now: dt.datetime) -> list[str]:
    """Make the Secrets and the ``caBundle`` right; return what was changed (empty: nothing)."""
    core = client.CoreV1Api(api)
    changes: list[str] = []
    ca = _read_pair(core, names.namespace, names.ca_secret, "ca.crt", "ca.key")
    if ca is None or not ca_usable(ca, now):
        ca = issue_ca(now)
        ca_data = {"ca.crt": ca.cert_pem, "ca.key": ca.key_pem}
        _write_secret(core, names.namespace, names.ca_secret, ca_data)
        changes.append(f"issued a new CA into Secret {names.ca_secret}")
    hosts = service_hosts(names.service, names.namespace)
    serving = _read_pair(core, names.namespace, names.tls_secret, "tls.crt", "tls.key")
    reason = needs_serving(serving, ca, hosts, now)
    if reason is not None:
        serving = issue_serving(ca, hosts, now)
        data = {"tls.crt": serving.cert_pem, "tls.key": serving.key_pem, "ca.crt": ca.cert_pem}
        _write_secret(core, names.namespace, names.tls_secret, data, "kubernetes.io/tls")
        changes.append(f"issued a serving certificate into Secret {names.tls_secret}: {reason}")
    if _inject_ca_bundle(client.AdmissionregistrationV1Api(api), names.webhook_configuration, ca):
        changes.append(
            f"wrote the CA into MutatingWebhookConfiguration {names.webhook_configuration}"
        )
    return changes


def _read_pair(
    core: client.CoreV1Api, namespace: str, name: str, cert_key: str, key_key: str
) -> KeyPair | None:
    try:
        secret = core.read_namespaced_secret(name, namespace)
    except Exception as error:
        typed = from_client_error(f"get Secret {namespace}/{name}", error)
        if isinstance(typed, NotFound):
            return None
        raise typed from error
    data: Mapping[str, str] = secret.data or {}
    if cert_key not in data or key_key not in data:
        return None
    return KeyPair(base64.b64decode(data[cert_key]), base64.b64decode(data[key_key]))


def _write_secret(
    core: client.CoreV1Api,
    namespace: str,
    name: str,
    data: Mapping[str, bytes],
    secret_type: str = "Opaque",  # noqa: S107 - a Secret's type
) -> None:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "spot-failover"},
        },
        "type": secret_type,
        "data": {key: base64.b64encode(value).decode("ascii") for key, value in data.items()},
    }
    operation = f"write Secret {namespace}/{name}"
    try:
        core.replace_namespaced_secret(name, namespace, body)
    except Exception as error:
        typed = from_client_error(operation, error)
        if not isinstance(typed, NotFound):
            raise typed from error
        try:
            core.create_namespaced_secret(namespace, body)
        except Exception as create_error:
            raise from_client_error(operation, create_error) from create_error


def _inject_ca_bundle(admission: client.AdmissionregistrationV1Api, name: str, ca: KeyPair) -> bool:
    operation = f"write caBundle of MutatingWebhookConfiguration {name}"
    bundle = base64.b64encode(ca.cert_pem).decode("ascii")
    try:
        configuration = admission.read_mutating_webhook_configuration(name)
        stale = [
            hook for hook in configuration.webhooks or () if hook.client_config.ca_bundle != bundle
        ]
        if not stale:
            return False
        for hook in stale:
            hook.client_config.ca_bundle = bundle
        admission.replace_mutating_webhook_configuration(name, configuration)
    except Exception as error:
        raise from_client_error(operation, error) from error
    return True
