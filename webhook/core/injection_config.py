"""What every injected sidecar gets, as configured (image, resources, settings), checked once.

:class:`InjectionConfig` is built once from the webhook's settings and refuses anything that
would make an injected pod invalid (an image that is not an image reference, a resource that is
not a Kubernetes quantity, a sidecar setting the webhook sets per pod), so a bad value stops the
webhook at start-up instead of failing pods. :func:`valid_image_reference` is also what
:mod:`webhook.core.injection` checks a Deployment's image override with.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from spot_common import contract

_RESERVED_ENV: Final = frozenset(
    {
        contract.ENV_POD_NAME,
        contract.ENV_NAMESPACE,
        contract.ENV_NODE_NAME,
        contract.ENV_DEPLOYMENT,
        contract.ENV_METRICS_PORT,
    }
)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_QUANTITY = re.compile(r"[+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?")

# An image reference: [domain[:port]/]path[:tag][@digest], after the OCI distribution grammar.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
# The first segment is a registry only if it looks like one, as container runtimes decide it.
_HOST = rf"(?:localhost|{_LABEL}(?:\.{_LABEL})+|\[[0-9a-fA-F:]+\])"
_DOMAIN = rf"(?:{_HOST}(?::[0-9]+)?|{_LABEL}:[0-9]+)"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_IMAGE = re.compile(rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::{_TAG})?(?:@{_DIGEST})?")
_IMAGE_MAX_LENGTH: Final = 1024


class PullPolicy(enum.StrEnum):
    """Values of a container's ``imagePullPolicy``."""

    ALWAYS = "Always"
    IF_NOT_PRESENT = "IfNotPresent"
    NEVER = "Never"


@dataclasses.dataclass(frozen=True, slots=True)
class Resources:
    """The sidecar's resource requests and limits, as Kubernetes quantities.

    Every request here is added to every opted-in pod. On Fargate the pod's size is the
    largest init container or the sum of the containers' requests, plus 256 MB, rounded up to
    the next Fargate size, so even a small request can push a pod over a boundary and double its
    price (an app asking 256Mi plus 256 MB is exactly 0.5 GB; anything on top bills 1 GB). So the
    request is the measured working set and no more (``make bench``; BENCHMARKS.md has the idle
    sidecar's memory and CPU per poll, and the peak of the leader of a 50-replica move, from
    which 48Mi and 10m follow); asking for less would let the scheduler overcommit the node.

    Only requests size a Fargate pod, so the memory limit is chosen for safety, not the bill:
    128Mi is over twice the measured peak. No CPU limit: throttling at 10m would slow the sidecar
    exactly when it must patch its Deployment within the 120 s notice.

    A limit that differs from its request makes a Guaranteed pod Burstable; set requests equal
    to limits to keep such pods Guaranteed.
    """

    cpu_request: str = "10m"
    memory_request: str = "48Mi"
    cpu_limit: str | None = None
    memory_limit: str | None = "128Mi"

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is not None and not _QUANTITY.fullmatch(value):
                raise ValueError(
                    f"resources.{field.name}={value!r} is not a Kubernetes quantity; "
                    "use e.g. '10m' for CPU or '32Mi' for memory"
                )

    def as_dict(self) -> dict[str, dict[str, str]]:
        """The container's ``resources`` field."""
        requests = {"cpu": self.cpu_request, "memory": self.memory_request}
        limits = {"cpu": self.cpu_limit, "memory": self.memory_limit}
        result = {"requests": requests}
        if present := {k: v for k, v in limits.items() if v is not None}:
            result["limits"] = present
        return result


@dataclasses.dataclass(frozen=True, slots=True)
class InjectionConfig:
    """Everything the injected container depends on besides the pod and its Deployment."""

    image: str
    """The sidecar image; a Deployment may override it with ``spot-failover/sidecar-image``."""
    version: str
    """Written to the pod annotation ``spot-failover/injected``."""
    image_pull_policy: PullPolicy = PullPolicy.IF_NOT_PRESENT
    resources: Resources = Resources()
    extra_env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """The sidecar's own settings (``SPOT_FAILOVER_*``), injected sorted by name."""
    native_sidecar: bool = True
    """Restartable init container rather than a regular container. Needs the SidecarContainers
    feature (on by default since Kubernetes 1.29, GA in 1.33): where it is off, the API server
    drops ``restartPolicy`` and the sidecar becomes an init container that never exits, so the
    app never starts. Set False for such clusters."""
    metrics_port: int = 9795
    """Port of the sidecar's metrics endpoint; 0 disables it."""

    def __post_init__(self) -> None:
        if not valid_image_reference(self.image):
            raise ValueError(f"image={self.image!r} is not an image reference")
        if not self.version:
            raise ValueError("version must not be empty: it marks injected pods")
        if not 0 <= self.metrics_port <= 65535:
            raise ValueError(f"metrics_port={self.metrics_port} is not a port (0 disables)")
        object.__setattr__(self, "image_pull_policy", PullPolicy(self.image_pull_policy))
        for name, value in self.extra_env.items():
            if not (name.startswith(contract.ENV_PREFIX) and _ENV_NAME.fullmatch(name)):
                raise ValueError(f"extra_env name {name!r} must be {contract.ENV_PREFIX}<NAME>")
            if name in _RESERVED_ENV:
                raise ValueError(f"extra_env must not set {name}: the webhook sets it per pod")
            if not isinstance(value, str):
                raise TypeError(f"extra_env[{name!r}] must be a string, not {value!r}")
        frozen_env = MappingProxyType(dict(sorted(self.extra_env.items())))
        object.__setattr__(self, "extra_env", frozen_env)


def valid_image_reference(reference: str) -> bool:
    """True if ``reference`` reads as a container image reference."""
    return len(reference) <= _IMAGE_MAX_LENGTH and _IMAGE.fullmatch(reference) is not None
