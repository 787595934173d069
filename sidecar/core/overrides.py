"""The annotations a user sets on a Deployment, parsed strictly.

Users opt in, pause, and override the sidecar's settings per Deployment with annotations
(:mod:`spot_common.contract` documents each key). A typo there must not be guessed at: the sidecar
would then move pods somewhere the user did not ask for. Every value is parsed strictly, and a
bad one raises :class:`~sidecar.core.errors.InvalidValueError` naming the annotation, the value
found and what to set instead; the adapter reports it and the machine does nothing.

The value parsers (:func:`parse_bool`, :func:`parse_label_pairs`, :func:`parse_label_value`,
:func:`parse_url`) take a ``source`` so the settings module can reuse them for environment
variables with the same format.
"""

from __future__ import annotations

import dataclasses
import re
import urllib.parse
from collections.abc import Mapping
from typing import Final

from sidecar.core.durations import Duration, parse_duration
from sidecar.core.errors import InvalidValueError
from spot_common import contract

_NAME: Final = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_LABEL_NAME: Final = re.compile(_NAME, re.ASCII)
_DNS_SUBDOMAIN: Final = re.compile(
    r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*", re.ASCII
)
_LABELS_EXAMPLE: Final = 'set comma-separated key=value pairs, e.g. "compute=fargate,team=web"'


@dataclasses.dataclass(frozen=True)
class Overrides:
    """What the user's annotations on one Deployment say; ``None`` means "not set"."""

    enabled: bool = False
    """``spot-failover/enabled`` is ``"true"`` (absent: not enabled)."""
    paused: bool = False
    fargate_labels: Mapping[str, str] | None = None
    fargate_profile: str | None = None
    health_url: str | None = None
    failback_after: Duration | None = None
    rebalance_trigger: bool | None = None
    disruption_trigger: bool | None = None

    @property
    def acting(self) -> bool:
        """Whether spot-failover may act on the Deployment: opted in and not paused."""
        return self.enabled and not self.paused

    @classmethod
    def parse(cls, annotations: Mapping[str, str]) -> Overrides:
        """Read the user annotations; :class:`InvalidValueError` on the first bad value."""

        def get(key: str) -> str | None:
            return annotations.get(key)

        def optional_bool(key: str) -> bool | None:
            raw = get(key)
            return None if raw is None else parse_bool(raw, source=key)

        labels = get(contract.FARGATE_LABELS)
        profile = get(contract.FARGATE_PROFILE)
        url = get(contract.HEALTH_URL)
        failback = get(contract.FAILBACK_AFTER)
        return cls(
            enabled=optional_bool(contract.ENABLED) or False,
            paused=optional_bool(contract.PAUSED) or False,
            fargate_labels=None
            if labels is None
            else parse_label_pairs(labels, source=contract.FARGATE_LABELS),
            fargate_profile=None
            if profile is None
            else parse_label_value(profile, source=contract.FARGATE_PROFILE, allow_empty=False),
            health_url=None if url is None else parse_url(url, source=contract.HEALTH_URL),
            failback_after=None
            if failback is None
            else parse_duration(failback, source=contract.FAILBACK_AFTER),
            rebalance_trigger=optional_bool(contract.REBALANCE_TRIGGER),
            disruption_trigger=optional_bool(contract.DISRUPTION_TRIGGER),
        )


def parse_bool(text: str, *, source: str) -> bool:
    """``"true"`` or ``"false"`` (any case, surrounding spaces ignored)."""
    value = text.strip().lower()
    if value not in {"true", "false"}:
        raise InvalidValueError(source, text, 'set "true" or "false"')
    return value == "true"


def parse_label_pairs(text: str, *, source: str) -> dict[str, str]:
    """``key=value,key=value`` as pod labels; keys and values must be valid label syntax."""
    pairs: dict[str, str] = {}
    for item in text.split(","):
        key, separator, value = item.strip().partition("=")
        key, value = key.strip(), value.strip()
        if not separator or not key:
            raise InvalidValueError(
                source, text, f"{item.strip()!r} is not key=value; " + _LABELS_EXAMPLE
            )
        if not is_label_key(key):
            raise InvalidValueError(
                source,
                text,
                f"{key!r} is not a valid label key (optional DNS prefix/, then up "
                "to 63 letters, digits, '-', '_', '.'); " + _LABELS_EXAMPLE,
            )
        if key in pairs:
            raise InvalidValueError(source, text, f"{key!r} appears twice; " + _LABELS_EXAMPLE)
        pairs[key] = parse_label_value(value, source=source, allow_empty=True, whole=text)
    return pairs


def parse_label_value(
    text: str, *, source: str, allow_empty: bool, whole: str | None = None
) -> str:
    """A label value: up to 63 letters, digits, ``-_.``, starting and ending alphanumeric."""
    value = text.strip()
    if (value == "" and allow_empty) or _LABEL_NAME.fullmatch(value):
        return value
    raise InvalidValueError(
        source,
        whole if whole is not None else text,
        f"{value!r} is not a valid label value (up to 63 letters, digits, '-', '_', '.', "
        'starting and ending with a letter or digit), e.g. "fargate"',
    )


def is_label_key(key: str) -> bool:
    """Kubernetes qualified-name syntax: ``[dns-subdomain/]name``."""
    prefix, slash, name = key.rpartition("/")
    if slash and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return False
    return _LABEL_NAME.fullmatch(name) is not None


def parse_url(text: str, *, source: str) -> str:
    """An absolute ``http://`` or ``https://`` URL with a host."""
    value = text.strip()
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InvalidValueError(
            source,
            text,
            'set an absolute http(s) URL, e.g. "http://my-service.my-namespace:8080/healthz"',
        )
    return value
