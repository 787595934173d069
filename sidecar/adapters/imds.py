"""The sidecar's client for the EC2 instance metadata service (IMDSv2) of its own node.

It exists to answer one question every few seconds, "is my node being interrupted?", and to
fail in a way the caller can act on. Token first (``PUT /latest/api/token``), cached and
refreshed :data:`TOKEN_REFRESH_MARGIN_S` before it expires; a 401 drops the token and retries
once with a new one; 404 on a notice path means "no notice". Bodies are parsed by the pure
functions of :mod:`sidecar.core.imds_body`.

Errors, split by what the caller should do::

    ImdsError                    base; never raised itself
    ├── ImdsUnreachable          IMDS cannot be used from this pod (connection refused, not on
    │   │                        EC2, Fargate): report it and use another signal source
    │   └── ImdsTokenTimeout     the token PUT got no answer: the signature of IMDSv2 with a PUT
    │                            response hop limit of 1 seen from a pod network; set the hop
    │                            limit to 2, or use the node signal source
    ├── ImdsUnavailable          5xx or timeouts on every try: transient, poll again later
    ├── ImdsRefused              a 4xx the protocol does not explain (403, 400, 404 on identity
    │                            paths, 401 with a fresh token): a configuration problem, report
    └── ImdsMalformed            a body not of the documented shape (names path and excerpt)

``ImdsError`` and ``ImdsMalformed`` live in :mod:`sidecar.core.imds_body` (the pure parsers
raise the latter) and are re-exported here. The client is not thread-safe: one per poll loop.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Final, Literal, overload

import requests

from sidecar.core import imds_body
from sidecar.core.imds_body import ImdsError, ImdsMalformed, InstanceAction

__all__ = [
    "DEFAULT_BASE_URL",
    "ImdsClient",
    "ImdsError",
    "ImdsMalformed",
    "ImdsRefused",
    "ImdsTokenTimeout",
    "ImdsUnavailable",
    "ImdsUnreachable",
    "InstanceAction",
]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL: Final = "http://169.254.169.254"
TOKEN_TTL_HEADER: Final = "X-aws-ec2-metadata-token-ttl-seconds"  # noqa: S105 -- a header name
TOKEN_HEADER: Final = "X-aws-ec2-metadata-token"  # noqa: S105 -- a header name
TOKEN_REFRESH_MARGIN_S: Final = 15.0
"""Refresh the token this long before it expires, so that no GET races its expiry."""
V1_RETRY_TOKEN_AFTER_S: Final = 300.0
"""In IMDSv1 fallback, how long to go without a token before trying a PUT again: each failed
PUT costs a whole timeout, which a poll loop cannot pay on every tick."""


class ImdsUnreachable(ImdsError):
    """IMDS cannot be used from this pod: report it and fall back to another signal source."""


class ImdsTokenTimeout(ImdsUnreachable):
    """The token PUT was accepted but never answered: most likely a PUT hop limit of 1."""


class ImdsUnavailable(ImdsError):
    """IMDS answered 5xx or timed out on every try: transient, poll again later."""


class ImdsRefused(ImdsError):
    """IMDS answered with a 4xx the protocol does not explain: a configuration problem."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ImdsClient:
    """IMDSv2 client for one node, over one ``requests.Session``.

    ``base_url`` is the IMDS root (``http://169.254.169.254`` on EC2; a simulator's per-node URL
    in tests). ``timeout_s`` bounds every HTTP request, the token PUT included, so it is also how
    fast the hop-limit case is detected. ``retries`` is the number of attempts per call, the first
    one included, with jittered exponential backoff from ``backoff_s`` between them.

    ``token_ttl_s`` defaults to 3600 rather than the maximum 21600: a PUT an hour costs nothing,
    and refreshing hourly means a change of the instance's metadata options (tokens required, hop
    limit) shows up within the hour instead of six; it is also what the node termination handler
    uses. ``allow_v1_fallback`` lets the client read without a token when no token can be had;
    off by default because IMDSv1 is usually disabled and silently falling back hides the
    hop-limit problem. ``clock`` gives the aware UTC ``now`` that token expiry is measured on;
    ``sleep`` and ``jitter`` are there so tests need not wait.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout_s: float = 2.0,
        retries: int = 3,
        token_ttl_s: int = 3600,
        allow_v1_fallback: bool = False,
        clock: Callable[[], datetime] = _utc_now,
        backoff_s: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        session: requests.Session | None = None,
    ) -> None:
        if retries < 1:
            raise ValueError("retries counts attempts and must be at least 1")
        if not 1 <= token_ttl_s <= 21600:
            raise ValueError("token_ttl_s must be within 1..21600 seconds (IMDS limit)")
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.retries = retries
        self.token_ttl_s = token_ttl_s
        self.allow_v1_fallback = allow_v1_fallback
        self._clock = clock
        self._backoff_s = backoff_s
        self._sleep = sleep
        self._jitter = jitter
        self._session = session if session is not None else requests.Session()
        # IMDS is link-local: never through a proxy from the environment (it could not reach
        # it), and not reading proxy and netrc settings saves a quarter of each poll's CPU.
        self._session.trust_env = False
        self._token: str | None = None
        self._token_refresh_at = datetime.min.replace(tzinfo=UTC)
        self._v1_until: datetime | None = None

    # --- The questions the sidecar asks ------------------------------------------------------

    def instance_action(self) -> InstanceAction | None:
        """The spot interruption notice, or ``None`` when there is none (404)."""
        body = self._get(imds_body.INSTANCE_ACTION_PATH, absent_ok=True)
        return None if body is None else imds_body.parse_instance_action(body)

    def rebalance(self) -> datetime | None:
        """When EC2 recommended a rebalance (UTC), or ``None`` when it has not (404)."""
        body = self._get(imds_body.REBALANCE_PATH, absent_ok=True)
        return None if body is None else imds_body.parse_rebalance(body)

    def life_cycle(self) -> str:
        """``"spot"`` or ``"on-demand"`` (or another purchasing option, see the parser)."""
        return imds_body.parse_life_cycle(self._get(imds_body.LIFE_CYCLE_PATH, absent_ok=False))

    def instance_id(self) -> str:
        """The instance id, e.g. ``i-0123456789abcdef0``."""
        return imds_body.parse_instance_id(self._get(imds_body.INSTANCE_ID_PATH, absent_ok=False))

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> ImdsClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- One GET, with token, retries and one re-token on 401 --------------------------------

    @overload
    def _get(self, path: str, *, absent_ok: Literal[True]) -> str | None: ...
    @overload
    def _get(self, path: str, *, absent_ok: Literal[False]) -> str: ...
    def _get(self, path: str, *, absent_ok: bool) -> str | None:
        """The body at ``path``; None for a 404 where ``absent_ok`` (a 404 raises otherwise)."""
        url = self.base_url + path
        require_token = retokened = False
        attempt = 0
        problem = ""
        while attempt < self.retries:
            try:
                headers = self._auth_headers(require_token=require_token)
                response = self._session.get(url, headers=headers, timeout=self.timeout_s)
            except ImdsUnavailable as error:
                problem = str(error)
            except requests.Timeout:
                problem = f"timed out after {self.timeout_s:g} s"
            except requests.ConnectionError as error:
                problem = f"connection failed ({error.__class__.__name__})"
            else:
                with response:
                    status, raw = response.status_code, response.content
                if status == 401 and not retokened:
                    # The token expired or was revoked, or IMDSv1 is not (or no longer) allowed.
                    retokened = True
                    require_token = TOKEN_HEADER not in headers
                    self._token = None
                    continue
                if status < 500:
                    return self._accept(path, status, raw, absent_ok=absent_ok)
                problem = f"HTTP {status}"
            attempt += 1
            if attempt < self.retries:
                delay = self._backoff(attempt)
                logger.warning(
                    "IMDS request failed, retrying",
                    extra={
                        "imds_path": path,
                        "problem": problem,
                        "attempt": attempt,
                        "retry_in_s": round(delay, 3),
                    },
                )
                self._sleep(delay)
        raise ImdsUnavailable(
            f"IMDS {path}: {problem} on all {self.retries} tries; poll again later"
        )

    def _accept(self, path: str, status: int, raw: bytes, *, absent_ok: bool) -> str | None:
        if status == 200:
            return imds_body.decode(path, raw)
        if status == 404 and absent_ok:
            return None
        body = imds_body.excerpt(raw.decode("utf-8", "replace"))
        if status == 401:
            raise ImdsRefused(f"IMDS {path}: 401 even with a fresh token; body: {body}")
        raise ImdsRefused(f"IMDS {path}: unexpected HTTP {status}; body: {body}")

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random."""
        ceiling = self._backoff_s * 2.0 ** (attempt - 1)
        return ceiling / 2 + self._jitter() * ceiling / 2

    # --- The token ---------------------------------------------------------------------------

    def _auth_headers(self, *, require_token: bool) -> dict[str, str]:
        now = self._clock()
        if self._token is not None and now < self._token_refresh_at:
            return {TOKEN_HEADER: self._token}
        if not require_token and self._v1_until is not None and now < self._v1_until:
            return {}
        try:
            token = self._fetch_token(now)
        except (ImdsUnreachable, ImdsRefused) as error:
            if require_token or not self.allow_v1_fallback:
                raise
            self._v1_until = now + timedelta(seconds=V1_RETRY_TOKEN_AFTER_S)
            logger.warning(
                "IMDSv2 token unavailable, falling back to IMDSv1",
                extra={"error": str(error), "retry_token_in_s": V1_RETRY_TOKEN_AFTER_S},
            )
            return {}
        return {TOKEN_HEADER: token}

    def _fetch_token(self, now: datetime) -> str:
        url = self.base_url + imds_body.TOKEN_PATH
        headers = {TOKEN_TTL_HEADER: str(self.token_ttl_s)}
        try:
            response = self._session.put(url, headers=headers, timeout=self.timeout_s)
        except requests.ConnectTimeout as error:
            raise ImdsUnreachable(
                f"IMDS at {self.base_url} did not accept a connection within "
                f"{self.timeout_s:g} s: not on an EC2 node (Fargate pods have no IMDS)?"
            ) from error
        except requests.Timeout as error:
            raise ImdsTokenTimeout(
                f"IMDSv2 token request to {url} got no answer within {self.timeout_s:g} s. "
                "This is what IMDSv2 with a PUT response hop limit of 1 looks like from a pod "
                "network: set the instance's hop limit to 2 (launch template "
                "MetadataOptions.HttpPutResponseHopLimit), or use the node signal source."
            ) from error
        except requests.ConnectionError as error:
            raise ImdsUnreachable(
                f"cannot connect to IMDS at {self.base_url} ({error.__class__.__name__}): "
                "not on an EC2 node (Fargate pods have no IMDS)?"
            ) from error
        with response:
            status, raw, ttl_header = (
                response.status_code,
                response.content,
                response.headers.get(TOKEN_TTL_HEADER),
            )
        if status >= 500:
            raise ImdsUnavailable(f"token request answered HTTP {status}")
        if status != 200:
            body = imds_body.excerpt(raw.decode("utf-8", "replace"))
            raise ImdsRefused(f"IMDS token request refused with HTTP {status}; body: {body}")
        token = imds_body.parse_token(imds_body.decode(imds_body.TOKEN_PATH, raw))
        ttl = int(ttl_header) if ttl_header and ttl_header.isascii() and ttl_header.isdigit() else 0
        ttl = min(ttl, self.token_ttl_s) if ttl > 0 else self.token_ttl_s
        self._token_refresh_at = now + timedelta(seconds=ttl - TOKEN_REFRESH_MARGIN_S)
        self._token, self._v1_until = token, None
        logger.debug("IMDSv2 token obtained", extra={"token_ttl_s": ttl})
        return token
