"""Is the webhook's serving certificate one the API server will accept, now and for a while?

Pure: PEM bytes and ``now`` in, :class:`~spot_failover.checks.Result` values out. The API server
calls the webhook over TLS and trusts only the configuration's ``caBundle``, so the certificate
must be valid now, issued by a CA in that bundle, and name the host the API server calls (the
Service's DNS name, or the URL's host). Renewal starts 30 days before expiry (the certificate
CronJob, cert-manager's renewBefore), so fewer than 21 days left means renewal is failing.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from spot_failover.checks import Result, Status, ok

WARN_BEFORE: Final = dt.timedelta(days=21)
FAIL_BEFORE: Final = dt.timedelta(days=7)
CHECK: Final = "certificate"


def certificate_results(
    group: str, serving: bytes | None, ca_bundle: bytes, host: str, now: dt.datetime
) -> list[Result]:
    if serving is None:
        return [
            Result(
                group,
                CHECK,
                Status.UNKNOWN,
                "the serving certificate could not be read",
                "read it with the rights to get the webhook's TLS Secret, or from a replica",
            )
        ]
    try:
        (certificate, *_) = x509.load_pem_x509_certificates(serving)
    except ValueError as error:
        return [
            Result(group, CHECK, Status.FAIL, f"the serving certificate does not parse: {error}")
        ]
    return [
        _validity(group, certificate, now),
        _issued_by_bundle(group, certificate, ca_bundle),
        _names(group, certificate, host),
    ]


def _validity(group: str, certificate: x509.Certificate, now: dt.datetime) -> Result:
    after, before = certificate.not_valid_after_utc, certificate.not_valid_before_utc
    left = after - now
    renew = "renew it: re-run the certificate Job (deploy/certgen) or `cmctl renew`"
    if now < before:
        return Result(
            group,
            CHECK,
            Status.FAIL,
            f"the serving certificate is valid only from {before:%Y-%m-%dT%H:%M:%SZ}",
            "check the clocks",
        )
    if left <= dt.timedelta(0):
        return Result(
            group,
            CHECK,
            Status.FAIL,
            f"the serving certificate expired at {after:%Y-%m-%dT%H:%M:%SZ}",
            renew,
        )
    days = left.days
    message = f"the serving certificate expires in {days} days ({after:%Y-%m-%d})"
    if left < FAIL_BEFORE:
        return Result(group, CHECK, Status.FAIL, message, renew)
    if left < WARN_BEFORE:
        return Result(group, CHECK, Status.WARN, message + ": renewal is overdue", renew)
    return ok(group, CHECK, message)


def _issued_by_bundle(group: str, certificate: x509.Certificate, ca_bundle: bytes) -> Result:
    try:
        authorities = x509.load_pem_x509_certificates(ca_bundle) if ca_bundle.strip() else []
    except ValueError:
        authorities = []
    for authority in authorities:
        try:
            certificate.verify_directly_issued_by(authority)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return ok(
            group, "ca-bundle", "the caBundle holds the CA that issued the serving certificate"
        )
    return Result(
        group,
        "ca-bundle",
        Status.FAIL,
        "the caBundle does not hold the CA that issued the serving certificate: "
        "the API server cannot call the webhook, and pods get no sidecar",
        "set the configuration's caBundle to the webhook's CA (the certificate Job does; with "
        "cert-manager, check the cert-manager.io/inject-ca-from annotation)",
    )


def _names(group: str, certificate: x509.Certificate, host: str) -> Result:
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        dns: list[str] = []
        ips: list[str] = []
    else:
        dns = names.get_values_for_type(x509.DNSName)
        ips = [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]
    try:
        wanted = str(ipaddress.ip_address(host))
        found = wanted in ips
    except ValueError:
        found = host in dns
    if found:
        return ok(group, "certificate-names", f"the serving certificate names {host}")
    return Result(
        group,
        "certificate-names",
        Status.FAIL,
        f"the serving certificate does not name {host}, the host the API server calls "
        f"(it names {', '.join(dns + ips) or 'nothing'})",
        "re-issue it for the Service's DNS name",
    )
