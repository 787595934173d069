"""The sidecar's Kubernetes credentials: the pod's own, exactly as the kubelet provides them.

In every pod the kubelet sets ``KUBERNETES_SERVICE_HOST`` and ``KUBERNETES_SERVICE_PORT``; the
webhook mounts the pod's ServiceAccount volume (``token``, ``ca.crt``, ``namespace``) into the
sidecar at the standard path. The token is projected and short-lived: the kubelet rewrites the
file well before it expires, so it is read again every :data:`TOKEN_REREAD_S` seconds (client-go
does the same), never kept for the life of the process.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

from sidecar.adapters.errors import NoCredentials

SERVICE_ACCOUNT_DIR: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount")
HOST_ENV: Final = "KUBERNETES_SERVICE_HOST"
PORT_ENV: Final = "KUBERNETES_SERVICE_PORT"
TOKEN_REREAD_S: Final = 60.0


@dataclasses.dataclass(frozen=True)
class InCluster:
    """Where the API server is and how this pod proves who it is."""

    server: str
    """``https://host:port`` of the API server's in-cluster Service."""
    ca_file: Path
    token_file: Path

    @classmethod
    def from_pod(cls, environ: Mapping[str, str], directory: Path) -> InCluster:
        """The credentials a kubelet gave this container; :class:`NoCredentials` names what
        is missing."""
        host, port = environ.get(HOST_ENV, ""), environ.get(PORT_ENV, "")
        if not host or not port:
            raise NoCredentials(
                f"{HOST_ENV} and {PORT_ENV} are not set: the sidecar must run in a pod"
            )
        for name in ("token", "ca.crt"):
            if not (directory / name).is_file():
                raise NoCredentials(
                    f"no {directory / name}: the ServiceAccount volume is not mounted "
                    "(the webhook mounts it; was the pod injected?)"
                )
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"  # an IPv6 service address
        return cls(f"https://{host}:{port}", directory / "ca.crt", directory / "token")


class Token:
    """The bearer token, re-read from its file at most every :data:`TOKEN_REREAD_S`."""

    def __init__(
        self,
        path: Path,
        *,
        reread_s: float = TOKEN_REREAD_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path, self._reread_s, self._clock = path, reread_s, clock
        self._value = ""
        self._read_at: float | None = None
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            now = self._clock()
            if self._read_at is None or now - self._read_at >= self._reread_s:
                try:
                    self._value = self._path.read_text().strip()
                except OSError as error:
                    if not self._value:
                        raise NoCredentials(f"cannot read {self._path}: {error}") from error
                    # A rotation in progress: keep the token we have, try again next time.
                self._read_at = now
            return self._value
