"""What ``spot-failover check`` reads from the cluster, as plain JSON: the thin I/O shell of the
check. Every read is a GET the user's identity makes; a 404 is ``None`` (the check decides what
absence means), any other failure is a :class:`~spot_failover.errors.CliError`."""

from __future__ import annotations

import base64
import ssl
import urllib.parse
from typing import Any, Final

from spot_failover.errors import NotFoundError
from spot_failover.kube import Connection, _call

ADMISSION: Final = "/apis/admissionregistration.k8s.io/v1"
Object = dict[str, Any]


def get(connection: Connection, path: str, timeout_s: float | None) -> Object | None:
    try:
        return _call(connection, lambda: _request(connection, path, {}, timeout_s))
    except NotFoundError:
        return None


def items(connection: Connection, path: str, timeout_s: float | None, **query: str) -> list[Object]:
    body = _call(connection, lambda: _request(connection, path, query, timeout_s))
    return [item for item in body.get("items") or [] if isinstance(item, dict)]


def _request(
    connection: Connection, path: str, query: dict[str, str], timeout_s: float | None
) -> Any:
    return connection.api.call_api(
        path,
        "GET",
        query_params=list(query.items()),
        header_params={"Accept": "application/json"},
        auth_settings=["BearerToken"],
        _preload_content=False,
        _return_http_data_only=True,
        _request_timeout=timeout_s,
    )


def secret_certificate(
    connection: Connection, namespace: str, name: str, timeout_s: float | None
) -> bytes | None:
    """``tls.crt`` of the Secret, or ``None`` when it is absent."""
    secret = get(connection, f"/api/v1/namespaces/{namespace}/secrets/{name}", timeout_s)
    data = (secret or {}).get("data") or {}
    return base64.b64decode(data["tls.crt"]) if "tls.crt" in data else None


def served_certificate(url: str, timeout_s: float | None) -> bytes | None:
    """The certificate the server at ``url`` presents (not verified: the check verifies it)."""
    parts = urllib.parse.urlsplit(url)
    try:
        pem = ssl.get_server_certificate(
            (parts.hostname or "", parts.port or 443), timeout=timeout_s or 10.0
        )
    except OSError:
        return None
    return pem.encode()
