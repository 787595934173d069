"""JSON over HTTPS to the API server, with the pod's token: the sidecar's Kubernetes transport.

Why not the ``kubernetes`` client: the sidecar is added to every pod of every opted-in
Deployment, and on Fargate its memory is billed in every pod. Importing that client costs tens
of MiB of resident memory and seconds of start-up, for its thousand model classes (the
sidecar's own footprint is in BENCHMARKS.md), while the sidecar makes a dozen REST calls on
plain JSON (it never used the models). ``requests``, which
the sidecar already holds for IMDS, does the HTTP; this module adds only the API server's
conventions: the bearer token, the cluster CA, the ``Status`` error body, and watch streams of
one JSON event per line.

One :class:`ApiServer` per thread (a ``requests.Session`` is not meant to be shared between
threads); :meth:`ApiServer.fork` makes another with the same credentials.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

import requests
import urllib3.exceptions

from sidecar.adapters.credentials import InCluster, Token
from sidecar.adapters.errors import translate
from spot_common.api_errors import ApiError, for_status

JSON = dict[str, Any]
USER_AGENT: Final = "spot-failover-sidecar"


class ApiServer:
    """The few HTTP verbs the sidecar needs, each returning the API's JSON or a typed error."""

    def __init__(
        self,
        credentials: InCluster,
        *,
        timeout_s: float = 5.0,
        on_request: Callable[[str], None] | None = None,
        token: Token | None = None,
    ) -> None:
        self.credentials = credentials
        self.timeout_s = timeout_s
        self._on_request = on_request or (lambda _verb: None)
        self._token = token or Token(credentials.token_file)
        self._session = requests.Session()
        self._session.verify = str(credentials.ca_file)
        self._session.trust_env = False  # straight to the Service address, as client-go does
        self._session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})

    def fork(self) -> ApiServer:
        """Another transport (own connection pool) with the same credentials and token."""
        return ApiServer(
            self.credentials,
            timeout_s=self.timeout_s,
            on_request=self._on_request,
            token=self._token,
        )

    def close(self) -> None:
        self._session.close()

    def request(
        self,
        method: str,
        path: str,
        operation: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        content_type: str = "application/json",
    ) -> JSON:
        """One request; the decoded JSON body of a 2xx answer."""
        self._on_request(operation.split(" ", 1)[0])
        try:
            response = self._session.request(
                method,
                self.credentials.server + path,
                params=params,
                data=None if body is None else json.dumps(body),
                headers=self._headers(None if body is None else content_type),
                timeout=self.timeout_s,
            )
        except requests.RequestException as error:
            raise translate(error, operation) from error
        if not 200 <= response.status_code < 300:
            raise for_status(response.status_code, response.content, operation)
        try:
            data: JSON = response.json()
        except ValueError as error:
            raise ApiError(operation, f"not JSON: {response.text[:200]!r}") from error
        return data

    def watch(
        self,
        path: str,
        operation: str,
        *,
        params: Mapping[str, str],
        quiet_s: float | None = None,
    ) -> Iterator[JSON]:
        """The events of one watch request (``{"type": ..., "object": ...}``), until the server
        ends it or, with ``quiet_s``, until no byte came for that long (then it just ends)."""
        self._on_request("watch")
        try:
            response = self._session.get(
                self.credentials.server + path,
                params={**params, "watch": "true"},
                headers=self._headers(None),
                timeout=(self.timeout_s, quiet_s),
                stream=True,
            )
        except requests.RequestException as error:
            raise translate(error, operation) from error
        with response:
            if response.status_code != 200:
                raise for_status(response.status_code, response.content, operation)
            try:
                for line in response.iter_lines():
                    if line:
                        yield decode_event(line, operation)
            except requests.ConnectionError as error:
                if _read_timed_out(error):
                    return  # silence for quiet_s: the caller decides what that means
                raise translate(error, operation) from error
            except requests.RequestException as error:
                raise translate(error, operation) from error

    def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self._token()}"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        return headers


def decode_event(line: bytes, operation: str) -> JSON:
    """One watch event; an ERROR event (e.g. 410 Gone) carries a Status and becomes an error."""
    try:
        event: JSON = json.loads(line)
    except ValueError as error:
        raise ApiError(operation, f"watch sent a line that is not JSON: {line[:200]!r}") from error
    if event.get("type") == "ERROR":
        status = event.get("object") or {}
        code = int(status.get("code") or 0)
        raise ApiError(operation, f"watch error {code}: {str(status.get('message'))[:300]}", code)
    return event


def _read_timed_out(error: requests.ConnectionError) -> bool:
    """``requests`` reports a read timeout inside a streamed body as a ConnectionError."""
    cause = error.args[0] if error.args else None
    return isinstance(cause, urllib3.exceptions.ReadTimeoutError)
