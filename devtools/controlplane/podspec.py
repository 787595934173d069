"""What a kubelet makes of a pod spec: whether a container runs, its argv, its environment.

kwok plays kubelets without running containers, so the pod runner starts sidecars as local
processes and must decide what a kubelet would, from the pod the API server holds:

* whether the pod's node runs the container now (scheduled, not being deleted, not finished;
  a native sidecar is an init container with ``restartPolicy: Always``);
* its argv: ``command`` (else the image's ENTRYPOINT) and ``args``, ``$(VAR)`` expanded;
* its environment: ``envFrom`` first, then ``env`` in order (literal values with ``$(VAR)``
  references expanded, downward-API ``fieldRef`` and ``resourceFieldRef`` values, Secret and
  ConfigMap keys honouring ``optional``);
* its grace period between SIGTERM and SIGKILL.

The rules follow the kubelet's. What they read from the cluster (Secrets, ConfigMaps, a node's
allocatable resources) comes in through :class:`Sources`, so this module does no I/O and is
tested without a cluster.

Errors::

    EnvError            the kubelet would not start the container (CreateContainerConfigError)
    └── EnvNotReady     a value the kubelet always has is not in the pod yet (its IP); retry soon
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol, TypeAlias

from kubernetes.utils import parse_quantity

from spot_common import contract

Pod: TypeAlias = Mapping[str, Any]
Container: TypeAlias = Mapping[str, Any]
Program: TypeAlias = Callable[[Container], Sequence[str]] | Sequence[str]
"""The image's ENTRYPOINT: an argv, or a function of the container spec returning one."""

GRACE_CAP_S = 30.0
"""Longest wait between SIGTERM and SIGKILL, whatever the pod asks for."""
MIN_GRACE_S = 2.0
"""The kubelet's minimum grace period, also for pods deleted with ``gracePeriodSeconds: 0``."""


# --- Which container runs, and how -----------------------------------------------------------


def sidecar_container(pod: Pod, name: str = contract.SIDECAR_CONTAINER) -> Container | None:
    """The container ``name`` of a pod whose node should be running it now, else ``None``."""
    spec = pod.get("spec") or {}
    if not spec.get("nodeName") or pod["metadata"].get("deletionTimestamp"):
        return None
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return None
    for container in spec.get("initContainers") or []:
        if container["name"] == name and container.get("restartPolicy") == "Always":
            return dict(container)
    for container in spec.get("containers") or []:
        if container["name"] == name:
            return dict(container)
    return None


def grace_period_s(pod: Pod, cap_s: float = GRACE_CAP_S) -> float:
    """The SIGTERM-to-SIGKILL wait for ``pod``: its deletion's, else its spec's, capped."""
    seconds = pod["metadata"].get("deletionGracePeriodSeconds")
    if seconds is None:
        seconds = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
    return min(max(float(seconds), MIN_GRACE_S), cap_s)


def container_argv(container: Container, env: Mapping[str, str], program: Program) -> list[str]:
    """``command`` (else the ENTRYPOINT) followed by ``args``, with ``$(VAR)`` expanded."""
    command = [expand(part, env) for part in container.get("command") or []]
    args = [expand(part, env) for part in container.get("args") or []]
    if not command:
        command = list(program(container) if callable(program) else program)
    return command + args


def remap_metrics_port(
    env: Mapping[str, str], pick: Callable[[], int]
) -> tuple[dict[str, str], int | None]:
    """Give a non-zero metrics port a free local one, since local processes share one network."""
    value = env.get(contract.ENV_METRICS_PORT, "").strip()
    if not value.isdigit() or int(value) == 0:
        return dict(env), None
    port = pick()
    return {**env, contract.ENV_METRICS_PORT: str(port)}, port


# --- Its environment -------------------------------------------------------------------------


class EnvError(ValueError):
    """A reference in the container's environment cannot be resolved."""


class EnvNotReady(EnvError):
    """The pod lacks a value a kubelet would have by now (its IP); try again on its next update."""


class Sources(Protocol):
    """What the environment may read from the cluster; ``None`` means "not found"."""

    def secret(self, namespace: str, name: str) -> Mapping[str, str] | None:
        """The Secret's ``data``, still base64-encoded as the API returns it."""

    def config_map(self, namespace: str, name: str) -> Mapping[str, str] | None:
        """The ConfigMap's ``data``."""

    def node_allocatable(self, node: str) -> Mapping[str, str]:
        """The node's ``status.allocatable`` quantities."""


_FIELDS: dict[str, tuple[str, str]] = {
    "metadata.name": ("metadata", "name"),
    "metadata.namespace": ("metadata", "namespace"),
    "metadata.uid": ("metadata", "uid"),
    "spec.nodeName": ("spec", "nodeName"),
    "spec.serviceAccountName": ("spec", "serviceAccountName"),
}
_IP_FIELDS = {"status.podIP": "podIP", "status.hostIP": "hostIP"}
_IP_LIST_FIELDS = {"status.podIPs": "podIPs", "status.hostIPs": "hostIPs"}
_SUBSCRIPT = re.compile(r"metadata\.(labels|annotations)\['(.*)'\]")
_REFERENCE = re.compile(r"\$\$|\$\(([^)]*)\)")


def expand(value: str, env: Mapping[str, str]) -> str:
    """Expand ``$(VAR)`` from ``env`` as the kubelet does: ``$$`` is a literal ``$`` and a
    reference to an undefined variable stays as written."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "$"
        return env.get(name, match.group(0))

    return _REFERENCE.sub(replace, value)


def container_env(
    pod: Mapping[str, Any], container: Mapping[str, Any], sources: Sources
) -> dict[str, str]:
    """The variables the kubelet would set from ``container``'s ``envFrom`` and ``env``."""
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        env.update(_env_from(pod, source, sources))
    for variable in container.get("env") or []:
        value = _value(pod, container, variable, env, sources)
        if value is not None:
            env[variable["name"]] = value
    return env


def _env_from(
    pod: Mapping[str, Any], source: Mapping[str, Any], sources: Sources
) -> dict[str, str]:
    prefix = source.get("prefix", "")
    namespace = pod["metadata"]["namespace"]
    data: Mapping[str, str] | None
    if "secretRef" in source:
        ref = source["secretRef"]
        data = _decoded(sources.secret(namespace, ref["name"]))
        kind = "Secret"
    else:
        ref = source["configMapRef"]
        data = sources.config_map(namespace, ref["name"])
        kind = "ConfigMap"
    if data is None:
        if ref.get("optional"):
            return {}
        raise EnvError(f"envFrom: {kind} {ref['name']!r} not found and not optional")
    return {prefix + key: value for key, value in data.items()}


def _value(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    variable: Mapping[str, Any],
    env: Mapping[str, str],
    sources: Sources,
) -> str | None:
    name = variable["name"]
    value_from = variable.get("valueFrom")
    if not value_from:
        return expand(variable.get("value", ""), env)
    namespace = pod["metadata"]["namespace"]
    if "fieldRef" in value_from:
        return field_value(pod, value_from["fieldRef"]["fieldPath"])
    if "resourceFieldRef" in value_from:
        return resource_value(pod, container, value_from["resourceFieldRef"], sources)
    if "secretKeyRef" in value_from:
        ref = value_from["secretKeyRef"]
        data = _decoded(sources.secret(namespace, ref["name"]))
        return _key(name, "Secret", data, ref)
    if "configMapKeyRef" in value_from:
        ref = value_from["configMapKeyRef"]
        return _key(name, "ConfigMap", sources.config_map(namespace, ref["name"]), ref)
    raise EnvError(f"{name}: unsupported valueFrom {sorted(value_from)}")


def _key(
    variable: str, kind: str, data: Mapping[str, str] | None, ref: Mapping[str, Any]
) -> str | None:
    if data is not None and ref["key"] in data:
        return data[ref["key"]]
    if ref.get("optional"):
        return None
    what = f"key {ref['key']!r} of {kind} {ref['name']!r}"
    raise EnvError(f"{variable}: {what} not found and not optional")


def _decoded(data: Mapping[str, str] | None) -> dict[str, str] | None:
    """Secret values as the container sees them; bytes that are not UTF-8 survive unchanged."""
    if data is None:
        return None
    return {
        key: base64.b64decode(value).decode("utf-8", "surrogateescape")
        for key, value in data.items()
    }


def field_value(pod: Mapping[str, Any], path: str) -> str:
    """A downward-API ``fieldRef`` value, with the field paths the kubelet allows in env."""
    if path in _FIELDS:
        section, key = _FIELDS[path]
        return str(pod.get(section, {}).get(key) or "")
    if path in _IP_FIELDS or path in _IP_LIST_FIELDS:
        return _ip_value(pod, path)
    subscript = _SUBSCRIPT.fullmatch(path)
    if subscript:
        kind, key = subscript.groups()
        return str((pod["metadata"].get(kind) or {}).get(key, ""))
    raise EnvError(f"unsupported fieldRef.fieldPath {path!r}")


def _ip_value(pod: Mapping[str, Any], path: str) -> str:
    status = pod.get("status") or {}
    if path in _IP_FIELDS:
        value = str(status.get(_IP_FIELDS[path]) or "")
    else:
        value = ",".join(entry["ip"] for entry in status.get(_IP_LIST_FIELDS[path]) or [])
    if not value:
        raise EnvNotReady(f"{path} is not assigned yet")
    return value


def resource_value(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    ref: Mapping[str, Any],
    sources: Sources,
) -> str:
    """A ``resourceFieldRef`` value: the container's limit (the node's allocatable if it has
    none) or request, divided by ``divisor`` and rounded up, as the kubelet computes it."""
    target = _named_container(pod, ref.get("containerName") or container["name"])
    kind, _, resource = str(ref["resource"]).partition(".")
    if kind not in ("limits", "requests") or not resource:
        raise EnvError(f"unsupported resourceFieldRef.resource {ref['resource']!r}")
    quantity = (target.get("resources") or {}).get(kind, {}).get(resource)
    if quantity is None and kind == "limits":
        quantity = sources.node_allocatable(pod["spec"]["nodeName"]).get(resource)
    amount: Decimal = parse_quantity(quantity or "0")
    divisor: Decimal = parse_quantity(ref.get("divisor") or "1")
    return str(math.ceil(amount / divisor))


def _named_container(pod: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    spec = pod["spec"]
    containers: Sequence[Mapping[str, Any]] = [
        *(spec.get("initContainers") or []),
        *(spec.get("containers") or []),
    ]
    for candidate in containers:
        if candidate["name"] == name:
            return candidate
    raise EnvError(f"resourceFieldRef names no container of the pod: {name!r}")
