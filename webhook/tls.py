"""The HTTPS server's certificate, reloaded in place when its files are rotated.

cert-manager or the one-shot generator writes the serving certificate into a Secret; the kubelet
swaps the mounted files when the Secret changes. The webhook must pick the new certificate up
without a restart, and without a moment in which it does not listen (``failurePolicy: Ignore``
turns every refused connection into a pod created without its sidecar).

kopf's own ``WebhookServer`` re-reads its files every minute and, when they changed, stops and
restarts its listener. Here the listening socket stays; the one :class:`ssl.SSLContext` it uses
is loaded again, which OpenSSL applies to every handshake from then on (connections already
open keep their certificate). SNI-based context switching would be the other way, but the API
server sends no SNI when it calls a webhook by IP address, as it does in tests.

A change is detected by ``stat`` (modification time, inode and size of both files, following
the Secret volume's symlinks), which costs nothing. New files are first loaded into a scratch
context; only if that works is the live context touched, so a half-written pair or a key that
does not match its certificate leaves the old certificate serving (and is retried on the next
check). Kubernetes Secret volumes swap both files at once, so that case is rare.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Final

from cryptography import x509

from webhook.core.errors import CertificateError

log = logging.getLogger(__name__)

_MIN_TLS: Final = ssl.TLSVersion.TLSv1_2


@dataclasses.dataclass(frozen=True, slots=True)
class FileStamp:
    """What ``stat`` says about one file; any difference means "changed"."""

    mtime_ns: int
    inode: int
    size: int


def stamp(path: Path) -> FileStamp | None:
    """The file's stamp, or ``None`` if it cannot be read right now (rotation in progress)."""
    try:
        info = path.stat()
    except OSError:
        return None
    return FileStamp(info.st_mtime_ns, info.st_ino, info.st_size)


def new_server_context() -> ssl.SSLContext:
    """A server-side context with modern defaults (TLS 1.2+, no client certificates asked)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = _MIN_TLS
    return context


class ReloadingCertificate:
    """One live :class:`ssl.SSLContext`, whose certificate follows the files.

    The constructor loads the files once and raises :class:`CertificateError` if they are not
    usable, so a misconfigured webhook stops at start-up with a clear message.
    """

    def __init__(
        self,
        cert_file: Path,
        key_file: Path,
        *,
        on_reload: Callable[[ReloadingCertificate], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.cert_file = cert_file
        self.key_file = key_file
        self.context = new_server_context()
        self._on_reload = on_reload
        self._on_error = on_error
        self._stamps = self._current_stamps()
        self.not_after: dt.datetime | None = None
        self.serial: int | None = None
        self._load(self.context)
        self._describe()
        self.reloads = 0

    def _current_stamps(self) -> tuple[FileStamp | None, FileStamp | None]:
        return stamp(self.cert_file), stamp(self.key_file)

    def _load(self, context: ssl.SSLContext) -> None:
        try:
            context.load_cert_chain(os.fspath(self.cert_file), os.fspath(self.key_file))
        except (OSError, ssl.SSLError) as error:
            raise CertificateError(
                f"cannot load the serving certificate {self.cert_file} with key "
                f"{self.key_file}: {error}"
            ) from error

    def _describe(self) -> None:
        details = _describe(self.cert_file)
        if details is not None:
            self.serial, self.not_after = details

    def check(self) -> bool:
        """Reload if the files changed; True if the live context now has a new certificate.

        Never raises: a failed reload keeps the old certificate and is reported through
        ``on_error`` (a log line and a metric), then retried at the next check.
        """
        current = self._current_stamps()
        if current == self._stamps or None in current:
            return False
        try:
            self._load(new_server_context())  # the files as they are now are a usable pair
            if self._current_stamps() != current:
                return False  # changed while we read them: try again next time
            self._load(self.context)
            self._describe()
        except CertificateError as error:
            log.warning(
                "certificate reload failed; still serving the previous one",
                extra={"error": str(error)},
            )
            if self._on_error is not None:
                self._on_error(str(error))
            return False
        self._stamps = current
        self.reloads += 1
        log.info(
            "serving certificate reloaded",
            extra={"serial": f"{self.serial:x}" if self.serial else None, "not_after": _iso(self)},
        )
        if self._on_reload is not None:
            self._on_reload(self)
        return True

    def expired(self, now: dt.datetime) -> bool:
        """True if the certificate served now is past its ``notAfter``."""
        return self.not_after is not None and now >= self.not_after


def _iso(cert: ReloadingCertificate) -> str | None:
    return cert.not_after.isoformat() if cert.not_after else None


def _describe(cert_file: Path) -> tuple[int, dt.datetime] | None:
    """Serial number and expiry of the first certificate in the file, for logs and metrics."""
    try:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    except (OSError, ValueError):
        return None
    return cert.serial_number, cert.not_valid_after_utc
