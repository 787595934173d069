"""The webhook's CA and serving certificate: what is issued, and when it must be issued again.

The job that stores them in Secrets runs against the cluster in tests/webhook/test_bootstrap.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress

import pytest
from cryptography import x509

from webhook.core.certificates import (
    CA_VALIDITY,
    RENEW_BEFORE,
    SERVING_VALIDITY,
    KeyPair,
    ca_usable,
    issue_ca,
    issue_serving,
    needs_serving,
    service_hosts,
)

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
HOSTS = service_hosts("spot-failover-webhook", "spot-failover")


@pytest.fixture(scope="module")
def ca() -> KeyPair:
    return issue_ca(NOW)


@pytest.fixture(scope="module")
def serving(ca: KeyPair) -> KeyPair:
    return issue_serving(ca, HOSTS, NOW)


def certificate(pair: KeyPair) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pair.cert_pem)


def test_the_service_is_named_every_way_the_api_server_may_call_it() -> None:
    assert HOSTS == (
        "spot-failover-webhook.spot-failover.svc",
        "spot-failover-webhook.spot-failover.svc.cluster.local",
        "spot-failover-webhook.spot-failover",
        "spot-failover-webhook",
    )


def test_the_ca_may_sign_leaves_only_and_lives_ten_years(ca: KeyPair) -> None:
    cert = certificate(ca)
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca
    assert constraints.path_length == 0
    assert cert.not_valid_after_utc == NOW + CA_VALIDITY


def test_the_serving_certificate_is_issued_by_the_ca_for_the_service_for_a_year(
    ca: KeyPair, serving: KeyPair
) -> None:
    cert = certificate(serving)
    cert.verify_directly_issued_by(certificate(ca))
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == list(HOSTS)
    assert cert.not_valid_after_utc == NOW + SERVING_VALIDITY
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_a_serving_certificate_never_outlives_its_ca(ca: KeyPair) -> None:
    late = NOW + CA_VALIDITY - dt.timedelta(days=10)
    cert = certificate(issue_serving(ca, HOSTS, late))
    assert cert.not_valid_after_utc == certificate(ca).not_valid_after_utc


def test_an_ip_address_is_named_as_one() -> None:
    local = issue_ca(NOW)
    pair = issue_serving(local, ("127.0.0.1",), NOW)
    names = certificate(pair).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert names.get_values_for_type(x509.DNSName) == []
    assert needs_serving(pair, local, ("127.0.0.1",), NOW) is None


def test_a_fresh_serving_certificate_is_kept(ca: KeyPair, serving: KeyPair) -> None:
    assert needs_serving(serving, ca, HOSTS, NOW + dt.timedelta(days=1)) is None


def test_why_a_serving_certificate_must_be_issued_again(ca: KeyPair, serving: KeyPair) -> None:
    near_expiry = NOW + SERVING_VALIDITY - RENEW_BEFORE + dt.timedelta(minutes=1)
    other_ca = issue_ca(NOW)
    broken = dataclasses.replace(serving, cert_pem=b"not a certificate")
    reasons = {
        "missing": needs_serving(None, ca, HOSTS, NOW),
        "unreadable": needs_serving(broken, ca, HOSTS, NOW),
        "another CA": needs_serving(serving, other_ca, HOSTS, NOW),
        "other hosts": needs_serving(serving, ca, HOSTS[:1], NOW),
        "near expiry": needs_serving(serving, ca, HOSTS, near_expiry),
    }
    assert reasons == {
        "missing": "there is no serving certificate yet",
        "unreadable": "the serving certificate or key does not parse",
        "another CA": "the serving certificate was not issued by the CA",
        "other hosts": "the serving certificate names other hosts",
        "near expiry": f"the serving certificate expires on {NOW + SERVING_VALIDITY:%Y-%m-%d}",
    }


def test_a_ca_is_replaced_only_when_unreadable_or_near_its_end(ca: KeyPair) -> None:
    assert ca_usable(ca, NOW + CA_VALIDITY - RENEW_BEFORE - dt.timedelta(days=1))
    assert not ca_usable(ca, NOW + CA_VALIDITY - RENEW_BEFORE + dt.timedelta(days=1))
    assert not ca_usable(dataclasses.replace(ca, key_pem=b"not a key"), NOW)
