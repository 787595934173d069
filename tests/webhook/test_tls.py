"""The serving certificate follows its files without the listener ever closing."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest
from cryptography import x509

from devtools.controlplane import pki
from webhook.core.errors import CertificateError
from webhook.tls import ReloadingCertificate

from .harness import Tls, make_tls


@pytest.fixture
def tls(tmp_path: Path) -> Tls:
    return make_tls(tmp_path)


async def served_serial(port: int, ca: Path) -> int:
    client = ssl.create_default_context(cafile=str(ca))
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client)
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    await writer.wait_closed()
    return x509.load_der_x509_certificate(der).serial_number


async def serving(certificate: ReloadingCertificate, tls: Tls) -> list[int]:
    """Serial numbers served: before rotation, after it, and after a broken rotation."""

    async def ignore(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(ignore, "127.0.0.1", 0, ssl=certificate.context)
    port = server.sockets[0].getsockname()[1]
    try:
        serials = [await served_serial(port, tls.ca.cert)]
        tls.rotate()
        assert certificate.check()
        serials.append(await served_serial(port, tls.ca.cert))
        other_key = pki.issue(
            tls.directory, tls.ca, tls.ca_key, "other", common_name="x", server=True
        ).key
        tls.serving.key.write_bytes(other_key.read_bytes())  # a key that does not match
        assert not certificate.check()
        serials.append(await served_serial(port, tls.ca.cert))
    finally:
        server.close()
        await server.wait_closed()
    return serials


def test_a_rotated_certificate_is_served_on_the_same_listener_and_a_broken_one_is_not(
    tls: Tls,
) -> None:
    errors: list[str] = []
    reloads: list[int] = []
    certificate = ReloadingCertificate(
        tls.serving.cert,
        tls.serving.key,
        on_reload=lambda c: reloads.append(c.serial or 0),
        on_error=errors.append,
    )
    first = tls.serial()
    before, after, after_broken = asyncio.run(serving(certificate, tls))
    assert before == first
    assert after != first
    assert after_broken == after
    assert reloads == [after]
    assert len(errors) == 1
    assert "cannot load the serving certificate" in errors[0]


def test_unchanged_files_are_not_reloaded(tls: Tls) -> None:
    certificate = ReloadingCertificate(tls.serving.cert, tls.serving.key)
    assert not certificate.check()
    assert certificate.reloads == 0


def test_a_missing_certificate_stops_the_start_with_the_path_in_the_message(
    tmp_path: Path,
) -> None:
    with pytest.raises(CertificateError, match=r"tls\.crt"):
        ReloadingCertificate(tmp_path / "tls.crt", tmp_path / "tls.key")
